#!/usr/bin/env bash
# CPU time and page faults of a Lambda cold start: examples/coldstart.rs's run (the
# function against a fake runtime API, 100 CAs, 10 CRLs and 1,000 uploaded
# certificates from a loopback moto_server), with certgate-lambda and hello_s3_lambda
# each started under `perf stat`. Wall time on this 2-core machine hides the core that
# checks the uploaded certificates beside the one that loads the CAs; Lambda gives a
# 256 MB function a fraction of one vCPU, where every millisecond of CPU counts.
#
#   benches/coldstart_cpu.sh [RUNS]     # default 15; needs perf and moto_server
#
# Build the bootstraps first, as examples/coldstart.rs says. Prints, per binary, the
# median task-clock (all threads, until the process ends after its first response)
# and page faults over RUNS cold starts. A measurement to run by hand, never a CI step.
set -euo pipefail

runs="${1:-15}"
cd "$(dirname "$0")/.."
built=target/lambda-ci/lambda
command -v perf >/dev/null || { echo "error: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
work=$(mktemp -d /tmp/certgate-coldstart-cpu.XXXXXX)
names=(certgate-lambda hello_s3_lambda)
for name in "${names[@]}"; do
  test -x "$built/$name/bootstrap" || { echo "error: $built/$name/bootstrap is missing; build it as examples/coldstart.rs says" >&2; exit 1; }
done
# Set before the first binary moves, so an interrupted run always puts them back.
restore() {
  for name in "${names[@]}"; do
    if [[ -e "$work/$name" ]]; then mv -f "$work/$name" "$built/$name/bootstrap"; fi
  done
  rm -rf "$work"
}
trap restore EXIT
for name in "${names[@]}"; do mv "$built/$name/bootstrap" "$work/$name"; done

# The harness kills what it started, here the wrapper; perf stat goes on until the
# function ends (its runtime API connection closes when the harness exits) and then
# writes its counts. Only the runs from S3 are counted, not the local-folder ones.
for name in "${names[@]}"; do
  cat >"$built/$name/bootstrap" <<EOF
#!/bin/sh
case "\$CERTGATE_CONFIG" in s3://*) out="$work/$name.\$\$" ;; *) out=/dev/null ;; esac
$(command -v perf) stat -x, -e task-clock,page-faults -o "\$out" -- "$work/$name" 2>/dev/null &
wait
EOF
  chmod +x "$built/$name/bootstrap"
done

cargo run --quiet --release --example coldstart -- "$runs" >/dev/null
sleep 3 # the functions end when the harness has gone

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
shopt -s nullglob
for name in "${names[@]}"; do
  files=("$work/$name".*)
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "error: no counts for $name: did perf stat run? (perf stat -e task-clock true)" >&2
    exit 1
  fi
  cpu=$(cat "${files[@]}" | awk -F, '$3 ~ /^task-clock/ { print $1 }' | median)
  faults=$(cat "${files[@]}" | awk -F, '$3 ~ /^page-faults/ { print $1 }' | median)
  printf '%-16s median of %d cold starts: CPU %6.2f ms (task-clock, all threads), %5d page faults\n' \
    "$name" "${#files[@]}" "$cpu" "$faults"
done
