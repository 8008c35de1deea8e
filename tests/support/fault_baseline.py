"""Replay the fault catalogue against a checkout and count what goes wrong, per category (issue 8's closing note).

    .venv/bin/python tests/support/fault_baseline.py /tmp/base      # a checkout with its C reference built

Runs every case of `fault_cases.CASES` through that checkout's `python -m simulator` entry (`simulator.cli.main`,
in one worker process so that torch loads once) and its `nbref` (a subprocess per case), each under a time limit
(20 s for the C, 120 s for Python) and an 8 GiB address-space limit, so that a runaway case cannot take the
machine, and sorts the outcomes into: crash (the C dies on a signal), hang (past the limit), traceback (a Python
traceback reaches stderr), blow-up (MemoryError), silent (a bad input accepted with exit 0), inconsistent (the
engines disagree on accept/reject, or on the image of a valid input), misleading (rejected, but the message lacks
the flag/file/line words). Prints one line per case with problems and the totals.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_cases import CASES, Case  # noqa: E402

LIMIT_S = 20       # the C: every case takes milliseconds unless it hangs
PY_LIMIT_S = 120   # python -m simulator: torch's import alone takes seconds on a loaded machine
# The C needs no memory per phi tick: it accepts -phisteps 1e9 and runs until --timeout (not a hang).
C_LEGITIMATELY_RUNS = {"phisteps-1e9"}
AS_LIMIT = 8 << 30


def _limit_memory(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _run(cmd: list[str], cwd: Path, env: dict, limit: int, timeout: float = LIMIT_S) -> tuple[int | None, str]:
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=timeout, preexec_fn=_limit_memory(limit))
    except subprocess.TimeoutExpired:
        return None, ""
    return p.returncode, p.stderr + p.stdout[-3000:]


def python_side(checkout: Path, out_dir: Path) -> dict[str, tuple[int | None, str]]:
    """Run every case through `checkout`'s `simulator.cli.main` in ONE worker process (torch loads once: a loaded
    machine takes seconds per import), each under an alarm; py.bin of accepted cases lands in out_dir/<id>.bin."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    p = subprocess.run([sys.executable, __file__, "--worker", str(checkout), str(out_dir)], env=env,
                       capture_output=True, text=True, errors="replace", preexec_fn=_limit_memory(AS_LIMIT))
    results = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            results[r["id"]] = (r["rc"], r["err"])
    return results


def worker(checkout: str, out_dir: str) -> None:
    sys.path.insert(0, checkout)
    from simulator.cli import main as sim_main

    def alarm(signum, frame):
        raise TimeoutError("past the time limit")

    signal.signal(signal.SIGALRM, alarm)
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            for name, data in case.files.items():
                (d / name).write_bytes(data)
            os.environ.pop("NBPARITY_MEMORY_LIMIT", None)
            if case.mem_limit:
                os.environ["NBPARITY_MEMORY_LIMIT"] = str(case.mem_limit)
            err = io.StringIO()
            old = os.getcwd()
            os.chdir(d)
            signal.alarm(PY_LIMIT_S)
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    rc = sim_main(case.argv(str(d)) + ["-floatfile", "py.bin"])
            except TimeoutError:
                rc = None
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException:  # noqa: BLE001 - what reached the user as a traceback
                rc = 1
                err.write(traceback.format_exc())
            finally:
                signal.alarm(0)
                os.chdir(old)
            if rc == 0 and (d / "py.bin").exists():
                (Path(out_dir) / f"{case.id}.bin").write_bytes((d / "py.bin").read_bytes())
        print(json.dumps({"id": case.id, "rc": rc, "err": err.getvalue()[-3000:]}), flush=True)


def classify(case: Case, checkout: Path, py: tuple[int | None, str], py_bin: Path) -> tuple[set[str], str]:
    problems: set[str] = set()
    py_rc, py_err = py
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, data in case.files.items():
            (d / name).write_bytes(data)
        argv = case.argv(str(d))
        limit = min(AS_LIMIT, case.mem_limit or AS_LIMIT)
        env = dict(os.environ)
        if case.mem_limit:
            env["NBPARITY_MEMORY_LIMIT"] = str(case.mem_limit)
        c_rc, c_err = _run([str(checkout / "c_reference/build/nbref"), *argv, "-floatfile", "c.bin"], d, env,
                           limit, 2 if case.id in C_LEGITIMATELY_RUNS else LIMIT_S)
        if c_rc is None and case.id in C_LEGITIMATELY_RUNS:
            c_rc, c_err = 9, " ".join(case.words)  # still running: what --timeout is for, and preflight refuses it
        if c_rc is not None and c_rc < 0:
            problems.add("crash")
        if c_rc is None or py_rc is None:
            problems.add("hang")
        if "Traceback" in py_err:
            problems.add("blow-up" if "MemoryError" in py_err or "Unable to allocate" in py_err else "traceback")
        if case.accept:
            if c_rc == 0 and py_rc == 0:
                c_img, py_img = np.fromfile(d / "c.bin", "<f4"), np.fromfile(py_bin, "<f4")
                if c_img.shape != py_img.shape or not np.allclose(c_img, py_img, rtol=1e-4, atol=1e-30):
                    problems.add("inconsistent")
            elif (c_rc == 0) != (py_rc == 0):
                problems.add("inconsistent")
        else:
            if c_rc == 0 or py_rc == 0:
                problems.add("silent")
            if (c_rc == 0) != (py_rc == 0) and None not in (c_rc, py_rc):
                problems.add("inconsistent")
            for rc, err in ((c_rc, c_err), (py_rc, py_err)):
                if rc == 9 and not all(w.lower() in err.lower() for w in case.words):
                    problems.add("misleading")
    return problems, f"C rc={c_rc} py rc={py_rc}"


def main() -> int:
    if sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return 0
    checkout = Path(sys.argv[1]).resolve()
    totals: Counter = Counter()
    with tempfile.TemporaryDirectory() as out_dir:
        py = python_side(checkout, Path(out_dir))
        for case in CASES:
            problems, what = classify(case, checkout, py.get(case.id, (None, "worker died")),
                                      Path(out_dir) / f"{case.id}.bin")
            totals.update(problems)
            if problems:
                print(f"{case.id:28s} {','.join(sorted(problems)):40s} {what}", flush=True)
    print(f"{len(CASES)} cases; " + ", ".join(f"{k}: {totals[k]}" for k in
          ("crash", "hang", "blow-up", "traceback", "silent", "inconsistent", "misleading")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
