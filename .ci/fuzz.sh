#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time: FUZZ_SECONDS each (45 by default,
# about 3 minutes for all on 2 cores, plus the first build). For a long run of one target, see
# the README ("Fuzzing").
#
# Installs cargo-fuzz if missing. It needs nightly-only rustc flags (sanitizer coverage);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. The targets are built without a
# sanitizer: the code under test is safe Rust, where AddressSanitizer finds nothing a panic
# would not, and it halves the executions per second. Each target starts from its seeds
# (fuzz/seeds/) and from the inputs that once broke it (fuzz/regressions/, which
# `cargo test` also replays). A crash fails the script; its input is in fuzz/artifacts/.
# If cargo-fuzz cannot be installed, the script says SKIPPED and succeeds, as the database
# and browser scripts do. Logs go to stderr.
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-45}
export RUSTC_BOOTSTRAP=1

log() { echo "fuzz.sh: $*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz (a few minutes)"
    if ! cargo install cargo-fuzz --locked --version 0.13.2 >&2; then
        log "cargo-fuzz not installable: fuzzing SKIPPED"
        exit 0
    fi
fi

log "building the targets"
cargo fuzz build --sanitizer none >&2 || exit 1

failed=()
for target in $(cargo fuzz list); do
    corpus=fuzz/corpus/$target
    mkdir -p "$corpus"
    inputs=("$corpus")
    for dir in fuzz/seeds/$target fuzz/regressions/$target; do
        [ -d "$dir" ] && inputs+=("$dir")
    done
    args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "fuzz/dict/$target.dict" ] && args+=(-dict="fuzz/dict/$target.dict")
    log "$target: ${SECONDS_EACH}s"
    if ! cargo fuzz run --sanitizer none "$target" "${inputs[@]}" -- "${args[@]}" >&2; then
        log "$target FAILED: the input is under fuzz/artifacts/$target/; replay it with"
        log "  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $target fuzz/artifacts/$target/<file>"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
log "every target ran ${SECONDS_EACH}s without a failure"
