"""ENGINE spellings: `cref`, `torch[:DTYPE[:DEVICE]]`, `bin:PATH`, `cmd:COMMAND`.

- `cref`: our C reference (c_reference/build/nbref, or $NB_C_BIN / --c-bin when given for side A).
- `torch`, `torch:float32`, `torch:float64:cuda`, `torch:float32:cuda:1`: the built-in PyTorch engine.
- `bin:PATH`: any nanoBragg-compatible binary (relative paths from the current folder, `~` expanded).
- `cmd:COMMAND`: any external command taking nanoBragg's flags, split as a POSIX shell would split it (quotes,
  backslashes) but never run through a shell: `cmd:python -m nanobrag_torch`.

`parse_engine_spec` turns the text into an `EngineSpec` or raises ConfigError naming the spelling and what was
expected; nothing is looked up or run here (app.engines.registry does that).
"""
from __future__ import annotations

from dataclasses import dataclass

from simulator.argv import split_command
from simulator.config import ConfigError

DTYPES: tuple[str, ...] = ("float32", "float64")
SPELLINGS = "cref, torch, torch:float32, torch:float64:cuda, bin:PATH or cmd:COMMAND"


@dataclass(frozen=True)
class EngineSpec:
    """A parsed ENGINE spelling. kind: cref | torch | bin | cmd. dtype/device: torch only. path: bin only.
    command: cmd only (the split argv). text: the spelling as given (kept for manifests and settings)."""

    kind: str
    text: str
    dtype: str = "float64"
    device: str = "cpu"
    path: str | None = None
    command: tuple[str, ...] = ()


def _check_device(device: str, text: str) -> None:
    ok = device == "cpu" or device == "mps" or device == "cuda" or (
        device.startswith("cuda:") and device[5:].isdigit())
    if not ok:
        raise ConfigError(f"engine {text!r}: device {device!r}, expected cpu, cuda, cuda:N or mps")


def parse_engine_spec(text: str) -> EngineSpec:
    """EngineSpec of an ENGINE spelling (see the module docstring); ConfigError for anything else."""
    raw = str(text)
    t = raw.strip()
    if not t:
        raise ConfigError(f"engine {raw!r}: empty, expected {SPELLINGS}")
    head, sep, rest = t.partition(":")
    if head == "cref":
        if sep:
            raise ConfigError(f"engine {raw!r}: cref takes no options (use bin:PATH for another binary)")
        return EngineSpec("cref", t)
    if head == "torch":
        parts = rest.split(":", 1) if sep else []
        dtype = parts[0] if parts and parts[0] else "float64"
        device = parts[1] if len(parts) > 1 else "cpu"
        if dtype in ("f32", "f64"):
            dtype = "float" + dtype[1:]
        if dtype not in DTYPES:
            raise ConfigError(f"engine {raw!r}: dtype {dtype!r}, expected float32 or float64")
        _check_device(device, raw)
        return EngineSpec("torch", t, dtype=dtype, device=device)
    if head == "bin":
        if not rest.strip():
            raise ConfigError(f"engine {raw!r}: bin needs a path, e.g. bin:/opt/nanoBragg/nanoBragg")
        return EngineSpec("bin", t, path=rest.strip())
    if head == "cmd":
        try:
            argv = tuple(split_command(rest))
        except ValueError as exc:
            raise ConfigError(f"engine {raw!r}: the command cannot be split ({exc})") from None
        if not argv:
            raise ConfigError(f"engine {raw!r}: cmd needs a command, e.g. cmd:python -m nanobrag_torch")
        return EngineSpec("cmd", t, command=argv)
    raise ConfigError(f"engine {raw!r}: unknown kind {head!r}, expected {SPELLINGS}")
