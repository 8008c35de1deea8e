"""The compiled kernel's disk cache as untrusted input (issue 18), numpy-free and torch-free.

The cache folder `<cache>/kernels` must be private: a directory (not a link) owned by this user with no group or
other permissions; it is created 0700 (whatever the umask) and tightened when it is ours and too open. A library is
loaded only when its sidecar `<name>.json` (written after the build passed its checks) matches: same size and
sha256, a regular file owned by this user that nobody else may write. Hashing reads the file, so a truncated or
planted library is refused before `dlopen` could map it (a truncated ELF mapped by the loader raises SIGBUS).
A failed build is remembered in `fastkernel-<key>.failed` (one line: why), so later processes do not retry it;
deleting that file (or a new compiler, source or CPU: a new key) allows a new try.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

from tracing.bundle import sha256_file as bundle_sha256

PRIVATE_MODE = 0o700


def private_dir(path: Path) -> str | None:
    """Create `path` (and its parent) if missing, private; None when usable, else why not (one sentence)."""
    try:
        path.parent.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_MODE)
        except FileExistsError:
            pass
        st = os.lstat(path)
    except (OSError, RuntimeError, KeyError) as e:   # read-only, a file on the way, HOME missing (Path.home)
        return f"cache folder {path} unusable: {e.strerror if isinstance(e, OSError) and e.strerror else e}"
    if not stat.S_ISDIR(st.st_mode):
        return f"cache folder {path} is not a folder (a link or a file)"
    if st.st_uid != os.getuid():
        return f"cache folder {path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o077:
        try:
            os.chmod(path, PRIVATE_MODE)
        except OSError as e:
            return f"cache folder {path} is open to others (mode {stat.S_IMODE(st.st_mode):o}) and cannot be " \
                   f"made private: {e.strerror}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"cache folder {path} is not writable"
    _tighten_parent(path.parent)
    return None


def _tighten_parent(parent: Path) -> None:
    """Make the cache root private too when it is ours and others may write it (so nobody can swap `kernels`)."""
    try:
        st = os.lstat(parent)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o022:
            os.chmod(parent, PRIVATE_MODE)
    except OSError:
        pass


def sidecar(lib: Path) -> Path:
    """The record of `lib` (fastkernel-KEY.so -> fastkernel-KEY.json)."""
    return lib.with_suffix(".json")


def failure_marker(cache: Path, key: str) -> Path:
    return cache / f"fastkernel-{key}.failed"


def sha256_file(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a regular file, read (never mapped)."""
    return os.stat(path).st_size, bundle_sha256(path)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def record(lib: Path, size: int, digest: str, flags: list[str]) -> None:
    """Write the sidecar of `lib` (size, sha256, flags) atomically."""
    _write_atomic(sidecar(lib), json.dumps({"size": size, "sha256": digest, "flags": flags}) + "\n")


def _owned_private_file(path: Path) -> str | None:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        return f"{path.name} is not a regular file"
    if st.st_uid != os.getuid():
        return f"{path.name} belongs to another user"
    if st.st_mode & 0o022:
        return f"{path.name} is writable by others"
    return None


def verify(lib: Path) -> str | None:
    """None when `lib` matches its sidecar (size and sha256) and both are private regular files; else why not."""
    side = sidecar(lib)
    try:
        for p in (lib, side):
            why = _owned_private_file(p)
            if why:
                return why
        with open(side, "rb") as f:
            rec = json.loads(f.read(4096).decode("utf-8"))
        want_size, want_hash = int(rec["size"]), str(rec["sha256"])
        size, digest = sha256_file(lib)
    except FileNotFoundError as e:
        return f"{Path(e.filename or lib).name} missing (no record of a checked build)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        return f"unreadable record of {lib.name}: {e}"
    if size != want_size:
        return f"{lib.name} is {size} bytes, its build recorded {want_size} (truncated or replaced)"
    if digest != want_hash:
        return f"{lib.name} does not match the sha256 recorded at build time (replaced)"
    return None


def discard(lib: Path) -> None:
    """Remove a refused library and its sidecar (only plain files in our private folder; errors ignored)."""
    for p in (lib, sidecar(lib)):
        try:
            if p.is_file() and not p.is_symlink():
                p.unlink()
        except OSError:
            pass


def remember_failure(cache: Path, key: str, reason: str) -> None:
    try:
        _write_atomic(failure_marker(cache, key), reason.replace("\n", " ")[:500] + "\n")
    except OSError:
        pass


def recalled_failure(cache: Path, key: str) -> str | None:
    """The remembered reason of a failed build of `key`, or None."""
    marker = failure_marker(cache, key)
    try:
        if _owned_private_file(marker):
            return None
        with open(marker, "rb") as f:
            return f.read(600).decode("utf-8", "replace").strip() or "failed"
    except OSError:
        return None
