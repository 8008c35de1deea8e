"""Run the C reference (or any nanoBragg-compatible binary) in a scratch folder and read back what it made.

Every run gets a fresh scratch folder (tempfile.mkdtemp) as its working directory, so the files the C always writes
(intimage.img, image.pgm, Fdump.bin) never land in the user's folder and a stale Fdump.bin cannot leak in (decisions
D5). Input-file paths are made absolute from the caller's folder, `-floatfile` is forced into the scratch folder, and
the folder is removed afterwards; files the run wrote there are kept in memory (`CRunResult.files`).

The process runs in its own session/process group. On cancel or time-out the whole group gets SIGTERM, then SIGKILL
after a short grace, and is reaped, so nothing outlives the call.
"""
from __future__ import annotations

import collections
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

from simulator.argv import append_flags, without_flag
from simulator.config import SamplingConfig, resolve_phi
from tracing.parse import TraceParseError, parse_trace
from tracing.records import Cancelled, EngineError, ImageResult, PixelTrace

from .locate import binary_sha256, check_binary, default_binary  # noqa: F401  (default_binary re-exported)

# Flags whose value is an input file the C opens (relative paths are rewritten against the caller's folder).
INPUT_FILE_FLAGS: frozenset[str] = frozenset(
    {"-hkl", "-mat", "-matrix", "-sourcefile", "-mask", "-img", "-stol", "-4stol", "-Q"})
TRACE_FLAGS: tuple[str, ...] = ("-trace_pixel", "-dump_pixel")
PHI_FLAGS: tuple[str, ...] = ("-phi", "-osc", "-phistep", "-phisteps")
LOG_TAIL_LINES = 40
POLL_S = 0.05
TERM_GRACE_S = 0.5

_PROGRESS = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*done")

ProgressFn = Callable[[float], None]


# -- command-line editing -----------------------------------------------------------------------------------------

def remove_flags(args: Sequence[str], *flags: str) -> list[str]:
    """args without every occurrence of each flag (any alias) and its values (simulator.argv's flag table)."""
    out = list(args)
    for flag in flags:
        out = without_flag(out, flag)
    return out


def flag_values(args: Sequence[str], names: Sequence[str], n_values: int) -> list[str] | None:
    """The values after the LAST occurrence of any of `names` (later flags win in the C), or None."""
    found = None
    for i, a in enumerate(args):
        if a in names and i + n_values < len(args):
            found = list(args[i + 1:i + 1 + n_values])
    return found


def absolutize_inputs(args: Sequence[str], cwd: str | Path) -> list[str]:
    """Copy of args with the value of each input-file flag made absolute against `cwd`."""
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a in INPUT_FILE_FLAGS:
            v = os.path.expanduser(out[i + 1])
            out[i + 1] = v if os.path.isabs(v) else os.path.normpath(os.path.join(str(cwd), v))
    return out


def prepare_args(args: Sequence[str], float_path: Path, cwd: str | Path) -> list[str]:
    """The argv the binary gets: inputs absolute, any -floatfile/-floatimage replaced by `float_path`."""
    # append_flags: appended flags must not change what the user's mean (a trailing -curved_det, spec 2.2)
    return append_flags(absolutize_inputs(remove_flags(args, "-floatfile"), cwd), ["-floatfile", str(float_path)])


# -- image size ---------------------------------------------------------------------------------------------------

def _scan_shape(args: Sequence[str]) -> tuple[int, int]:
    """(spixels, fpixels) from the size flags alone (spec §3.1); used when simulator.argv is unavailable."""
    px, det_f, det_s = 0.1, 102.4, 102.4
    nf = ns = None
    for i, a in enumerate(args[:-1]):
        try:
            v = float(args[i + 1])
        except ValueError:
            continue
        if a == "-pixel":
            px = v
        elif a == "-detpixels":
            nf = ns = int(v)
        elif a in ("-detpixels_f", "-detpixels_x"):
            nf = int(v)
        elif a in ("-detpixels_s", "-detpixels_y"):
            ns = int(v)
        elif a == "-detsize":
            det_f = det_s = v
        elif a == "-detsize_f":
            det_f = v
        elif a == "-detsize_s":
            det_s = v
    f = nf if nf is not None else int(math.ceil(det_f / px - 0.5))
    s = ns if ns is not None else int(math.ceil(det_s / px - 0.5))
    return s, f


def _parsed_config(args: Sequence[str]):
    """simulator.argv's config for args, or None (module not there yet, or it rejects the line)."""
    try:
        from simulator.argv import parse_argv  # lazy: torch-free, but written separately
        # Lenient: the binary, not our parser, decides whether inputs are missing; we only need sizes and φ.
        return parse_argv(list(args), check_files=False, require_inputs=False).config
    except Exception:  # noqa: BLE001 - any failure means "fall back to our own scan"
        return None


def image_shape(args: Sequence[str]) -> tuple[int, int]:
    """(spixels, fpixels) the C will use for this command line (headers of -img/-mask not consulted)."""
    cfg = _parsed_config(args)
    if cfg is not None:
        return tuple(int(v) for v in cfg.pixel_counts())  # type: ignore[return-value]
    return _scan_shape(args)


def smv_size(path: Path) -> tuple[int, int] | None:
    """(SIZE2, SIZE1) = (slow, fast) from an SMV header, last occurrence of each key (as the C reads them)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            m = re.search(rb"HEADER_BYTES=\s*(\d+)", head)
            if m and int(m.group(1)) > 512:
                head += fh.read(int(m.group(1)) - 512)
    except OSError:
        return None
    if not head.startswith(b"{\nHEADER_BYT"):
        return None
    f = re.findall(rb"SIZE1=\s*(\d+)", head)
    s = re.findall(rb"SIZE2=\s*(\d+)", head)
    return (int(s[-1]), int(f[-1])) if f and s else None


# -- φ grid -------------------------------------------------------------------------------------------------------

def resolve_phi_grid(phi0: float, osc: float | None, phistep: float | None,
                     phisteps: int | None) -> tuple[float, float, float, int]:
    """(phi0, osc, phistep, N) in degrees as the C resolves them (spec §8.2, simulator.config.resolve_phi);
    ticks are phi0 + i*phistep. None means not given; phisteps 0 counts as 1."""
    osc_r, step_r, n = resolve_phi(SamplingConfig(phi_deg=phi0, osc_deg=osc, phistep_deg=phistep, phisteps=phisteps))
    return phi0, osc_r, step_r, n


def _phi_settings(args: Sequence[str]) -> tuple[float, float | None, float | None, int | None]:
    cfg = _parsed_config(args)
    if cfg is not None:
        sp = cfg.sampling
        return sp.phi_deg, sp.osc_deg, sp.phistep_deg, sp.phisteps

    def one(name: str, conv):
        v = flag_values(args, (name,), 1)
        return conv(v[0]) if v else None
    return one("-phi", float) or 0.0, one("-osc", float), one("-phistep", float), one("-phisteps", int)


# -- running the process ------------------------------------------------------------------------------------------

@dataclass
class _ProcOutcome:
    returncode: int
    stdout: str
    stderr: str
    log_tail: str
    wall_s: float
    pid: int
    cancelled: bool
    timed_out: bool


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(pid: int) -> bool:
    """True once the child has exited, WITHOUT reaping it: while it is an unreaped zombie its process-group id
    cannot be reused, so signalling the group afterwards cannot hit a stranger."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _reader(stream, sink: list[str], tail: collections.deque, lock: threading.Lock, latest: list | None) -> None:
    for line in stream:
        line = line.rstrip("\n")
        sink.append(line)
        with lock:
            tail.append(line)
        if latest is not None:
            m = _PROGRESS.search(line)
            if m:
                latest[0] = min(1.0, float(m.group(1)) / 100.0)
    stream.close()


def _run_process(cmd: list[str], cwd: Path, env: dict, timeout_s: float, cancel: threading.Event | None,
                 progress: ProgressFn | None) -> _ProcOutcome:
    """Run cmd in its own process group; progress is called on THIS thread with fractions parsed from stdout."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    out: list[str] = []
    err: list[str] = []
    tail: collections.deque = collections.deque(maxlen=LOG_TAIL_LINES)
    lock = threading.Lock()
    latest: list = [None]
    readers = [threading.Thread(target=_reader, args=(proc.stdout, out, tail, lock, latest), daemon=True),
               threading.Thread(target=_reader, args=(proc.stderr, err, tail, lock, None), daemon=True)]
    for r in readers:
        r.start()
    cancelled = timed_out = False
    reported = None
    deadline = t0 + timeout_s
    try:
        while not _exited(proc.pid):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            if progress is not None and latest[0] is not None and latest[0] != reported:
                reported = latest[0]
                progress(reported)
            if cancel is not None:
                cancel.wait(POLL_S)
            else:
                time.sleep(POLL_S)
        wall = time.monotonic() - t0
    finally:
        # Normal exit: SIGKILL the group anyway, so children the binary left behind do not survive it.
        # Cancel, time-out or an exception here: SIGTERM first, a short grace, then SIGKILL.
        if not _exited(proc.pid):
            _signal_group(proc.pid, signal.SIGTERM)
            end = time.monotonic() + TERM_GRACE_S
            while time.monotonic() < end and not _exited(proc.pid):
                time.sleep(0.01)
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        for r in readers:
            r.join(timeout=5.0)
    if progress is not None and latest[0] is not None and latest[0] != reported and not (cancelled or timed_out):
        progress(latest[0])
    with lock:
        log_tail = "\n".join(tail)
    return _ProcOutcome(returncode=proc.returncode, stdout="\n".join(out), stderr="\n".join(err), log_tail=log_tail,
                        wall_s=wall, pid=proc.pid, cancelled=cancelled, timed_out=timed_out)


# -- results ------------------------------------------------------------------------------------------------------

@dataclass
class CRunResult:
    """One C run. image: float32 (slow, fast) photons/pixel, as the binary's float file. wall_s: process wall time (s).

    argv: the caller's arguments; run_argv: what the binary got (absolute inputs, scratch float file).
    files: other files the run wrote into its scratch folder (e.g. "intimage.img"), name -> bytes.
    trace: parsed TRACE lines when the arguments asked for -trace_pixel (trace_error says why it is None if parsing
    failed). pid: the process id the run had (gone by the time this is returned).
    """

    image: np.ndarray
    argv: list[str]
    run_argv: list[str]
    stdout: str
    stderr: str
    returncode: int
    wall_s: float
    binary: Path
    binary_sha256: str
    threads: int | None
    pid: int
    files: dict[str, bytes] = field(default_factory=dict)
    trace: PixelTrace | None = None
    trace_error: str | None = None

    @property
    def log(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def to_image_result(self) -> ImageResult:
        meta = {"binary": str(self.binary), "binary_sha256": self.binary_sha256, "threads": self.threads,
                "run_argv": self.run_argv, "files": sorted(self.files), "dtype": "float32"}
        return ImageResult(engine="c", image=self.image, argv=list(self.argv), log=self.log, wall_s=self.wall_s,
                           returncode=self.returncode, meta=meta)


def _describe_exit(name: str, rc: int) -> str:
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        return f"C binary {name} was killed by {sig} (it crashed or was stopped from outside)"
    msg = f"C binary {name} exited with status {rc}"
    if rc == 9:
        msg += " (nanoBragg exits 9 after printing its usage: no -hkl and no -default_F, no -cell or -mat, " \
               "or a file it could not open)"
    return msg


def _collect_files(scratch: Path, skip: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for p in sorted(scratch.rglob("*")):
        if p.is_file() and p != skip:
            files[p.relative_to(scratch).as_posix()] = p.read_bytes()
    return files


def _read_float_image(float_path: Path, args: Sequence[str], scratch: Path, cwd: str, log_tail: str,
                      name: str) -> np.ndarray:
    if not float_path.exists():
        raise EngineError(f"C binary {name} finished but wrote no float image ({float_path.name})", log_tail)
    nbytes = float_path.stat().st_size
    s, f = image_shape(args)
    if nbytes != 4 * s * f:
        # The C may take its size from an -img/-mask header (spec §3.14); the SMV it wrote says what it used.
        candidates = [scratch / "intimage.img"]
        for flag in ("-img", "-mask"):
            v = flag_values(args, (flag,), 1)
            if v:
                candidates.append(Path(cwd, v[0]))
        for c in candidates:
            sz = smv_size(c)
            if sz is not None and nbytes == 4 * sz[0] * sz[1]:
                s, f = sz
                break
        else:
            raise EngineError(
                f"float image from {name} has {nbytes} bytes, expected {4 * s * f} bytes "
                f"({s} slow x {f} fast float32 pixels from the command line)", log_tail)
    return np.fromfile(float_path, dtype=np.float32).reshape(s, f)


def _trace_pixel_of(args: Sequence[str]) -> tuple[int, int] | None:
    v = flag_values(args, TRACE_FLAGS, 2)
    try:
        return (int(v[0]), int(v[1])) if v else None
    except ValueError:
        return None


def run_c(args: Sequence[str], *, binary: Path | str | None = None, threads: int | None = None,
          timeout_s: float = 600, cancel: threading.Event | None = None, progress: ProgressFn | None = None,
          workdir_parent: Path | str | None = None) -> CRunResult:
    """Run the binary with nanoBragg arguments `args` and return its float image and logs.

    threads: sets OMP_NUM_THREADS (None: inherit). progress(fraction 0..1) is called on the calling thread from the
    binary's `NN% done` lines. cancel: when set, the process group is killed and Cancelled raised.
    Raises EngineError (missing/non-executable binary, non-zero exit, crash, time-out, missing or wrong-size float
    file; `log_tail` holds the last lines of output) or Cancelled.
    """
    path = check_binary(binary)
    if cancel is not None and cancel.is_set():
        raise Cancelled("C run cancelled before it started")
    sha = binary_sha256(path)
    user_args = [str(a) for a in args]
    cwd = os.getcwd()
    scratch = Path(tempfile.mkdtemp(prefix="nbref-run-", dir=workdir_parent))
    try:
        float_path = scratch / "float.bin"
        run_args = prepare_args(user_args, float_path, cwd)
        env = dict(os.environ)
        if threads is not None:
            env["OMP_NUM_THREADS"] = str(int(threads))
        res = _run_process([str(path), *run_args], scratch, env, timeout_s, cancel, progress)
        if res.cancelled:
            raise Cancelled("C run cancelled")
        if res.timed_out:
            raise EngineError(f"C binary {path.name} timed out after {timeout_s:g} s and was stopped", res.log_tail,
                              res.returncode)
        if res.returncode != 0:
            raise EngineError(_describe_exit(path.name, res.returncode), res.log_tail, res.returncode)
        image = _read_float_image(float_path, user_args, scratch, cwd, res.log_tail, path.name)
        files = _collect_files(scratch, float_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    result = CRunResult(image=image, argv=user_args, run_argv=run_args, stdout=res.stdout, stderr=res.stderr,
                        returncode=res.returncode, wall_s=res.wall_s, binary=path, binary_sha256=sha,
                        threads=threads, pid=res.pid, files=files)
    px = _trace_pixel_of(user_args)
    if px is not None:
        try:
            result.trace = parse_trace(res.stdout, "c", px[0], px[1])
        except TraceParseError as exc:
            result.trace_error = str(exc)
    return result


# -- per-pixel traces ---------------------------------------------------------------------------------------------

def trace_roi(slow: int, fast: int, shape: tuple[int, int],
              user_roi: tuple[int, int, int, int] | None = None, *,
              prefix: bool = False) -> tuple[int, int, int, int]:
    """-roi (xmin, xmax, ymin, ymax) for tracing (slow, fast): the pixel and the one rendered just before it.

    With one thread the C renders in raster order, and its φ=0 carry-over state (C-PARITY-001, decisions D3/D4)
    comes from the previously rendered pixel; including that pixel makes the trace see the state of the full-image
    run. The region rendered in the full run is the user's -roi (clipped to the detector) or the whole detector; if
    the traced pixel is the first pixel of that region, it is rendered alone, as in the full run.

    prefix=True: every row of that region from its first through the traced one, so that the run also sees every
    evaluation that comes before the pixel in raster order (the C switches tricubic interpolation off for the rest
    of the run at the first out-of-range one, spec 5.4, which two pixels alone cannot know).
    """
    s_n, f_n = shape
    if not (0 <= slow < s_n and 0 <= fast < f_n):
        raise EngineError(f"pixel (slow {slow}, fast {fast}) is outside the {s_n} x {f_n} detector")
    x0, x1, y0 = 0, f_n - 1, 0
    if user_roi is not None:
        ux0, ux1, uy0, uy1 = (max(0, user_roi[0]), min(f_n - 1, user_roi[1]),
                              max(0, user_roi[2]), min(s_n - 1, user_roi[3]))
        if ux0 <= fast <= ux1 and uy0 <= slow <= uy1:
            x0, x1, y0 = ux0, ux1, uy0
    if prefix:
        return x0, x1, y0, slow
    if fast > x0:
        return fast - 1, fast, slow, slow
    if slow > y0:
        return x0, x1, slow - 1, slow
    return fast, fast, slow, slow


def _user_roi(args: Sequence[str]) -> tuple[int, int, int, int] | None:
    v = flag_values(args, ("-roi",), 4)
    try:
        return tuple(int(float(x)) for x in v) if v else None  # type: ignore[return-value]
    except ValueError:
        return None


def may_interpolate(args: Sequence[str]) -> bool:
    """Whether the C may use tricubic interpolation for this command line (spec 5.4): an -hkl file, and
    -interpolate, or the automatic choice with some N <= 2 (or a crystal size that decides N later). True when the
    line cannot be parsed (the safe answer)."""
    cfg = _parsed_config(args)
    if cfg is None:
        return True
    c = cfg.crystal
    if c.hkl_file is None or c.interpolate is False:
        return False
    if c.interpolate is True:
        return True
    sized = any(v is not None for v in (c.sample_x_mm, c.sample_y_mm, c.sample_z_mm))
    return sized or min(c.Na, c.Nb, c.Nc) <= 2


def trace_c_run(args: Sequence[str], slow: int, fast: int, **kw) -> CRunResult:
    """Run with `-trace_pixel slow fast`, restricted by -roi (see trace_roi), one thread, no noise/PGM output.

    When interpolation may be on, the -roi covers every row up to the traced one (trace_roi prefix=True), so the
    trace sees the run-wide interpolation switch-off of the full image (decisions D4). The user's -roi,
    -trace_pixel and -dump_pixel are replaced. Keyword arguments as run_c (threads is forced to 1).
    """
    shape = image_shape(args)
    roi = trace_roi(slow, fast, shape, _user_roi(args), prefix=may_interpolate(args))
    a = remove_flags(args, "-trace_pixel", "-roi")
    a = append_flags(a, ["-trace_pixel", str(slow), str(fast), "-roi", *map(str, roi), "-nonoise", "-nopgm"])
    kw["threads"] = 1
    return run_c(a, **kw)


def trace_c(args: Sequence[str], slow: int, fast: int, **kw) -> PixelTrace:
    """The C's trace of pixel (slow, fast) for the command line `args` (see trace_c_run).

    A binary that prints no TRACE lines gives a PixelTrace with dialect "none" and a note; use phi_intensity_curve.
    Raises EngineError if the trace lines are malformed.
    """
    res = trace_c_run(args, slow, fast, **kw)
    if res.trace_error is not None:
        raise EngineError(f"could not read the trace of {res.binary.name}: {res.trace_error}",
                          "\n".join(res.log.splitlines()[-LOG_TAIL_LINES:]))
    trace = res.trace if res.trace is not None else PixelTrace(engine="c", slow=slow, fast=fast)
    if trace.dialect == "none":
        trace.notes.append(f"{res.binary.name} printed no per-phi TRACE lines; phi_intensity_curve gives per-tick "
                           "intensities for such binaries")
    return trace


def phi_intensity_curve(args: Sequence[str], slow: int, fast: int, *, progress: ProgressFn | None = None,
                        **kw) -> list[tuple[float, float]]:
    """Per-φ-tick intensity of pixel (slow, fast) from single-tick runs, for binaries without per-φ trace lines.

    The φ grid is resolved as the C does (spec §8.2): ticks φ_i = φ0 + i·Δ, i = 0..N−1, Δ = the resolved phistep
    (osc/N when -phisteps and -osc are given). Run i is `-phi φ_i -osc Δ -phisteps 1 -roi f f s s`; value_i is the
    pixel's float value. Because each run divides by steps = 1, Σ_i value_i / N equals the spec-compliant N-step
    pixel (a fresh rotation at every tick, spec §15): it differs from the C's own N-step value where C-PARITY-001
    replaces tick 0, or where -oversample_thick/_polar/_omega make the running sums not add up across runs.
    Returns [(φ_i in degrees, value_i)], N entries. Keyword arguments as run_c.
    """
    phi0, _osc, step, n = resolve_phi_grid(*_phi_settings(args))
    s_n, f_n = image_shape(args)
    if not (0 <= slow < s_n and 0 <= fast < f_n):
        raise EngineError(f"pixel (slow {slow}, fast {fast}) is outside the {s_n} x {f_n} detector")
    base = remove_flags(args, *PHI_FLAGS, "-roi", "-trace_pixel")
    out: list[tuple[float, float]] = []
    for i in range(n):
        phi_i = phi0 + i * step
        a = append_flags(base, ["-phi", repr(phi_i), "-osc", repr(step), "-phisteps", "1",
                                "-roi", str(fast), str(fast), str(slow), str(slow), "-nonoise", "-nopgm"])
        sub = None if progress is None else (lambda x, i=i: progress((i + x) / n))
        res = run_c(a, progress=sub, **kw)
        out.append((phi_i, float(res.image[slow, fast])))
        if progress is not None:
            progress((i + 1) / n)
    return out
