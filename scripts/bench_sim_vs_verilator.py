#!/usr/bin/env python3
"""Run the simulator and the Verilator build of the generated design on the
same configuration and program, and print the speed ratio and the cycle error.

For each configuration (hw/configs/, those Verilator builds in seconds) and
each workload:
  spmv       silero-vad's LSTM recurrent matrix (512 x 128, real trained
             weights) at 75% BBS, as the program load x; spmv; store y
  small-lstm FRAMES frames of the 64-input, 128-cell LSTM (87.5% BBS)
  small-gru  FRAMES frames of the 64-input, 128-hidden GRU (87.5% BBS)
`bbs verify` generates, lints, builds, runs and compares (outputs bit for bit,
cycles); then the Verilator binary is timed (median of --runs runs, each a
whole process: start-up, $readmemh, the run, printing) against the simulator
in process (examples/time_program.rs: the same program with outputs, machine
set-up included, mean of many runs; and cycles alone, `Machine::program_cycles`).

Usage: scripts/bench_sim_vs_verilator.py [--runs 5] [--frames 20]
                                          [--configs tiny,default,odd,wide]
                                          [--workloads spmv,small-lstm,small-gru]
Needs Verilator and python3 (the input vector's .npy is written by hand: no
numpy). CARGO_TARGET_DIR is honoured. ESE on ese-a10, whose build takes
minutes: scripts/bench_ese_vs_verilator.py.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import math
import struct
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILERO = os.path.join(ROOT, "data", "silero-vad", "silero_vad_16k.safetensors")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def save_npy_f32(path, values):
    """A 1-D little-endian float32 .npy (format version 1.0)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    # Magic, version, header length, header padded with spaces to a multiple of 64 and a newline.
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(values), *values))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--configs", default="tiny,default,odd,wide")
    ap.add_argument("--workloads", default="spmv,small-lstm,small-gru")
    args = ap.parse_args()
    run(["cargo", "build", "--release", "--quiet", "--bin", "bbs"], cwd=ROOT)
    run(["cargo", "build", "--release", "--quiet", "--example", "time_program"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bbs = os.path.join(target, "release", "bbs")
    timer = os.path.join(target, "release", "examples", "time_program")
    print(f"{'config':<8} {'workload':<11} {'cycles sim':>10} {'cycles RTL':>10} {'error':>7} "
          f"{'Verilator':>11} {'simulator':>11} {'ratio':>8} {'timing-only':>12} {'ratio':>10} kernel")
    with tempfile.TemporaryDirectory() as tmp:
        x = os.path.join(tmp, "x.npy")
        save_npy_f32(x, [0.9 * math.sin(0.37 * i + 0.1) for i in range(128)])
        for name in args.configs.split(","):
            cfg = os.path.join(ROOT, "hw", "configs", f"{name}.toml")
            for wl in args.workloads.split(","):
                work = os.path.join(tmp, f"{name}-{wl}")
                if wl == "spmv":
                    csb = os.path.join(tmp, f"{name}.csb")
                    run([bbs, "prune", SILERO, "--tensor", "lstm_cell.weight_hh", "--sparsity", "0.75",
                         "--config", cfg, "-o", csb])
                    verify = [bbs, "verify", csb, x, "--config", cfg, "-o", work]
                    timed = [timer, cfg, "spmv", csb, x, "500"]
                else:
                    verify = [bbs, "verify", "--workload", wl, "--frames", str(args.frames),
                              "--sparsity", "0.875", "--config", cfg, "-o", work]
                    timed = [timer, cfg, "workload", wl, str(args.frames), "0.875", "50"]
                v = json.loads(run(verify).stdout)
                binary, rundir = os.path.join(work, "obj_dir", "Vtb_bbs"), os.path.join(work, "run")
                times = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    run([binary], cwd=rundir)
                    times.append(time.perf_counter() - t)
                t_rtl = statistics.median(times)
                out = run(timed).stdout.split()
                t_sim = float(out[out.index("seconds_per_run") + 1])
                t_tim = float(out[out.index("seconds_per_timing_run") + 1])
                assert int(out[out.index("cycles") + 1]) == v["sim_cycles"]
                print(f"{name:<8} {wl:<11} {v['sim_cycles']:>10} {v['rtl_cycles']:>10} "
                      f"{v['cycle_error_pct']:>6.2f}% {t_rtl * 1e3:>8.2f} ms {t_sim * 1e6:>8.1f} us "
                      f"{t_rtl / t_sim:>7.0f}x {t_tim * 1e9:>9.1f} ns {t_rtl / t_tim:>9.0f}x "
                      f"{out[out.index('kernel') + 1]}",
                      flush=True)
    print("Verilator: whole process per program run (start-up, $readmemh, run, print).")
    print("simulator: in process, outputs and cycles (set-up included); timing-only: cycles alone.")


if __name__ == "__main__":
    sys.exit(main())
