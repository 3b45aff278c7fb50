#!/usr/bin/env bash
# The failure detector on real processes: N `node` processes
# (swim-transport-udp's example, release, LAN preset, --json) on loopback,
# one of them killed with SIGKILL once the cluster has settled; per run,
# the time from the kill to the first suspicion of the dead node anywhere
# and to "failed" at the last survivor, and every suspicion or failure of
# a live node (false suspicions, false failures) from the settle to the
# end. Each run starts N fresh processes.
#
# Run from the workspace root:
#   bash tests/scripts/loopback_kill.sh [--nodes N] [--runs R] [--settle S]
#        [--after S] [--port P] [--keep DIR]
# --nodes N   processes (default 50)
# --runs R    runs (default 5)
# --settle S  seconds between the last start and the kill (default 20)
# --after S   seconds after the kill before the nodes are stopped (default 15)
# --port P    first port (default 17000): node i binds 127.0.0.1:P+i
# --keep DIR  keep every node's output (JSON lines) in DIR
# Needs jq. About settle + after + 5 s of wall time per run.
#
# Times are the nodes' own `unix_ms` (one machine, one clock) against the
# `unix_ms` taken just before the kill.
set -euo pipefail

nodes=50 runs=5 settle=20 after=15 port=17000 keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }

cargo build --release -q -p swim-transport-udp --example node
bin=${CARGO_TARGET_DIR:-target}/release/examples/node
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [[ -n $keep ]]; then mkdir -p "$keep" && cp -r "$work"/. "$keep"/; fi
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
git log -1 --format='workspace commit %h' || true
echo "nodes $nodes, settle $settle s, after $after s"
echo "run  victim  first-susp  last-failed  survivors-failed  false-susp  false-failed"

for run in $(seq 1 "$runs"); do
  dir=$work/run$run
  mkdir -p "$dir"
  pids=()
  for i in $(seq 0 $((nodes - 1))); do
    join=()
    if [[ $i -gt 0 ]]; then join=(--join "127.0.0.1:$port"); fi
    "$bin" --bind "127.0.0.1:$((port + i))" --preset lan --json "${join[@]}" \
      </dev/null >"$dir/node$i.jsonl" 2>"$dir/node$i.err" &
    pids+=($!)
    disown $!
  done
  sleep "$settle"
  settled=$(now_ms)
  victim=$((1 + RANDOM % (nodes - 1)))
  victim_addr="127.0.0.1:$((port + victim))"
  killed=$(now_ms)
  kill -9 "${pids[$victim]}"
  sleep "$after"
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  sleep 0.5
  survivors=()
  for i in $(seq 0 $((nodes - 1))); do
    [[ $i -ne $victim ]] && survivors+=("$dir/node$i.jsonl")
  done
  jq -n -r --arg v "$victim_addr" --argjson k "$killed" --argjson s "$settled" \
    --argjson n "$((nodes - 1))" --arg run "$run" '
    [inputs | select(.unix_ms != null)] as $e
    | ($e | map(select(.event == "suspect" and .addr == $v and .unix_ms >= $k)) | map(.unix_ms) | min) as $fs
    | [$e[] | select(.event == "failed" and .addr == $v and .unix_ms >= $k)] as $f
    | ($f | length) as $nf
    | ($f | map(.unix_ms) | max) as $lf
    | ($e | map(select(.event == "suspect" and .addr != $v and .unix_ms >= $s)) | length) as $falses
    | ($e | map(select(.event == "failed" and .addr != $v and .unix_ms >= $s)) | length) as $falsef
    | def secs(x): if x == null then "-" else ((x - $k) / 1000 | tostring) end;
      "\($run)  \($v)  \(secs($fs))  \(secs($lf))  \($nf) of \($n)  \($falses)  \($falsef)"
  ' "${survivors[@]}"
done
