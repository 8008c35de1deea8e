"""Snapshot bundles: a NEW timestamped folder per export, written whole or not at all.

`BundleWriter` builds everything in a hidden temporary folder beside the target and renames it into place on a clean
exit; on an exception the temporary folder is removed, so a half-written bundle never appears. Names are
``<prefix>-YYYYmmdd-HHMMSS`` (local time), with ``-2``, ``-3``, ... appended when that name is taken. An existing
folder is never replaced: the final rename only targets a name that does not exist, and POSIX rename refuses to
replace a non-empty folder, so even a race can at worst claim an empty one.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
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
        self.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.prefix}-{self._stamp}.", suffix=".partial", dir=self.parent))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.abort()
            return False
        try:
            self.path = self._commit()
        except BaseException:
            self.abort()
            raise
        return False

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
        p = self.path_for(name)
        p.write_text(text, encoding="utf-8")
        return p

    def write_bytes(self, name: str, data: bytes) -> Path:
        p = self.path_for(name)
        p.write_bytes(data)
        return p

    def write_json(self, name: str, obj: Any) -> Path:
        """JSON, indented, NaN/inf written as null."""
        return self.write_text(name, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")

    def write_array_f32(self, name: str, arr: np.ndarray) -> Path:
        """Raw little-endian float32, row-major, no header (the C's -floatfile layout, spec §10.2)."""
        p = self.path_for(name)
        np.ascontiguousarray(arr, dtype="<f4").tofile(p)
        return p

    def files(self) -> list[str]:
        """Relative names written so far, in order."""
        return list(self._files)

    def write_manifest(self, name: str = "manifest.json", extra: dict | None = None) -> Path:
        """manifest.json: every file written so far with its size and sha256, plus `extra` (provenance)."""
        assert self.tmp is not None
        entries = [{"name": f, "bytes": (self.tmp / f).stat().st_size, "sha256": sha256_file(self.tmp / f)}
                   for f in self._files if f != name]
        body = {"created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"), "files": entries}
        body.update(extra or {})
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
