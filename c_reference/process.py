"""Running one engine process: spawned under c_reference/supervise.py in its scratch folder, stdout/stderr
followed in log files (progress from `NN% done`, a bounded head and tail), time limit and cancel, the exit status
in words, the TRACE lines streamed from the log. Nothing nanoBragg-specific but the progress line."""
from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tracing.parse import TraceReader
from tracing.records import EngineError, PixelTrace

from .child_exit import ChildExit
from .lifecycle import JOB_ENV, kill_orphans
from .locate import binary_sha256, check_binary

LOG_TAIL_LINES = 40
LOG_HEAD_BYTES = 64 * 1024
LINE_MAX = 2000          # characters of one line kept in the tail (a line of garbage is cut here)
TRACE_BYTES_MAX = 64 * 1024 * 1024
POLL_S = 0.05            # cancel, time limit, log and progress cadence; the engine's end is seen at once (ChildExit)
TERM_GRACE_S = 3.0       # the supervisor's clean-up is bounded by about 3 s (supervise.KILL_ROUNDS_S)
SUPERVISOR = Path(__file__).resolve().parent / "supervise.py"

_PROGRESS = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*done")

ProgressFn = Callable[[float], None]

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
        self._fh: BinaryIO | None = None

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
    exited = ChildExit(proc.pid, cancel)
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
            exited.wait(min(POLL_S, deadline - time.monotonic()))
        wall = time.monotonic() - t0
    finally:
        exited.close()
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


def read_trace_file(path: Path, engine: str, slow: int, fast: int, trace_options: dict | None = None,
                    limit: int = TRACE_BYTES_MAX) -> PixelTrace:
    """Stream the TRACE lines of a log file into a TraceReader (at most `limit` bytes of them; a note says when
    more were printed): nothing but the values the reader keeps stays in memory. Raises TraceParseError."""
    reader = TraceReader(engine, slow, fast, **(trace_options or {}))
    size = 0
    cut = False
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.lstrip().startswith(b"TRACE"):
                continue
            size += len(raw)
            if size > limit:
                cut = True
                break
            reader.feed(raw.decode("utf-8", "replace"))
    trace = reader.finish()
    if cut:
        trace.notes.append(f"only the first {limit} bytes of TRACE lines were read")
    return trace


def describe_exit(name: str, rc: int) -> str:
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

