#!/usr/bin/env bash
# Runs every cargo-fuzz target of swim-core for a bounded time on stable Rust.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz when it is missing. Uses `-s none` (no sanitizer:
# swim-core is `forbid(unsafe_code)`, and stable Rust has no sanitizers);
# set FUZZ_SANITIZER=address to build with ASan through RUSTC_BOOTSTRAP=1.
# The committed seeds of fuzz/corpus/<target>/ are read, never written:
# new inputs found go to fuzz/target/corpus-new/<target>/ (git-ignored with
# the rest of fuzz/target/; merge them into the corpus by hand, see
# README.md); a crash stops the run with a non-zero status and leaves its
# input in fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(decode state_machine packet_assembly digest_exchange)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

sanitizer="${FUZZ_SANITIZER:-none}"
if [ "$sanitizer" != none ]; then
    export RUSTC_BOOTSTRAP=1
    # A failed nightly-feature probe may have been cached without RUSTC_BOOTSTRAP.
    rm -f target/.rustc_info.json
fi

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
    # The committed seeds are read from corpus/<target>; new finds are
    # written to a scratch directory given first, so the run leaves the
    # committed corpus untouched.
    scratch="target/corpus-new/$target"
    mkdir -p "$scratch"
    log="target/fuzz-$target.log"
    set +e
    cargo fuzz run -s "$sanitizer" "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|Done )' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed (status $status); reproduce with:" >&2
        echo "  cd fuzz && cargo fuzz run -s $sanitizer $target artifacts/$target/<file>" >&2
        exit "$status"
    fi
done
