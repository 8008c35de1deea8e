"""Finding and checking the C binary: NB_C_BIN, else our reference build at c_reference/build/nbref."""
from __future__ import annotations

import os
from pathlib import Path

from tracing.bundle import sha256_file
from tracing.records import EngineError

HERE = Path(__file__).resolve().parent
REFERENCE_BINARY = HERE / "build" / "nbref"
ENV_VAR = "NB_C_BIN"

_sha_cache: dict[tuple[str, int, int], str] = {}


def default_binary() -> Path:
    """$NB_C_BIN when set (relative paths are taken from the current folder), else c_reference/build/nbref."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser().resolve() if env else REFERENCE_BINARY


def check_binary(binary: Path | str | None) -> Path:
    """Absolute path of an existing executable file, or EngineError saying what is wrong and how to fix it."""
    path = Path(binary).expanduser().resolve() if binary is not None else default_binary()
    hint = ("build it with `make -C c_reference`" if path == REFERENCE_BINARY
            else f"check the path (set by {ENV_VAR} or the binary option)")
    if not path.exists():
        raise EngineError(f"C binary not found: {path} ({hint})")
    if not path.is_file():
        raise EngineError(f"C binary is not a file: {path}")
    if not os.access(path, os.X_OK):
        raise EngineError(f"C binary is not executable: {path} (chmod +x it)")
    return path


def binary_sha256(path: Path) -> str:
    """sha256 of the binary, cached by (path, size, mtime) so repeated runs do not re-hash."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _sha_cache:
        _sha_cache[key] = sha256_file(path)
    return _sha_cache[key]
