#!/usr/bin/env bash
# Re-measures every figure quoted in tests/README.md. Run from the
# workspace root: bash tests/scripts/measure.sh > measurements.txt
# (a few minutes on 2 cores, without the 10 000-node run; add --10k for it:
# about 3 more minutes and ~13 GB of RAM).
set -euo pipefail
cargo build --release -p swim-tests --bin simulate >&2
sim=${CARGO_TARGET_DIR:-target}/release/simulate
git log -1 --format='workspace commit %h' || true

echo "== 1000 nodes join through one seed (seeds 1-5)"
for s in 1 2 3 4 5; do
  echo -n "seed $s: "; $sim -n 1000 -d 30 -q -s "$s" | grep 'full membership'
done

echo "== kill 1 of 1000, LAN preset (seeds 1-40): seed, first suspicion, p50 per survivor, last survivor (s)"
within=0
for s in $(seq 1 40); do
  out=$($sim -n 1000 -d 60 --kill 1 --kill-at 30 -q -s "$s")
  line=$(echo "$out" | awk '/^first suspicion/{f=$4} /^detection per survivor/{p=$5} /^full dissemination/{l=$4} /^undetected pairs/{u=$3} END{print f, p, l, "undetected", u}')
  echo "seed $s: $line"
  last=$(echo "$line" | awk '{print $3}')
  if awk -v l="$last" 'BEGIN{exit !(l < 15)}'; then within=$((within + 1)); fi
done
echo "every survivor within 15 s: $within of 40 seeds"

echo "== the same with --suspicion-mult 3 (floor 9 s): last survivor (s), seeds 1-40"
for s in $(seq 1 40); do
  $sim -n 1000 -d 60 --kill 1 --kill-at 30 -q -s "$s" --suspicion-mult 3 | awk '/^full dissemination/{printf "%s ", $4}'
done
echo
echo "== --suspicion-mult 3: false positives at 5% and 10% loss (100 nodes, 10 min, seeds 1-3), isolated pauses (100 nodes, seeds 1-6), back-to-back pauses (10 nodes, 1% loss, seeds 1-40)"
for loss in 5 10; do for s in 1 2 3; do
  echo -n "loss $loss% seed $s: "; $sim -n 100 -d 600 --loss "$loss" -q -s "$s" --suspicion-mult 3 | grep -E '^false positives' | tr -s ' '
done; done
total=0
for s in 1 2 3 4 5 6; do
  n=$($sim -n 100 -d 600 --pauses -q -s "$s" --suspicion-mult 3 | awk '/^false positives/{print $3}')
  total=$((total + n))
done
echo "isolated pauses: $total false positives"
total=0
for s in $(seq 1 40); do
  n=$($sim -n 10 -d 600 --loss 1 --pauses --pause-gap-min 0.2 --pause-gap-max 2 -q -s "$s" \
        --suspicion-mult 3 | awk '/^false positives/{print $3}')
  total=$((total + n))
done
echo "back-to-back pauses: $total false positives"

echo "== 100 nodes, 10 virtual minutes, uniform loss (seeds 1-3)"
for loss in 5 10; do for s in 1 2 3; do
  echo -n "loss $loss% seed $s: "; $sim -n 100 -d 600 --loss "$loss" -q -s "$s" | grep -E '^false positives' | tr -s ' '
done; done

echo "== one node pausing 2-5 s every 10-30 s, 100 nodes, 10 virtual minutes (seeds 1-6)"
for preset in lan local; do for lg in "" --no-lifeguard; do
  total=0
  for s in 1 2 3 4 5 6; do
    n=$($sim -n 100 -d 600 --preset "$preset" --pauses -q -s "$s" $lg | awk '/^false positives/{print $3}')
    total=$((total + n))
  done
  echo "$preset ${lg:-lifeguard}: $total false positives"
done; done

# false positives per seed (seeds with none omitted), Lifeguard on and off.
pauses() { # nodes preset loss% gap_min gap_max last_seed
  for lg in "" --no-lifeguard; do
    total=0; seeds=""
    for s in $(seq 1 "$6"); do
      n=$($sim -n "$1" -d 600 --preset "$2" --loss "$3" --pauses --pause-gap-min "$4" \
            --pause-gap-max "$5" -q -s "$s" $lg | awk '/^false positives/{print $3}')
      total=$((total + n)); [ "$n" = 0 ] || seeds="$seeds $s:$n"
    done
    echo "n=$1 $2 loss $3% gaps $4-$5 s ${lg:-lifeguard}: $total false positives (seed:count$seeds)"
  done
}
echo "== back-to-back pauses: 2-5 s with 0.2-2 s of activity between them"
pauses 100 lan 0 0.2 2 6
pauses 100 lan 1 0.2 2 6
pauses 100 local 0 0.2 2 6
pauses 10 lan 0 0.2 2 40
pauses 10 lan 1 0.2 2 40
pauses 10 lan 1 10 30 40

if [ "${1:-}" = "--10k" ]; then
  echo "== 10 000 nodes, 60 virtual seconds"
  /usr/bin/time -v "$sim" -n 10000 -d 60 --join-spread 10 --kill 1 --kill-at 30 --sample-secs 5 --threads 2 -q 2>&1 \
    | grep -E 'wall time|full membership|converged|first suspicion|per survivor|false positives|traffic|heap|Elapsed|User time|Maximum resident'
fi
