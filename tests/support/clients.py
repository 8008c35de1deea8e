"""The users' real engines from ../shared/clients, built once and cached between test runs.

`../shared/clients` holds upstream nanoBragg and the port team's golden C build as C sources, their PyTorch port
`nanobrag_torch` and their `nb_compare.py` (see its README). The tests run the real thing, never a copy: the C
programs are compiled with the flags the clients' README gives, the port is installed with `--no-deps` into its own
virtual environment (torch pinned, as its unpinned `torch>=2.3` would pull a CUDA build).

Builds land in a cache folder (`$NBPARITY_CLIENTS_CACHE`, default `~/.cache/nbparity/test-clients`), one folder per
key (the sha256 of the sources and the build command), written to a temporary name and renamed when complete, so a
killed build never leaves a half folder under a good name. The cache is untrusted like any file read back: a folder is
used only when its `stamp.json` names the same key and the files it lists still have the recorded sizes and hashes.
A lock file serialises concurrent builders (two pytest processes, two worktrees).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO.parent / "shared" / "clients"

C_PROGRAMS = {
    # name -> (source folder, compiler flags from the clients' README)
    "upstream": ("nanoBragg-upstream", ["-O3", "-fopenmp"]),
    "golden": ("nanoBragg-golden", ["-O2", "-fno-fast-math", "-ffp-contract=off", "-DTRACING=1", "-fopenmp"]),
}
PORT_PACKAGES = ["torch==2.13.*", "numpy", "fabio", "scipy", "pillow"]
BUILD_TIMEOUT_S = 900


class ClientUnavailable(RuntimeError):
    """A client cannot be built or found here; the message says why (used as a pytest skip reason)."""


@dataclass(frozen=True)
class Port:
    """The port team's PyTorch port installed in its own venv.

    `python`: the venv's interpreter; `command`: a wrapper script that runs `python -m nanobrag_torch` with
    `NANOBRAGG_DISABLE_COMPILE=1` (as the port's docs advise for debugging), usable as `bin:PATH` or in nb-compare's
    `--py-bin`; `nb_compare`: their comparison script (run with `python`).
    """
    python: Path
    command: Path
    nb_compare: Path


def cache_root() -> Path:
    root = os.environ.get("NBPARITY_CLIENTS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "nbparity" / "test-clients"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tree_hash(folder: Path) -> str:
    """sha256 over the relative names and contents of every regular file under `folder` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode())
            h.update(_sha256(p).encode())
    return h.hexdigest()


def _stamp_ok(folder: Path, key: str) -> bool:
    """True when `folder/stamp.json` names `key` and every file it lists has its recorded size and hash."""
    try:
        stamp = json.loads((folder / "stamp.json").read_text())
        if stamp.get("key") != key or not isinstance(stamp.get("files"), dict):
            return False
        for rel, (size, digest) in stamp["files"].items():
            p = folder / rel
            if p.is_symlink() or not p.is_file() or p.stat().st_size != size or _sha256(p) != digest:
                return False
        return True
    except (OSError, ValueError, TypeError):
        return False


def _cached(name: str, key: str, build: Callable[[Path], list[str]]) -> Path:
    """The folder of a finished build of `name` under `key`, building it first (under a lock) when needed.

    `build(tmp)` fills `tmp` and returns the files (relative) whose size and hash the stamp records.
    """
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = root / f"{name}-{key[:16]}"
    if _stamp_ok(final, key):
        return final
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp_ok(final, key):
            return final
        shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            files = build(tmp)
            stamp = {"key": key, "files": {f: [(tmp / f).stat().st_size, _sha256(tmp / f)] for f in files}}
            (tmp / "stamp.json").write_text(json.dumps(stamp, indent=1))
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClientUnavailable(f"{cmd[0]} failed: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise ClientUnavailable(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")


def require_clients() -> Path:
    """The clients folder, or ClientUnavailable saying where it was looked for."""
    if not (CLIENTS / "README.md").is_file():
        raise ClientUnavailable(f"the real clients are not at {CLIENTS} (needs ../shared beside the clone)")
    return CLIENTS


def c_program(name: str) -> Path:
    """Path of the built C program `name` ("upstream" or "golden"), compiled as the clients' README says."""
    folder, flags = C_PROGRAMS[name]
    source = require_clients() / folder / "nanoBragg.c"
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise ClientUnavailable("no C compiler (gcc) on PATH")
    cc_id = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    key = hashlib.sha256(json.dumps([_sha256(source), flags, cc_id]).encode()).hexdigest()
    exe = f"nb_{name}"

    def build(tmp: Path) -> list[str]:
        _run([cc, *flags, "-o", str(tmp / exe), str(source), "-lm"])
        return [exe]

    return _cached(f"c-{name}", key, build) / exe


def port() -> Port:
    """The port team's `nanobrag_torch` in its own venv (torch pinned, the port installed with --no-deps)."""
    src = require_clients() / "nanobrag_torch"
    key = hashlib.sha256(json.dumps([_tree_hash(src), PORT_PACKAGES, sys.version]).encode()).hexdigest()

    def build(tmp: Path) -> list[str]:
        venv = tmp / "venv"
        _run([sys.executable, "-m", "venv", str(venv)])
        py = venv / "bin" / "python"
        _run([str(py), "-m", "pip", "install", "-q", *PORT_PACKAGES])
        # The shared folder is read-only in CI and pip builds in the source tree: build from a copy.
        with tempfile.TemporaryDirectory(prefix="nbparity-port-src-") as copy:
            shutil.copytree(src, Path(copy) / "nanobrag_torch")
            _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                  str(Path(copy) / "nanobrag_torch")])
        wrapper = tmp / "nanobrag_torch_cmd"
        wrapper.write_text(
            "#!/bin/sh\n# The port team's PyTorch port, torch.compile off (their advice for debugging).\n"
            "NANOBRAGG_DISABLE_COMPILE=1 KMP_DUPLICATE_LIB_OK=TRUE\n"
            "export NANOBRAGG_DISABLE_COMPILE KMP_DUPLICATE_LIB_OK\n"
            f'exec "{tmp.parent / ("port-" + key[:16]) / "venv" / "bin" / "python"}" -m nanobrag_torch "$@"\n')
        wrapper.chmod(0o755)
        return ["nanobrag_torch_cmd"]

    folder = _cached("port", key, build)
    return Port(python=folder / "venv" / "bin" / "python", command=folder / "nanobrag_torch_cmd",
                nb_compare=src / "scripts" / "nb_compare.py")
