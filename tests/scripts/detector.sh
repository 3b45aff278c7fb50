#!/usr/bin/env bash
# The failure-detector scenarios of tests/README.md ("Failure detector"),
# each over seeds 1-20 (SEEDS=A-B to change), the kill over seeds 1-200
# (KILL_SEEDS=A-B: the wait for the first probe of the dead node varies by
# about a probe interval, so a mean over 20 runs moves by +-0.4 s), with
# the release `simulate`.
# Run from the workspace root: bash tests/scripts/detector.sh [--json DIR]
# (DIR gets one summary JSON per scenario). About 5 s of wall time.
#
# Columns, per seed (seconds unless said otherwise): first-susp = crash to
# the first suspicion anywhere; last-dead = crash to "dead" at the last
# survivor; part-decl = split to "every node has declared every node of the
# other side failed"; susp-p50 / decl-p50 = median over the cross-side
# pairs of split to first suspicion / to MemberFailed; fp = false
# positives; false-susp = suspicions of healthy members; susp = every
# MemberSuspected; heal-susp = false suspicions within 10 s after the heal.
set -euo pipefail
seeds=${SEEDS:-1-20}
kill_seeds=${KILL_SEEDS:-1-200}
json_dir=
if [[ ${1:-} == --json ]]; then
  json_dir=${2:?--json needs a directory}
  mkdir -p "$json_dir"
fi
cargo build --release -p swim-tests --bin simulate >&2
sim=${CARGO_TARGET_DIR:-target}/release/simulate
git log -1 --format='workspace commit %h' || true

run() {
  local name=$1 title=$2
  shift 2
  echo
  echo "== $title"
  local these=$seeds
  if [[ $name == kill ]]; then these=$kill_seeds; fi
  echo "   simulate $* --seeds $these"
  local json=()
  if [[ -n $json_dir ]]; then json=(--json "$json_dir/$name.json"); fi
  "$sim" "$@" --seeds "$these" -q "${json[@]}" | grep -v '^JSON summary'
}

run partition "1 and 4. 5 | 5 partition of 10 nodes at 10 s, healed at 40 s (target: part-decl <= 15 s in every seed; heal suspicions)" \
  -n 10 -d 55 --partition-at 10 --partition-for 30
run kill "2. kill 1 of 50 at 30 s (targets: mean first-susp <= 1.5 probe intervals = 1.5 s, mean last-dead <= 8 s)" \
  -n 50 -d 60 --kill 1 --kill-at 30
for loss in 10 20 40; do
  run "loss$loss" "3. 10 nodes at $loss% loss, 3 virtual minutes (target: fp = 0; at 10% and 20% susp no higher than before)" \
    -n 10 -d 180 --loss "$loss"
done
