#!/usr/bin/env bash
# The ESE LSTM frame on Verilator, bit for bit and cycle for cycle:
#   bbs verify --workload ese-lstm --config hw/configs/ese-a10.toml --frames 2
# (tests/verify_ese.rs runs that in CI, and the overlapped ese-a10-overlap
# with two frames). CONFIG=hw/configs/ese-a10-overlap.toml FRAMES=3 runs the
# overlapped machine (about 2 minutes on two cores), CONFIG=
# hw/configs/ese-gx1150.toml the fastest GX1150 machine. Usage:
#   scripts/verify-ese.sh [WORK_DIR] (default target/verify-ese; FRAMES=2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/verify-ese}
cargo build --release --quiet
start=$(date +%s)
"${CARGO_TARGET_DIR:-target}/release/bbs" verify --workload ese-lstm --config "${CONFIG:-hw/configs/ese-a10.toml}" \
  --frames "${FRAMES:-2}" -o "$out"
echo "wall time: $(($(date +%s) - start)) s"
