"""`nbparity`: the parity viewer's command line (console script, and `python -m app`).

Usage:
  nbparity [gui] [--c-bin PATH] [-- <nanoBragg args>]   open the window (the built-in demo when no args)
  nbparity sim <nanoBragg args>                         the PyTorch engine with nanoBragg's command line
  nbparity compare [options] (--demo | -- <nanoBragg args>)
                                                        run both engines, write a snapshot bundle, judge parity
  nbparity trace --pixel S F [--pixel S F ...] [options] (--demo | -- <nanoBragg args>)
                                                        trace pixels on both engines, write per-phi tables

nanoBragg arguments always come after `--` (they start with a single dash, which our own parser must not see).
Pixels are (slow, fast), zero-based, as nanoBragg's `-trace_pixel S F`.

Exit codes:
  0  compare: parity pass. trace: both engines traced every pixel (divergences are printed and written to the
     bundle; they are findings, not failures). gui: the window closed normally.
     sim: nanoBragg's own statuses (0 done, 9 after printing its usage), as the C program.
  1  compare: parity failure (correlation or max relative error beyond the thresholds, or the image shapes differ).
  2  an engine failed or was cancelled (Ctrl-C), including input an engine rejects while reading it (a malformed
     HKL line: both engines name the file and line); gui: no display to open a window on.
  3  usage error, found before any engine runs: bad flag or value (the message names it), missing input file,
     pixel off the detector, a bundle folder that cannot be written.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn
from collections.abc import Callable, Sequence

EXIT_OK, EXIT_PARITY, EXIT_ENGINE, EXIT_USAGE = 0, 1, 2, 3
DEFAULT_OUT = Path("nbparity-out")
COMMANDS = ("gui", "sim", "compare", "trace", "sweep")
# Qt platforms that need no display server.
HEADLESS_QPA = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})

EXIT_CODES_HELP = """exit codes:
  0  compare: parity pass; trace: every pixel traced on both engines (divergences are findings, not failures)
  1  compare: parity failure (metrics beyond the thresholds, or image shapes differ)
  2  an engine failed or was cancelled; gui: no display
  3  usage error (bad flag or value, missing file)
(nbparity sim returns nanoBragg's statuses: 0 done, 9 usage)"""


class UsageError(Exception):
    """Bad command line; the message says which flag and what was expected."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 3) instead of exiting with 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


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
        from app.session import nbparity_version
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


def _on_off(flag: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        low = text.lower()
        if low in ("on", "1", "true", "yes"):
            return True
        if low in ("off", "0", "false", "no"):
            return False
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected on or off")
    parse.__name__ = "on|off"
    return parse


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return v


def _engine_parser(prog: str, description: str, usage_extra: str = "") -> _Parser:
    p = _Parser(prog=prog, description=description, epilog=EXIT_CODES_HELP,
                usage=f"{prog} {usage_extra}[options] (--demo | -- <nanoBragg args>)",
                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help=f"parent folder of the new bundle (default ./{DEFAULT_OUT})")
    p.add_argument("--c-bin", metavar="PATH", help="C binary (default: $NB_C_BIN, else c_reference/build/nbref)")
    p.add_argument("--threads", type=_positive_int, metavar="N", help="OpenMP threads of the C run")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="torch dtype (default float64)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--c-carryover", type=_on_off("--c-carryover"), metavar="on|off",
                   help="phi=0 carry-over of the C (default: on, as the real nanoBragg)")
    p.add_argument("--torch-carryover", type=_on_off("--torch-carryover"), metavar="on|off",
                   help="phi=0 carry-over of the torch engine (default: off)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="C run time limit, s (default 3600)")
    p.add_argument("--demo", action="store_true", help="use the built-in demo command instead of args after --")
    return p


def _session(opts: argparse.Namespace, nb_args: list[str] | None, thresholds=None):
    """Build the ComparisonSession; every problem with the input becomes a UsageError."""
    from app.demo import demo_argv
    from app.session import ComparisonSession, EngineOptions
    from simulator.config import ConfigError

    if opts.demo and nb_args:
        raise UsageError("give either --demo or nanoBragg arguments after --, not both")
    if opts.c_bin is not None and not Path(opts.c_bin).is_file():
        raise UsageError(f"--c-bin {opts.c_bin}: no such file")
    options = EngineOptions(c_binary=opts.c_bin, c_threads=opts.threads, c_carryover=opts.c_carryover,
                            torch_dtype=opts.dtype, torch_device=opts.device, torch_carryover=opts.torch_carryover,
                            timeout_s=opts.timeout)
    try:
        argv = demo_argv() if opts.demo else nb_args
        if not argv:
            raise UsageError("no nanoBragg arguments: give them after `--` (e.g. `-- -cell 100 100 100 90 90 90 "
                             "-default_F 100 ...`), or use --demo")
        session = ComparisonSession(argv, options, thresholds)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
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
    parser = _engine_parser("nbparity compare", "Run the C reference and the torch engine on one nanoBragg command "
                            "line, write a snapshot bundle and judge parity.")
    parser.add_argument("--png", action="store_true", help="also write panel PNGs (C, torch, difference)")
    parser.add_argument("--min-correlation", type=float, default=0.999999, metavar="R",
                        help="pass needs Pearson r >= R (default 0.999999)")
    parser.add_argument("--max-rel-error", type=float, default=1e-5, metavar="E",
                        help="pass needs max |torch-C|/|C| <= E (default 1e-5) ...")
    parser.add_argument("--rel-floor", type=float, default=1e-3, metavar="F",
                        help="... over pixels with C > F * max(C) (default 1e-3)")
    opts, nb_args = _parse(parser, args)
    from app.session import ParityThresholds
    from app.snapshot import metric_rows

    thresholds = ParityThresholds(opts.min_correlation, opts.max_rel_error, opts.rel_floor)
    session = _session(opts, nb_args, thresholds)
    print(f"C:     {' '.join(session.c_args())}", file=sys.stderr)
    c, py = _cancellable(lambda cancel: session.run_both(_progress("C"), _progress("torch"), cancel))
    for o in (c, py):
        _report_outcome(o)
    metrics = verdict = None
    shape_ok = c.ok and py.ok and c.result.shape == py.result.shape
    if c.ok and py.ok and not shape_ok:
        print(f"image shapes differ: C {c.result.shape} vs torch {py.result.shape} (slow, fast)")
    if shape_ok:
        metrics = session.compare(c.result, py.result)
        verdict = session.verdict(metrics)
        for key, text in metric_rows(metrics):
            print(f"  {key:>24}: {text}")
        print(verdict.sentence())
    folder = _write(lambda: session.write_bundle(opts.out, c=c, py=py, metrics=metrics, png=opts.png,
                                                 prefix="compare"), opts.out)
    print(f"bundle: {folder}")
    if not (c.ok and py.ok):
        return EXIT_ENGINE
    return EXIT_OK if verdict is not None and verdict.passed else EXIT_PARITY


def cmd_trace(args: list[str]) -> int:
    parser = _engine_parser("nbparity trace", "Trace pixels on both engines and write per-phi tables (JSON, CSV, "
                            "markdown) with the first divergence of each pixel.", "--pixel S F [--pixel S F ...] ")
    parser.add_argument("--pixel", nargs=2, type=int, action="append", required=True, metavar=("S", "F"),
                        help="pixel to trace, slow then fast, zero-based (repeatable)")
    opts, nb_args = _parse(parser, args)
    from simulator.config import ConfigError

    session = _session(opts, nb_args)
    try:
        for s, f in opts.pixel:
            session.check_pixel(s, f)
    except ConfigError as exc:
        raise UsageError(f"--pixel: {exc}") from None
    inspections = []
    for s, f in opts.pixel:
        insp = _cancellable(lambda cancel, s=s, f=f: session.inspect_pixel(s, f, cancel))
        print(insp.describe())
        inspections.append(insp)
    folder = _write(lambda: session.write_bundle(opts.out, c=None, py=None, inspections=inspections,
                                                 prefix="trace"), opts.out)
    print(f"bundle: {folder}")
    failed = any(i.c_error or i.py_error for i in inspections)
    return EXIT_ENGINE if failed else EXIT_OK


def cmd_gui(args: list[str]) -> int:
    parser = _Parser(prog="nbparity gui", description="Open the parity viewer window.", epilog=EXIT_CODES_HELP,
                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--c-bin", metavar="PATH", help="C binary (default: $NB_C_BIN, else c_reference/build/nbref)")
    opts, nb_args = _parse(parser, args)
    if opts.c_bin is not None and not Path(opts.c_bin).is_file():
        raise UsageError(f"--c-bin {opts.c_bin}: no such file")
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_ENGINE
    from app.lifecycle import run_gui  # lazy: Qt loads only here
    return run_gui(nb_args or None, opts.c_bin)  # None: the window opens the built-in demo


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


def _cancellable(work: Callable[[threading.Event], object]):
    """Run work(cancel) on a thread so Ctrl-C can set `cancel` (the engines stop and kill the C) and still wait."""
    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="nbparity-cli", daemon=True).start()
    # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join can leave the thread looking finished.
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            print("\ncancelling ...", file=sys.stderr)
            cancel.set()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


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
    name = "C" if o.engine == "c" else o.engine
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
