"""bbs: bank-balanced sparse (BBS) accelerators from Python.

numpy arrays in and out; the Rust core of the `bbs` command line underneath
(the same pruning, CSB format, fixed point and simulator, bit for bit).

    >>> import numpy as np, bbs
    >>> w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    >>> pruned, mask = bbs.prune(w, sparsity=0.75, banks=8)
    >>> csb = bbs.Csb.from_pruned(pruned, banks=8, sparsity=0.75)
    >>> y, report = bbs.simulate(csb, np.ones(64, np.float32) / 8)
    >>> report["cycles"]["total"] > 0
    True

Errors raise `bbs.BbsError` (a `ValueError`) with the command line's message.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _bbs
from ._bbs import BbsError, Csb

__version__: str = _bbs.__version__

__all__ = [
    "BbsError",
    "Config",
    "Csb",
    "prune",
    "run",
    "schedule",
    "simulate",
]


def _f32(a: Any, ndim: int, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    if arr.ndim != ndim:
        raise BbsError(f"{name}: {arr.ndim}-D with shape {arr.shape}; a {ndim}-D array is needed")
    return arr


def prune(
    weights: Any,
    sparsity: float,
    banks: Optional[int] = None,
    pattern: str = "bbs",
) -> Tuple[np.ndarray, np.ndarray]:
    """Prune a matrix to `sparsity` (fraction removed, in [0, 1)).

    `pattern` is "bbs" (with `banks`: every row split into `banks` equal
    banks, each keeping the same number of largest weights), "bbs:<banks>",
    "unstructured", "nm:<n>:<m>", "block:<size>" or "row". Returns the
    pruned matrix (float32, removed weights zero) and the boolean mask of the
    kept weights. Same input, same output.
    """
    return _bbs.prune(_f32(weights, 2, "weights"), float(sparsity), banks, pattern)


def schedule(initial: float, final: float, steps: int) -> List[float]:
    """The gradual (cubic, Zhu & Gupta) pruning schedule: the target
    sparsity at steps 0..=steps, from `initial` to `final`."""
    return _bbs.schedule(float(initial), float(final), int(steps))


class Config:
    """A machine configuration: `Config(pes=16, banks=8)` (the built-in
    default with those fields; sections as dicts, e.g.
    `host={"clock_mhz": 250}`), `Config.from_file(path)` or
    `Config.from_toml(text)`. Fields read as attributes (`cfg.pes`) and
    `cfg.to_dict()`."""

    __slots__ = ("_native",)

    def __init__(self, **fields: Any) -> None:
        self._native = _bbs.Config.from_fields(json.dumps(fields)) if fields else _bbs.Config.default()

    @classmethod
    def _wrap(cls, native: Any) -> "Config":
        c = cls.__new__(cls)
        c._native = native
        return c

    @classmethod
    def from_file(cls, path: str) -> "Config":
        """A configuration file (TOML, as in hw/configs/)."""
        return cls._wrap(_bbs.Config.from_file(str(path)))

    @classmethod
    def from_toml(cls, text: str) -> "Config":
        """A configuration from TOML text."""
        return cls._wrap(_bbs.Config.from_toml(text))

    def to_toml(self) -> str:
        return self._native.to_toml()

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(self._native.to_json())

    def __getattr__(self, name: str) -> Any:
        fields = json.loads(object.__getattribute__(self, "_native").to_json())
        if name in fields:
            return fields[name]
        raise AttributeError(f"Config has no field {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return repr(self._native)


def _native_config(config: Optional[Config]) -> Any:
    if config is None:
        return None
    if not isinstance(config, Config):
        raise BbsError(f"config: a bbs.Config is needed, not {type(config).__name__}")
    return config._native


def simulate(csb: Csb, x: Any, config: Optional[Config] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
    """y = W x on the simulated accelerator (default configuration unless
    given). `x` (floats) is quantized to the configuration's format as
    `bbs sim` does. Returns the outputs (float32, dequantized) and the
    report as a dict (cycles, utilization, per-PE statistics; the outputs in
    fixed point under "output_fixed")."""
    y, y_fixed, report = _bbs.simulate(csb, _f32(x, 1, "x"), _native_config(config))
    r = json.loads(report)
    r["output_fixed"] = y_fixed
    return y, r


def run(compiled_dir: str, inputs: Any) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Run a sequence (frames x features) through a `bbs compile` directory
    on the simulated accelerator, bit-exact (the host steps of an ONNX graph
    in float). Returns the outputs (frames x outputs, float32) and the
    report `bbs run --json` writes, as a dict."""
    y, report = _bbs.run(str(compiled_dir), _f32(inputs, 2, "inputs"))
    return y, json.loads(report)
