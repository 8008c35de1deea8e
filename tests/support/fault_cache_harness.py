"""Plants the faults of `tests/support/fault_cases_cache.py` and classifies what an entry point of a checkout did.

Every case runs in its own folder: a private cache ($NBPARITY_CACHE_DIR), fake compilers (shell scripts) and the
files they write. `GOOD_SO` is a correct kernel library: the fake "compiler" that copies it builds in
milliseconds, so the cases that refuse a file and rebuild stay cheap. The entry points are a child Python process
rendering a 16 x 16 image through `simulator.engine.render` (what the window and `nbparity compare` call) and
`nbparity compare` itself (signals and --timeout).
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fault_cases_cache import CacheCase
from proc_util import gone

ARGV = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "2", "-default_F", "100", "-lambda", "1",
        "-distance", "100", "-pixel", "0.1", "-detpixels", "16", "-oversample", "1"]
RENDER = ("import json, logging, sys\n"
          "import numpy as np\n"
          "logging.basicConfig(level=logging.WARNING, format='LOG %(levelname)s %(name)s: %(message)s')\n"
          "from simulator.argv import parse_argv\n"
          "from simulator.engine import render\n"
          "r = render(parse_argv(sys.argv[1:]).config, dtype='float64')\n"
          "print('RESULT ' + json.dumps({'kernel': r.meta.get('kernel'),"
          " 'finite': bool(np.isfinite(np.asarray(r.image)).all())}))\n")
OTHER_UID = 65534

COPY_CXX = '#!/bin/sh\nout=""; prev=""\nfor a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n' \
           'exec cp "$NBP_GOOD_SO" "$out"\n'
HANG_CXX = '#!/bin/sh\necho $$ >> "$NBP_PIDS"\nsleep 600 &\necho $! >> "$NBP_PIDS"\nwait\n'
FAST_MATH_CXX = '#!/bin/sh\nexec g++ "$@" -ffast-math\n'
GARBAGE_CXX = '#!/bin/sh\nout=""; prev=""\nfor a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n' \
              'head -c 4096 /dev/urandom > "$out"\n'
FAILING_CXX = '#!/bin/sh\necho "fastkernel.cpp:1:1: error: this compiler is broken on purpose" >&2\nexit 1\n'
PLANTED_C = ('#include <stdio.h>\n#include <stdlib.h>\n'
             '__attribute__((constructor)) static void planted(void) {\n'
             '    const char *p = getenv("NBP_MARKER"); FILE *f = p ? fopen(p, "w") : NULL;\n'
             '    if (f) { fputs("planted code ran\\n", f); fclose(f); }\n}\n')


@dataclass
class Run:
    """What one entry point did."""

    rc: int | None                       # None: still running at the limit (then killed)
    out: str
    err: str
    pids: list[int] = field(default_factory=list)    # fake compiler processes (to check for orphans)
    marker: bool = False                 # the planted constructor ran
    open_paths: list[str] = field(default_factory=list)   # cache paths of ours that others may write


def _script(folder: Path, name: str, text: str) -> str:
    p = folder / name
    p.write_text(text)
    p.chmod(0o755)
    return str(p)


def _kernels(env: dict) -> Path:
    return Path(env["NBPARITY_CACHE_DIR"]) / "kernels"


def _libs(env: dict) -> list[Path]:
    return sorted(_kernels(env).glob("fastkernel-*.so"))


def base_env(folder: Path, checkout: Path, good_so: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBPARITY_", "CXX"))}
    env.update(NBPARITY_CACHE_DIR=str(folder / "cache"), NBP_GOOD_SO=str(good_so), NBP_PIDS=str(folder / "pids"),
               NBP_MARKER=str(folder / "marker"), PYTHONPATH=str(checkout), OMP_NUM_THREADS="1",
               QT_QPA_PLATFORM="offscreen", CXX=_script(folder, "copy-cxx", COPY_CXX))
    return env


def _populate(env: dict, checkout: Path, limit_s: float) -> None:
    """One render with the copying compiler: the cache holds a good library (and, here, its sidecar)."""
    _render(env, checkout, limit_s)
    if not _libs(env):
        raise RuntimeError(f"populating the cache built nothing in {_kernels(env)}")


def plant(name: str, folder: Path, env: dict, checkout: Path, limit_s: float) -> dict:
    """Do the set-up step `name`; returns the environment of the measured run."""
    if name in ("truncate", "empty", "planted", "planted_keep_sidecar", "sidecar_garbage"):
        _populate(env, checkout, limit_s)
        for lib in _libs(env):
            if name == "truncate":
                os.truncate(lib, lib.stat().st_size // 2)
            elif name == "empty":
                os.truncate(lib, 0)
            elif name.startswith("planted"):
                src = folder / "planted.c"
                src.write_text(PLANTED_C)
                subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
                side = lib.with_suffix(".json")
                if name == "planted" and side.exists():
                    side.unlink()
            else:
                lib.with_suffix(".json").write_bytes(os.urandom(64))
    elif name in ("hanging_cxx", "hanging_cxx_long"):
        env["CXX"] = _script(folder, "hang-cxx", HANG_CXX)
        env["NBPARITY_BUILD_BUDGET_S"] = "3" if name == "hanging_cxx" else "600"
    elif name == "fast_math_cxx":
        env["CXX"] = _script(folder, "fast-math-cxx", FAST_MATH_CXX)
    elif name == "garbage_cxx":
        env["CXX"] = _script(folder, "garbage-cxx", GARBAGE_CXX)
    elif name == "failing_cxx":
        env["CXX"] = _script(folder, "failing-cxx", FAILING_CXX)
    elif name == "umask0":
        env["NBP_UMASK"] = "0"
    elif name == "open_dir":
        k = _kernels(env)
        k.mkdir(parents=True)
        k.chmod(0o777)
        k.parent.chmod(0o777)
    elif name == "other_owner":
        k = _kernels(env)
        k.mkdir(parents=True)
        os.chown(k, OTHER_UID, OTHER_UID)   # needs root: the test skips the case otherwise
        k.chmod(0o755)
    elif name == "symlink_dir":
        real = folder / "elsewhere"
        real.mkdir(mode=0o700)
        Path(env["NBPARITY_CACHE_DIR"]).mkdir(mode=0o700)
        _kernels(env).symlink_to(real)
    elif name == "cache_file":
        f = folder / "a-file"
        f.write_text("not a folder\n")
        env["NBPARITY_CACHE_DIR"] = str(f)
    elif name == "cache_proc":
        env["NBPARITY_CACHE_DIR"] = "/proc/nbparity-cache"
    elif name == "home_proc":
        del env["NBPARITY_CACHE_DIR"]
        env.pop("XDG_CACHE_HOME", None)
        env["HOME"] = "/proc/nbparity-home"
    else:
        raise ValueError(f"unknown plant step {name!r}")
    return env


def _preexec(env: dict):
    umask = env.get("NBP_UMASK")
    return (lambda: os.umask(int(umask, 8))) if umask is not None else None


def _render(env: dict, checkout: Path, limit_s: float) -> tuple[int | None, str, str]:
    proc = subprocess.Popen([sys.executable, "-c", RENDER, *ARGV], cwd=checkout, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_preexec(env),
                            start_new_session=True)
    return _finish(proc, limit_s)


def _finish(proc: subprocess.Popen, limit_s: float) -> tuple[int | None, str, str]:
    try:
        out, err = proc.communicate(timeout=limit_s)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


def _compare(env: dict, checkout: Path, folder: Path, limit_s: float, sigterm: bool) -> tuple[int | None, str, str]:
    argv = [sys.executable, "-m", "app", "compare", "--a", "torch", "--b", "torch", "--out", str(folder / "out")]
    if not sigterm:
        argv += ["--timeout", "4"]
    proc = subprocess.Popen(argv + ["--"] + ARGV, cwd=checkout, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    if sigterm:
        pids = Path(env["NBP_PIDS"])
        end = time.monotonic() + limit_s   # the compiler starts once torch is imported (seconds)
        while not (pids.exists() and pids.read_text().count("\n") >= 2) and proc.poll() is None \
                and time.monotonic() < end:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    return _finish(proc, limit_s)


def run_case(case: CacheCase, folder: Path, checkout: Path, good_so: Path, limit_s: float = 120.0) -> Run:
    """Plant `case`'s fault under `folder` and run its entry point against `checkout`."""
    env = plant(case.plant, folder, base_env(folder, checkout, good_so), checkout, limit_s)
    if case.entry == "render-twice":
        _render(env, checkout, limit_s)
        Path(env["NBP_PIDS"]).unlink(missing_ok=True)   # only the second process's compiler counts
    if case.entry.startswith("compare"):
        rc, out, err = _compare(env, checkout, folder, limit_s, sigterm=case.entry == "compare-sigterm")
    else:
        rc, out, err = _render(env, checkout, limit_s)
    pid_file = Path(env["NBP_PIDS"])
    pids = [int(x) for x in pid_file.read_text().split()] if pid_file.exists() else []
    run = Run(rc, out, err, pids=[p for p in pids if not gone(p, 2.0)], marker=Path(env["NBP_MARKER"]).exists())
    for p in (pids if run.pids else []):
        try:
            os.kill(p, signal.SIGKILL)   # the harness never leaves them behind
        except ProcessLookupError:
            pass
    cache = Path(env.get("NBPARITY_CACHE_DIR", "/nonexistent"))
    for p in [cache, cache / "kernels", *(cache / "kernels").glob("*")] if cache.is_dir() else []:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022:
            run.open_paths.append(f"{p.name} {stat.S_IMODE(st.st_mode):o}")
    return run


def classify(case: CacheCase, run: Run) -> tuple[str, str]:
    """(outcome class, one line of evidence) for `run` (see fault_cases_cache)."""
    if run.rc is None:
        return "hang", "still running at the harness's limit"
    if run.rc < 0 or (run.rc > 128 and not case.entry.startswith("compare")):
        return "crash", f"exit {run.rc}"
    if run.marker:
        return "unsafe", "the planted library's constructor ran"
    if run.open_paths:
        return "unsafe", "open to others: " + ", ".join(run.open_paths)
    if run.pids:
        return "orphan", f"compiler processes left running: {run.pids}"
    if "Traceback" in run.err:
        return "traceback", run.err.strip().splitlines()[-1][:200]
    if case.entry == "compare-sigterm":
        if run.rc == 128 + signal.SIGTERM and "stopped by SIGTERM" in run.err:
            return "stopped", "exit 143, stopped by SIGTERM"
        return "misleading", f"exit {run.rc}: {run.err.strip()[-200:]}"
    if case.entry == "compare-timeout":
        if run.rc == 2 and "timed out after 4 s" in run.err + run.out:   # 2: an engine failed (app.cli.main)
            return "stopped", "exit 2, timed out after 4 s"
        return "misleading", f"exit {run.rc}: {(run.err + run.out).strip()[-200:]}"
    result = next((json.loads(ln[7:]) for ln in run.out.splitlines() if ln.startswith("RESULT ")), None)
    if result is None:
        return "misleading", f"exit {run.rc}, no result: {run.err.strip()[-200:]}"
    lines = [ln for ln in run.err.splitlines() if ln.startswith("LOG WARNING simulator.compiled")]
    if not result["finite"]:
        return "silent", "a NaN or infinite image was returned"
    if result["kernel"] == "compiled":
        if case.expect != "compiled" and case.plant in ("other_owner", "symlink_dir"):
            return "unsafe", "rendered with a library from a cache folder another user controls"
        return ("compiled", "rendered by the compiled kernel") if not lines else \
            ("misleading", f"compiled, but: {lines[0]}")
    if not lines:
        return "silent", "the torch path ran and nothing said why"
    if len(lines) > 1:
        return "misleading", f"{len(lines)} lines: {lines[:2]}"
    missing = [w for w in case.words if w.lower() not in lines[0].lower()]
    if missing:
        return "misleading", f"{lines[0][:200]} (missing {missing})"
    return "eager", lines[0][:200]
