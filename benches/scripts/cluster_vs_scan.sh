#!/usr/bin/env bash
# `cluster` (timely workers and processes) against `scan` over the reference workload, in one run:
#
# 1. Throughput: `scan --threads 1`, `scan --threads 2`, `cluster -w 1` and `cluster -w 2`, in
#    interleaved rounds (each round runs the four once, so that the machine's load falls on all
#    four alike), over the 100k reference events with the 300-rule pack and with the 1 081 corpus
#    rules. Each run's events/s is read from its summary line (reading, checks, rules, sessions,
#    alerts written; rule compilation excluded); the median over the rounds is reported.
# 2. Equality: `cluster` in two processes on 127.0.0.1 (one worker each, `-n 2 -p 0/1` and a
#    hostfile, each bounded by `timeout`) against `scan --threads 1`, with every corpus rule over
#    the 100k events: the sorted alerts must be byte-identical.
#
#   benches/scripts/cluster_vs_scan.sh [ROUNDS]       (default 5)
#
# Inputs (generated into target/ when absent): the events of
# `$EQL_SHARED/bench/gen_events.py --seed 42 -n 100000`, the rules of
# `$EQL_SHARED/bench/gen_rules.py --seed 7 -n 300` (as JSONL), the corpus
# `$EQL_SHARED/corpus/detection-rules-eql.jsonl`. EQL_SHARED defaults to ../shared; EVENTS names
# another events file.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-5}"
shared="${EQL_SHARED:-../shared}"
work=target/cluster-bench
mkdir -p "$work"
events="${EVENTS:-$work/events-100k.jsonl}"
rules300="$work/rules-300.jsonl"
corpus="$shared/corpus/detection-rules-eql.jsonl"
[ -f "$corpus" ] || { echo "no corpus at $corpus (set EQL_SHARED)" >&2; exit 1; }
if [ ! -f "$events" ]; then
  python3 "$shared/bench/gen_events.py" --seed 42 -n 100000 -o "$events"
fi
if [ ! -f "$rules300" ]; then
  python3 "$shared/bench/gen_rules.py" --seed 7 -n 300 -o "$work/rules-300.json"
  python3 - "$work/rules-300.json" "$rules300" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for r in json.load(open(sys.argv[1])):
        out.write(json.dumps({"rule_id": r["id"], "name": r["id"], "query": r["eql"]}) + "\n")
PY
fi
cargo build --release --example scan --example cluster 2>&1 | tail -n 1
scan=target/release/examples/scan
cluster=target/release/examples/cluster

# events/s of one run, from the summary line (the last line of stderr).
rate() {
  "$@" 2>&1 >/dev/null | tail -n 1 | sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "events: $events ($(wc -l < "$events") lines); $rounds rounds, median events/s"
for pack in "$rules300" "$corpus"; do
  declare -A runs=()
  for _ in $(seq "$rounds"); do
    runs[scan1]+="$(rate "$scan" --threads 1 --rules "$pack" "$events") "
    runs[scan2]+="$(rate "$scan" --threads 2 --rules "$pack" "$events") "
    runs[cluster1]+="$(rate "$cluster" -w 1 --rules "$pack" "$events") "
    runs[cluster2]+="$(rate "$cluster" -w 2 --rules "$pack" "$events") "
  done
  echo "rules: $pack"
  for k in scan1 scan2 cluster1 cluster2; do
    m=$(tr ' ' '\n' <<< "${runs[$k]}" | grep . | median)
    printf '  %-22s %8s events/s   (runs: %s)\n' \
      "$(sed 's/scan\(.\)/scan --threads \1/; s/cluster\(.\)/cluster -w \1/' <<< "$k")" "$m" "${runs[$k]% }"
  done
  unset runs
done

echo "equality: cluster -n 2 (two processes on 127.0.0.1) against scan --threads 1, corpus rules"
"$scan" --threads 1 --rules "$corpus" "$events" 2>/dev/null | sort > "$work/scan.alerts"
port=$((20000 + RANDOM % 20000))
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$port" "$((port + 1))" > "$work/hosts"
timeout 600 "$cluster" -n 2 -p 1 -h "$work/hosts" --rules "$corpus" "$events" >/dev/null 2>"$work/p1.err" &
p1=$!
timeout 600 "$cluster" -n 2 -p 0 -h "$work/hosts" --rules "$corpus" --output "$work/cluster.alerts" \
  "$events" >/dev/null 2>"$work/p0.err"
wait "$p1"
grep -E "routed|^scanned" "$work/p0.err" | sed 's/^/  /'
sort -o "$work/cluster.alerts" "$work/cluster.alerts"
if cmp -s "$work/scan.alerts" "$work/cluster.alerts"; then
  echo "  equal: $(wc -l < "$work/scan.alerts") alerts, byte for byte"
else
  echo "  DIFFERENT: scan $(wc -l < "$work/scan.alerts") alerts, cluster $(wc -l < "$work/cluster.alerts")"
  exit 1
fi
