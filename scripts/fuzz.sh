#!/usr/bin/env bash
# A long fuzz campaign of the readers (.npy, .npz, .safetensors, .onnx, CSB)
# with libFuzzer: cargo fuzz on nightly Rust, targets in fuzz/ (not part of
# the workspace, not run by CI). Each target writes its input to a file with
# its format's extension and runs every reader of the format on it; a panic,
# an error that is not one line naming the file, a unit slower than 10 s (a
# hang) or a single allocation over 256 MiB is a crash, saved to
# fuzz/artifacts/<target>/. The corpus grows in fuzz/corpus/<target>/ (seeded
# with valid files by `cargo run --example seeds`); neither is committed.
#
#   scripts/fuzz.sh [RUNS_PER_TARGET] [TARGET...]   # default: 200000, all five
#
# Prints the inputs run and the time per target, then the total.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-200000}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy npz safetensors onnx csb)

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "error: cargo fuzz needs nightly Rust: rustup toolchain install nightly" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

(cd fuzz && cargo +nightly run -q --example seeds >/dev/null)
cargo +nightly fuzz build --fuzz-dir fuzz -O

total_runs=0
total_secs=0
summary=()
for t in "${targets[@]}"; do
  log=$(mktemp)
  start=$(date +%s)
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz -O "$t" -- \
    -runs="$runs" -timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  secs=$(( $(date +%s) - start ))
  n=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log" | tail -1)
  n=${n:-0}
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    rm -f "$log"
    echo "error: fuzz target $t failed after $n inputs (${secs}s); the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  rm -f "$log"
  summary+=("fuzz $t: $n inputs in ${secs}s, no failure")
  echo "${summary[-1]}"
  total_runs=$((total_runs + n))
  total_secs=$((total_secs + secs))
done
echo "fuzz: ${total_runs} inputs over ${#targets[@]} targets in ${total_secs}s, no failure"
