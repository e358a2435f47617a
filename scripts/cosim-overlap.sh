#!/usr/bin/env bash
# The overlapped machine's co-simulation over the whole configuration matrix
# (16 configurations x SpMxV / small-lstm / small-gru, every overlap technique)
# and every ablation step on the default configuration. CI runs a subset
# (tests/cosim.rs, overlapped_rtl_matches_simulator); this runs all of it:
# about 15 minutes on two cores. Prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
BBS_COSIM_ALL=1 cargo test --release --test cosim overlapped_rtl_matches_simulator -- --nocapture
