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
  # The reference designs are the RTL and testbench (bbs_hdlgen::generate),
  # not the hardware-flow kit `bbs hdl` writes beside them.
  tmp=$(mktemp -d)
  cargo run --release --quiet -- hdl --config "$config" -o "$tmp/$name" >/dev/null
  rm -rf "hw/designs/$name"
  mkdir -p "hw/designs/$name"
  cp -r "$tmp/$name/rtl" "$tmp/$name/tb" "hw/designs/$name/"
  rm -rf "$tmp"
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
