"""`nbparity`: the parity viewer's command line (console script, and `python -m app`).

Usage:
  nbparity [gui] [--a ENGINE] [--b ENGINE] [--c-bin PATH] [-- <nanoBragg args>]
                                                        open the window (the built-in demo when no args)
  nbparity sim <nanoBragg args>                         the PyTorch engine with nanoBragg's command line
  nbparity compare [options] (--demo | -- <nanoBragg args>)
                                                        run both engines, write a snapshot bundle, judge parity
  nbparity trace --pixel S F [--pixel S F ...] [options] (--demo | -- <nanoBragg args>)
                                                        trace pixels on both engines, write per-phi tables
  nbparity gui --bundle DIR                             show a comparison bundle in the window, nothing re-run
  nbparity sweep (MATRIX.toml | --builtin at-parallel) [--out DIR] [--workers N | --scheduler ADDRESS]
                                                        a matrix of command lines on a Dask cluster, one report
                                                        (`nbparity sweep --help`; exit codes there)
  nbparity nb-compare [--outdir D] [--roi xmin xmax ymin ymax] ... -- <nanoBragg args>
                                                        the port team's nb-compare (AT-TOOLS-001): their flags,
                                                        artefacts and exit codes (also the `nb-compare` script)

nanoBragg arguments always come after `--` (they start with a single dash, which our own parser must not see).
Pixels are (slow, fast), zero-based, as nanoBragg's `-trace_pixel S F`.

Sides: `--a ENGINE` and `--b ENGINE` choose the two engines (default A = cref, B = torch). ENGINE is one of
  cref                  our C reference (c_reference/build/nbref)
  torch[:DTYPE[:DEV]]   our PyTorch engine: torch, torch:float32, torch:float64:cuda
  bin:PATH              any nanoBragg-compatible binary
  cmd:COMMAND           any command taking nanoBragg's flags, split like a shell would (never run by one),
                        e.g. --b 'cmd:python -m nanobrag_torch'
`--c-bin PATH` and $NB_C_BIN are shortcuts for side A (bin:PATH) when --a is not given. `--threads-a/-b N` and
`--carryover-a/-b on|off` set one side's threads and phi=0 carry-over; a binary other than our C reference runs
with one thread when a phi tick is exactly 0 and its carry-over is on (spec 8.3), unless --threads-X says otherwise.

Exit codes:
  0  compare: parity pass. trace: both engines traced every pixel (divergences are printed and written to the
     bundle; they are findings, not failures). gui: the window closed normally.
     sim: nanoBragg's own statuses (0 done, 9 after printing its usage), as the C program.
  1  compare: parity failure (correlation or max relative error beyond the thresholds, or the image shapes differ).
  2  an engine failed or was cancelled (Ctrl-C), including input an engine rejects while reading it (a malformed
     HKL line: both engines name the file and line); gui: no display to open a window on.
  3  usage error, found before any engine runs: bad flag or value (the message names it), missing input file,
     pixel off the detector, a bundle folder that cannot be written.
  129, 130, 143  compare / trace stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM (128 + the signal number): every
     engine was stopped, its processes killed and its scratch folder removed; no bundle is written.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from collections.abc import Callable, Sequence

from app.core.cli_args import (  # noqa: F401  (UsageError, _Parser re-exported for the sweep and the tests)
    EXIT_ENGINE,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_USAGE,
    UsageError,
    _on_off,
    _Parser,
    _positive_int,
)
from app.core.sides import SIDES

DEFAULT_OUT = Path("nbparity-out")
COMMANDS = ("gui", "sim", "compare", "trace", "sweep", "nb-compare")
# Qt platforms that need no display server.
HEADLESS_QPA = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})

EXIT_CODES_HELP = """exit codes:
  0  compare: parity pass; trace: every pixel traced on both engines (divergences are findings, not failures)
  1  compare: parity failure (metrics beyond the thresholds, or image shapes differ)
  2  an engine failed or was cancelled; gui: no display
  3  usage error (bad flag or value, missing file)
  129/130/143  stopped by SIGHUP/SIGINT/SIGTERM (128 + signal): engines stopped, nothing left behind
(nbparity sim returns nanoBragg's statuses: 0 done, 9 usage)"""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        message = str(exc)
        print(message if message.startswith("nbparity") else f"nbparity: error: {message}", file=sys.stderr)
        print("Run `nbparity --help` for usage.", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # argparse --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK


def _dispatch(args: list[str]) -> int:
    if not args or args[0] == "--":
        return cmd_gui(args)
    head, rest = args[0], args[1:]
    if head in ("-h", "--help", "help"):
        print(__doc__)
        return EXIT_OK
    if head == "--version":
        from app.core.session import nbparity_version
        print(f"nbparity {nbparity_version()}")
        return EXIT_OK
    if head == "gui" or head == "--c-bin":
        return cmd_gui(rest if head == "gui" else args)
    if head == "sim":
        from simulator.cli import main as sim_main
        return sim_main(rest[1:] if rest[:1] == ["--"] else rest)
    if head == "compare":
        return cmd_compare(rest)
    if head == "trace":
        return cmd_trace(rest)
    if head == "nb-compare":  # issue 17: the port team's command, its own exit codes (app/nb_compare/command.py)
        from app.nb_compare.command import main as nb_compare_main
        return nb_compare_main(rest)
    if head == "sweep":  # issue 12: the sweep lives in its own package
        from app.sweep.cli import cmd_sweep
        return cmd_sweep(rest)
    raise UsageError(f"unknown command {head!r}: expected one of {', '.join(COMMANDS)} "
                     "(nanoBragg arguments go after `--`)")


# ---- argument handling -------------------------------------------------------------------------------------------
def split_passthrough(args: list[str]) -> tuple[list[str], list[str] | None]:
    """(our options, nanoBragg args after the first `--`, or None when there is no `--`)."""
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1:]
    return args, None


def _side_options(p: argparse.ArgumentParser) -> None:
    """--a/--b ENGINE, per-side threads and carry-over, and the former C/torch spellings as shortcuts."""
    p.add_argument("--a", metavar="ENGINE", help="engine of side A (default cref; see `nbparity --help`)")
    p.add_argument("--b", metavar="ENGINE", help="engine of side B (default torch)")
    p.add_argument("--c-bin", metavar="PATH", help="shortcut for --a bin:PATH (also $NB_C_BIN)")
    for k in SIDES:
        p.add_argument(f"--threads-{k}", type=_positive_int, metavar="N",
                       help=f"threads of side {k.upper()} (OpenMP or torch; default: all cores)")
        p.add_argument(f"--carryover-{k}", type=_on_off(f"--carryover-{k}"), metavar="on|off",
                       help=f"phi=0 carry-over of side {k.upper()} (default: the engine's own)")
    p.add_argument("--threads", type=_positive_int, metavar="N", help="same as --threads-a")
    p.add_argument("--c-carryover", type=_on_off("--c-carryover"), metavar="on|off", help="same as --carryover-a")
    p.add_argument("--torch-carryover", type=_on_off("--torch-carryover"), metavar="on|off",
                   help="same as --carryover-b")
    p.add_argument("--dtype", choices=("float32", "float64"), help="torch dtype of side B when --b is not given")
    p.add_argument("--device", help="torch device of side B when --b is not given (cpu, cuda, cuda:N)")
    p.add_argument("--schedule", choices=("auto", "sequential", "parallel"), default="auto",
                   help="run the sides one after the other with all cores each, or at once (default auto: "
                        "sequential unless a side computes on a GPU)")


def _engine_parser(prog: str, description: str, usage_extra: str = "") -> _Parser:
    p = _Parser(prog=prog, description=description, epilog=EXIT_CODES_HELP,
                usage=f"{prog} {usage_extra}[options] (--demo | -- <nanoBragg args>)",
                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help=f"parent folder of the new bundle (default ./{DEFAULT_OUT})")
    _side_options(p)
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                   help="time limit of one engine run, s (default 3600; torch stops at its next chunk)")
    p.add_argument("--demo", action="store_true", help="use the built-in demo command instead of args after --")
    return p


def _ledger_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", type=Path, action="append", default=[], metavar="PATH",
                   help="a known-divergence ledger (TOML [[divergence]] entries, see resources/known_divergences.toml)"
                        " read after the shipped one (repeatable)")


def _load_ledger(opts: argparse.Namespace):
    """The shipped ledger plus --ledger files; a bad file is a usage error naming file and line."""
    from tracing.ledger import LedgerError, load_ledger
    try:
        return load_ledger(opts.ledger)
    except LedgerError as exc:
        raise UsageError(f"--ledger: {exc}") from None


def _inspect_pixels(session, pixels, ledger) -> tuple[list, int | None]:
    """Trace each (slow, fast) pixel on both sides, printing its per-φ sentence and whole-calculation diff.

    Returns the inspections made and the signal that stopped a trace (None when none did)."""
    inspections = []
    for s, f in pixels:
        insp, stopped = _cancellable(lambda cancel, s=s, f=f: session.inspect_pixel(s, f, cancel))
        if stopped:
            return inspections, stopped
        print(insp.describe())
        _print_pipeline(session, insp, ledger)
        inspections.append(insp)
    return inspections, None


def _print_pipeline(session, insp, ledger) -> None:
    """The whole-calculation sentence of an inspected pixel, its unit problems and the ledger's reading."""
    from tracing.ledger import match_ledger
    from tracing.pipeline import diff_pipeline
    ta, tb = insp.traces.get("a"), insp.traces.get("b")
    if ta is None or tb is None:
        return
    diff = diff_pipeline(ta, tb, session.thresholds, names=(session.label("a"), session.label("b")))
    print(f"   whole calculation: {diff.sentence}")
    for u in diff.unit_problems:
        print(f"   unit problem: {u}")
    if diff.first_divergent is not None:
        print(f"   known divergences: {match_ledger(ledger, [diff], session.thresholds).text()}")


def session_options(opts: argparse.Namespace):
    """app.core.session.SessionOptions from the parsed options (the shortcuts folded in)."""
    from app.core.session import SessionOptions, SideOptions

    if opts.a is not None and opts.c_bin is not None:
        raise UsageError("give either --a ENGINE or --c-bin PATH for side A, not both")
    if opts.b is not None and (opts.dtype or opts.device):
        raise UsageError("--dtype/--device apply to the default side B only; spell them in --b (torch:float32:cpu)")
    a = opts.a or (f"bin:{opts.c_bin}" if opts.c_bin else "cref")
    b = opts.b or f"torch:{opts.dtype or 'float64'}:{opts.device or 'cpu'}"
    side_a = SideOptions(a, _first(opts.carryover_a, opts.c_carryover), _first(opts.threads_a, opts.threads))
    side_b = SideOptions(b, _first(opts.carryover_b, opts.torch_carryover), opts.threads_b)
    return SessionOptions(side_a, side_b,
                          timeout_s=getattr(opts, "timeout", 3600.0), schedule=opts.schedule)


def _first(value, fallback):
    return value if value is not None else fallback


def _session(opts: argparse.Namespace, nb_args: list[str] | None, thresholds=None):
    """Build the ComparisonSession; every problem with the input becomes a UsageError."""
    from app.core.demo import demo_argv
    from app.core.session import ComparisonSession
    from c_reference.driver import become_subreaper, remove_stale_scratch
    from simulator.config import ConfigError
    from simulator.preflight import check_out

    become_subreaper()  # orphans of an engine (setsid ones too) come to us, not to init
    remove_stale_scratch()
    if opts.demo and nb_args:
        raise UsageError("give either --demo or nanoBragg arguments after --, not both")
    if opts.c_bin is not None and not Path(opts.c_bin).is_file():
        raise UsageError(f"--c-bin {opts.c_bin}: no such file")
    try:
        argv = demo_argv() if opts.demo else nb_args
        if not argv:
            raise UsageError("no nanoBragg arguments: give them after `--` (e.g. `-- -cell 100 100 100 90 90 90 "
                             "-default_F 100 ...`), or use --demo")
        session = ComparisonSession(argv, session_options(opts), thresholds)
        check_out(opts.out, session.preflight())  # issue 8: before any engine, --out included
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for k, side in session.sides.items():
        print(f"{k.upper()}: {side.label} ({side.engine.identity.fingerprint})", file=sys.stderr)
        for note in side.notes:
            print(f"   {note}", file=sys.stderr)
    for w in session.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return session


def _parse(parser: _Parser, args: list[str]) -> tuple[argparse.Namespace, list[str] | None]:
    ours, nb_args = split_passthrough(args)
    try:
        opts = parser.parse_args(ours)
    except UsageError as exc:
        if nb_args is None and any(a.startswith("-") and not a.startswith("--") for a in ours):
            raise UsageError(f"{exc} (nanoBragg arguments go after `--`)") from None
        raise
    return opts, nb_args


# ---- commands ----------------------------------------------------------------------------------------------------
def cmd_compare(args: list[str]) -> int:
    from tracing.metrics import ParityThresholds
    d = ParityThresholds()
    parser = _engine_parser("nbparity compare", "Run side A and side B on one nanoBragg command line, write a "
                            "snapshot bundle and judge parity.")
    parser.add_argument("--png", action="store_true", help="also write panel PNGs (A, B, difference)")
    parser.add_argument("--min-correlation", type=float, default=d.min_correlation, metavar="R",
                        help=f"pass needs Pearson r >= R (default {d.min_correlation:g})")
    parser.add_argument("--max-rel-error", type=float, default=d.max_rel_error, metavar="E",
                        help=f"pass needs max |B-A|/|A| <= E (default {d.max_rel_error:g}) ...")
    parser.add_argument("--rel-floor", type=float, default=d.rel_floor, metavar="F",
                        help=f"... over pixels with A > F * max(A) (default {d.rel_floor:g})")
    parser.add_argument("--pixel", nargs=2, type=int, action="append", default=[], metavar=("S", "F"),
                        help="also trace this pixel (slow fast) on both sides: its whole calculation is diffed, "
                             "its scaling factors explain a scale difference, the ledger is tested (repeatable)")
    _ledger_option(parser)
    from app.core.auto_trace import add_cli_options, record_with_cause
    add_cli_options(parser)   # issue 21: trace the worst pixels on FAIL
    opts, nb_args = _parse(parser, args)
    from app.bundle.snapshot import explained_verdict, metric_rows, write_snapshot
    from simulator.config import ConfigError

    thresholds = ParityThresholds(opts.min_correlation, opts.max_rel_error, opts.rel_floor, d.phi_tol)
    ledger = _load_ledger(opts)
    session = _session(opts, nb_args, thresholds)
    try:
        for s, f in opts.pixel:
            session.check_pixel(s, f)
    except ConfigError as exc:
        raise UsageError(f"--pixel: {exc}") from None
    progress = {k: _progress(session.label(k)) for k in SIDES}
    pair, stopped = _cancellable(lambda cancel: session.run_both(progress["a"], progress["b"], cancel,
                                                                 on_finished=_report_outcome))
    if stopped:
        return _stopped(stopped)
    a, b = pair
    metrics = verdict = None
    shape_ok = a.ok and b.ok and a.result.shape == b.result.shape
    if a.ok and b.ok and not shape_ok:
        print(f"image shapes differ: {a.engine} {a.result.shape} vs {b.engine} {b.result.shape} (slow, fast)")
    inspections, stopped = _inspect_pixels(session, opts.pixel if a.ok and b.ok else [], ledger)
    if stopped:
        return _stopped(stopped)
    auto = None
    if shape_ok:
        metrics = session.compare(a.result, b.result)
        auto, stopped = _auto_trace(session, a, b, metrics, ledger, opts)
        if stopped:
            return _stopped(stopped)
        inspections += list(auto.inspections) if auto is not None else []
        verdict = explained_verdict(record_with_cause(session.record(a, b, metrics, inspections), auto), ledger)
        for key, text in metric_rows(metrics):
            print(f"  {key:>24}: {text}")
        print(verdict.sentence())
    record = record_with_cause(session.record(a, b, metrics, inspections), auto)
    folder = _write(lambda: write_snapshot(record, Path(opts.out), extra_files={}, png=opts.png, prefix="compare",
                                           ledger=ledger), opts.out)
    print(f"bundle: {folder}")
    if not (a.ok and b.ok):
        return EXIT_ENGINE
    return EXIT_OK if verdict is not None and verdict.passed else EXIT_PARITY


def _auto_trace(session, a, b, metrics, ledger, opts):
    """Issue 21: on FAIL, the worst pixels traced and diffed within --auto-trace-budget; (AutoTrace | None,
    stopping signal | None). Each traced pixel is printed as `--pixel` prints it."""
    from app.core.auto_trace import options_from_args, run_on_fail
    verdict = session.verdict(metrics)
    options = options_from_args(opts)
    if verdict.passed or not options.enabled:
        return None, None
    print(f"FAIL: tracing the worst pixels (budget {options.budget_s:g} s; --no-auto-trace turns this off)",
          file=sys.stderr)
    auto, stopped = _cancellable(lambda cancel: run_on_fail(session, a.result, b.result, metrics, verdict,
                                                            ledger=ledger, options=options, cancel=cancel))
    for t, insp in zip(auto.traced, auto.inspections, strict=True) if auto is not None else ():
        print(f"auto-trace, {t.pixel.reason}: {insp.describe()}")
        _print_pipeline(session, insp, ledger)
    return auto, stopped


def cmd_trace(args: list[str]) -> int:
    parser = _engine_parser("nbparity trace", "Trace pixels on both sides and write per-phi tables (JSON, CSV, "
                            "markdown) with the first divergence of each pixel.", "--pixel S F [--pixel S F ...] ")
    parser.add_argument("--pixel", nargs=2, type=int, action="append", required=True, metavar=("S", "F"),
                        help="pixel to trace, slow then fast, zero-based (repeatable)")
    _ledger_option(parser)
    opts, nb_args = _parse(parser, args)
    from app.bundle.snapshot import write_snapshot
    from simulator.config import ConfigError

    ledger = _load_ledger(opts)
    session = _session(opts, nb_args)
    try:
        for s, f in opts.pixel:
            session.check_pixel(s, f)
    except ConfigError as exc:
        raise UsageError(f"--pixel: {exc}") from None
    inspections, stopped = _inspect_pixels(session, opts.pixel, ledger)
    if stopped:
        return _stopped(stopped)
    record = session.record(inspections=inspections)
    folder = _write(lambda: write_snapshot(record, Path(opts.out), extra_files={}, png=False, prefix="trace",
                                           ledger=ledger), opts.out)
    print(f"bundle: {folder}")
    return EXIT_ENGINE if any(i.errors for i in inspections) else EXIT_OK


def cmd_gui(args: list[str]) -> int:
    parser = _Parser(prog="nbparity gui", description="Open the parity viewer window.", epilog=EXIT_CODES_HELP,
                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--c-bin", metavar="PATH", help="C binary (default: $NB_C_BIN, else c_reference/build/nbref)")
    parser.add_argument("--a", metavar="ENGINE", help="side A's engine (default: the last chosen, else cref)")
    parser.add_argument("--b", metavar="ENGINE", help="side B's engine (default: the last chosen, else torch)")
    parser.add_argument("--no-run", action="store_true", help="open the command line without running it")
    parser.add_argument("--bundle", type=Path, metavar="DIR",
                        help="open a comparison bundle (nbparity compare, a sweep's case, an export) without running")
    parser.add_argument("--no-auto-trace", action="store_true",
                        help="on FAIL, do not trace the worst pixels automatically (this window; the setting stays)")
    opts, nb_args = _parse(parser, args)
    if opts.c_bin is not None and not Path(opts.c_bin).is_file():
        raise UsageError(f"--c-bin {opts.c_bin}: no such file")
    bundle = _read_bundle(opts.bundle, nb_args) if opts.bundle is not None else None
    from app.engines.spec import parse_engine_spec
    from simulator.config import ConfigError
    for flag, spec in (("--a", opts.a), ("--b", opts.b)):
        if spec is not None:
            try:
                parse_engine_spec(spec)
            except ConfigError as exc:
                raise UsageError(f"{flag}: {exc}") from None
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_ENGINE
    from app.window.lifecycle import run_gui  # lazy: Qt loads only here
    # None: the window opens the built-in demo
    if bundle is not None:
        return run_gui(list(bundle.argv), opts.c_bin, autorun=False, leave_at_once=True, a=opts.a, b=opts.b,
                       bundle=(opts.bundle, bundle), auto_trace=not opts.no_auto_trace)
    return run_gui(nb_args or None, opts.c_bin, autorun=not opts.no_run, leave_at_once=True, a=opts.a, b=opts.b,
                   auto_trace=not opts.no_auto_trace)


def _read_bundle(folder: Path, nb_args: list[str] | None):
    """`gui --bundle DIR`: the bundle's ComparisonRecord, read before any window opens (exit 3 when unreadable)."""
    from app.bundle.bundle_reader import BundleError, read_bundle
    if nb_args:
        raise UsageError("give either --bundle DIR or nanoBragg arguments after --, not both")
    try:
        return read_bundle(folder)
    except BundleError as exc:
        raise UsageError(f"--bundle: {exc}") from None


# ---- helpers -----------------------------------------------------------------------------------------------------
def display_problem(env: dict | None = None, platform: str | None = None) -> str | None:
    """A message when a window cannot open (Linux without DISPLAY/WAYLAND_DISPLAY and no headless Qt platform)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip().lower()
    if qpa in HEADLESS_QPA or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("nbparity: no display (DISPLAY and WAYLAND_DISPLAY are not set), so the window cannot open.\n"
            "Without a window, use:\n"
            "  nbparity compare --demo            (or: nbparity compare -- <nanoBragg args>)  both engines + bundle\n"
            "  nbparity trace --pixel S F --demo  per-phi traces of a pixel on both engines\n"
            "  nbparity sim <nanoBragg args>      the PyTorch engine alone\n"
            "or run the window under a virtual display (xvfb-run nbparity), or set QT_QPA_PLATFORM=offscreen.")


def _cancellable(work: Callable[[threading.Event], object]) -> tuple[object, int | None]:
    """Run work(cancel) on a thread; SIGINT, SIGTERM and SIGHUP set `cancel` (the engines stop, their processes
    are killed and their scratch removed) and are remembered. Returns (value, None), or (None, the signal)."""
    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, object] = {}
    got: list[int] = []

    def on_signal(signum, _frame) -> None:
        if not got:
            print(f"\nstopping ({signal.Signals(signum).name}) ...", file=sys.stderr)
        got.append(signum)
        cancel.set()

    def target() -> None:
        try:
            box["value"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            box["error"] = exc
        finally:
            done.set()

    old = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        threading.Thread(target=target, name="nbparity-cli", daemon=True).start()
        # Wait on an Event in short slices: Python runs signal handlers between them.
        while not done.wait(0.1):
            pass
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if got:
        return None, got[0]
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"], None


def _stopped(signum: int) -> int:
    print(f"stopped by {signal.Signals(signum).name}: every engine was stopped; no bundle written", file=sys.stderr)
    return 128 + int(signum)


def _progress(engine: str) -> Callable[..., None]:
    """Progress printer for one engine: accepts (fraction) or (done, total); prints at most every 10%."""
    last = [-1]

    def report(*args, **_kw) -> None:
        try:
            frac = float(args[0]) / float(args[1]) if len(args) >= 2 and args[1] else float(args[0])
        except (TypeError, ValueError, IndexError):
            return
        step = int(frac * 10)
        if step > last[0]:
            last[0] = step
            print(f"{engine}: {min(100, step * 10)}%", file=sys.stderr, flush=True)
    return report


def _report_outcome(o) -> None:
    name = f"{o.side.upper()} {o.engine}" if o.side else o.engine
    if o.ok:
        print(f"{name}: ok, {o.result.shape[0]} x {o.result.shape[1]} (slow x fast), {o.result.wall_s:.3f} s")
    else:
        print(f"{name}: {'cancelled' if o.cancelled else 'FAILED: ' + str(o.error)}")
        if o.log_tail:
            print("  " + o.log_tail.replace("\n", "\n  "))


def _write(write: Callable[[], Path], out: Path) -> Path:
    try:
        return write()
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write the bundle there ({exc.strerror or exc})") from None
