#!/usr/bin/env python3
"""One ESE LSTM frame on the simulator against Verilator running the same
program on the generated ese-a10 design (docs/simulator.md, "Speed against
Verilator").

For each frame count N in --frames (default 1 and 4):
  bbs verify --workload ese-lstm --config hw/configs/ese-a10.toml --frames N -o WORK/fN
generates, lints, builds (a few minutes per build on 2 cores), runs and
compares the design with the simulator (outputs bit for bit, cycles); then
the Verilator binary WORK/fN/obj_dir/Vtb_bbs is timed from WORK/fN/run
(median of --runs whole-process runs: start-up, $readmemh of the matrix
memories, the run, printing). The simulator side is examples/time_program.rs
on the same program and frames, in process: a whole run (Machine set-up,
kernel preparation, preload, every frame) and one frame on a machine already
set up (the median of 5 batches), on every SpMxV kernel path this CPU has
(BBS_KERNEL=...; each checked bit for bit against the reference path).

Verilator's cost per frame is the difference between the two frame counts
over the frame difference (start-up excluded); the ratio is that over the
simulator's time per frame.

Usage: scripts/bench_ese_vs_verilator.py [--frames 1,4] [--runs 5]
                                         [--work target/bench-ese] [--reuse]
  --reuse  time the builds already in WORK (from an earlier run) instead of
           running bbs verify again.
Needs Verilator (scripts/test.sh installs it) and python3; no numpy.
CARGO_TARGET_DIR is honoured.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "hw", "configs", "ese-a10.toml")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def sim_times(timer, frames, path):
    env = dict(os.environ)
    if path:
        env["BBS_KERNEL"] = path
    out = run([timer, CONFIG, "workload", "ese-lstm", str(frames), "0.875", "20"], env=env).stdout.split()
    get = lambda k: out[out.index(k) + 1]
    return {
        "cycles": int(get("cycles")),
        "run": float(get("seconds_per_run")),
        "frame": float(get("seconds_per_frame")),
        "setup": float(get("seconds_per_setup")),
        "kernel": get("kernel"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", default="1,4")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "bench-ese"))
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    counts = [int(n) for n in args.frames.split(",")]
    if len(counts) != 2 or counts[0] >= counts[1]:
        sys.exit("--frames takes two counts, the smaller first")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    run(["cargo", "build", "--release", "--quiet", "--bin", "bbs"], cwd=ROOT)
    run(["cargo", "build", "--release", "--quiet", "--example", "time_program"], cwd=ROOT)
    bbs = os.path.join(target, "release", "bbs")
    timer = os.path.join(target, "release", "examples", "time_program")
    os.makedirs(args.work, exist_ok=True)

    rtl = {}
    for n in counts:
        work = os.path.join(args.work, f"f{n}")
        report = os.path.join(args.work, f"f{n}.json")
        if not (args.reuse and os.path.exists(report)):
            t = time.perf_counter()
            out = run([bbs, "verify", "--workload", "ese-lstm", "--config", CONFIG,
                       "--frames", str(n), "-o", work]).stdout
            print(f"bbs verify --frames {n}: {time.perf_counter() - t:.0f} s (generate, lint, build, run, compare)",
                  flush=True)
            with open(report, "w") as f:
                f.write(out)
        with open(report) as f:
            v = json.load(f)
        if not v["bit_exact"] or v["sim_cycles"] != v["rtl_cycles"]:
            sys.exit(f"frames {n}: the RTL and the simulator disagree: {v}")
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            run([os.path.join(work, "obj_dir", "Vtb_bbs")], cwd=os.path.join(work, "run"))
            times.append(time.perf_counter() - t)
        rtl[n] = (statistics.median(times), v["rtl_cycles"])

    (n0, n1) = counts
    per_frame_rtl = (rtl[n1][0] - rtl[n0][0]) / (n1 - n0)
    cycles_per_frame = (rtl[n1][1] - rtl[n0][1]) / (n1 - n0)
    print(f"\nVerilator, whole process: {n0} frame(s) {rtl[n0][0] * 1e3:.1f} ms, "
          f"{n1} frames {rtl[n1][0] * 1e3:.1f} ms ({rtl[n1][1]} cycles); "
          f"per frame {per_frame_rtl * 1e3:.2f} ms = {per_frame_rtl / cycles_per_frame * 1e6:.1f} us per cycle; "
          f"start-up {(rtl[n0][0] - n0 * per_frame_rtl) * 1e3:.1f} ms\n")
    print(f"| kernel path | simulator per frame | ratio per frame | whole run, {n1} frames (set-up) | ratio whole process |")
    print("|---|---:|---:|---:|---:|")
    for path in ["", "avx2", "scalar", "reference"]:
        try:
            s = sim_times(timer, n1, path)
        except subprocess.CalledProcessError:
            continue  # a path this CPU does not have
        if s["cycles"] != rtl[n1][1]:
            sys.exit(f"cycles differ: simulator {s['cycles']}, RTL {rtl[n1][1]}")
        name = s["kernel"] + (" (default)" if not path else "")
        print(f"| {name} | {s['frame'] * 1e6:.1f} us | {per_frame_rtl / s['frame']:,.0f}x "
              f"| {s['run'] * 1e3:.2f} ms ({s['setup'] * 1e3:.2f} ms) | {rtl[n1][0] / s['run']:,.0f}x |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
