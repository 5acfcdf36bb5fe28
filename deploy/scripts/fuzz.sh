#!/usr/bin/env bash
# Runs each fuzz target of tests/fuzz for a bounded time (`make fuzz`, FUZZ_SECONDS per target,
# default 30): resident ID numbers, departmental CSV feeds, pain.002 status reports. A crash
# (a panic or a failed assertion) fails the run and leaves its input in tests/fuzz/artifacts/.
# cargo-fuzz installs into ~/.cache/relief-mesh/tools on first use; the machine's stable
# toolchain builds the targets (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags), without a
# sanitizer: the parsers are safe Rust, so what is looked for is a panic, not memory errors. The
# targets are dev builds: quicker to build, and arithmetic overflow panics there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root="$PWD"
seconds="${FUZZ_SECONDS:-30}"
CARGO_FUZZ_VERSION=0.13.2
tools="${RELIEF_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/relief-mesh/tools}/cargo-fuzz-$CARGO_FUZZ_VERSION"
if [[ ! -x "$tools/bin/cargo-fuzz" ]]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
    env -u CARGO_TARGET_DIR cargo install --locked --root "$tools" cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
fi
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
# Its own target directory, not the workspace's: instrumented builds differ.
export CARGO_TARGET_DIR="$root/target/fuzz"

cd tests/fuzz
targets=(id_number feed_csv pain002)
cargo fuzz build --dev -s none --fuzz-dir .
mkdir -p "$root/target/fuzz-logs"
for t in "${targets[@]}"; do
    corpus="$root/target/fuzz-corpus/$t"
    log="$root/target/fuzz-logs/$t.log"
    mkdir -p "$corpus"
    echo "== fuzz $t for ${seconds}s (seeds: tests/fuzz/seeds/$t; log: $log)"
    status=0
    cargo fuzz run --dev -s none --fuzz-dir . "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done [0-9]+ runs)" "$log" || true
    if [[ $status -ne 0 ]]; then
        tail -40 "$log" >&2
        echo "fuzz $t failed (exit $status); the input is in tests/fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "== fuzz: no crash in ${#targets[@]} targets x ${seconds}s"
