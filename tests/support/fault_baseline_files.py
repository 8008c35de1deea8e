"""Replay the file fault catalogue (`fault_cases_files.CASES`) against checkouts and count the outcome classes.

    .venv/bin/python tests/support/fault_baseline_files.py /tmp/base [/work/wt-iss18b]   # before [-> after]

Each row runs in its own Python process with the checkout first on sys.path (its `app`, `simulator`, `tracing`;
the probes are this folder's), in a fresh scratch folder, under a time limit (HANG_S; the whole process group is
killed past it) and an address-space limit. Outcomes: what `fault_probes_files.observe` says, or hang (past the
limit), crash (the process died on a signal). Prints one line per row that is not handled, then the counts per
class and per surface; with two checkouts, before -> after for each class.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fault_cases_files import CASES, CLASSES, SURFACES  # noqa: E402

HANG_S = 90          # every row takes seconds (torch's import included) unless it hangs
AS_LIMIT = 8 << 30


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    os.setsid()   # its own process group: a hang is killed whole (dask workers included)


def run_one(checkout: Path, case_id: str) -> tuple[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), str(HERE)]), QT_QPA_PLATFORM="offscreen")
    p = subprocess.Popen([sys.executable, __file__, "--one", str(checkout), case_id], env=env, cwd=checkout,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                         preexec_fn=_limits)
    try:
        out, err = p.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return "hang", f"past {HANG_S} s"
    if p.returncode < 0:
        return "crash", f"died on signal {-p.returncode}: {err[-300:]}"
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            r = json.loads(line)
            return r["cls"], r["message"]
    return "traceback", err[-500:] or f"exit {p.returncode} without a result"


def one(checkout: str, case_id: str) -> None:
    sys.path.insert(0, checkout)
    from fault_probes_files import observe
    case = next(c for c in CASES if c.id == case_id)
    with tempfile.TemporaryDirectory(prefix="nbfault-") as tmp:
        cls, message = observe(case, Path(tmp))
    print(json.dumps({"cls": cls, "message": message[-400:]}), flush=True)
    os._exit(0)   # no teardown of Qt or dask left to hang the count


def replay(checkout: Path) -> dict[str, str]:
    results = {}
    for case in CASES:
        if "nonroot" in case.needs and os.geteuid() == 0:
            results[case.id] = "skipped"
            continue
        cls, message = run_one(checkout, case.id)
        results[case.id] = cls
        if cls != "handled":
            print(f"  {checkout.name}: {case.id:32s} {cls:10s} {message[:150]!r}", flush=True)
    return results


def counts(results: dict[str, str]) -> Counter:
    return Counter(results.values())


def main() -> int:
    if sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3])
        return 0
    runs = [(Path(a).resolve(), replay(Path(a).resolve())) for a in sys.argv[1:3]]
    n = sum(1 for c in CASES if not ("nonroot" in c.needs and os.geteuid() == 0))
    print(f"\n{n} rows run ({len(CASES) - n} skipped as root)")
    for cls in CLASSES:
        print(f"  {cls:11s} " + " -> ".join(str(counts(r)[cls]) for _, r in runs))
    for surface in SURFACES:
        ids = {c.id for c in CASES if c.surface == surface}
        parts = []
        for _, r in runs:
            c = Counter(v for k, v in r.items() if k in ids and v != "skipped")
            parts.append(f"{c['handled']}/{sum(c.values())} handled")
        print(f"  {surface:9s} " + " -> ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
