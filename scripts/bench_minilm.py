#!/usr/bin/env python3
"""Prune a whole MiniLM-L6-sized model (about 22.7M float32 parameters, the
tensor names and shapes of sentence-transformers/all-MiniLM-L6-v2, random
values) with `bbs prune --out-dir`, and report wall time and peak memory
against the model's size.

Usage: scripts/bench_minilm.py [--runs 3]
Needs numpy, /usr/bin/time (Debian package `time`) and a release build.
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H, FF, LAYERS, VOCAB, POS = 384, 1536, 6, 30522, 512


def minilm_tensors():
    t = {
        "embeddings.word_embeddings.weight": (VOCAB, H),
        "embeddings.position_embeddings.weight": (POS, H),
        "embeddings.token_type_embeddings.weight": (2, H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            t[p + m + ".weight"] = (H, H)
            t[p + m + ".bias"] = (H,)
        t[p + "attention.output.LayerNorm.weight"] = (H,)
        t[p + "attention.output.LayerNorm.bias"] = (H,)
        t[p + "intermediate.dense.weight"] = (FF, H)
        t[p + "intermediate.dense.bias"] = (FF,)
        t[p + "output.dense.weight"] = (H, FF)
        t[p + "output.dense.bias"] = (H,)
        t[p + "output.LayerNorm.weight"] = (H,)
        t[p + "output.LayerNorm.bias"] = (H,)
    t["pooler.dense.weight"] = (H, H)
    t["pooler.dense.bias"] = (H,)
    return t


def write_safetensors(path, shapes):
    rng = np.random.default_rng(0)
    header, blobs, offset = {}, [], 0
    for name in sorted(shapes):
        a = (rng.standard_normal(shapes[name], dtype=np.float32) * 0.05).astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(shapes[name]), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return sum(int(np.prod(s)) for s in shapes.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    bbs = os.path.join(ROOT, "target", "release", "bbs")
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "minilm.safetensors")
        params = write_safetensors(model, minilm_tensors())
        size = os.path.getsize(model)
        walls, rss = [], []
        for i in range(args.runs):
            out = os.path.join(tmp, f"out{i}")
            r = subprocess.run(
                ["/usr/bin/time", "-v", bbs, "prune", model, "--out-dir", out, "--sparsity", "0.75", "--quiet"],
                capture_output=True, text=True, check=True)
            wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
            h, m, s = wall.groups()
            walls.append(int(h or 0) * 3600 + int(m) * 60 + float(s))
            rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) * 1024)
        print(f"model: {params / 1e6:.1f}M float32 parameters, {size / 2**20:.1f} MiB safetensors, "
              f"{os.cpu_count()} cores")
        print(f"bbs prune --out-dir (75%, 8 banks, CSB + pruned safetensors + masks + report): "
              f"median wall {statistics.median(walls):.2f} s over {args.runs} runs")
        print(f"peak memory: {max(rss) / 2**20:.0f} MiB = {max(rss) / size:.2f}x the model's size")


if __name__ == "__main__":
    sys.exit(main())
