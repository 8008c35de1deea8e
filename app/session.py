"""The Qt-free comparison session: one nanoBragg command line, two engines, their comparison and its snapshot.

The GUI calls this object from worker threads and the headless subcommands (`nbparity compare|trace`) call it
directly, so both share one code path (ARCHITECTURE.md, "No Qt outside app/").

Layout and units follow spec/decisions.md D6: images are float32 (slow, fast) photons/pixel; pixel (s, f) is
(slow, fast), zero-based. Engine failures never raise out of `run_c`/`run_torch`/`inspect_pixel`: they come back
as values (`EngineOutcome.error`, `PixelInspection.c_error`) with the tail of the engine's log, so one failing
engine never hides the other's result. Bad input (argv, options, pixel out of range) raises `ConfigError`
before any work starts.
"""
from __future__ import annotations

import copy
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable


from c_reference import driver
from simulator.argv import parse_argv
from simulator.config import ConfigError, NanoBraggConfig, config_to_dict
from simulator.budget import Estimate
from simulator.preflight import check_config
from tracing.bundle import git_commit, git_dirty, sha256_file
from tracing.metrics import ImageMetrics, compare_images
from tracing.phi_compare import PhiComparison, compare_traces
from tracing.records import Cancelled, EngineError, ImageResult, PixelTrace

REPO_ROOT = Path(__file__).resolve().parents[1]
CARRYOVER_FLAG = "-phi0_carryover"
DTYPES = ("float32", "float64")
LOG_TAIL_LINES = 40

Progress = Callable[..., Any]


@dataclass
class EngineOptions:
    """How to run the engines. None means "the engine's default" (C carry-over on, torch off; decisions D3).

    c_threads: OpenMP threads for the C binary. timeout_s: wall-clock limit of one C run, seconds.
    """

    c_binary: str | None = None
    c_threads: int | None = None
    c_carryover: bool | None = None
    torch_dtype: str = "float64"
    torch_device: str = "cpu"
    torch_carryover: bool | None = None
    timeout_s: float = 3600.0

    def validate(self) -> None:
        """Raise ConfigError naming the option and what was expected."""
        if self.torch_dtype not in DTYPES:
            raise ConfigError(f"torch dtype {self.torch_dtype!r}: expected one of {', '.join(DTYPES)}")
        if not (self.torch_device == "cpu" or self.torch_device.startswith("cuda") or self.torch_device == "mps"):
            raise ConfigError(f"torch device {self.torch_device!r}: expected cpu, cuda, cuda:N or mps")
        if self.c_threads is not None and self.c_threads < 1:
            raise ConfigError(f"C threads {self.c_threads}: expected a positive integer")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout {self.timeout_s}: expected a positive number of seconds")


@dataclass
class EngineOutcome:
    """One engine's render: either `result` or `error` (+ `log_tail`), or `cancelled`."""

    engine: str
    result: ImageResult | None = None
    error: str | None = None
    log_tail: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None and not self.cancelled


@dataclass
class PixelInspection:
    """Both engines' traces of pixel (slow, fast) and their per-phi comparison.

    c_curve: (phi_deg, photons) per phi tick from single-tick C runs; filled only when the C binary prints no
        per-phi trace lines (e.g. an upstream nanoBragg), else None.
    """

    slow: int
    fast: int
    c_trace: PixelTrace | None = None
    py_trace: PixelTrace | None = None
    comparison: PhiComparison | None = None
    c_error: str | None = None
    py_error: str | None = None
    c_curve: list[tuple[float, float]] | None = None
    c_log_tail: str = ""
    py_log_tail: str = ""

    @property
    def stem(self) -> str:
        """File-name stem of this pixel's tables in a bundle."""
        return f"pixel_s{self.slow}_f{self.fast}"

    def describe(self) -> str:
        """One line for a console or a summary: the first divergence, or why there is no comparison."""
        head = f"pixel (slow={self.slow}, fast={self.fast})"
        if self.comparison is not None:
            return f"{head}: {self.comparison.describe()}"
        problems = [f"{name} failed: {err}" for name, err in (("C", self.c_error), ("torch", self.py_error)) if err]
        if self.c_curve is not None and self.py_error is None:
            problems.append("the C binary prints no per-phi trace; C intensity per tick comes from single-tick runs")
        return f"{head}: " + ("; ".join(problems) if problems else "no per-phi samples to compare")


@dataclass(frozen=True)
class ParityThresholds:
    """Pass when Pearson r >= min_correlation and the largest |py - c| / |c| over pixels whose |c| exceeds
    rel_floor * max|c| is <= max_rel_error (dimensionless)."""

    min_correlation: float = 0.999999
    max_rel_error: float = 1e-5
    rel_floor: float = 1e-3


@dataclass
class Verdict:
    """Outcome of the parity check; `reasons` says which threshold failed, with the figures."""

    passed: bool
    correlation: float
    max_rel_error: float
    thresholds: ParityThresholds
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = "pass" if self.passed else "fail"
        return d

    def sentence(self) -> str:
        """'PASS: ...' with both figures and their limits, or 'FAIL: ...' with the figures that broke them."""
        t = self.thresholds
        where = f"over pixels above {t.rel_floor:g} of the C maximum"
        if self.passed:
            return (f"PASS: correlation {self.correlation:.9g} (>= {t.min_correlation:g}), max relative error "
                    f"{self.max_rel_error:.3g} (<= {t.max_rel_error:g} {where})")
        return "FAIL: " + "; ".join(self.reasons) + f" (relative error {where})"


def parity_verdict(metrics: ImageMetrics, thresholds: ParityThresholds = ParityThresholds()) -> Verdict:
    """Judge tracing.metrics.ImageMetrics (`correlation`, and `max_rel_err` over its bright pixels, which must have
    been computed with floor_frac = thresholds.rel_floor). NaN figures (a constant or blank image) fail: parity
    cannot be shown with them."""
    corr = float(metrics.correlation)
    rel = float(metrics.max_rel_err)
    reasons = []
    if not corr >= thresholds.min_correlation:
        reasons.append(f"correlation {corr:.9g} < {thresholds.min_correlation:g}")
    if not rel <= thresholds.max_rel_error:
        reasons.append(f"max relative error {rel:.3g} > {thresholds.max_rel_error:g}")
    return Verdict(not reasons, corr, rel, thresholds, reasons)


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def nbparity_version() -> str:
    """Installed package version, else the one in pyproject.toml beside the sources, else 'unknown'."""
    try:
        return importlib.metadata.version("nbparity")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        import tomllib
        with open(REPO_ROOT / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def with_carryover(argv: Iterable[str], value: bool | None) -> list[str]:
    """argv with any `-phi0_carryover X` removed and, when value is not None, `-phi0_carryover on|off` appended."""
    out: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok == CARRYOVER_FLAG:
            next(it, None)  # drop its value too
            continue
        out.append(tok)
    if value is not None:
        out += [CARRYOVER_FLAG, "on" if value else "off"]
    return out


class ComparisonSession:
    """One command line, both engines. Thread-safe for concurrent `run_c` / `run_torch` / `inspect_pixel` calls:
    the session's own state is read-only after construction."""

    def __init__(self, argv: list[str], options: EngineOptions | None = None,
                 thresholds: ParityThresholds | None = None):
        self.argv: list[str] = [str(a) for a in argv]
        self.options: EngineOptions = options or EngineOptions()
        self.thresholds: ParityThresholds = thresholds or ParityThresholds()
        self.options.validate()
        parsed = parse_argv(self.argv)  # raises ConfigError with the flag and what was expected
        self.config: NanoBraggConfig = parsed.config
        self.warnings: list[str] = list(parsed.warnings)
        self._estimate: Estimate | None = None  # preflight(): issue 8
        # `-dtype`/`-device` on the command line belong to `nbparity sim`; here the engine options decide.
        chosen = {"dtype": self.options.torch_dtype, "device": self.options.torch_device}
        for key, value in parsed.extras.items():
            if key in chosen and value != chosen[key]:
                self.warnings.append(f"-{key} {value} on the command line is ignored: the torch engine runs with "
                                     f"{key} {chosen[key]} (engine option)")

    def preflight(self) -> Estimate:
        """Issue 8: input files, values and memory checked before any engine (ConfigError); cached. Off the GUI
        thread: run_both calls it, the headless commands call it first."""
        if self._estimate is None:
            self._estimate = check_config(self.config)
        return self._estimate

    # ---- command lines ------------------------------------------------------------------------------------------
    def c_args(self) -> list[str]:
        """argv for the C binary: the user's, with `-phi0_carryover on|off` when options.c_carryover is set."""
        return with_carryover(self.argv, self.options.c_carryover)

    def torch_args(self) -> list[str]:
        """The equivalent `nbparity sim` argv (for the manifest): the user's, with the torch carry-over switch."""
        return with_carryover(self.argv, self.options.torch_carryover)

    def torch_config(self) -> NanoBraggConfig:
        """A copy of the configuration with sampling.phi0_carryover from options.torch_carryover (when set)."""
        cfg = copy.deepcopy(self.config)
        if self.options.torch_carryover is not None:
            cfg.sampling.phi0_carryover = self.options.torch_carryover
        return cfg

    def c_binary(self) -> Path:
        """The binary the C runs use: options.c_binary, else the driver's default (NB_C_BIN or our build)."""
        if self.options.c_binary:
            return Path(self.options.c_binary)
        return Path(driver.default_binary())

    def check_pixel(self, slow: int, fast: int) -> None:
        """Raise ConfigError unless (slow, fast) lies on the detector."""
        s_n, f_n = self.config.pixel_counts()
        if not (0 <= slow < s_n and 0 <= fast < f_n):
            raise ConfigError(f"pixel (slow={slow}, fast={fast}) is outside the {s_n} x {f_n} (slow x fast) detector")

    # ---- engines ------------------------------------------------------------------------------------------------
    def run_c(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> EngineOutcome:
        """Render with the C binary. Never raises for engine failures (missing binary, non-zero exit, timeout)."""
        def call() -> ImageResult:
            return driver.run_c(self.c_args(), binary=self.c_binary(), threads=self.options.c_threads,
                         timeout_s=self.options.timeout_s, cancel=cancel, progress=progress).to_image_result()
        return _guarded("c", call)

    def run_torch(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> EngineOutcome:
        """Render with the PyTorch engine, in this thread. Never raises for engine failures."""
        def call() -> ImageResult:
            from simulator.engine import render
            res = render(self.torch_config(), dtype=self.options.torch_dtype, device=self.options.torch_device,
                         progress=progress, cancel=cancel)
            res.argv = self.torch_args()
            return res
        return _guarded("torch", call)

    def run_both(self, progress_c: Progress | None = None, progress_torch: Progress | None = None,
                 cancel: threading.Event | None = None) -> tuple[EngineOutcome, EngineOutcome]:
        """Both renders at once: the C runs as a subprocess while torch computes, so they overlap on two threads."""
        self.preflight()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbparity-engine") as pool:
            fc = pool.submit(self.run_c, progress_c, cancel)
            fp = pool.submit(self.run_torch, progress_torch, cancel)
            return fc.result(), fp.result()

    # ---- comparison ---------------------------------------------------------------------------------------------
    def compare(self, c: ImageResult, py: ImageResult) -> ImageMetrics:
        """tracing.metrics.ImageMetrics of C vs torch over the command's -roi (whole image without one); relative
        error figures use self.thresholds. ConfigError when the shapes differ."""
        if c.image.shape != py.image.shape:
            raise ConfigError(f"image shapes differ: C {c.image.shape} vs torch {py.image.shape} (slow, fast)")
        t = self.thresholds
        return compare_images(c.image, py.image, tol_rel=t.max_rel_error, floor_frac=t.rel_floor,
                              roi=self.config.output.roi)

    def verdict(self, metrics: ImageMetrics) -> Verdict:
        """Parity verdict of metrics from `compare`, against self.thresholds."""
        return parity_verdict(metrics, self.thresholds)

    def inspect_pixel(self, slow: int, fast: int, cancel: threading.Event | None = None) -> PixelInspection:
        """Trace pixel (slow, fast) on both engines and compare per phi tick.

        When the C trace has no per-phi samples, `c_curve` gets the C intensity per tick from single-tick runs
        (spec 15). Engine failures land in c_error / py_error; a pixel off the detector raises ConfigError.
        """
        self.check_pixel(slow, fast)
        out = PixelInspection(slow, fast)

        def c_side() -> None:
            kw = dict(binary=self.c_binary(), threads=self.options.c_threads, timeout_s=self.options.timeout_s,
                      cancel=cancel)
            try:
                out.c_trace = driver.trace_c(self.c_args(), slow, fast, **kw)
                if not out.c_trace.samples:
                    curve = driver.phi_intensity_curve(self.c_args(), slow, fast, **kw)
                    out.c_curve = [(float(phi), float(value)) for phi, value in curve]
            except Exception as exc:  # noqa: BLE001 - reported as a value, see module docstring
                out.c_error, out.c_log_tail = _describe_failure(exc)

        def py_side() -> None:
            from simulator.engine import trace_pixel
            try:
                out.py_trace = trace_pixel(self.torch_config(), slow, fast, dtype=self.options.torch_dtype,
                                           device=self.options.torch_device)
            except Exception as exc:  # noqa: BLE001
                out.py_error, out.py_log_tail = _describe_failure(exc)

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbparity-trace") as pool:
            for f in [pool.submit(c_side), pool.submit(py_side)]:
                f.result()
        if out.c_trace is not None and out.py_trace is not None and out.c_trace.samples and out.py_trace.samples:
            out.comparison = compare_traces(out.c_trace, out.py_trace)
        return out

    # ---- provenance and snapshot --------------------------------------------------------------------------------
    def manifest(self, c: EngineOutcome | None, py: EngineOutcome | None) -> dict:
        """Everything needed to reproduce a snapshot (ARCHITECTURE.md, "Reproducibility"). JSON-ready."""
        binary = self.c_binary()
        c_meta = c.result.meta if c is not None and c.result is not None else {}
        sha = c_meta.get("binary_sha256") or c_meta.get("sha256")
        if sha is None and binary.is_file():
            sha = sha256_file(binary)
        py_meta = py.result.meta if py is not None and py.result is not None else {}
        torch_mod = sys.modules.get("torch")
        return {
            "nbparity_version": nbparity_version(),
            "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "git_commit": _safe(lambda: git_commit(REPO_ROOT)),
            "git_dirty": _safe(lambda: git_dirty(REPO_ROOT)),  # uncommitted changes to tracked files
            "argv": list(self.argv),
            "c_command": [str(binary)] + self.c_args(),
            "torch_command": ["nbparity", "sim"] + self.torch_args(),
            "c_binary": str(binary),
            "c_binary_sha256": sha,
            "c_threads": self.options.c_threads,
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),  # what the C inherits when c_threads is None
            "c_carryover": self.options.c_carryover,
            "torch_version": torch_mod.__version__ if torch_mod else _safe(lambda: importlib.metadata.version("torch")),
            "torch_dtype": self.options.torch_dtype,
            "torch_device": self.options.torch_device,
            "torch_threads": py_meta.get("threads") or (torch_mod.get_num_threads() if torch_mod else None),
            "torch_carryover": self.options.torch_carryover,
            "timeout_s": self.options.timeout_s,
            "parity_thresholds": asdict(self.thresholds),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "warnings": list(self.warnings),
            "engines": {o.engine: _outcome_summary(o) for o in (c, py) if o is not None},
            "config": config_to_dict(self.config),
        }

    def write_bundle(self, parent: Path, *, c: EngineOutcome | None, py: EngineOutcome | None,
                     metrics: ImageMetrics | None = None,
                     inspections: Iterable[PixelInspection] = (), extra_files: dict[str, bytes] | None = None,
                     png: bool = False, prefix: str = "compare") -> Path:
        """Write a snapshot into a new timestamped folder under `parent`, whole or not at all; returns its path.

        Metrics are computed here when both images exist and `metrics` is None. The files are listed in
        app/snapshot.py.
        """
        from app.snapshot import write_snapshot
        return write_snapshot(self, Path(parent), c=c, py=py, metrics=metrics, inspections=list(inspections),
                              extra_files=extra_files or {}, png=png, prefix=prefix)


# ---- helpers ----------------------------------------------------------------------------------------------------
def _guarded(engine: str, call: Callable[[], ImageResult]) -> EngineOutcome:
    try:
        return EngineOutcome(engine, result=call())
    except Exception as exc:  # noqa: BLE001 - engine failures are values here
        message, tail = _describe_failure(exc)
        return EngineOutcome(engine, error=message, log_tail=tail, cancelled=isinstance(exc, Cancelled))


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """(message, log tail) for an engine failure; unexpected exceptions keep their traceback in the tail."""
    if isinstance(exc, Cancelled):
        return "cancelled", str(exc)
    if isinstance(exc, EngineError):
        return str(exc), exc.log_tail
    if isinstance(exc, (ConfigError, OSError)):
        return str(exc) or type(exc).__name__, ""
    return f"{type(exc).__name__}: {exc}", log_tail(traceback.format_exc())


def _outcome_summary(o: EngineOutcome) -> dict:
    r = o.result
    return {
        "ok": o.ok, "error": o.error, "cancelled": o.cancelled,
        "wall_s": r.wall_s if r else None, "returncode": r.returncode if r else None,
        "shape": list(r.shape) if r else None,
        "meta": json.loads(json.dumps(r.meta, default=str)) if r else None,
    }


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - provenance is best effort; None means "unknown"
        return None
