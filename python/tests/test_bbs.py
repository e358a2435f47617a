"""The Python package against the `bbs` command line: the same pruning, CSB
bytes, simulator outputs and reports, compiled-network runs and error
messages. numpy only (no torch). `BBS_BIN` names the command-line binary
(scripts/test.sh sets it; default target/debug/bbs)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import bbs

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("BBS_BIN", str(ROOT / "target" / "debug" / "bbs"))
SILERO = ROOT / "data" / "silero-vad" / "silero_vad_16k.safetensors"


def cli(*args, ok=True):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def weights(rows=48, cols=64, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)


def test_prune_is_bank_balanced_and_matches_the_cli(tmp_path):
    w = weights()
    pruned, mask = bbs.prune(w, sparsity=0.75, banks=8)
    assert pruned.dtype == np.float32 and mask.dtype == np.bool_
    assert np.array_equal(pruned != 0, mask)
    assert np.array_equal(pruned[mask], w[mask])
    # Every bank of every row keeps the same number of weights, the largest.
    banks = mask.reshape(48, 8, 8)
    assert (banks.sum(axis=2) == 2).all()
    kept_min = np.where(mask, np.abs(w), np.inf).reshape(48, 8, 8).min(axis=2)
    dropped_max = np.where(mask, -np.inf, np.abs(w)).reshape(48, 8, 8).max(axis=2)
    assert (kept_min >= dropped_max).all()
    # The command line prunes the same weights.
    np.save(tmp_path / "w.npy", w)
    cli("prune", tmp_path / "w.npy", "--sparsity", "0.75", "--banks", "8",
        "-o", tmp_path / "w.csb", "--pruned", tmp_path / "p.npy", "--mask", tmp_path / "m.npy")
    assert np.array_equal(np.load(tmp_path / "p.npy"), pruned)
    assert np.array_equal(np.load(tmp_path / "m.npy").astype(bool), mask)
    # Other patterns.
    p24, m24 = bbs.prune(w, sparsity=0.5, pattern="nm:2:4")
    assert (m24.reshape(48, 16, 4).sum(axis=2) == 2).all()
    pu, mu = bbs.prune(w, sparsity=0.9, pattern="unstructured")
    assert mu.sum() == round(0.1 * w.size)


def test_csb_round_trips_and_is_the_cli_file(tmp_path):
    w = weights()
    pruned, _ = bbs.prune(w, sparsity=0.75, banks=8)
    csb = bbs.Csb.from_pruned(pruned, banks=8, sparsity=0.75)
    assert (csb.rows, csb.cols, csb.banks, csb.bank_size, csb.slots) == (48, 64, 8, 8, 2)
    assert (csb.value_width, csb.frac_bits) == (16, 12)
    dense = csb.to_dense()
    # Dequantized Q3.12: within half a step of the pruned weights (in range).
    inside = np.abs(pruned) < 7.9
    assert np.abs(dense - pruned)[inside].max() <= 2.0 ** -13 + 1e-7
    assert np.array_equal(csb.to_dense_fixed() != 0, dense != 0)
    csb.write(str(tmp_path / "py.csb"))
    again = bbs.Csb.read(str(tmp_path / "py.csb"))
    assert np.array_equal(again.to_dense_fixed(), csb.to_dense_fixed())
    np.save(tmp_path / "w.npy", w)
    cli("prune", tmp_path / "w.npy", "--sparsity", "0.75", "--banks", "8", "-o", tmp_path / "cli.csb")
    assert (tmp_path / "py.csb").read_bytes() == (tmp_path / "cli.csb").read_bytes()
    # A narrower format through a configuration.
    narrow = bbs.Csb.from_pruned(pruned, banks=8, sparsity=0.75, config=bbs.Config(value_width=8, frac_bits=5, acc_width=24))
    assert (narrow.value_width, narrow.frac_bits) == (8, 5)


def test_config_from_file_text_and_keywords():
    path = ROOT / "hw" / "configs" / "tiny.toml"
    a = bbs.Config.from_file(str(path))
    b = bbs.Config.from_toml(path.read_text())
    assert a == b
    assert a.name == "tiny" and a.to_dict()["pes"] == a.pes
    c = bbs.Config(pes=16, banks=8, host={"clock_mhz": 250})
    assert (c.pes, c.banks, c.host["clock_mhz"]) == (16, 8, 250)
    # Everything else is the built-in default.
    d = bbs.Config().to_dict()
    assert c.to_dict()["value_width"] == d["value_width"]
    assert bbs.Config.from_toml(c.to_toml()) == c
    with pytest.raises(AttributeError):
        c.no_such_field


def test_errors_are_the_cli_messages(tmp_path):
    bad = tmp_path / "bad.toml"
    text = (ROOT / "hw" / "configs" / "tiny.toml").read_text().replace("pes = ", "pes = 0 #", 1)
    bad.write_text(text)
    with pytest.raises(bbs.BbsError) as e:
        bbs.Config.from_file(str(bad))
    line = cli("sim", "--workload", "small-lstm", "--config", bad, ok=False).stderr.strip()
    assert line == "error: " + str(e.value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(bbs.BbsError, match="sparsity: 1.5 is outside"):
        bbs.prune(weights(), sparsity=1.5, banks=8)
    with pytest.raises(bbs.BbsError, match="banks"):
        bbs.prune(weights(), sparsity=0.5)
    with pytest.raises(bbs.BbsError, match="2-D"):
        bbs.prune(np.zeros(8, np.float32), sparsity=0.5, banks=2)
    with pytest.raises(bbs.BbsError):
        bbs.Config(pes=0)
    with pytest.raises(bbs.BbsError, match="No such file|not found|read"):
        bbs.Csb.read(str(tmp_path / "missing.csb"))


def test_simulate_matches_bbs_sim(tmp_path):
    w = weights()
    pruned, _ = bbs.prune(w, sparsity=0.75, banks=8)
    csb = bbs.Csb.from_pruned(pruned, banks=8, sparsity=0.75)
    x = (0.9 * np.sin(0.37 * np.arange(64) + 0.1)).astype(np.float32)
    y, report = bbs.simulate(csb, x)
    csb.write(str(tmp_path / "m.csb"))
    np.save(tmp_path / "x.npy", x)
    cli("sim", tmp_path / "m.csb", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--json", tmp_path / "r.json")
    assert np.array_equal(np.load(tmp_path / "y.npy").astype(np.int64), report["output_fixed"])
    cli_report = json.loads((tmp_path / "r.json").read_text())
    del report["output_fixed"]
    assert report == cli_report
    assert np.array_equal(y, np.load(tmp_path / "y.npy").astype(np.float32) / 4096.0)
    # Against float: the fixed point's error is small where nothing
    # saturates (Q3.12 ends at 8).
    exact = csb.to_dense() @ x
    inside = np.abs(exact) < 7.9
    assert inside.sum() > 30 and (~inside).any()
    assert np.abs(y - exact)[inside].max() < 0.01
    assert (np.abs(y[~inside]) >= 7.99).all()
    # Another configuration: more PEs, fewer cycles, the same outputs.
    y16, r16 = bbs.simulate(csb, x, bbs.Config(pes=16))
    assert np.array_equal(y16, y)
    assert r16["cycles"]["total"] < cli_report["cycles"]["total"]


def test_run_matches_bbs_run(tmp_path):
    if not SILERO.exists():
        pytest.skip(f"{SILERO} is missing")
    d = tmp_path / "vad"
    cli("compile", SILERO, "-o", d, "--sparsity", "0.5")
    x = (0.8 * np.sin(0.37 * np.arange(5)[:, None] + 0.11 * np.arange(128)[None, :])).astype(np.float32)
    y, report = bbs.run(str(d), x)
    assert y.shape == (5, 128) and report["bit_exact_vs_reference"] is True
    np.save(tmp_path / "x.npy", x)
    cli("run", d, tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--json", tmp_path / "r.json")
    assert np.array_equal(np.load(tmp_path / "y.npy"), y)
    assert json.loads((tmp_path / "r.json").read_text()) == report
    with pytest.raises(bbs.BbsError, match="inputs: 3 features per frame, the network takes 128"):
        bbs.run(str(d), np.zeros((2, 3), np.float32))
    with pytest.raises(bbs.BbsError, match="not a finite number"):
        bbs.run(str(d), np.full((2, 128), np.nan, np.float32))


def test_schedule_rises_to_the_final_sparsity():
    s = bbs.schedule(0.0, 0.875, 8)
    assert len(s) == 9 and s[0] == 0.0 and s[-1] == 0.875
    assert all(a <= b for a, b in zip(s, s[1:]))
    # Cubic: most of the pruning happens early.
    assert s[4] > 0.875 * 0.8
    with pytest.raises(bbs.BbsError, match="goes backwards"):
        bbs.schedule(0.9, 0.5, 4)


def test_masked_fine_tuning_recipe_in_numpy():
    """docs/fine-tuning.md's loop with numpy for torch: gradient steps on
    the masked weights, re-pruned along the gradual schedule; the mask stays
    bank-balanced and the loss recovers after each pruning step."""
    rng = np.random.default_rng(1)
    w_true = rng.standard_normal((16, 32)).astype(np.float32)
    xs = rng.standard_normal((256, 32)).astype(np.float32)
    ys = xs @ w_true.T
    w = w_true + 0.1 * rng.standard_normal(w_true.shape).astype(np.float32)
    sparsities = bbs.schedule(0.0, 0.75, 4)
    for s in sparsities:
        w, mask = bbs.prune(w, sparsity=s, banks=4)
        for _ in range(50):
            grad = ((xs @ w.T - ys).T @ xs) / len(xs)
            w = (w - 0.05 * grad * mask).astype(np.float32)
        assert np.array_equal(w != 0, mask)
    assert (mask.reshape(16, 4, 8).sum(axis=2) == 2).all()
    final_loss = float(((xs @ w.T - ys) ** 2).mean())
    one_shot, _ = bbs.prune(w_true, sparsity=0.75, banks=4)
    one_shot_loss = float(((xs @ one_shot.T - ys) ** 2).mean())
    assert final_loss < one_shot_loss
