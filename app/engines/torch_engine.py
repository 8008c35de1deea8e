"""The built-in PyTorch engine (simulator.engine), in process. torch is imported on first use, not on import."""
from __future__ import annotations

import copy
import importlib.metadata
import threading
import time
from dataclasses import replace

from simulator.config import NanoBraggConfig
from tracing.records import Cancelled, EngineError, ImageResult, PixelTrace

from .base import Capabilities, EngineIdentity, Job, PhiCurve, ProgressFn
from .curve import make_curve
from .spec import EngineSpec

# torch.set_num_threads is process-wide: two in-process renders must not change it under each other.
_THREADS_LOCK = threading.Lock()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def torch_identity(spec: EngineSpec) -> EngineIdentity:
    """Display name "nbparity PyTorch f64" (+ the device when not the CPU); fingerprint: package versions."""
    short = {"float32": "f32", "float64": "f64"}[spec.dtype]
    name = f"nbparity PyTorch {short}" + ("" if spec.device == "cpu" else f" {spec.device}")
    caps = Capabilities(trace="full", dtype=spec.dtype, device=spec.device, carryover_switch=True,
                        carryover_default=False, threads="torch", in_process=True)
    return EngineIdentity(kind="torch", spec=spec.text, display_name=name,
                          fingerprint=f"nbparity {_version('nbparity')}, torch {_version('torch')}",
                          capabilities=caps)


class Deadline:
    """A cancel flag for the torch engine (which only asks `is_set()` between chunks): set when the caller's
    event is set or once `timeout_s` have passed, so the session's time limit bounds torch as it bounds a process."""

    def __init__(self, cancel: threading.Event | None, timeout_s: float):
        self.cancel = cancel
        self.timeout_s = timeout_s
        self.end = time.monotonic() + timeout_s

    def is_set(self) -> bool:
        return (self.cancel is not None and self.cancel.is_set()) or self.expired()

    def expired(self) -> bool:
        return time.monotonic() > self.end

    def run(self, name: str, call):
        """call(); a Cancelled caused by the time limit becomes EngineError("... timed out after N s ...")."""
        try:
            return call()
        except Cancelled:
            if self.expired() and not (self.cancel is not None and self.cancel.is_set()):
                raise EngineError(f"{name} timed out after {self.timeout_s:g} s and was stopped") from None
            raise


class TorchEngine:
    """Engine protocol (app.engines.base) for simulator.engine.render / trace_pixel."""

    def __init__(self, spec: EngineSpec):
        self.spec = spec
        self.identity = torch_identity(spec)

    def _config(self, job: Job) -> NanoBraggConfig:
        cfg = copy.deepcopy(job.config)
        if job.carryover is not None:
            cfg.sampling.phi0_carryover = job.carryover
        return cfg

    def render(self, job: Job, progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> ImageResult:
        from simulator.engine import render
        limit = Deadline(cancel, job.timeout_s)
        with _Threads(job.threads):
            res = limit.run(self.identity.display_name, lambda: render(
                self._config(job), dtype=self.spec.dtype, device=self.spec.device, progress=progress, cancel=limit))
        res.engine = self.identity.display_name
        res.argv = list(job.argv)
        return res

    def trace(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> PixelTrace:
        from simulator.engine import trace_pixel
        limit = Deadline(cancel, job.timeout_s)
        with _Threads(job.threads):
            tr = limit.run(self.identity.display_name, lambda: trace_pixel(
                self._config(job), slow, fast, dtype=self.spec.dtype, device=self.spec.device, cancel=limit))
        tr.engine = self.identity.display_name
        if progress is not None:
            progress(1.0)
        return tr

    def phi_curve(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None) -> PhiCurve:
        """Single-tick renders of the one pixel (its configuration copied with one tick each), and the pixel's
        N-tick value from a trace (which knows the carry-over state of the full run, decisions D4)."""
        from simulator.config import phi_ticks
        from simulator.engine import render
        cfg = self._config(job)
        grid = phi_ticks(cfg.sampling)
        step, n = grid.step, grid.n
        values: list[tuple[float, float]] = []
        limit = Deadline(cancel, job.timeout_s)
        for i in range(n):
            one = copy.deepcopy(cfg)
            one.sampling = replace(one.sampling, phi_deg=grid.angle(i), osc_deg=step, phistep_deg=None,
                                   phisteps=1)
            one.output = replace(one.output, roi=(fast, fast, slow, slow))
            with _Threads(job.threads):
                img = limit.run(self.identity.display_name, lambda one=one: render(
                    one, dtype=self.spec.dtype, device=self.spec.device, cancel=limit)).image
            values.append((grid.angle(i), float(img[slow, fast])))
            if progress is not None:
                progress((i + 1) / (n + 1))
        tr = self.trace(job, slow, fast, cancel=cancel)
        return make_curve(self.identity.display_name, slow, fast, values, tr.scalar("floatimage_accumulated"),
                          cfg, bool(cfg.sampling.phi0_carryover))


class _Threads:
    """torch.set_num_threads(n) for the duration (None: leave as is)."""

    def __init__(self, n: int | None):
        self.n = n
        self.old: int | None = None

    def __enter__(self) -> None:
        if self.n is None:
            return
        import torch
        _THREADS_LOCK.acquire()
        self.old = torch.get_num_threads()
        torch.set_num_threads(int(self.n))

    def __exit__(self, *exc) -> None:
        if self.n is None:
            return
        import torch
        assert self.old is not None  # set by __enter__
        torch.set_num_threads(self.old)
        _THREADS_LOCK.release()
