#!/usr/bin/env bash
# The Python package (python/): builds its wheel with maturin, installs it into a virtual
# environment (target/pyenv, created when missing, with maturin, numpy and
# pytest from PyPI) and runs its tests with pytest against the `bbs` binary
# the Rust tests built. scripts/test.sh calls this; under CI=true a missing
# python3 is a failure, elsewhere a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
env=$root/target/pyenv

if ! command -v python3 >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: CI=true and python3 is missing; the Python package cannot be tested" >&2
    exit 1
  fi
  echo "warning: python3 is missing; the Python package's tests are skipped" >&2
  exit 0
fi
if [ ! -x "$env/bin/python" ]; then
  if ! python3 -m venv "$env" 2>/dev/null; then
    # Debian's python3 keeps venv in its own package.
    echo "installing python3-venv with apt-get"
    rm -rf "$env"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$env"
  fi
fi
if [ ! -x "$env/bin/maturin" ] || ! "$env/bin/python" -c "import numpy, pytest" 2>/dev/null; then
  echo "installing maturin, numpy and pytest with pip into target/pyenv"
  "$env/bin/pip" install -q --disable-pip-version-check "maturin>=1.5,<2" numpy pytest
fi
# The package as users get it: a wheel (a debug build, which shares the
# dependencies `cargo test` compiled), installed with pip into the
# environment; the tests import that installed copy.
rm -rf "$root/target/wheels"
VIRTUAL_ENV=$env PATH=$env/bin:$PATH "$env/bin/maturin" build -q --locked -m python/Cargo.toml -o "$root/target/wheels"
wheels=("$root"/target/wheels/bbs-*.whl)
if [ ${#wheels[@]} -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "error: maturin build left ${#wheels[@]} wheels in target/wheels, not one" >&2
  exit 1
fi
# Out of the source tree, so that `import bbs` finds the installed wheel.
"$env/bin/pip" uninstall -q -y bbs 2>/dev/null || true
"$env/bin/pip" install -q --disable-pip-version-check --no-deps "${wheels[0]}"
(cd "$root/target" && "$env/bin/python" -c "import bbs, sys; assert 'site-packages' in bbs.__file__, bbs.__file__; print('bbs', bbs.__version__, 'from', bbs.__file__)")
# The binary the tests compare with (up to date: a no-op after `cargo test`).
cargo build -q --locked --bin bbs
BBS_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/bbs "$env/bin/python" -m pytest -q python/tests
