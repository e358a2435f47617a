#!/usr/bin/env bash
# Regenerate the committed reference designs: hw/designs/<name>/{rtl,tb}/*.v
# for every hw/configs/<name>.toml. tests/reference_designs.rs fails when the
# committed files differ from what `bbs hdl` generates; run this after changing
# templates/, bbs-hdlgen or a configuration, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
for config in hw/configs/*.toml; do
  name=$(basename "$config" .toml)
  cargo run --release --quiet -- hdl --config "$config" -o "hw/designs/$name" >/dev/null
  echo "hw/designs/$name"
done
# Designs whose configuration is gone.
for dir in hw/designs/*/; do
  name=$(basename "$dir")
  if [ ! -f "hw/configs/$name.toml" ]; then
    echo "removing hw/designs/$name (no hw/configs/$name.toml)"
    rm -rf "$dir"
  fi
done
