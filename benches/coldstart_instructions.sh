#!/usr/bin/env bash
# Instructions of one Lambda cold start under callgrind: examples/coldstart.rs's run (the
# function against a fake runtime API, 100 CAs, 10 CRLs and 1,000 uploaded certificates
# from a loopback moto_server), with BOOTSTRAP (default: the built certgate-lambda) run
# under valgrind for its cold start from S3. Unlike CPU time (benches/coldstart_cpu.sh)
# the count repeats from run to run within 0.01 % (three runs of one build: 19,404,048 to
# 19,405,529), so builds compare without alternating them. valgrind hides the CPU's SHA, ADX and BMI2 instructions from the
# program: hashing and P-384 count for more here than they cost on the machine.
#
#   benches/coldstart_instructions.sh [BOOTSTRAP] [--keep DIR]
#
# Build the bootstraps first, as examples/coldstart.rs says; for a profile by function,
# build BOOTSTRAP unstripped, e.g.
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_STRIP=none \
#     CARGO_TARGET_DIR=target/prof cargo build --release --bin certgate-lambda
# and pass target/prof/release/certgate-lambda. Prints the total; --keep DIR keeps the
# callgrind output there (callgrind_annotate DIR/callgrind.out.*). Needs valgrind and
# moto_server. A measurement to run by hand, never a CI step.
set -euo pipefail

bootstrap=""
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=$(realpath -m "$2"); shift 2 ;;
    -*) echo "usage: $0 [BOOTSTRAP] [--keep DIR]" >&2; exit 2 ;;
    *) bootstrap=$(realpath "$1"); shift ;;
  esac
done
cd "$(dirname "$0")/.."
built=target/lambda-ci/lambda/certgate-lambda
command -v valgrind >/dev/null || { echo "error: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
test -x "$built/bootstrap" || { echo "error: $built/bootstrap is missing; build it as examples/coldstart.rs says" >&2; exit 1; }
work=$(mktemp -d /tmp/certgate-coldstart-instructions.XXXXXX)
out="${keep:-$work/out}"
mkdir -p "$out"
mv "$built/bootstrap" "$work/certgate-lambda"
# Set right after the binary moves, so an interrupted run always puts it back.
restore() {
  mv -f "$work/certgate-lambda" "$built/bootstrap"
  rm -rf "$work"
}
trap restore EXIT
measured="${bootstrap:-$work/certgate-lambda}"

# The harness kills what it started, here the wrapper; valgrind goes on until the
# function ends (its runtime API connection closes when the harness exits) and then
# writes its counts. Only the cold start from S3 is counted, not the local-folder one.
cat >"$built/bootstrap" <<EOF
#!/bin/sh
case "\$CERTGATE_CONFIG" in
  s3://*) valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" "$measured" 2>/dev/null & wait ;;
  *) exec "$work/certgate-lambda" ;;
esac
EOF
chmod +x "$built/bootstrap"
cargo run --quiet --release --example coldstart -- 1 >/dev/null
# valgrind writes its file when the function has gone.
for _ in $(seq 60); do
  if compgen -G "$out/callgrind.out.*" >/dev/null && ! pgrep -f "callgrind-out-file=$out" >/dev/null; then
    break
  fi
  sleep 1
done
shopt -s nullglob
files=("$out"/callgrind.out.*)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "error: no callgrind output: did the function start? (COLDSTART_LOG=info shows its log)" >&2
  exit 1
fi
total=$(awk '/^summary:/ { print $2 }' "${files[0]}")
printf 'certgate-lambda cold start from S3: %s instructions (%s)\n' \
  "$total" "${bootstrap:-$built/bootstrap}"
