"""The Qt-free comparison session: one nanoBragg command line, two sides A and B (each any engine), their
comparison, and the immutable record a snapshot is written from.

The window's run model (app/qt/run_model.py) calls this object from worker threads and the headless subcommands
(`nbparity compare|trace`) call it directly, so both share one code path (ARCHITECTURE.md, "No Qt outside app/").

- The command line is parsed once, here; every engine gets the parse in its `Job` (app/engines/base.py).
- Side A defaults to our C reference (`cref`), side B to our PyTorch engine (`torch`); `SessionOptions` names any
  ENGINE spelling for either (app/engines/spec.py). Everything a user sees is named after the engines
  (`Side.label`: "nbparity C reference 1a2b3c4d", "nbparity PyTorch f64"; made distinct when both sides run the
  same engine, e.g. "... (carry-over on)" / "... (carry-over off)").
- Scheduling (`SessionOptions.schedule`): "auto" runs A then B, each with every core (OMP_NUM_THREADS / torch
  threads), unless one side computes on a GPU, where both run at once; `run_both(on_finished=...)` reports each
  engine as soon as it is done, so a window shows the first image early.
- A binary other than our C reference runs with OMP_NUM_THREADS=1 by default when the command line has a φ tick
  at exactly 0° and its carry-over is on (spec §8.3, decisions D3: the real C's carry-over then depends on thread
  scheduling); the side's `notes`, the manifest and the verdict say why. More threads are the user's explicit choice
  (`SideOptions.threads`), with a warning.
- Output flags of the command line (-intfile, -floatfile, ...) are honoured by one side only (the first process
  engine), so two engines never write the same file; a warning says which.

Layout and units follow spec/decisions.md D6: images are float32 (slow, fast) photons/pixel; pixel (s, f) is
(slow, fast), zero-based. Engine failures never raise out of `run_side`/`run_both`/`inspect_pixel`: they come back
as values (`EngineOutcome.error`, `PixelInspection.errors`) with the tail of the engine's log, so one failing
engine never hides the other's result. Bad input (argv, engine spelling, pixel out of range) raises ConfigError
before any work starts. `record(...)` gives a `ComparisonRecord`, immutable; app/bundle/snapshot.py writes it and never
calls back into the session.
"""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.records import ComparisonRecord, EngineOutcome, PixelInspection
from app.engines.base import Engine, Job
from app.engines.curve import has_zero_tick
from app.engines.registry import make_engine
from c_reference import driver
from c_reference.locate import ENV_VAR
from c_reference.trace_value import TraceValues
from simulator.argv import last_values, parse_argv, with_flag
from simulator.budget import Estimate
from simulator.config import ConfigError, NanoBraggConfig, config_to_dict
from simulator.preflight import check_config
from tracing.bundle import git_commit, git_dirty
from tracing.metrics import ImageMetrics, ParityThresholds, Verdict, compare_images, parity_verdict
from tracing.phi_compare import compare_traces
from tracing.records import Cancelled, EngineError, ImageResult
from app.core.sides import SIDES

__all__ = ["ComparisonRecord", "ComparisonSession", "EngineOptions", "EngineOutcome", "ParityThresholds",
           "PixelInspection", "SessionOptions", "Side", "SideOptions", "TraceValues", "Verdict", "parity_verdict"]

REPO_ROOT = Path(__file__).resolve().parents[2]
CARRYOVER_FLAG = "-phi0_carryover"
DTYPES = ("float32", "float64")
LOG_TAIL_LINES = 40
SCHEDULES: tuple[str, ...] = ("auto", "sequential", "parallel")
OUTPUT_FLAGS: tuple[str, ...] = ("-floatfile",) + driver.OUTPUT_FILE_FLAGS

Progress = Callable[..., Any]


# ---- options ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideOptions:
    """One side: an ENGINE spelling, its carry-over switch (None = the engine's default: on for a C, off for torch;
    decisions D3) and its threads (None = the session decides: all cores, or 1 by the carry-over rule)."""

    engine: str = "cref"
    carryover: bool | None = None
    threads: int | None = None


@dataclass(frozen=True)
class SessionOptions:
    """Both sides, the time limit of one process run (s) and the schedule ("auto", "sequential", "parallel")."""

    a: SideOptions = SideOptions("cref")
    b: SideOptions = SideOptions("torch")
    timeout_s: float = 3600.0
    schedule: str = "auto"

    def validate(self) -> None:
        """Raise ConfigError naming the option and what was expected."""
        for key, side in (("A", self.a), ("B", self.b)):
            if side.threads is not None and side.threads < 1:
                raise ConfigError(f"threads of side {key}: {side.threads}, expected a positive integer")
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout {self.timeout_s}: expected a positive number of seconds")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule {self.schedule!r}: expected one of {', '.join(SCHEDULES)}")


@dataclass
class EngineOptions:
    """The former C-vs-torch options, kept as an input: side A = the C binary (our reference, or c_binary),
    side B = torch with dtype/device. `to_session_options()` gives the SessionOptions they mean."""

    c_binary: str | None = None
    c_threads: int | None = None
    c_carryover: bool | None = None
    torch_dtype: str = "float64"
    torch_device: str = "cpu"
    torch_carryover: bool | None = None
    timeout_s: float = 3600.0

    def validate(self) -> None:
        if self.torch_dtype not in DTYPES:
            raise ConfigError(f"torch dtype {self.torch_dtype!r}: expected one of {', '.join(DTYPES)}")
        self.to_session_options().validate()

    def to_session_options(self) -> SessionOptions:
        a = SideOptions(f"bin:{self.c_binary}" if self.c_binary else "cref", self.c_carryover, self.c_threads)
        b = SideOptions(f"torch:{self.torch_dtype}:{self.torch_device}", self.torch_carryover)
        return SessionOptions(a, b, self.timeout_s)


# ---- records ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One side of the session, resolved: key "a" or "b", the engine, the label users see, the Job it runs, and
    notes on how it runs (threads chosen and why)."""

    key: str
    engine: Engine
    label: str
    job: Job
    notes: tuple[str, ...] = ()

    @property
    def letter(self) -> str:
        return self.key.upper()

    def summary(self) -> dict:
        """JSON-ready description for manifests (identity, label, carry-over, threads, environment, notes)."""
        return {"side": self.letter, "label": self.label, **self.engine.identity.to_dict(),
                "carryover": self.job.carryover, "threads": self.job.threads, "env": dict(self.job.env),
                "writes_outputs": self.job.write_outputs, "notes": list(self.notes)}


# ---- the session --------------------------------------------------------------------------------------------------
class ComparisonSession:
    """One command line, two sides. Thread-safe for concurrent `run_side` / `inspect_pixel` calls: the session's
    own state is read-only after construction."""

    def __init__(self, argv: list[str], options: SessionOptions | EngineOptions | None = None,
                 thresholds: ParityThresholds | None = None, *, c_binary: str | None = None,
                 cwd: Path | None = None, trace_values: TraceValues | None = None):
        """argv: nanoBragg arguments. c_binary: the --c-bin / NB_C_BIN shortcut, used for side A when A is the
        default `cref` (None: $NB_C_BIN when set). cwd: the user's folder (output flags resolve there).
        trace_values: which binaries' traces give the pixel's float value, so that their trace runs write no float
        file (driver.trace_c_run; issue 19): a window passes its own to every session it makes, so that what one
        session's first trace learnt serves the next; None: this session's own."""
        if isinstance(options, EngineOptions):
            options.validate()
            options = options.to_session_options()
        self.argv: list[str] = [str(a) for a in argv]
        self.options: SessionOptions = options or SessionOptions()
        self.thresholds: ParityThresholds = thresholds or ParityThresholds()
        self.options.validate()
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        parsed = parse_argv(self.argv)  # the one parse; raises ConfigError with the flag and what was expected
        self.config: NanoBraggConfig = parsed.config
        self.warnings: list[str] = list(parsed.warnings)
        self._estimate: Estimate | None = None  # preflight(): issue 8
        a_opts = self.options.a
        shortcut = c_binary or os.environ.get(ENV_VAR, "").strip() or None
        if a_opts.engine == "cref" and shortcut:
            a_opts = SideOptions(f"bin:{shortcut}", a_opts.carryover, a_opts.threads)
        self.trace_values: TraceValues = trace_values if trace_values is not None else TraceValues()
        engines = {"a": make_engine(a_opts.engine, self.trace_values),
                   "b": make_engine(self.options.b.engine, self.trace_values)}
        side_opts = {"a": a_opts, "b": self.options.b}
        writer = next((k for k in SIDES if not engines[k].identity.capabilities.in_process), None)
        self.sides: dict[str, Side] = {}
        for key in SIDES:
            self.sides[key] = self._resolve_side(key, engines[key], side_opts[key], write_outputs=(key == writer))
        self._name_sides()
        self._note_outputs(writer)
        for key, value in parsed.extras.items():
            if key in ("dtype", "device"):
                self.warnings.append(f"-{key} {value} on the command line is ignored: each side's engine spelling "
                                     f"decides (e.g. --b torch:float32)")

    def preflight(self) -> Estimate:
        """Issue 8: input files, values and memory checked before any engine runs (ConfigError); cached. It reads
        the input files, so the window calls it off the GUI thread (run_both does); the headless commands first."""
        if self._estimate is None:
            self._estimate = check_config(self.config)
        return self._estimate

    # ---- sides ----------------------------------------------------------------------------------------------------
    def _resolve_side(self, key: str, engine: Engine, opts: SideOptions, write_outputs: bool) -> Side:
        ident = engine.identity
        caps = ident.capabilities
        threads, notes, env = opts.threads, [], {}
        carry = opts.carryover if opts.carryover is not None else caps.carryover_default
        if not caps.carryover_switch and caps.carryover_default:
            carry = True  # an unknown nanoBragg build may ignore -phi0_carryover off (the real one does)
        risky = ident.kind in ("bin", "cmd") and carry is True and has_zero_tick(self.config)
        if risky and threads is None:
            threads = 1
            notes.append(f"{ident.display_name} runs with OMP_NUM_THREADS=1: it is not our C reference, the command "
                         "line has a φ tick at exactly 0° and its carry-over is on, and the real C's carry-over "
                         "then depends on thread scheduling (spec 8.3, decisions D3); more threads: "
                         f"--threads-{key} N")
        elif risky and threads is not None and threads > 1:
            warn = (f"{ident.display_name} runs with {threads} threads on a command line with a φ tick at exactly 0° "
                    "and the carry-over on: its image may change from run to run (spec 8.3, decisions D3)")
            notes.append(warn)
            self.warnings.append(warn)
        if threads is not None and caps.threads == "omp":
            env["OMP_NUM_THREADS"] = str(threads)
        job = Job(argv=tuple(self.argv), config=self.config, carryover=opts.carryover, threads=threads,
                  timeout_s=self.options.timeout_s, cwd=self.cwd, env=tuple(sorted(env.items())),
                  write_outputs=write_outputs)
        return Side(key, engine, ident.display_name, job, tuple(notes))

    def _name_sides(self) -> None:
        a, b = self.sides["a"], self.sides["b"]
        if a.label != b.label:
            return
        if a.job.carryover != b.job.carryover:
            tags = {k: f" (carry-over {_on_off(s.job.carryover, s.engine)})" for k, s in self.sides.items()}
        elif a.job.threads != b.job.threads:
            tags = {k: f" ({s.job.threads or 'all'} threads)" for k, s in self.sides.items()}
        else:
            tags = {k: f" [{k.upper()}]" for k in SIDES}
        for k, s in self.sides.items():
            self.sides[k] = Side(s.key, s.engine, s.label + tags[k], s.job, s.notes)

    def _note_outputs(self, writer: str | None) -> None:
        given = [f"{f} {v[0]}" for f in OUTPUT_FLAGS if (v := last_values(self.argv, f))]
        if not given:
            return
        if writer is None:
            self.warnings.append(f"output files of the command line ({', '.join(given)}) are not written: both "
                                 "engines render in process (bundles keep both images)")
        else:
            self.warnings.append(f"output files of the command line ({', '.join(given)}) are written by side "
                                 f"{writer.upper()} ({self.sides[writer].label}) only, relative to {self.cwd}")

    def label(self, side: str) -> str:
        return self.sides[side].label

    def labels(self) -> dict[str, str]:
        return {k: s.label for k, s in self.sides.items()}

    def check_pixel(self, slow: int, fast: int) -> None:
        """Raise ConfigError unless (slow, fast) lies on the detector."""
        s_n, f_n = self.config.pixel_counts()
        if not (0 <= slow < s_n and 0 <= fast < f_n):
            raise ConfigError(f"pixel (slow={slow}, fast={fast}) is outside the {s_n} x {f_n} (slow x fast) detector")

    def side_args(self, side: str) -> list[str]:
        """The nanoBragg argv side `side` runs: the user's, with `-phi0_carryover on|off` when its option is set."""
        job = self.sides[side].job
        if job.carryover is None:
            return list(self.argv)
        return with_flag(list(self.argv), CARRYOVER_FLAG, "on" if job.carryover else "off")

    # ---- scheduling -----------------------------------------------------------------------------------------------
    def schedule(self) -> str:
        """"sequential" or "parallel": auto = one after the other with all cores each, unless a side computes on
        a GPU (then the CPU side and the GPU side do not compete)."""
        if self.options.schedule != "auto":
            return self.options.schedule
        on_gpu = any((s.engine.identity.capabilities.device or "cpu") != "cpu" for s in self.sides.values())
        return "parallel" if on_gpu else "sequential"

    def run_order(self) -> tuple[str, str]:
        """The order of the sides in a sequential schedule: an in-process engine (ours, whose compiled kernel renders
        CLI-FLAGS-003 in about 0.3 s where a C binary takes about 5 s) before a process engine, so that the window
        shows an image at once whichever side it is on; otherwise A then B. The total time is the same."""
        first_b = (self.sides["b"].engine.identity.capabilities.in_process
                   and not self.sides["a"].engine.identity.capabilities.in_process)
        return ("b", "a") if first_b else ("a", "b")

    # ---- engines --------------------------------------------------------------------------------------------------
    def run_side(self, side: str, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> EngineOutcome:
        """Render side `side` ("a" or "b") in this thread. Never raises for engine failures."""
        s = self.sides[side]
        outcome = _guarded(s.label, lambda: s.engine.render(s.job, progress, cancel))
        outcome.side = side
        return outcome

    def run_both(self, progress_a: Progress | None = None, progress_b: Progress | None = None,
                 cancel: threading.Event | None = None,
                 on_finished: Callable[[EngineOutcome], None] | None = None) -> tuple[EngineOutcome, EngineOutcome]:
        """Both renders, scheduled by `schedule()` (sequential: in `run_order()`); on_finished(outcome) is called as
        soon as each side is done (on the thread that ran it). After a cancel, a side that has not started comes
        back cancelled at once. Bad input found by `preflight()` comes back as both sides' error, before either
        engine starts."""
        try:
            self.preflight()
        except ConfigError as exc:
            ref_a, ref_b = (EngineOutcome(self.label(k), error=str(exc), side=k) for k in SIDES)
            for o in (ref_a, ref_b):
                if on_finished is not None:
                    on_finished(o)
            return ref_a, ref_b
        def one(side: str, progress: Progress | None) -> EngineOutcome:
            if cancel is not None and cancel.is_set():
                o = EngineOutcome(self.label(side), error="cancelled", cancelled=True, side=side)
            else:
                o = self.run_side(side, progress, cancel)
            if on_finished is not None:
                on_finished(o)
            return o

        if self.schedule() == "sequential":
            progress = {"a": progress_a, "b": progress_b}
            done = {k: one(k, progress[k]) for k in self.run_order()}
            return done["a"], done["b"]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbparity-engine") as pool:
            fa = pool.submit(one, "a", progress_a)
            fb = pool.submit(one, "b", progress_b)
            return fa.result(), fb.result()

    # ---- comparison -----------------------------------------------------------------------------------------------
    def compare(self, a: ImageResult, b: ImageResult) -> ImageMetrics:
        """tracing.metrics.ImageMetrics of A vs B (differences A − B, ratios B / A) over the command's -roi (whole
        image without one); relative error figures use self.thresholds. ConfigError when the shapes differ."""
        if a.image.shape != b.image.shape:
            raise ConfigError(f"image shapes differ: {self.label('a')} {a.image.shape} vs {self.label('b')} "
                              f"{b.image.shape} (slow, fast)")
        t = self.thresholds
        return compare_images(a.image, b.image, tol_rel=t.max_rel_error, floor_frac=t.rel_floor,
                              roi=self.config.output.roi)

    def verdict(self, metrics: ImageMetrics) -> Verdict:
        """Parity verdict of metrics from `compare`, against self.thresholds, with the sides' notes."""
        notes = [n for s in self.sides.values() for n in s.notes]
        return parity_verdict(metrics, self.thresholds, notes, reference=self.label("a"))

    def inspect_pixel(self, slow: int, fast: int, cancel: threading.Event | None = None) -> PixelInspection:
        """Trace pixel (slow, fast) on both sides (at once: traces are short) and compare per phi tick.

        A side whose trace has no per-phi samples gets `curves[side]` from single-tick runs (spec 15). Engine
        failures land in `errors`; a pixel off the detector raises ConfigError; cancel reaches both sides (the
        torch trace too) and comes back as errors "cancelled".
        """
        self.check_pixel(slow, fast)
        out = PixelInspection(slow, fast, labels=self.labels())

        def one(key: str) -> None:
            s = self.sides[key]
            try:
                tr = s.engine.trace(s.job, slow, fast, cancel=cancel)
                out.traces[key] = tr
                if not tr.samples:
                    out.curves[key] = s.engine.phi_curve(s.job, slow, fast, cancel=cancel)
            except Exception as exc:  # noqa: BLE001 - reported as a value, see module docstring
                out.errors[key], out.log_tails[key] = _describe_failure(exc)

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbparity-trace") as pool:
            for f in [pool.submit(one, k) for k in SIDES]:
                f.result()
        ta, tb = out.traces.get("a"), out.traces.get("b")
        if ta is not None and tb is not None and ta.samples and tb.samples:
            out.comparison = compare_traces(ta, tb, tol=self.thresholds.phi_tol)
        return out

    # ---- provenance and snapshot ----------------------------------------------------------------------------------
    def manifest(self, outcomes: dict[str, EngineOutcome | None]) -> dict:
        """Everything needed to reproduce a snapshot (ARCHITECTURE.md, "Reproducibility"). JSON-ready."""
        return {
            "nbparity_version": nbparity_version(),
            "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "git_commit": _safe(lambda: git_commit(REPO_ROOT)),
            "git_dirty": _safe(lambda: git_dirty(REPO_ROOT)),  # uncommitted changes to tracked files
            "argv": list(self.argv),
            "cwd": str(self.cwd),
            "sides": {k: {**s.summary(), "command": list(s.engine.identity.command) + self.side_args(k)
                          if s.engine.identity.command else ["nbparity", "sim"] + self.side_args(k),
                          "outcome": _outcome_summary(outcomes.get(k))}
                      for k, s in self.sides.items()},
            "schedule": self.schedule(),
            "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),  # what a process inherits without threads
            "torch_version": _safe(lambda: importlib.metadata.version("torch")),
            "torch_threads": _safe(lambda: sys.modules["torch"].get_num_threads()) if "torch" in sys.modules
            else None,
            "timeout_s": self.options.timeout_s,
            "parity_thresholds": asdict(self.thresholds),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "warnings": list(self.warnings),
            "config": config_to_dict(self.config),
        }

    def record(self, a: EngineOutcome | None = None, b: EngineOutcome | None = None,
               metrics: ImageMetrics | None = None, inspections: Iterable[PixelInspection] = ()) -> ComparisonRecord:
        """The immutable record of a finished comparison. Metrics (and the verdict) are computed here when both
        images exist with one shape and `metrics` is None."""
        ra = a.result if a is not None and a.ok else None
        rb = b.result if b is not None and b.ok else None
        pair = (ra, rb) if ra is not None and rb is not None and ra.shape == rb.shape else None
        both = pair is not None
        if metrics is None and pair is not None:
            metrics = self.compare(*pair)
        verdict = self.verdict(metrics) if both and metrics is not None else None
        outcomes = {"a": a, "b": b}
        return ComparisonRecord(argv=tuple(self.argv), config=self.config, labels=tuple(self.labels().items()),
                                outcomes=tuple(outcomes.items()), metrics=metrics, verdict=verdict,
                                inspections=tuple(inspections), thresholds=self.thresholds,
                                warnings=tuple(self.warnings), manifest=self.manifest(outcomes))


# ---- helpers ------------------------------------------------------------------------------------------------------
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


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _on_off(value: bool | None, engine: Engine) -> str:
    if value is None:
        value = engine.identity.capabilities.carryover_default
    return {True: "on", False: "off", None: "default"}[value]


def _guarded(label: str, call: Callable[[], ImageResult]) -> EngineOutcome:
    try:
        return EngineOutcome(label, result=call())
    except Exception as exc:  # noqa: BLE001 - engine failures are values here
        message, tail = _describe_failure(exc)
        return EngineOutcome(label, error=message, log_tail=tail, cancelled=isinstance(exc, Cancelled))


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """(message, log tail) for an engine failure; unexpected exceptions keep their traceback in the tail."""
    if isinstance(exc, Cancelled):
        return "cancelled", str(exc)
    if isinstance(exc, EngineError):
        return str(exc), exc.log_tail
    if isinstance(exc, (ConfigError, OSError)):
        return str(exc) or type(exc).__name__, ""
    return f"{type(exc).__name__}: {exc}", log_tail(traceback.format_exc())


def _outcome_summary(o: EngineOutcome | None) -> dict | None:
    if o is None:
        return None
    r = o.result
    return {
        "engine": o.engine, "ok": o.ok, "error": o.error, "cancelled": o.cancelled,
        "wall_s": r.wall_s if r else None, "returncode": r.returncode if r else None,
        "shape": list(r.shape) if r else None,
        "meta": json.loads(json.dumps(r.meta, default=str)) if r else None,
    }


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - provenance is best effort; None means "unknown"
        return None
