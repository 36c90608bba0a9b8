#!/usr/bin/env bash
# CPU time and page faults of a Lambda cold start: examples/coldstart.rs's run (the
# function against a fake runtime API, 100 CAs, 10 CRLs and 1,000 uploaded
# certificates from a loopback moto_server), with certgate-lambda and hello_s3_lambda
# each started under `perf stat`. Wall time on this 2-core machine hides the core that
# checks the uploaded certificates beside the one that loads the CAs; Lambda gives a
# 256 MB function a fraction of one vCPU, where every millisecond of CPU counts.
#
#   benches/coldstart_cpu.sh [RUNS] [--rounds N] [--against BOOTSTRAP]
#
# RUNS cold starts of each binary (default 15) make a round; ROUNDS rounds (default 1)
# follow each other. --against runs every round a second time with BOOTSTRAP (another
# build of certgate-lambda, e.g. a copy of the bootstrap before a change) in place of
# this one: on a shared machine whose speed drifts, only builds measured in alternation,
# each beside its own hello_s3 round, compare. Needs perf and moto_server.
#
# Build the bootstraps first, as examples/coldstart.rs says. Prints, per round and
# build, the median task-clock (all threads, until the process ends after its first
# response) and page faults over the round's cold starts, and certgate-lambda's ratio
# to hello_s3_lambda; with several rounds, the median and range of each build's ratios.
# A measurement to run by hand, never a CI step.
set -euo pipefail

runs=15
rounds=1
against=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --against) against=$(realpath "$2"); shift 2 ;;
    [0-9]*) runs="$1"; shift ;;
    *) echo "usage: $0 [RUNS] [--rounds N] [--against BOOTSTRAP]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
built=target/lambda-ci/lambda
command -v perf >/dev/null || { echo "error: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
[[ -z "$against" || -x "$against" ]] || { echo "error: $against is not an executable bootstrap" >&2; exit 1; }
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
# writes its counts. Only the runs from S3 are counted, not the local-folder ones. The
# wrapper starts `$work/NAME.run`, a link to the build the round measures.
mkdir "$work/counts"
for name in "${names[@]}"; do
  ln -s "$work/$name" "$work/$name.run"
  cat >"$built/$name/bootstrap" <<EOF
#!/bin/sh
case "\$CERTGATE_CONFIG" in s3://*) out="$work/counts/$name.\$\$" ;; *) out=/dev/null ;; esac
$(command -v perf) stat -x, -e task-clock,page-faults -o "\$out" -- "$work/$name.run" 2>/dev/null &
wait
EOF
  chmod +x "$built/$name/bootstrap"
done

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
shopt -s nullglob
# The median of one counter (`task-clock` or `page-faults`) over the round's runs of NAME.
counter() {
  local files=("$work/counts/$1".*)
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "error: no counts for $1: did perf stat run? (perf stat -e task-clock true)" >&2
    exit 1
  fi
  cat "${files[@]}" | awk -F, -v c="$2" '$3 ~ "^" c { print $1 }' | median
}

builds=(this)
[[ -n "$against" ]] && builds+=(against)
for round in $(seq "$rounds"); do
  for build in "${builds[@]}"; do
    target="$work/certgate-lambda"
    [[ "$build" == against ]] && target="$against"
    ln -sfn "$target" "$work/certgate-lambda.run"
    rm -f "$work/counts/"*
    cargo run --quiet --release --example coldstart -- "$runs" >/dev/null
    sleep 3 # the functions end when the harness has gone
    cpu=$(counter certgate-lambda task-clock)
    faults=$(counter certgate-lambda page-faults)
    hello=$(counter hello_s3_lambda task-clock)
    hello_faults=$(counter hello_s3_lambda page-faults)
    ratio=$(awk -v a="$cpu" -v b="$hello" 'BEGIN { printf "%.3f", a / b }')
    echo "$build $ratio" >>"$work/ratios"
    printf 'round %d, %-7s certgate-lambda CPU %6.2f ms, %5d page faults; hello_s3_lambda %6.2f ms, %5d; ratio %.2f (medians of %d cold starts)\n' \
      "$round" "$build:" "$cpu" "$faults" "$hello" "$hello_faults" "$ratio" "$runs"
  done
done
if (( rounds > 1 )); then
  for build in "${builds[@]}"; do
    awk -v b="$build" '$1 == b { print $2 }' "$work/ratios" | sort -g | awk -v b="$build" \
      '{ v[NR] = $1 } END { printf "%-8s ratio to hello_s3 over %d rounds: median %.2f, range %.2f-%.2f\n", b, NR, v[int((NR + 1) / 2)], v[1], v[NR] }'
  done
fi
