"""External engines run as processes through c_reference.driver: our C reference (`cref`), any nanoBragg-compatible
binary (`bin:PATH`) and any command taking nanoBragg's flags (`cmd:COMMAND`, e.g. a PyTorch port)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from c_reference import driver
from c_reference.trace_value import TraceValues
from dataclasses import replace

from simulator.argv import ParsedCommand, with_flag
from tracing.records import ImageResult, PixelTrace

from .base import EngineIdentity, Job, PhiCurve, ProgressFn
from .curve import make_curve

CARRYOVER_FLAG = "-phi0_carryover"


def engine_args(job: Job) -> list[str]:
    """The job's argv with `-phi0_carryover on|off` when the job sets it (simulator.argv does the editing)."""
    argv = list(job.argv)
    if job.carryover is None:
        return argv
    return with_flag(argv, CARRYOVER_FLAG, "on" if job.carryover else "off")


def engine_command(job: Job) -> ParsedCommand:
    """engine_args(job) with the job's parse (the session's one parse), the carry-over switch applied to its
    sampling section: the driver gets the parsed form and parses nothing."""
    cmd = ParsedCommand(tuple(job.argv), job.config)
    if job.carryover is None:
        return cmd
    return cmd.derived(engine_args(job), sampling=replace(job.config.sampling, phi0_carryover=job.carryover))


class ProcessEngine:
    """Engine protocol (app.engines.base) for a process: `identity.command` is the binary, or the split command
    (its argv[0] resolved on PATH). Traces use the driver's -trace_pixel run; the one parser reads whichever dialect
    the engine prints (golden, our rich lines, or the port's §11.3 lines)."""

    def __init__(self, identity: EngineIdentity, binary: Path | None, command: tuple[str, ...] = (),
                 trace_values: TraceValues | None = None):
        """trace_values: which binaries' traces give the pixel's float value (driver.trace_c_run), shared by
        whoever passes one (a window keeps one across its sessions); None: this engine's own."""
        self.identity = identity
        self.binary = binary
        self.command = command
        self.trace_values = trace_values if trace_values is not None else TraceValues()

    def _kw(self, job: Job, cancel: threading.Event | None) -> dict[str, Any]:
        kw: dict[str, Any] = dict(threads=job.threads, timeout_s=job.timeout_s, cancel=cancel, env=dict(job.env),
                                  cwd=job.cwd)
        if self.command:
            kw["command"] = list(self.command)
        else:
            kw["binary"] = self.binary
        return kw

    def render(self, job: Job, progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> ImageResult:
        res = driver.run_c(engine_command(job), progress=progress, outputs=job.write_outputs, **self._kw(job, cancel))
        return res.to_image_result(engine=self.identity.display_name)

    def _trace_run(self, job: Job, slow: int, fast: int, cancel: threading.Event | None) -> driver.CRunResult:
        cmd = engine_command(job)
        return driver.trace_c_run(cmd, slow, fast, **self._kw(job, cancel), trace_values=self.trace_values,
                                  trace_options=dict(interpolate=driver.may_interpolate(cmd),
                                                     lattice_shape=cmd.config.crystal.shape.lower()))

    def trace(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> PixelTrace:
        res = self._trace_run(job, slow, fast, cancel)
        tr = driver.trace_of(res, slow, fast)
        tr.engine = self.identity.display_name
        if progress is not None:
            progress(1.0)
        return tr

    def phi_curve(self, job: Job, slow: int, fast: int, progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None) -> PhiCurve:
        """Single-tick runs of the pixel (driver.phi_intensity_curve) and the pixel's N-tick value from a run that
        renders it as the full image does (the trace run's -roi, so the carry-over state is the full run's)."""
        values = driver.phi_intensity_curve(engine_command(job), slow, fast, progress=progress,
                                            **self._kw(job, cancel))
        image_value = float(self._trace_run(job, slow, fast, cancel).image[slow, fast])
        carry = job.carryover if job.carryover is not None else self.identity.capabilities.carryover_default
        return make_curve(self.identity.display_name, slow, fast, values, image_value, job.config, carry)
