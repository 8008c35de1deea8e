"""Snapshot bundles: a NEW timestamped folder per export, written whole or not at all.

`BundleWriter` builds everything in a hidden temporary folder beside the target and renames it into place on a clean
exit; on an exception the temporary folder is removed, so a half-written bundle never appears. Names are
``<prefix>-YYYYmmdd-HHMMSS`` (local time), with ``-2``, ``-3``, ... appended when that name is taken. An existing
folder is never replaced: the final rename only targets a name that does not exist, and POSIX rename refuses to
replace a non-empty folder, so even a race can at worst claim an empty one.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def json_safe(obj: Any) -> Any:
    """A copy of `obj` that json.dumps(allow_nan=False) accepts: NaN/inf -> None, tuples -> lists, numpy -> Python,
    Paths -> str, dataclasses -> dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


class BundleError(OSError):
    """The bundle cannot be written where asked; strerror says why in words ("no space left on device: ...")."""


# The manifest's layout version, written as "bundle_format": a reader refuses a newer one in words.
BUNDLE_FORMAT = 1
# Bytes per detector pixel of a compare bundle: float32 image (4) and SMV image (2) per engine, the float32
# difference (4), panel PNGs (up to ~4 with --png); plus a fixed allowance for logs, JSON and markdown.
BUNDLE_BYTES_PER_PIXEL = 20
BUNDLE_FIXED_BYTES = 4 << 20
# Leftover `.PREFIX-STAMP.PID.XXXX.partial` folders of a killed writer: removed when PID is gone; those without a
# PID (older writers) once they are this old (s).
STALE_PARTIAL_S = 600.0
_PARTIAL = re.compile(r"^\.[^/]+-\d{8}-\d{6}(-\d+)?\.((?P<pid>\d+)\.)?[a-z0-9_]+\.partial$")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def estimate_bundle_bytes(pixels: int, png: bool = True) -> int:
    """Upper estimate of a compare bundle's size in bytes for a detector of `pixels` pixels."""
    return BUNDLE_FIXED_BYTES + pixels * BUNDLE_BYTES_PER_PIXEL


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_output_folder(parent: Path | str, need_bytes: int = 0) -> None:
    """Raise BundleError unless a bundle of about `need_bytes` can be written under `parent`: the folder exists or
    can be made (its nearest existing ancestor is a writable folder), and that file system has the space.
    Call it before any engine runs, so that a bad --out never costs a computed result."""
    target = Path(parent)
    probe = target
    while not probe.exists():
        if probe.is_symlink():
            raise BundleError(errno.ENOENT, f"{probe} is a link to nothing")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise BundleError(errno.ENOTDIR, f"{probe} is not a folder" + ("" if probe == target else
                                                                      f", so {target} cannot be made"))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BundleError(errno.EACCES, f"{probe} is not writable")
    try:  # the truth, for file systems mounted read-only and for root (whom os.access lets through)
        os.rmdir(tempfile.mkdtemp(prefix=".nbparity-probe.", dir=probe))
    except OSError as e:
        raise BundleError(e.errno or errno.EACCES, f"{probe} is not writable ({e.strerror or e})") from None
    st = os.statvfs(probe)
    free = st.f_bavail * st.f_frsize
    if need_bytes > free:
        raise BundleError(errno.ENOSPC, f"no space left on device: the bundle needs about {_human(need_bytes)}, "
                                        f"{probe} has {_human(free)} free")


def remove_stale_partials(parent: Path | str, now: float | None = None) -> list[Path]:
    """Remove `.*.partial` folders that killed writers left in `parent` (their PID is gone, or they carry none and
    are older than STALE_PARTIAL_S); returns what was removed. A live writer's folder is never touched."""
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if not m or not entry.is_dir(follow_symlinks=False):
            continue
        pid = m.group("pid")
        if pid is not None:
            stale = not pid_alive(int(pid))
        else:
            try:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > STALE_PARTIAL_S
            except OSError:
                continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def is_partial_name(name: str) -> bool:
    """True for the name of a writer's temporary `.PREFIX-STAMP[.PID].XXXX.partial` folder (never a bundle)."""
    return bool(_PARTIAL.match(name))


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (ours always; one of another user counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _space_errors(name: str):
    """Turn ENOSPC/EDQUOT while writing `name` into a BundleError that says so in words."""
    try:
        yield
    except OSError as e:
        if e.errno in _NO_SPACE and not isinstance(e, BundleError):
            raise BundleError(e.errno, f"no space left on device while writing {name}") from None
        raise


def timestamp(now: _dt.datetime | None = None) -> str:
    """YYYYmmdd-HHMMSS of `now` (default: local time now)."""
    return (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def _candidates(parent: Path, prefix: str, stamp: str):
    yield parent / f"{prefix}-{stamp}"
    n = 2
    while True:
        yield parent / f"{prefix}-{stamp}-{n}"
        n += 1


def new_bundle_dir(parent: Path | str, prefix: str = "compare", now: _dt.datetime | None = None) -> Path:
    """Create and return a new empty folder ``parent/<prefix>-YYYYmmdd-HHMMSS[-n]``; never reuses an existing one."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for cand in _candidates(parent, prefix, timestamp(now)):
        try:
            cand.mkdir()
            return cand
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


class BundleWriter:
    """Context manager writing one bundle atomically.

    with BundleWriter(parent, "compare") as w:
        w.write_json("summary.json", {...}); w.write_array_f32("c_float.bin", img)
    w.path  # the final folder, set after a clean exit
    """

    def __init__(self, parent: Path | str, prefix: str = "compare", now: _dt.datetime | None = None):
        self.parent = Path(parent)
        self.prefix = prefix
        self._stamp = timestamp(now)
        self.tmp: Path | None = None
        self.path: Path | None = None
        self._files: list[str] = []

    def __enter__(self) -> BundleWriter:
        with _space_errors(str(self.parent)):
            self.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(self.parent)
            # The PID in the name lets a later writer tell a killed writer's leftovers from a live one's.
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.prefix}-{self._stamp}.{os.getpid()}.", suffix=".partial",
                                             dir=self.parent))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.path = self._commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Remove the temporary folder (nothing is left behind)."""
        if self.tmp is not None and self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _commit(self) -> Path:
        assert self.tmp is not None
        for cand in _candidates(self.parent, self.prefix, self._stamp):
            if cand.exists() or cand.is_symlink():
                continue
            try:
                os.rename(self.tmp, cand)
            except OSError:
                if cand.exists():  # lost a race for this name: try the next one
                    continue
                raise
            self.tmp = None
            return cand
        raise AssertionError("unreachable")

    # -- writing -------------------------------------------------------------------------------------------------
    def path_for(self, name: str) -> Path:
        """Path of `name` (may contain sub-folders) inside the bundle being built; creates the sub-folders."""
        if self.tmp is None:
            raise RuntimeError("BundleWriter is not open (use it as a context manager)")
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"bundle file names must be relative and stay inside the bundle: {name!r}")
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.as_posix() not in self._files:
            self._files.append(rel.as_posix())
        return p

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes | memoryview) -> Path:
        with _space_errors(name):
            p = self.path_for(name)
            with open(p, "wb") as fh:
                fh.write(data)
        return p

    def write_json(self, name: str, obj: Any) -> Path:
        """JSON, indented, NaN/inf written as null."""
        return self.write_text(name, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")

    def write_array_f32(self, name: str, arr: np.ndarray) -> Path:
        """Raw little-endian float32, row-major, no header (the C's -floatfile layout, spec §10.2)."""
        # Through a Python file, not ndarray.tofile: a full disk then says ENOSPC, not "N requested and M written".
        return self.write_bytes(name, np.ascontiguousarray(arr, dtype="<f4").data.cast("B"))

    def files(self) -> list[str]:
        """Relative names written so far, in order."""
        return list(self._files)

    def write_manifest(self, name: str = "manifest.json", extra: dict | None = None) -> Path:
        """manifest.json: every file written so far with its size and sha256, plus `extra` (provenance)."""
        assert self.tmp is not None
        entries = [{"name": f, "bytes": (self.tmp / f).stat().st_size, "sha256": sha256_file(self.tmp / f)}
                   for f in self._files if f != name]
        body: dict[str, Any] = {"created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                                "files": entries}
        body.update(extra or {})
        body["bundle_format"] = BUNDLE_FORMAT
        return self.write_json(name, body)


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _git(repo_dir: Path | str, *args: str) -> subprocess.CompletedProcess | None:
    # GIT_OPTIONAL_LOCKS=0: a read-only query must not even refresh the index.
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    try:
        return subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=10, env=env)
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit(repo_dir: Path | str) -> str | None:
    """HEAD commit hash (40 hex) of the git checkout containing `repo_dir`, or None (no git, no repo, no commit)."""
    r = _git(repo_dir, "rev-parse", "HEAD")
    return r.stdout.strip() if r is not None and r.returncode == 0 and r.stdout.strip() else None


def git_dirty(repo_dir: Path | str) -> bool | None:
    """True if tracked files differ from HEAD, False if clean, None when it cannot tell."""
    r = _git(repo_dir, "status", "--porcelain", "--untracked-files=no")
    return bool(r.stdout.strip()) if r is not None and r.returncode == 0 else None
