"""What keeps external engines from outliving nbparity (Linux): nbparity as a child subreaper, the stale scratch
folders of dead owners removed, and orphans found by their job token and killed."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tracing.bundle import pid_alive

SCRATCH_PREFIX = "nbref-run-"
JOB_ENV = "NBPARITY_JOB"
PR_SET_CHILD_SUBREAPER = 36

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

