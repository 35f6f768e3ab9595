#!/usr/bin/env bash
# Builds every fuzz target and runs each for a fixed time over its seed
# corpus; exits non-zero if any target crashes (panic, failed assertion,
# timeout, out of memory). Works on stable Rust: no sanitizer (`-s none`)
# unless FUZZ_SANITIZER says otherwise (which needs nightly).
#
#   fuzz/smoke.sh [SECONDS] [TARGET...]
#
# SECONDS per target: first argument, else $FUZZ_SECONDS, else 20.
# TARGETs: the remaining arguments, else every target (`cargo fuzz list`).
# Environment: FUZZ_TARGET_DIR (default ~/.cache/causeway-fuzz-target; a
# CARGO_TARGET_DIR of the main workspace is deliberately not used: fuzz
# builds have their own flags), FUZZ_SANITIZER (default none), FUZZ_TOOLCHAIN (e.g. +nightly; default the
# active toolchain), FUZZ_UNIT_TIMEOUT (seconds one input may take, default
# 10).
#
# New inputs the fuzzer finds go to a temporary directory, so the
# committed corpora under fuzz/corpus/ stay as they are; crash inputs go
# to fuzz/artifacts/<target>/ (git-ignored). Reproduce one with
#   cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-20}}"
[ "$#" -gt 0 ] && shift
case "$seconds" in
'' | *[!0-9]*)
  echo "smoke.sh: SECONDS must be a whole number, got '$seconds'" >&2
  exit 2
  ;;
esac

export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/causeway-fuzz-target}"
sanitizer="${FUZZ_SANITIZER:-none}"
unit_timeout="${FUZZ_UNIT_TIMEOUT:-10}"
toolchain=()
[ -n "${FUZZ_TOOLCHAIN:-}" ] && toolchain=("$FUZZ_TOOLCHAIN")

if ! cargo "${toolchain[@]}" fuzz --version >/dev/null 2>&1; then
  echo "smoke.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi

echo "== building ${#targets[@]} fuzz targets (sanitizer: $sanitizer, target dir: $CARGO_TARGET_DIR)"
build_start=$(date +%s)
cargo "${toolchain[@]}" fuzz build -s "$sanitizer" --target-dir "$CARGO_TARGET_DIR"
echo "   built in $(($(date +%s) - build_start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=()
summary=()
for target in "${targets[@]}"; do
  seeds="fuzz/corpus/$target"
  if [ ! -d "$seeds" ]; then
    echo "smoke.sh: no seed corpus $seeds" >&2
    failed+=("$target")
    continue
  fi
  mkdir -p "$work/$target"
  log="$work/$target.log"
  echo "== $target: ${seconds}s over $(find "$seeds" -type f | wc -l) seeds"
  status=0
  cargo "${toolchain[@]}" fuzz run -s "$sanitizer" --target-dir "$CARGO_TARGET_DIR" \
    "$target" "$work/$target" "$seeds" -- \
    -max_total_time="$seconds" -timeout="$unit_timeout" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  added=$(grep -o 'stat::new_units_added: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    summary+=("$(printf '%-18s %12s %10s %8s  FAILED (exit %s)' "$target" "${execs:--}" "${rate:--}" "${added:--}" "$status")")
    echo "-- $target failed (exit $status); the end of its log:"
    grep -v '^"' "$log" | tail -40
  else
    summary+=("$(printf '%-18s %12s %10s %8s  ok' "$target" "${execs:--}" "${rate:--}" "${added:--}")")
  fi
done

echo
echo "== fuzz smoke run: ${seconds}s per target"
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s new result
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
