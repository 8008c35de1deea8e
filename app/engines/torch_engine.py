"""The built-in PyTorch engine (simulator.engine), in process. torch is imported on first use, not on import."""
from __future__ import annotations

import copy
import importlib.metadata
import threading
from dataclasses import replace

from simulator.config import NanoBraggConfig
from tracing.records import ImageResult, PixelTrace

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
        with _Threads(job.threads):
            res = render(self._config(job), dtype=self.spec.dtype, device=self.spec.device, progress=progress,
                         cancel=cancel)
        res.engine = self.identity.display_name
        res.argv = list(job.argv)
        return res

    def trace(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> PixelTrace:
        from simulator.engine import trace_pixel
        with _Threads(job.threads):
            tr = trace_pixel(self._config(job), slow, fast, dtype=self.spec.dtype, device=self.spec.device,
                             cancel=cancel)
        tr.engine = self.identity.display_name
        if progress is not None:
            progress(1.0)
        return tr

    def phi_curve(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None) -> PhiCurve:
        """Single-tick renders of the one pixel (its configuration copied with one tick each), and the pixel's
        N-tick value from a trace (which knows the carry-over state of the full run, decisions D4)."""
        from simulator.config import resolve_phi
        from simulator.engine import render
        cfg = self._config(job)
        _osc, step, n = resolve_phi(cfg.sampling)
        phi0 = cfg.sampling.phi_deg or 0.0
        values: list[tuple[float, float]] = []
        for i in range(n):
            one = copy.deepcopy(cfg)
            one.sampling = replace(one.sampling, phi_deg=phi0 + i * step, osc_deg=step, phistep_deg=None,
                                   phisteps=1)
            one.output = replace(one.output, roi=(fast, fast, slow, slow))
            with _Threads(job.threads):
                img = render(one, dtype=self.spec.dtype, device=self.spec.device, cancel=cancel).image
            values.append((phi0 + i * step, float(img[slow, fast])))
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
        torch.set_num_threads(self.old)
        _THREADS_LOCK.release()
