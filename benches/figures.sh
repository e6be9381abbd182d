#!/usr/bin/env bash
# Prints the figures in BENCHMARKS.md: clean release build time, release binary size, time from
# start to ready on an existing database (median of several runs, READY=1 over NOTIFY_SOCKET),
# and resident memory when idle.
#
#   benches/figures.sh           # clean release build in ./target-release, then measure
#   benches/figures.sh --reuse   # measure the release binary already in ./target-release
#
# The clean build uses its own CARGO_TARGET_DIR so that the warm ./target is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$PWD/target-release"
bin="$target/release/orchard"

if [ "${1:-}" != "--reuse" ]; then
    rm -rf "$target"
    echo "clean release build (CARGO_TARGET_DIR=$target) ..."
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    start=$(date +%s%N)
    CARGO_TARGET_DIR="$target" cargo build --release --locked --bin orchard --quiet
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    echo "clean release build: $((ms / 1000)).$(printf %03d $((ms % 1000))) s on $(nproc) cores (load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg))"
fi
[ -x "$bin" ] || { echo "no release binary at $bin" >&2; exit 1; }
echo "release binary: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1)), $(ldd "$bin" 2>/dev/null | grep -c '=>') shared libraries"

# The probe is std-only; compiling it with rustc takes a second.
rustc -O --edition 2021 benches/startup_probe.rs -o "$target/startup-probe"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
"$target/startup-probe" "$bin"
