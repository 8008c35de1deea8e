"""The engine interface: what every engine (in-process or external) answers, and the records it answers with.

Qt-free and torch-free (importing this module loads neither). The session (app/core/session.py) and the run model
(app/qt/run_model.py) code against `Engine` only; adding an engine kind never changes them.

An engine answers two questions about one nanoBragg command line, always given as a `Job`:

    engine.render(job, progress=None, cancel=None) -> ImageResult
        image float32 (slow, fast) photons/pixel (decisions D6), log text (bounded), wall time (s), meta.
    engine.trace(job, slow, fast, progress=None, cancel=None) -> PixelTrace
        per-phi samples (tracing.records.PhiSample) and pixel scalars, units of the C's trace lines
        (metres, m^-1); `PixelTrace.dialect` says what the engine printed, `notes` which fields it lacks.
    engine.phi_curve(job, slow, fast, progress=None, cancel=None) -> PhiCurve
        per-tick intensity of one pixel from single-tick renders, for engines whose trace has no per-phi samples
        (capabilities.trace == "none"), with the engine's own image value at that pixel and the sum.

Both may take long; they call `progress(fraction 0..1)` on the calling thread and stop soon after `cancel`
(a threading.Event) is set, raising tracing.records.Cancelled. Engine failures raise tracing.records.EngineError
(message + log tail); nothing else is expected to escape (the session still guards against it).
Engines are immutable once built and safe to call from several threads at once.

Each engine has an `identity` (EngineIdentity): the spelling it was made from (`cref`, `torch:float32`,
`bin:/opt/nanoBragg`, `cmd:python -m nanobrag_torch`), a display name used for everything a user sees
("nbparity C reference 1a2b3c4d", "nbparity PyTorch f64", "upstream nanoBragg 4a1f09c2"), a fingerprint
(binary sha256, or package name and version) and its `Capabilities`.

`Job` carries the command line (parsed once, by the session) and how this engine is to run it: carry-over switch
(None = the engine's default), threads (None = all cores), time limit, the user's working folder (output flags of
the command line resolve against it, as nanoBragg would) and any extra environment.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tracing.records import ImageResult, PixelTrace

if TYPE_CHECKING:
    from simulator.config import NanoBraggConfig

ProgressFn = Callable[[float], None]

# Engine kinds (the first word of an ENGINE spelling).
KINDS: tuple[str, ...] = ("cref", "torch", "bin", "cmd")
# What an engine's trace gives: "full" (our rich per-phi lines), "golden" (the five golden fields only),
# "port" (the §11.3 PyTorch-port dialect), "none" (no per-phi samples: use phi_curve), "detect" (an external
# binary or command: known only once it has printed a trace; PixelTrace.dialect says).
TRACE_KINDS: tuple[str, ...] = ("full", "golden", "port", "none", "detect")


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do.

    trace: one of TRACE_KINDS. dtype/device: the torch dtype and device ("float64", "cpu"), None for processes
    (their float file is float32). carryover_switch: whether `-phi0_carryover on|off` reaches the engine.
    carryover_default: the engine's φ=0 carry-over when not switched (True for nanoBragg-like C, False for torch,
    None unknown). threads: "omp" (OMP_NUM_THREADS), "torch" (torch.set_num_threads) or "none".
    in_process: renders in this process (threads shared with it) rather than as a child process.
    """

    trace: str
    dtype: str | None = None
    device: str | None = None
    carryover_switch: bool = True
    carryover_default: bool | None = None
    threads: str = "omp"
    in_process: bool = False

    def to_dict(self) -> dict:
        return {"trace": self.trace, "dtype": self.dtype, "device": self.device,
                "carryover_switch": self.carryover_switch, "carryover_default": self.carryover_default,
                "threads": self.threads, "in_process": self.in_process}


@dataclass(frozen=True)
class EngineIdentity:
    """Who an engine is. fingerprint: "sha256:<hex>" of the binary (and script), or "<package> <version>" pairs."""

    kind: str
    spec: str
    display_name: str
    fingerprint: str
    capabilities: Capabilities
    command: tuple[str, ...] = ()  # argv prefix of a process engine (binary, or the split command); () in-process

    def short(self) -> str:
        """The display name (what legends, titles and tables show)."""
        return self.display_name

    def to_dict(self) -> dict:
        return {"kind": self.kind, "spec": self.spec, "display_name": self.display_name,
                "fingerprint": self.fingerprint, "capabilities": self.capabilities.to_dict(),
                "command": list(self.command)}


@dataclass(frozen=True)
class Job:
    """One engine's task for one command line.

    argv: the nanoBragg arguments as the user gave them (no program name). config: their parse (the session parses
    once; engines must not re-parse for meaning). carryover: `-phi0_carryover` for this engine, None = its default.
    threads: OMP / torch threads, None = all cores. timeout_s: wall-clock limit of one render or trace (s; torch
    stops at its next chunk past it).
    cwd: the user's working folder. env: extra environment for a process engine. write_outputs: honour the output
    flags of the command line (-intfile, -floatfile, ...; resolved against cwd); the session gives them to one
    side only, so two engines never write the same file.
    """

    argv: tuple[str, ...]
    config: NanoBraggConfig
    carryover: bool | None = None
    threads: int | None = None
    timeout_s: float = 3600.0
    cwd: Path = field(default_factory=Path.cwd)
    env: tuple[tuple[str, str], ...] = ()
    write_outputs: bool = False


@dataclass(frozen=True)
class PhiCurve:
    """One pixel's intensity per φ tick from single-tick renders (spec §15), for an engine with no per-phi trace.

    ticks: ((phi_deg, photons), ...) in tick order: each tick's contribution to the N-tick image, i.e. the
    single-tick run's pixel value / N (a single-tick run divides by a steps N times smaller), so that sum_value =
    Σ ticks is the fresh-rotation N-tick value. image_value: the engine's own N-tick image value at the pixel (None
    when not rendered). explanation: a sentence when image_value and sum_value differ beyond float32 rounding (the
    φ=0 carry-over, or -oversample_* running sums), else "".
    """

    engine: str
    slow: int
    fast: int
    ticks: tuple[tuple[float, float], ...]
    image_value: float | None
    sum_value: float
    explanation: str = ""

    def rows(self) -> list[dict]:
        """Table rows: phi_tic, phi_deg, I_tick (one phi_deg column, no duplicates)."""
        return [{"phi_tic": i, "phi_deg": phi, "I_tick": v} for i, (phi, v) in enumerate(self.ticks)]


@runtime_checkable
class Engine(Protocol):
    """See the module docstring. Implementations: app.engines.torch_engine.TorchEngine,
    app.engines.process_engine.ProcessEngine (our C reference, any nanoBragg binary, any external command)."""

    identity: EngineIdentity

    def render(self, job: Job, progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> ImageResult: ...

    def trace(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> PixelTrace: ...

    def phi_curve(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None) -> PhiCurve: ...
