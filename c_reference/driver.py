"""The one process driver: run our C reference, any nanoBragg-compatible binary or any external command taking
nanoBragg's flags, in a scratch folder, and read back what it made.

Scratch: every run gets a fresh folder `$TMPDIR/nbref-run-<owner pid>-XXXX` as its working directory, so the files
the C always writes (intimage.img, image.pgm, Fdump.bin) never land in the user's folder and a stale Fdump.bin
cannot leak in (decisions D5). Input-file flags AND the user's output flags (-intfile, -pgmfile, -noisefile,
-dump, ...) are resolved against the user's working folder, as nanoBragg run there would resolve them;
`-floatfile` is forced into the scratch folder (and copied to the user's -floatfile path when one was given and
the caller asks for outputs). Auxiliary runs (traces, single-tick curves) drop the user's output flags, so they
write nothing outside scratch. The folder is removed afterwards; only the names and sizes of the files the run
left there are kept (`CRunResult.files`), nothing else is read. `remove_stale_scratch` removes folders whose owner
pid is dead (called at the start of nbparity).

Lifecycle (Linux): the engine runs under c_reference/supervise.py, a child subreaper that gets SIGUSR1 when
nbparity dies (PR_SET_PDEATHSIG, kill -9 included) and starts the engine with PR_SET_PDEATHSIG = SIGKILL; when the
engine exits, or on cancel / time-out / nbparity's death, every descendant of the engine (setsid ones included) is
SIGKILLed and reaped, and after nbparity's death the scratch folder is removed too. `become_subreaper` makes
nbparity itself a subreaper, so a supervisor killed outright leaves its orphans to us, and `kill_orphans` finds
them by their job token.

Memory: the engine's stdout and stderr go to log files in scratch; the driver follows them for progress and keeps
only a bounded head and tail (`LOG_HEAD_BYTES`, `LOG_TAIL_LINES`), and reads TRACE lines back from the file (at
most `TRACE_BYTES_MAX`) only when a trace was asked for. 10 MB of garbage on stdout costs kilobytes here.
"""
from __future__ import annotations

import collections
import ctypes
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

from simulator.argv import append_flags, last_values, map_values, without_flag
from simulator.config import SamplingConfig, resolve_phi
from tracing.bundle import pid_alive
from tracing.parse import TraceParseError, parse_trace
from tracing.records import Cancelled, EngineError, ImageResult, PixelTrace

from .locate import binary_sha256, check_binary, default_binary  # noqa: F401  (default_binary re-exported)

# Flags whose value is a file the binary opens for reading (made absolute against the caller's folder).
INPUT_FILE_FLAGS: tuple[str, ...] = ("-hkl", "-mat", "-sourcefile", "-mask", "-img", "-stol")
# Output files of the user's command line (resolved against the caller's folder; dropped for auxiliary runs).
OUTPUT_FILE_FLAGS: tuple[str, ...] = ("-intfile", "-pgmfile", "-noisefile", "-dump")
TRACE_FLAGS: tuple[str, ...] = ("-trace_pixel", "-dump_pixel")
PHI_FLAGS: tuple[str, ...] = ("-phi", "-osc", "-phistep", "-phisteps")
SCRATCH_PREFIX = "nbref-run-"
LOG_TAIL_LINES = 40
LOG_HEAD_BYTES = 64 * 1024
LINE_MAX = 2000          # characters of one line kept in the tail (a line of garbage is cut here)
TRACE_BYTES_MAX = 64 * 1024 * 1024
POLL_S = 0.05
TERM_GRACE_S = 3.0       # the supervisor's clean-up is bounded by about 3 s (supervise.KILL_ROUNDS_S)
SUPERVISOR = Path(__file__).resolve().parent / "supervise.py"
JOB_ENV = "NBPARITY_JOB"
PR_SET_CHILD_SUBREAPER = 36

_PROGRESS = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*done")

ProgressFn = Callable[[float], None]


# -- command-line editing (all through simulator.argv) ------------------------------------------------------------

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


def _absolute(cwd: str | Path) -> Callable[[str, str], str]:
    def fn(_flag: str, value: str) -> str:
        v = os.path.expanduser(value)
        return v if os.path.isabs(v) else os.path.normpath(os.path.join(str(cwd), v))
    return fn


def absolutize_inputs(args: Sequence[str], cwd: str | Path) -> list[str]:
    """Copy of args with the value of each input-file and output-file flag made absolute against `cwd`."""
    return map_values(list(args), INPUT_FILE_FLAGS + OUTPUT_FILE_FLAGS, _absolute(cwd))


def prepare_args(args: Sequence[str], float_path: Path, cwd: str | Path) -> list[str]:
    """The argv the binary gets: file paths absolute, any -floatfile/-floatimage replaced by `float_path`."""
    # append_flags: appended flags must not change what the user's mean (a trailing -curved_det, spec 2.2)
    return append_flags(absolutize_inputs(remove_flags(args, "-floatfile"), cwd), ["-floatfile", str(float_path)])


def auxiliary_args(args: Sequence[str]) -> list[str]:
    """args for a run whose outputs are not the user's (traces, single-tick curves): output flags removed."""
    return remove_flags(args, *OUTPUT_FILE_FLAGS)
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
    """(SIZE2, SIZE1) = (slow, fast) from an SMV header, last occurrence of each key (as the C reads them); None
    when the file cannot be read or is not SMV. HEADER_BYTES is untrusted: the header read is cut at the file's
    size (a header announcing 10^15 bytes raised MemoryError, issue 22), and only regular files are read."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:   # a FIFO: no wait for a writer
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            head = fh.read(512)
            m = re.search(rb"HEADER_BYTES=\s*(\d+)", head)
            announced = (int(m.group(1)) if len(m.group(1)) <= 18 else st.st_size) if m else 0
            if announced > 512 and st.st_size > 512:
                head += fh.read(min(announced, st.st_size) - 512)
    except OSError:
        return None
    if not head.startswith(b"{\nHEADER_BYT"):
        return None
    f = re.findall(rb"SIZE1=\s*(\d{1,18})(?!\d)", head)
    s = re.findall(rb"SIZE2=\s*(\d{1,18})(?!\d)", head)
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


# -- lifecycle ----------------------------------------------------------------------------------------------------

def become_subreaper() -> bool:
    """Make this process a child subreaper (Linux PR_SET_CHILD_SUBREAPER): orphaned descendants, `setsid` ones
    included, are reparented to it instead of init, so they can be found and killed. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def remove_stale_scratch(parent: Path | str | None = None) -> list[Path]:
    """Remove `nbref-run-<pid>-*` folders under `parent` (default $TMPDIR) whose owner pid is dead; returns them."""
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(base.glob(SCRATCH_PREFIX + "*-*"))
    except OSError:
        return removed
    for p in entries:
        owner = p.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or pid_alive(int(owner)):
            continue
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
    return removed


def prepare_lifecycle() -> None:
    """What a process that is about to run external engines does first (idempotent, cheap): become a subreaper and
    remove stale scratch folders of dead owners. Called when a process engine is made (app.engines.registry), so
    the window and the headless commands both get it."""
    become_subreaper()
    remove_stale_scratch()


def _has_token(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return token in fh.read().split(b"\0")
    except OSError:
        return False


def kill_orphans(token: str) -> list[int]:
    """SIGKILL and reap our descendants whose environment carries JOB_ENV=token (what a supervisor killed outright
    leaves behind); returns their pids."""
    from .supervise import descendants  # stdlib-only module, shared with the supervisor process

    key = f"{JOB_ENV}={token}".encode()
    hit = [pid for pid in descendants(os.getpid()) if _has_token(pid, key)]
    for pid in hit:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in hit:
        try:
            os.waitpid(pid, 0)  # ours only if it was reparented to us (we are a subreaper)
        except (ChildProcessError, OSError):
            pass
    return hit


# -- running the process ------------------------------------------------------------------------------------------

class _LogFollower:
    """Follows one log file as it grows: progress from `NN% done`, a bounded head and tail. Memory is bounded
    whatever the engine prints (lines longer than LINE_MAX are cut; a partial line is kept up to LINE_MAX)."""

    def __init__(self, path: Path, tail: collections.deque, progress_re: re.Pattern | None):
        self.path = path
        self.tail = tail
        self.progress_re = progress_re
        self.latest: float | None = None
        self.head = bytearray()
        self.size = 0
        self._partial = b""
        self._fh = None

    def poll(self) -> None:
        if self._fh is None:
            try:
                self._fh = open(self.path, "rb")
            except OSError:
                return
        while True:
            chunk = self._fh.read(1 << 20)
            if not chunk:
                return
            self.size += len(chunk)
            if len(self.head) < LOG_HEAD_BYTES:
                self.head += chunk[:LOG_HEAD_BYTES - len(self.head)]
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()[-LINE_MAX:]
            for raw in lines[-(LOG_TAIL_LINES + 200):]:  # older lines cannot reach the tail
                self._line(raw[:LINE_MAX].decode("utf-8", "replace").rstrip("\r"))

    def _line(self, line: str) -> None:
        self.tail.append(line)
        if self.progress_re is not None:
            m = self.progress_re.search(line)
            if m:
                self.latest = min(1.0, float(m.group(1)) / 100.0)

    def close(self) -> None:
        self.poll()
        if self._partial:
            self._line(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        if self._fh is not None:
            self._fh.close()

    def text(self) -> str:
        """The head, and when the log was longer, a note and the tail."""
        head = bytes(self.head).decode("utf-8", "replace")
        if self.size <= LOG_HEAD_BYTES:
            return head
        return (head + f"\n[... log of {self.size} bytes: only the first {LOG_HEAD_BYTES} bytes and the last "
                f"{len(self.tail)} lines are kept ...]\n" + "\n".join(self.tail))


@dataclass
class _ProcOutcome:
    returncode: int
    stdout: str
    stderr: str
    log_tail: str
    log_bytes: int
    wall_s: float
    pid: int
    cancelled: bool
    timed_out: bool
    stdout_path: Path


def _read_status(path: Path) -> tuple[int | None, str | None, int | None]:
    """(engine pid, final status line, return code as Popen gives it: -N for signal N)."""
    try:
        lines = path.read_text().split("\n")
    except OSError:
        return None, None, None
    pid = next((int(x.split()[1]) for x in lines if x.startswith("pid ") and x.split()[1].isdigit()), None)
    final = next((x for x in reversed(lines) if x and not x.startswith("pid ")), None)
    rc = None
    if final:
        word, _, rest = final.partition(" ")
        nums = [int(t) for t in rest.split() if t.lstrip("-").isdigit()]
        if word == "exit" and nums:
            rc = nums[0]
        elif word == "signal" and nums:
            rc = -nums[0]
        elif word == "spawn-failed":
            rc = 127
    return pid, final, rc


def _run_process(cmd: list[str], cwd: Path, env: dict, timeout_s: float, cancel: threading.Event | None,
                 progress: ProgressFn | None) -> _ProcOutcome:
    """Run cmd under the supervisor in `cwd` (the scratch folder); progress is called on THIS thread."""
    token = cwd.name
    env = dict(env, **{JOB_ENV: token})
    out_path, err_path, status_path = cwd / ".stdout.log", cwd / ".stderr.log", cwd / ".status"
    tail: collections.deque = collections.deque(maxlen=LOG_TAIL_LINES)
    t0 = time.monotonic()
    with open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SUPERVISOR), "--parent", str(os.getpid()), "--status",
             str(status_path), "--scratch", str(cwd), "--", *cmd],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr, start_new_session=True)
    follow_out = _LogFollower(out_path, tail, _PROGRESS)
    follow_err = _LogFollower(err_path, tail, None)
    cancelled = timed_out = False
    reported = None
    deadline = t0 + timeout_s
    try:
        while proc.poll() is None:
            follow_out.poll()
            follow_err.poll()
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            if progress is not None and follow_out.latest is not None and follow_out.latest != reported:
                reported = follow_out.latest
                progress(reported)
            if cancel is not None:
                cancel.wait(POLL_S)
            else:
                time.sleep(POLL_S)
        wall = time.monotonic() - t0
    finally:
        # Cancel, time-out or an exception here: the supervisor kills and reaps the engine and its descendants.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                engine_pid, _, _ = _read_status(status_path)
                proc.kill()
                proc.wait()
                if engine_pid is not None:
                    try:
                        os.killpg(engine_pid, signal.SIGKILL)
                    except OSError:
                        pass
        kill_orphans(token)
        follow_out.close()
        follow_err.close()
    engine_pid, final, rc = _read_status(status_path)
    if rc is None:
        rc = proc.returncode if proc.returncode else 125
        if final is None and not (cancelled or timed_out):
            tail.append(f"[the engine supervisor ended with status {proc.returncode} and no engine status]")
    if progress is not None and follow_out.latest is not None and follow_out.latest != reported \
            and not (cancelled or timed_out):
        progress(follow_out.latest)
    return _ProcOutcome(returncode=rc, stdout=follow_out.text(), stderr=follow_err.text(), log_tail="\n".join(tail),
                        log_bytes=follow_out.size + follow_err.size, wall_s=wall, pid=engine_pid or proc.pid,
                        cancelled=cancelled, timed_out=timed_out, stdout_path=out_path)


def read_trace_lines(path: Path, limit: int = TRACE_BYTES_MAX) -> str:
    """The TRACE lines of a log file (at most `limit` bytes of them), without reading the rest into memory."""
    kept: list[str] = []
    size = 0
    with open(path, "rb") as fh:
        for raw in fh:
            if raw.lstrip().startswith(b"TRACE"):
                size += len(raw)
                if size > limit:
                    break
                kept.append(raw.decode("utf-8", "replace"))
    return "".join(kept)


# -- results ------------------------------------------------------------------------------------------------------

@dataclass
class CRunResult:
    """One process run. image: float32 (slow, fast) photons/pixel, as the binary's float file. wall_s: process wall
    time (s).

    argv: the caller's arguments; run_argv: what the engine got (absolute paths, scratch float file). command: the
    engine's argv prefix (binary, or the split external command). stdout/stderr: bounded (head, and the tail when
    longer; `log_bytes` is the full size). files: name -> size in bytes of the other files the run left in its
    scratch folder (not read). trace: parsed TRACE lines when the arguments asked for -trace_pixel (trace_error
    says why it is None if parsing failed). pid: the engine's process id (gone by the time this is returned).
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
    files: dict[str, int] = field(default_factory=dict)
    trace: PixelTrace | None = None
    trace_error: str | None = None
    command: list[str] = field(default_factory=list)
    log_bytes: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def to_image_result(self, engine: str = "c") -> ImageResult:
        meta = {"binary": str(self.binary), "binary_sha256": self.binary_sha256, "threads": self.threads,
                "command": self.command or [str(self.binary)], "run_argv": self.run_argv, "files": self.files,
                "dtype": "float32", "log_bytes": self.log_bytes, "env": dict(self.env)}
        return ImageResult(engine=engine, image=self.image, argv=list(self.argv), log=self.log, wall_s=self.wall_s,
                           returncode=self.returncode, meta=meta)


def _describe_exit(name: str, rc: int) -> str:
    if rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        return f"engine {name} was killed by {sig} (it crashed or was stopped from outside)"
    msg = f"engine {name} exited with status {rc}"
    if rc == 9:
        msg += " (nanoBragg exits 9 after printing its usage: no -hkl and no -default_F, no -cell or -mat, " \
               "or a file it could not open)"
    elif rc == 127:
        msg += " (the command could not be started: not found or not executable)"
    return msg


def _list_files(scratch: Path, skip: set[Path]) -> dict[str, int]:
    files: dict[str, int] = {}
    for p in sorted(scratch.rglob("*")):
        if p.is_file() and p not in skip and not p.name.startswith("."):
            files[p.relative_to(scratch).as_posix()] = p.stat().st_size
    return files


def _read_float_image(float_path: Path, args: Sequence[str], scratch: Path, cwd: str, log_tail: str,
                      name: str) -> np.ndarray:
    if not float_path.exists():
        raise EngineError(f"engine {name} finished but wrote no float image (-floatfile {float_path.name})",
                          log_tail)
    nbytes = float_path.stat().st_size
    s, f = image_shape(args)
    if nbytes != 4 * s * f:
        # The C may take its size from an -img/-mask header (spec §3.14); the SMV it wrote says what it used.
        candidates = [scratch / "intimage.img"]
        for flag in ("-img", "-mask"):
            v = last_values(list(args), flag)
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
    image = np.fromfile(float_path, dtype=np.float32).reshape(s, f)
    if not np.isfinite(image).all():
        bad = int((~np.isfinite(image)).sum())
        raise EngineError(f"float image from {name} holds {bad} NaN or infinite pixel(s) of {s * f}: not accepted",
                          log_tail)
    return image


def _trace_pixel_of(args: Sequence[str]) -> tuple[int, int] | None:
    v = flag_values(args, TRACE_FLAGS, 2)
    try:
        return (int(v[0]), int(v[1])) if v else None
    except ValueError:
        return None


def command_sha256(command: Sequence[str]) -> tuple[Path, str]:
    """(absolute executable, sha256 of the file it points to) of an external command's argv[0], found on PATH
    when it has no slash. Symbolic links are NOT resolved in the path returned: a virtual environment's
    bin/python must run as itself to find its packages."""
    exe = command[0]
    found = shutil.which(exe) if os.sep not in exe else exe
    if found is None:
        raise EngineError(f"command not found: {exe} (not on PATH; give a full path)")
    real = check_binary(found)
    return Path(os.path.abspath(os.path.expanduser(found))), binary_sha256(real)


def run_c(args: Sequence[str], *, binary: Path | str | None = None, threads: int | None = None,
          timeout_s: float = 600, cancel: threading.Event | None = None, progress: ProgressFn | None = None,
          workdir_parent: Path | str | None = None, command: Sequence[str] | None = None,
          outputs: bool = True, env: dict[str, str] | None = None, cwd: Path | str | None = None,
          trace_options: dict | None = None) -> CRunResult:
    """Run the engine with nanoBragg arguments `args` and return its float image and logs.

    binary: a nanoBragg-compatible binary (default NB_C_BIN, else our build); command: instead, an external
    command's argv prefix (e.g. ["python", "-m", "nanobrag_torch"]), found on PATH like a shell would.
    threads: sets OMP_NUM_THREADS (None: inherit). env: more environment variables. outputs: keep the user's
    output flags (resolved against `cwd`, default the current folder) and copy the float image to the user's
    -floatfile; False drops them (nothing is written outside scratch). progress(fraction 0..1) is called on the
    calling thread from the engine's `NN% done` lines. cancel: when set, everything the engine started is killed
    and Cancelled raised. trace_options: keyword arguments of tracing.parse.parse_trace (interpolate,
    lattice_shape) for reading the port dialect.
    Raises EngineError (missing/non-executable engine, non-zero exit, crash, time-out, missing, wrong-size or
    non-finite float file; `log_tail` holds the last lines of output) or Cancelled.
    """
    if command:
        path, sha = command_sha256(command)
        prefix = [str(path), *command[1:]]
    else:
        path = check_binary(binary)
        sha = binary_sha256(path)
        prefix = [str(path)]
    name = path.name if not command else " ".join(command[:3])
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{name} run cancelled before it started")
    user_args = [str(a) for a in args]
    cwd = str(cwd) if cwd is not None else os.getcwd()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=workdir_parent))
    user_float = last_values(user_args, "-floatfile") if outputs else None
    try:
        float_path = scratch / "float.bin"
        run_args = prepare_args(user_args if outputs else auxiliary_args(user_args), float_path, cwd)
        full_env = dict(os.environ)
        full_env.update(env or {})
        if threads is not None:
            full_env["OMP_NUM_THREADS"] = str(int(threads))
        res = _run_process([*prefix, *run_args], scratch, full_env, timeout_s, cancel, progress)
        if res.cancelled:
            raise Cancelled(f"{name} run cancelled")
        if res.timed_out:
            raise EngineError(f"engine {name} timed out after {timeout_s:g} s and was stopped", res.log_tail,
                              res.returncode)
        if res.returncode != 0:
            raise EngineError(_describe_exit(name, res.returncode), res.log_tail, res.returncode)
        image = _read_float_image(float_path, user_args, scratch, cwd, res.log_tail, name)
        if user_float:
            dest = Path(_absolute(cwd)("-floatfile", user_float[0]))
            shutil.copyfile(float_path, dest)
        files = _list_files(scratch, {float_path})
        px = _trace_pixel_of(user_args)
        trace_text = read_trace_lines(res.stdout_path) if px is not None else ""
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    result = CRunResult(image=image, argv=user_args, run_argv=run_args, stdout=res.stdout, stderr=res.stderr,
                        returncode=res.returncode, wall_s=res.wall_s, binary=path, binary_sha256=sha,
                        threads=threads, pid=res.pid, files=files, command=prefix, log_bytes=res.log_bytes,
                        env={k: full_env[k] for k in ("OMP_NUM_THREADS",) if k in full_env})
    if px is not None:
        try:
            result.trace = parse_trace(trace_text, "c", px[0], px[1], **(trace_options or {}))
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
    kw["outputs"] = False
    return run_c(a, **kw)


def trace_c(args: Sequence[str], slow: int, fast: int, **kw) -> PixelTrace:
    """The C's trace of pixel (slow, fast) for the command line `args` (see trace_c_run).

    A binary that prints no TRACE lines gives a PixelTrace with dialect "none" and a note; use phi_intensity_curve.
    Raises EngineError if the trace lines are malformed.
    """
    return trace_of(trace_c_run(args, slow, fast, **kw), slow, fast)


def trace_of(res: CRunResult, slow: int, fast: int) -> PixelTrace:
    """The PixelTrace of a trace run (trace_c_run): EngineError if its TRACE lines were malformed; dialect "none"
    with a note when it printed no per-phi lines."""
    name = res.binary.name
    if res.trace_error is not None:
        raise EngineError(f"could not read the trace of {name}: {res.trace_error}",
                          "\n".join(res.log.splitlines()[-LOG_TAIL_LINES:]))
    trace = res.trace if res.trace is not None else PixelTrace(engine="c", slow=slow, fast=fast)
    if not trace.samples:
        trace.notes.append(f"{name} printed no per-phi TRACE lines; phi_intensity_curve gives per-tick "
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
        res = run_c(a, progress=sub, **{**kw, "outputs": False})
        out.append((phi_i, float(res.image[slow, fast])))
        if progress is not None:
            progress((i + 1) / n)
    return out
