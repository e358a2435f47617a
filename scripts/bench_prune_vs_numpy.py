#!/usr/bin/env python3
"""Time `bbs prune` side by side with an equivalent numpy implementation.

Both read the same 4096 x 4096 float32 .npy, prune it to bank-balanced
sparsity (16 banks of 256 columns, 87.5%: 32 kept per bank), quantize to
Q16.12 and write values and bank-internal indices in CSB slot-major order. numpy selects per bank with np.argpartition.
Prints the median of several runs of each and the ratio.

Usage: scripts/bench_prune_vs_numpy.py [--runs 5] [--size 4096]
Needs numpy and a release build (the script runs `cargo build --release`).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANKS, SPARSITY, WIDTH, FRAC = 16, 0.875, 16, 12


def numpy_prune(src, dst):
    w = np.load(src)
    rows, cols = w.shape
    bank = cols // BANKS
    keep = max(1, int(np.ceil((1 - SPARSITY) * bank - 1e-9)))
    banked = w.reshape(rows, BANKS, bank)
    idx = np.argpartition(-np.abs(banked), keep - 1, axis=-1)[..., :keep]
    idx.sort(axis=-1)  # ascending column inside the bank, as CSB stores them
    vals = np.take_along_axis(banked, idx, axis=-1)
    q = np.clip(np.round(vals * (1 << FRAC)), -(1 << (WIDTH - 1)), (1 << (WIDTH - 1)) - 1).astype("<i2")
    # slot-major: (row, slot, bank)
    q = q.transpose(0, 2, 1)
    idx = idx.transpose(0, 2, 1).astype("<u2")
    with open(dst, "wb") as f:
        f.write(np.ascontiguousarray(q).tobytes())
        f.write(np.ascontiguousarray(idx).tobytes())


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=4096)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    bbs = os.path.join(ROOT, "target", "release", "bbs")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "w.npy")
        rng = np.random.default_rng(0)
        np.save(src, rng.standard_normal((args.size, args.size), dtype=np.float32) * 0.5)
        cfg = os.path.join(tmp, "c.toml")
        with open(cfg, "w") as f:
            f.write(
                f'name = "bench"\npes = 8\nbanks = {BANKS}\nvalue_width = {WIDTH}\nfrac_bits = {FRAC}\n'
                f"acc_width = 40\nmax_rows = {args.size}\nmax_cols = {args.size}\nmax_slots = 32\n"
                "[pipeline]\nmult_stages = 2\nadder_stages = 1\n"
            )
        cmd = [bbs, "prune", src, "--banks", str(BANKS), "--sparsity", str(SPARSITY),
               "--config", cfg, "-o", os.path.join(tmp, "w.csb")]
        t_bbs = [timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)) for _ in range(args.runs)]
        t_np = [timed(lambda: numpy_prune(src, os.path.join(tmp, "w.np.bin"))) for _ in range(args.runs)]
    mb, mn = statistics.median(t_bbs), statistics.median(t_np)
    print(f"matrix {args.size}x{args.size} float32, {BANKS} banks, sparsity {SPARSITY}, {args.runs} runs each (median)")
    print(f"bbs prune : {mb * 1000:8.1f} ms  (whole process: read, prune, quantize, write CSB)")
    print(f"numpy     : {mn * 1000:8.1f} ms  (np.load, argpartition per bank, quantize, write)")
    print(f"ratio     : bbs is {mn / mb:.2f}x faster than numpy")


if __name__ == "__main__":
    sys.exit(main())
