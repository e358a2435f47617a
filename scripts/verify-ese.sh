#!/usr/bin/env bash
# The ESE LSTM frame on Verilator, bit for bit and cycle for cycle:
#   bbs verify --workload ese-lstm --config hw/configs/ese-a10.toml --frames 2
# ese-a10 is 64 PEs x 16 multipliers: its Verilator build is too slow for CI
# (tests/cosim.rs stops at 256 multipliers), so it runs here. Usage:
#   scripts/verify-ese.sh [WORK_DIR] (default target/verify-ese; FRAMES=2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/verify-ese}
cargo build --release --quiet
start=$(date +%s)
./target/release/bbs verify --workload ese-lstm --config hw/configs/ese-a10.toml \
  --frames "${FRAMES:-2}" -o "$out"
echo "wall time: $(($(date +%s) - start)) s"
