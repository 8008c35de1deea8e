"""`nb-compare` / `nbparity nb-compare`: the port team's comparison command (AT-TOOLS-001), run by nbparity.

Usage: nb-compare [--outdir D] [--roi xmin xmax ymin ymax] [--threshold T] [--resample] [--png-scale PCTL]
                  [--save-diff] [--c-bin PATH] [--py-bin PATH] -- ARGS...

Runs the C program, then the PyTorch command, on ARGS (each through nbparity's process driver: own scratch folder,
`-floatfile` forced there, everything it started stopped on exit), computes the port team's metrics and writes their
artefact folder (`--outdir`, else comparisons/YYYYMMDD-HHMMSS-<md5(ARGS joined by spaces)[:8]>): summary.json,
c_/py_stdout.txt, c_/py_stderr.txt, c_float.bin, py_float.bin, c.png, py.png, and with --save-diff diff.bin and
diff.png. Beside those, in `nbparity/`, nbparity's own bundle: manifest, both images, report.html, and the per-phi
traces of the pixel with the largest |py - c|.

Exit codes (theirs, not nbparity compare's): 0 correlation >= threshold; 1 usage (bad option, no ARGS, no program
found, a command line the engines cannot take); 2 a runner failed (non-zero exit, crash, no or non-finite float
image); 3 correlation below the threshold (or NaN); 4 image shapes differ and no --resample; 5 I/O or parse error
(an artefact that cannot be written, a float image of unknown dimensions); 128+n stopped by signal n.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.auto_trace import AutoTraceOptions, add_cli_options, auto_trace, choose_pixels, options_from_args
from app.nb_compare import locate
from app.nb_compare.metrics import Roi, image_metrics, resample_nearest, square_shape
from app.nb_compare.previews import preview_files

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE, EXIT_RUNNER, EXIT_BELOW, EXIT_SHAPE, EXIT_IO = 0, 1, 2, 3, 4, 5
BUNDLE_SUBDIR = "nbparity"
SIDE_NAMES = {"a": "c", "b": "py"}   # side A runs the C program, side B the PyTorch command
RUNNER_ENV = {"KMP_DUPLICATE_LIB_OK": "TRUE"}  # what the port team's tool sets for both runners


class Usage(Exception):
    """A usage problem: exit 1 with this message."""


class ArtefactError(Exception):
    """An I/O or parse problem: exit 5 with this message."""


@dataclass(frozen=True)
class Options:
    """The command line. roi: (xmin, xmax, ymin, ymax) inclusive; png_scale: percentile 0..100; args: ARGS."""

    outdir: Path | None = None
    roi: Roi | None = None
    threshold: float = 0.95
    resample: bool = False
    png_scale: float = 99.5
    save_diff: bool = False
    c_bin: str | None = None
    py_bin: str | None = None
    args: tuple[str, ...] = ()
    auto_trace: AutoTraceOptions = AutoTraceOptions()   # issue 21: a FAIL's worst pixels traced and diffed


@dataclass
class SideRun:
    """One runner's outcome: the image as read (None when it failed), the raw float file's values, its logs."""

    key: str
    outcome: object                       # app.session.EngineOutcome
    image: np.ndarray | None = None       # float32 (slow, fast)
    raw: bytes = b""                      # the float file as written by the runner
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    shape_note: str = ""                  # set when the file did not match the command line's detector size
    failure: str = ""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2; usage is 1 here
        raise Usage(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nb-compare", usage="nb-compare [options] -- ARGS...", allow_abbrev=False,
                description="Run the C and PyTorch nanoBragg on the same ARGS and compare their images "
                            "(the port team's AT-TOOLS-001 command, with nbparity's bundle beside its artefacts).",
                epilog="exit codes: 0 pass, 1 usage, 2 runner failure, 3 correlation below threshold, "
                       "4 shapes differ (no --resample), 5 I/O or parse error",)
    p.add_argument("--outdir", type=Path, help="artefact folder (default comparisons/YYYYMMDD-HHMMSS-<hash>)")
    p.add_argument("--roi", type=int, nargs=4, metavar=("xmin", "xmax", "ymin", "ymax"),
                   help="metrics over this pixel box only (inclusive; x = fast, y = slow)")
    p.add_argument("--threshold", type=float, default=0.95, help="pass needs correlation >= T (default 0.95)")
    p.add_argument("--resample", action="store_true", help="nearest-neighbour resample PyTorch's image when the "
                                                           "shapes differ")
    p.add_argument("--png-scale", type=float, default=99.5, metavar="PCTL",
                   help="PNG scale: this percentile of the positive pixels (default 99.5)")
    p.add_argument("--save-diff", action="store_true", help="also write diff.bin and diff.png (py - c)")
    p.add_argument("--c-bin", help="C program (else $NB_C_BIN, ./golden_suite_generator/nanoBragg, ./nanoBragg)")
    p.add_argument("--py-bin", help="PyTorch runner (else $NB_PY_BIN, nanoBragg on PATH, python -m nanobrag_torch)")
    add_cli_options(p)   # issue 21: --no-auto-trace, --auto-trace-budget SECONDS (nbparity's, not the port team's)
    p.add_argument("args", nargs="*", help="arguments given to both runners (after --)")
    return p


def parse_options(argv: Sequence[str]) -> Options:
    """Options from the command line (everything after the first `--` goes to the runners); Usage on bad input."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        ns = parser().parse_args(argv[:i])
        if ns.args:
            raise Usage(f"unexpected arguments before --: {' '.join(ns.args)}")
        ns.args = argv[i + 1:]
    else:
        ns = parser().parse_args(argv)
    if not ns.args:
        raise Usage("no nanoBragg arguments: give them after `--`")
    if not math.isfinite(ns.threshold):
        raise Usage(f"--threshold {ns.threshold}: expected a finite number")
    if not 0.0 <= ns.png_scale <= 100.0:
        raise Usage(f"--png-scale {ns.png_scale}: expected a percentile from 0 to 100")
    roi = tuple(ns.roi) if ns.roi else None
    return Options(ns.outdir, roi, ns.threshold, ns.resample, ns.png_scale, ns.save_diff, ns.c_bin, ns.py_bin,
                   tuple(ns.args), options_from_args(ns))


def check_roi(roi: Roi | None, shape: tuple[int, int]) -> None:
    """Usage unless 0 <= xmin <= xmax < fast pixels and 0 <= ymin <= ymax < slow pixels."""
    if roi is None:
        return
    xmin, xmax, ymin, ymax = roi
    slow, fast = shape
    if not (0 <= xmin <= xmax < fast and 0 <= ymin <= ymax < slow):
        raise Usage(f"--roi {xmin} {xmax} {ymin} {ymax}: expected 0 <= xmin <= xmax < {fast} and "
                    f"0 <= ymin <= ymax < {slow} (x = fast, y = slow, inclusive, on the {slow} x {fast} detector)")


def default_outdir(args: Sequence[str], now: _dt.datetime, cwd: Path) -> Path:
    """comparisons/YYYYMMDD-HHMMSS-<first 8 hex of md5 of the args joined by spaces>; a folder that exists already
    gets -2, -3, ... (an earlier comparison is never overwritten)."""
    digest = hashlib.md5(" ".join(args).encode(), usedforsecurity=False).hexdigest()[:8]
    base = cwd / "comparisons" / f"{now.strftime('%Y%m%d-%H%M%S')}-{digest}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def write_file(folder: Path, name: str, data: bytes) -> Path:
    """folder/name written whole or not at all (a temporary file renamed); ArtefactError on failure."""
    path = folder / name
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtefactError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


# ---- running ------------------------------------------------------------------------------------------------------
def run_side(session, key: str, cancel: threading.Event) -> SideRun:
    """Render one side through the process driver (stdout and stderr kept apart, as the artefacts need them)."""
    from app.engines.process_engine import engine_command
    from app.session import EngineOutcome
    from c_reference import driver
    from tracing.records import Cancelled, EngineError

    side = session.sides[key]
    eng, job = side.engine, side.job
    target = {"command": list(eng.command)} if eng.command else {"binary": eng.binary}
    run = SideRun(key, EngineOutcome(side.label, side=key))
    try:
        res = driver.run_c(engine_command(job), threads=job.threads, timeout_s=job.timeout_s, cancel=cancel,
                           env={**dict(job.env), **RUNNER_ENV}, cwd=job.cwd, outputs=job.write_outputs, **target)
    except driver.ImageSizeError as exc:
        shape = square_shape(exc.data.size)
        if shape is None:
            run.failure = f"cannot determine the image dimensions: {exc} (and {exc.data.size} is not a square)"
            return run
        run.image, run.raw = exc.data.reshape(shape), exc.data.tobytes()
        run.shape_note = str(exc)
        run.outcome.error = str(exc)
        return run
    except Cancelled as exc:
        run.outcome.cancelled, run.outcome.error, run.failure = True, "cancelled", str(exc)
        return run
    except EngineError as exc:
        run.outcome.error, run.outcome.log_tail, run.failure = str(exc), exc.log_tail, str(exc)
        return run
    run.outcome.result = res.to_image_result(engine=side.label)
    run.image, run.raw = res.image, res.image.astype(np.float32).tobytes()
    run.stdout, run.stderr, run.wall_s = res.stdout, res.stderr, res.wall_s
    return run


def worst_pixel(c_img: np.ndarray, py_img: np.ndarray, roi: Roi | None) -> tuple[int, int]:
    """(slow, fast) of the largest |py - c| inside the ROI (the brightest C pixel when the images are equal)."""
    x0, y0 = (roi[0], roi[2]) if roi else (0, 0)
    ys = slice(y0, roi[3] + 1) if roi else slice(None)
    xs = slice(x0, roi[1] + 1) if roi else slice(None)
    d = np.abs(py_img[ys, xs].astype(np.float64) - c_img[ys, xs])
    box = d if d.max() > 0 else c_img[ys, xs]
    s, f = np.unravel_index(int(np.argmax(box)), box.shape)
    return int(s) + y0, int(f) + x0


@dataclass
class Comparison:
    """Everything main() decided, for the caller and the tests."""

    outdir: Path
    exit_code: int
    summary: dict = field(default_factory=dict)
    bundle: Path | None = None
    pending: tuple | None = None   # (session, runs, inspections): the bundle, written after the runs

    def write_bundle(self) -> Path | None:
        """nbparity's bundle in outdir/nbparity/ (report.html, per-phi traces of the worst pixel). A problem here is
        reported and does not change the exit code: the port team's artefacts are complete without it."""
        if self.pending is None:
            return None
        session, runs, inspections = self.pending
        self.pending = None
        try:
            self.bundle = session.write_bundle(self.outdir / BUNDLE_SUBDIR, a=runs["a"].outcome,
                                               b=runs["b"].outcome, inspections=inspections, png=True,
                                               prefix="nb-compare")
        except Exception as exc:  # noqa: BLE001 - reported, see docstring
            print(f"note: nbparity bundle not written: {exc}", file=sys.stderr)
            return None
        print(f"nbparity bundle: {self.bundle}")
        return self.bundle


def compare(opts: Options, cancel: threading.Event, cwd: Path, env: dict) -> Comparison:
    """Run both sides, write the artefacts and nbparity's bundle; raises Usage / ArtefactError."""
    from app.session import ComparisonSession, SessionOptions, SideOptions
    from simulator.config import ConfigError

    try:
        c_bin = locate.find_c_binary(opts.c_bin, env, cwd)
        py_cmd = locate.find_py_command(opts.py_bin, env)
        locate.check_command(py_cmd, env, cwd, "--py-bin" if opts.py_bin else "the PyTorch runner")
    except locate.NotFound as exc:
        raise Usage(str(exc)) from None
    py_words = [str(Path(cwd, w)) if i == 1 and w.endswith(".py") else w for i, w in enumerate(py_cmd)]
    try:
        session = ComparisonSession(list(opts.args), SessionOptions(
            SideOptions(f"bin:{c_bin}"), SideOptions("cmd:" + shlex.join(py_words)), schedule="sequential"),
            cwd=cwd)
        session.preflight()
    except ConfigError as exc:
        raise Usage(str(exc)) from None
    check_roi(opts.roi, session.config.pixel_counts())
    outdir = opts.outdir if opts.outdir is not None else default_outdir(opts.args, _dt.datetime.now(), cwd)
    outdir = Path(cwd, outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtefactError(f"--outdir {outdir}: cannot create it ({exc.strerror or exc})") from None
    print(f"C binary: {c_bin}")
    print(f"PyTorch command: {' '.join(py_cmd)}")
    runs: dict[str, SideRun] = {}
    for key, label in (("a", "C"), ("b", "Py")):
        print(f"Running {'C' if key == 'a' else 'PyTorch'} implementation...", flush=True)
        runs[key] = run = run_side(session, key, cancel)
        if run.outcome.cancelled:
            return Comparison(outdir, EXIT_RUNNER)
        name = SIDE_NAMES[key]
        write_file(outdir, f"{name}_stdout.txt", run.stdout.encode())
        write_file(outdir, f"{name}_stderr.txt", (run.stderr or run.outcome.log_tail).encode())
        if run.image is not None:
            print(f"{label} runtime: {run.wall_s:.3f} s")
    result = Comparison(outdir, EXIT_RUNNER)
    failed = [r for r in runs.values() if r.image is None]
    for r in failed:
        print(f"Error: {SIDE_NAMES[r.key]} runner failed: {r.failure}", file=sys.stderr)
        if r.outcome.log_tail:
            print("  " + r.outcome.log_tail.replace("\n", "\n  "), file=sys.stderr)
    if failed:
        if any(r.failure.startswith("cannot determine") for r in failed) and len(failed) == 1:
            result.exit_code = EXIT_IO
        result.pending = (session, runs, [])
        return result
    c_img, py_img = runs["a"].image, runs["b"].image
    print(f"C image shape: {c_img.shape}")
    print(f"PyTorch image shape: {py_img.shape}")
    resample_note = None
    if c_img.shape != py_img.shape:
        if not opts.resample:
            print("Error: image shapes differ and --resample not given", file=sys.stderr)
            return Comparison(outdir, EXIT_SHAPE)
        resample_note = f"PyTorch image resampled from {py_img.shape} to {c_img.shape}"
        print(resample_note)
        py_img = resample_nearest(py_img, c_img.shape)
    summary = image_metrics(c_img, py_img, opts.roi)
    summary.update(_provenance(opts, runs, c_bin, py_cmd))
    if resample_note:
        summary["resample_note"] = resample_note
    _print_summary(summary)
    write_file(outdir, "summary.json", json.dumps(summary, indent=2).encode())
    write_file(outdir, "c_float.bin", runs["a"].raw)
    write_file(outdir, "py_float.bin", runs["b"].raw)
    for name, data in preview_files(c_img, py_img, opts.png_scale, opts.save_diff).items():
        write_file(outdir, name, data)
    if opts.save_diff:
        write_file(outdir, "diff.bin", (py_img - c_img).astype(np.float32).tobytes())
    passed = summary["correlation"] >= opts.threshold  # NaN compares False: a fail
    verb = ">=" if passed else "<"
    print(f"\n{'PASS' if passed else 'FAIL'}: Correlation {summary['correlation']:.6f} {verb} {opts.threshold}")
    result = Comparison(outdir, EXIT_OK if passed else EXIT_BELOW, summary)
    if not any(r.shape_note for r in runs.values()):
        if passed or resample_note or not opts.auto_trace.enabled:
            traced = _traced(session, worst_pixel(c_img, py_img, opts.roi), cancel)
        else:
            traced = _auto_traced(session, c_img, py_img, opts, cancel)
        result.pending = (session, runs, traced)
    return result


def _auto_traced(session, c_img: np.ndarray, py_img: np.ndarray, opts: Options, cancel: threading.Event) -> list:
    """Issue 21 on a FAIL: the worst pixels traced on both runners within the budget, the first divergent quantity
    and the ledger's reading printed; the inspections (for nbparity's bundle: their whole-calculation diffs). The
    port team's artefact folder gets no file of ours."""
    from tracing.ledger import load_ledger
    print(f"Tracing the worst pixels on both runners (budget {opts.auto_trace.budget_s:g} s)...", flush=True)
    auto = auto_trace(session, choose_pixels(c_img, py_img, None, opts.roi), ledger=load_ledger(),
                      options=opts.auto_trace, cancel=cancel)
    print(auto.sentence())
    for note in auto.notes():
        print(f"  {note}")
    return list(auto.inspections)


def _provenance(opts: Options, runs: dict[str, SideRun], c_bin: Path, py_cmd: list[str]) -> dict:
    tc, tp = runs["a"].wall_s, runs["b"].wall_s
    return {"runtime_c_ms": int(tc * 1000), "runtime_py_ms": int(tp * 1000),
            "speedup": tc / tp if tp > 0 else math.inf, "args": list(opts.args), "c_binary": str(c_bin),
            "py_binary": " ".join(py_cmd), "roi": list(opts.roi) if opts.roi else None, "resample": opts.resample,
            "png_scale_method": "percentile", "png_scale_percentile": opts.png_scale}


def _print_summary(m: dict) -> None:
    print("\nCOMPARISON SUMMARY")
    print(f"Correlation: {m['correlation']:.6f}")
    print(f"RMSE: {m['rmse']:.6f}")
    print(f"Max absolute difference: {m['max_abs_diff']:.6f}")
    print(f"C sum: {m['c_sum']:.2f}")
    print(f"Py sum: {m['py_sum']:.2f}")
    print(f"Sum ratio (Py/C): {m['sum_ratio']:.6f}")
    if not math.isnan(m["mean_peak_distance"]):
        print(f"Mean peak distance: {m['mean_peak_distance']:.2f} pixels")
        print(f"Max peak distance: {m['max_peak_distance']:.2f} pixels")
    print(f"Runtime speedup (C/Py): {m['speedup']:.2f}x")


def _traced(session, pixel: tuple[int, int] | None, cancel: threading.Event | None) -> list:
    """Per-phi traces of `pixel` on both runners (an empty list without a pixel); failures are printed."""
    if pixel is None:
        return []
    print(f"Tracing pixel (slow {pixel[0]}, fast {pixel[1]}) (largest |py - c|) on both runners...", flush=True)
    insp = session.inspect_pixel(*pixel, cancel)
    for key, err in insp.errors.items():
        print(f"note: the {SIDE_NAMES[key]} trace failed: {err}", file=sys.stderr)
    return [insp]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `nb-compare` and `nbparity nb-compare`; returns the exit code (module docstring)."""
    from c_reference.driver import become_subreaper, remove_stale_scratch

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts = parse_options(args)
    except Usage as exc:
        print(f"nb-compare: error: {exc}\nusage: nb-compare [options] -- ARGS... (nb-compare --help)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    become_subreaper()
    remove_stale_scratch()
    # SIGINT/SIGTERM/SIGHUP set `cancel`: the driver kills the running program (and all it started) and removes
    # its scratch folder; the runs happen on this thread, so the handler runs between the driver's short waits.
    cancel, got = threading.Event(), []

    def on_signal(signum, _frame) -> None:
        got.append(signum)
        cancel.set()

    main_thread = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS} if main_thread else {}
    try:
        res = compare(opts, cancel, Path.cwd(), dict(os.environ))
        if not got:
            res.write_bundle()
    except Usage as exc:
        print(f"nb-compare: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ArtefactError as exc:
        print(f"nb-compare: error: {exc}", file=sys.stderr)
        return EXIT_IO
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if got:
        print(f"stopped by {signal.Signals(got[0]).name}: every runner was stopped", file=sys.stderr)
        return 128 + int(got[0])
    print(f"artefacts: {res.outdir}")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
