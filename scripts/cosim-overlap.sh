#!/usr/bin/env bash
# The overlapped machine's co-simulation over the whole configuration matrix
# (16 configurations x SpMxV / small-lstm / small-gru, every overlap technique),
# every ablation step on the default configuration, and the matrix again with
# bank-interleaved vectors (overlap.interleaved, the vector load 2, 4 or 1
# wide in turn; SpMxV only where the banks do not divide the workloads'
# vectors). CI runs a subset (tests/cosim.rs, overlapped_rtl_matches_simulator);
# this runs all of it (99 runs on 38 builds): about 12 minutes on two cores.
# Prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
BBS_COSIM_ALL=1 cargo test --release --test cosim overlapped_rtl_matches_simulator -- --nocapture
