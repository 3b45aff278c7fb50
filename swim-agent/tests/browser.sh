#!/usr/bin/env bash
# The agent's status page in a real headless browser (Chromium, from the
# distribution's packages, installed when missing): four agents on
# loopback, one of them killed; the page as Chromium's DOM holds it after
# loading (rows are rendered by the server, the page's script has run)
# must list the four members, the killed one as dead. Takes a screenshot
# too (checked to be a PNG).
#
# Not with --virtual-time-budget: the page keeps its server-sent event
# stream open, and Chromium's virtual time does not advance while a
# request is pending, so the budget would never be spent.
#
# Usage: bash swim-agent/tests/browser.sh [--screenshot PATH]
#   --screenshot PATH  also keep the screenshot at PATH (the README's
#                      picture is docs/agent-status.png)
set -euo pipefail
cd "$(dirname "$0")/../.."

keep_shot=""
if [ "${1:-}" = "--screenshot" ]; then keep_shot="${2:?--screenshot needs a path}"; fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "browser.sh: installing chromium from the distribution's packages"
  as_root=""
  if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium >/dev/null
fi

cargo build -p swim-agent --locked --quiet
swim="${CARGO_TARGET_DIR:-target}/debug/swim"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "browser.sh: FAILED: $*" >&2
  for log in "$work"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

# start NAME ARGS...: an agent on free ports; its JSON start line gives them.
start() {
  local name=$1; shift
  "$swim" agent --json --preset local --bind 127.0.0.1:0 --http 127.0.0.1:0 "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 100); do
    grep -q '"event":"started"' "$work/$name.log" && return 0
    sleep 0.1
  done
  fail "agent $name did not start"
}
# field NAME KEY: a string field of the agent's start line.
field() {
  grep '"event":"started"' "$work/$1.log" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}
# wait_for HTTP PATTERN COUNT SECONDS: until /v1/members matches PATTERN COUNT times.
wait_for() {
  local n
  for _ in $(seq $(( $4 * 10 ))); do
    n=$(curl -fsS "http://$1/v1/members" | grep -o "$2" | wc -l || true)
    [ "$n" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "never $3 x $2 at $1"
}

start a --meta role=db --meta zone=eu-1
seed=$(field a addr)
http=$(field a http | sed 's|http://||; s|/$||')
start b --join "$seed" --meta role=web --meta zone=eu-1
start c --join "$seed" --meta role=web --meta zone=eu-2
start d --join "$seed" --meta role=cache --meta zone=eu-2
wait_for "$http" '"state":"alive"' 4 20
addrs=("$seed" "$(field b addr)" "$(field c addr)" "$(field d addr)")

# Kill one without leaving, and watch it fail.
kill -9 "$pid_d"
wait_for "$http" '"state":"dead"' 1 40

browser=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile")
timeout 60 "${browser[@]}" --dump-dom "http://$http/" \
  >"$work/dom.html" 2>"$work/chromium.log" || fail "chromium --dump-dom failed"

rows=$(grep -o 'class="member state-[a-z]*" data-addr="[^"]*"' "$work/dom.html" | wc -l)
[ "$rows" -eq 4 ] || fail "expected 4 member rows, found $rows"
for addr in "${addrs[@]}"; do
  grep -q "data-addr=\"$addr\"" "$work/dom.html" || fail "no row for $addr"
done
grep -q "class=\"member state-dead\" data-addr=\"${addrs[3]}\"" "$work/dom.html" \
  || fail "the killed member is not shown dead"
grep -q 'id="live">live updates: connecting' "$work/dom.html" \
  || fail "the page's script did not run"

shot="$work/status.png"
timeout 60 "${browser[@]}" --hide-scrollbars --window-size=1200,640 \
  --screenshot="$shot" "http://$http/" >>"$work/chromium.log" 2>&1 || fail "screenshot failed"
[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "the screenshot is not a PNG"
if [ -n "$keep_shot" ]; then cp "$shot" "$keep_shot"; echo "browser.sh: screenshot written to $keep_shot"; fi
echo "browser.sh: ok: the status page lists the 4 members in Chromium ($(chromium --version 2>/dev/null | head -1)), the killed one dead"
