#!/usr/bin/env bash
# Issue 11's real-process case: 10 `node` processes (swim-transport-udp's
# example, release, LAN preset, --json), each in its own network namespace,
# split 5 | 5 for a minute and healed; per node, the time from the heal
# until it sees all 9 others alive again.
#
# Run as root from the workspace root:
#   bash tests/scripts/netns_partition.sh [--runs N] [--partition SECS]
#        [--step SECS] [--keep DIR]
# --runs N        runs (default 10); each starts 10 fresh processes
# --partition S   partition length of run 0 (default 60)
# --step S        run k is partitioned for S + k * step seconds (default
#                 0.5: 10 runs spread the heal over one 5 s digest round)
# --keep DIR      keep every node's output (JSON lines) in DIR
# About 80 s of wall time per run with the defaults.
#
# Topology: a switch namespace holds two bridges, one per side, joined by
# a veth pair; node i's namespace has one veth (10.0.0.(i+1)/24) on
# bridge A (nodes 0-4) or B (nodes 5-9). The partition takes the link
# between the bridges down (`ip link set ... down`; this kernel has no
# netem, nftables or iptables), the heal brings it up. Nothing is created
# outside these namespaces, and a trap deletes them and stops the nodes
# however the script ends.
#
# Heal time of a node: from the heal (the moment `ip link set up`
# returned) to the first event it printed after which its view, built
# from its own events (joined/alive = alive, suspect, failed = dead,
# left, removed), holds every other node alive. Timestamps are the
# nodes' own `unix_ms`, all on this machine's clock. Before healing, each
# run checks that every node declared every node of the other side failed
# (column "declared").
set -euo pipefail

runs=10
partition=60
step=0.5
keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --partition) partition=${2:?--partition needs seconds}; shift 2 ;;
    --step) step=${2:?--step needs seconds}; shift 2 ;;
    --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--partition SECS] [--step SECS] [--keep DIR]" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "needs root (network namespaces)" >&2
  exit 1
fi
for tool in ip jq; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

cargo build --release -p swim-transport-udp --example node >&2
node_bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/examples/node")
git log -1 --format='workspace commit %h' || true

n=10
half=5
port=7946
prefix="swimnp$$"
switch="${prefix}sw"
out=$(mktemp -d)
pids=()

stop_nodes() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

cleanup() {
  stop_nodes
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^${prefix}" || true); do
    ip netns delete "$ns" || true
  done
  if [[ -n $keep ]]; then
    mkdir -p "$keep" && cp -r "$out"/. "$keep"/
  fi
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns_of() { echo "${prefix}n$1"; }
addr_of() { echo "10.0.0.$(($1 + 1)):$port"; }
now_ms() { date +%s%3N; }

# --- the network -----------------------------------------------------------
ip netns add "$switch"
ip -n "$switch" link add bra type bridge
ip -n "$switch" link add brb type bridge
ip -n "$switch" link add xa type veth peer name xb
ip -n "$switch" link set xa master bra
ip -n "$switch" link set xb master brb
for l in bra brb xa xb; do ip -n "$switch" link set "$l" up; done
for ((i = 0; i < n; i++)); do
  ns=$(ns_of "$i")
  ip netns add "$ns"
  ip -n "$switch" link add "p$i" type veth peer name eth0 netns "$ns"
  if ((i < half)); then br=bra; else br=brb; fi
  ip -n "$switch" link set "p$i" master "$br"
  ip -n "$switch" link set "p$i" up
  ip -n "$ns" addr add "10.0.0.$((i + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# --- one node's view from its events -----------------------------------------
# Prints the first unix_ms >= HEAL at which FILE's node held every address
# of PEERS (JSON array) alive, or null.
healed_at() {
  local file=$1 heal=$2 peers=$3
  jq -n --argjson heal "$heal" --argjson peers "$peers" '
    def st: if . == "joined" or . == "alive" then "alive"
            elif . == "failed" then "dead" else . end;
    reduce (inputs | select(.addr != null
        and (.event | IN("joined", "alive", "suspect", "failed", "left", "removed"))))
      as $e ({s: {}, t: null};
        .s[$e.addr] = ($e.event | st)
        | if .t == null and $e.unix_ms >= $heal
             and ([$peers[] as $p | .s[$p] == "alive"] | all)
          then .t = $e.unix_ms else . end)
    | .t' "$file"
}

# Addresses of the other side of node I that it reported failed after SPLIT.
declared() {
  local file=$1 split=$2 others=$3
  jq -n --argjson split "$split" --argjson others "$others" '
    [inputs | select(.event == "failed" and .unix_ms >= $split) | .addr]
    | unique | map(select(. as $a | $others | index($a))) | length' "$file"
}

joined_count() {
  jq -n '[inputs | select(.event == "joined") | .addr] | unique | length' "$1"
}

peers_of() { # JSON array of every node's address but I's
  local i=$1 j list=()
  for ((j = 0; j < n; j++)); do ((j != i)) && list+=("\"$(addr_of "$j")\""); done
  (IFS=,; echo "[${list[*]}]")
}

others_of() { # JSON array of the addresses on the other side of I
  local i=$1 j list=()
  for ((j = 0; j < n; j++)); do
    if (((i < half) != (j < half))); then list+=("\"$(addr_of "$j")\""); fi
  done
  (IFS=,; echo "[${list[*]}]")
}

wait_for() { # TIMEOUT_S WHAT COMMAND...: polls every 0.2 s
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "timed out after ${timeout}s waiting until $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

all_joined() {
  local i
  for ((i = 0; i < n; i++)); do
    [[ $(joined_count "$out/run$run-node$i.jsonl") -eq $((n - 1)) ]] || return 1
  done
}

all_healed() {
  local i
  for ((i = 0; i < n; i++)); do
    [[ $(healed_at "$out/run$run-node$i.jsonl" "$heal_ms" "$(peers_of "$i")") != null ]] || return 1
  done
}

# --- the runs -----------------------------------------------------------------
echo
echo "== $n node processes (release, LAN preset) in network namespaces, $half | $((n - half)) split"
echo "   for $partition + k * $step s, healed; per node: heal to all $((n - 1)) others alive (s)"
printf '%4s %8s %9s' run split-s declared
for ((i = 0; i < n; i++)); do printf ' %6s' "n$i"; done
printf ' %7s\n' max
all_times=()
run_max=()
for ((run = 0; run < runs; run++)); do
  for ((i = 0; i < n; i++)); do
    args=(--bind "$(addr_of "$i")" --preset lan --json --label netns-partition)
    ((i > 0)) && args+=(--join "$(addr_of 0)")
    ip netns exec "$(ns_of "$i")" "$node_bin" "${args[@]}" \
      </dev/null >"$out/run$run-node$i.jsonl" 2>"$out/run$run-node$i.err" &
    pids+=($!)
  done
  wait_for 30 "every node joined the 9 others" all_joined
  sleep 2
  split_for=$(echo "$partition + $run * $step" | bc -l)
  split_ms=$(now_ms)
  ip -n "$switch" link set xa down
  sleep "$split_for"
  decl=0
  for ((i = 0; i < n; i++)); do
    d=$(declared "$out/run$run-node$i.jsonl" "$split_ms" "$(others_of "$i")")
    decl=$((decl + d))
  done
  ip -n "$switch" link set xa up
  heal_ms=$(now_ms)
  wait_for 60 "every node sees all others alive" all_healed || true
  printf '%4d %8.1f %5d/%d' "$run" "$split_for" "$decl" $((n * half))
  worst=0
  for ((i = 0; i < n; i++)); do
    t=$(healed_at "$out/run$run-node$i.jsonl" "$heal_ms" "$(peers_of "$i")")
    if [[ $t == null ]]; then
      printf ' %6s' never
      worst=never
    else
      s=$(echo "($t - $heal_ms) / 1000" | bc -l)
      printf ' %6.2f' "$s"
      all_times+=("$s")
      [[ $worst != never ]] && worst=$(echo "if ($s > $worst) $s else $worst" | bc -l)
    fi
  done
  if [[ $worst == never ]]; then printf ' %7s\n' never; else printf ' %7.2f\n' "$worst"; fi
  run_max+=("$worst")
  stop_nodes
done

summary() { # label values...
  local label=$1
  shift
  printf '%s\n' "$@" | grep -v never | sort -g | awk -v label="$label" '
    { v[NR] = $1 }
    END { if (NR == 0) { print label ": none"; exit }
          printf "%s: min %.2f  median %.2f  max %.2f s (%d values)\n", label, v[1],
            (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR], NR }'
}
echo
summary "per node, all runs" "${all_times[@]}"
summary "per run, last node" "${run_max[@]}"
never=$(printf '%s\n' "${run_max[@]}" | grep -c never || true)
over=$(printf '%s\n' "${run_max[@]}" | grep -v never | awk '$1 > 5' | wc -l)
echo "runs with a node not healed within 60 s: $never; runs over 5 s: $over (target: 0)"
