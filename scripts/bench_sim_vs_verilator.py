#!/usr/bin/env python3
"""Run the simulator and the Verilator build of the generated design on the
same configuration, matrix and vector, and print the speed ratio and the
cycle error.

For each reference configuration (hw/configs/, those Verilator builds in
seconds): prune silero-vad's LSTM recurrent matrix (512 x 128, real trained
weights) to 75% BBS, `bbs verify` it (generate, lint, build, run, compare),
then time the Verilator simulation binary (median of several runs, each one
whole SpMxV including its start-up) against the simulator in process
(sim/examples/time_spmv.rs, mean of many runs).

Usage: scripts/bench_sim_vs_verilator.py [--runs 5] [--configs tiny,default,odd,wide]
Needs Verilator and numpy.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILERO = os.path.join(ROOT, "data", "silero-vad", "silero_vad_16k.safetensors")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--configs", default="tiny,default,odd,wide")
    args = ap.parse_args()
    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    run(["cargo", "build", "--release", "--quiet", "-p", "bbs-sim", "--example", "time_spmv"], cwd=ROOT)
    bbs = os.path.join(ROOT, "target", "release", "bbs")
    timer = os.path.join(ROOT, "target", "release", "examples", "time_spmv")
    print(f"{'config':<8} {'cycles sim':>10} {'cycles RTL':>10} {'error':>7} {'Verilator':>11} "
          f"{'simulator':>11} {'ratio':>8} {'timing-only':>12} {'ratio':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        x = os.path.join(tmp, "x.npy")
        np.save(x, (0.9 * np.sin(0.37 * np.arange(128) + 0.1)).astype(np.float32))
        for name in args.configs.split(","):
            cfg = os.path.join(ROOT, "hw", "configs", f"{name}.toml")
            csb = os.path.join(tmp, f"{name}.csb")
            run([bbs, "prune", SILERO, "--tensor", "lstm_cell.weight_hh", "--sparsity", "0.75", "--config", cfg, "-o", csb])
            work = os.path.join(tmp, name)
            v = json.loads(run([bbs, "verify", csb, x, "--config", cfg, "-o", work]).stdout)
            binary, rundir = os.path.join(work, "obj_dir", "Vtb_bbs"), os.path.join(work, "run")
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                run([binary], cwd=rundir)
                times.append(time.perf_counter() - t)
            t_rtl = statistics.median(times)
            out = run([timer, cfg, csb, x, "2000"]).stdout.split()
            t_sim = float(out[out.index("seconds_per_run") + 1])
            t_tim = float(out[out.index("seconds_per_timing_run") + 1])
            print(f"{name:<8} {v['sim_cycles']:>10} {v['rtl_cycles']:>10} {v['cycle_error_pct']:>6.2f}% "
                  f"{t_rtl * 1e3:>8.2f} ms {t_sim * 1e6:>8.1f} us {t_rtl / t_sim:>7.0f}x "
                  f"{t_tim * 1e9:>9.1f} ns {t_rtl / t_tim:>9.0f}x")
    print("Verilator: whole process per SpMxV (start-up, $readmemh, run, print).")
    print("simulator: in process, outputs and cycles (as `bbs sim`); timing-only: cycles alone (`spmv_cycles`).")


if __name__ == "__main__":
    sys.exit(main())
