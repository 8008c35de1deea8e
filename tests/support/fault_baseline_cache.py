"""Counts per outcome class of the cache/build fault catalogue for a checkout, and before -> after.

    .venv/bin/python tests/support/fault_baseline_cache.py [--before OLD_CHECKOUT] [--limit S] [--only ID ...]

Runs every row of tests/support/fault_cases_cache.py against this checkout (after) and, with --before, against an older
checkout (e.g. `git worktree add /tmp/base 0f89551`), printing one line per case and the counts per class. The
correct library the copying fake compiler uses is this checkout's compiled kernel (the ABI did not change).
"""
from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from simulator import compiled
from fault_cache_harness import classify, run_case
from fault_cases_cache import CACHE_CASES

REPO = Path(__file__).resolve().parents[2]


def outcomes(checkout: Path, good_so: Path, limit_s: float, only: list[str]) -> dict[str, tuple[str, str]]:
    res = {}
    for case in CACHE_CASES:
        if only and case.id not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"nbp-cache-{case.id}-") as d:
            try:
                res[case.id] = classify(case, run_case(case, Path(d), checkout, good_so, limit_s))
            except Exception as e:  # noqa: BLE001 - a case the checkout cannot even set up
                res[case.id] = ("harness-error", f"{type(e).__name__}: {e}")
        print(f"  {checkout.name}: {case.id:<34} {res[case.id][0]:<10} {res[case.id][1][:110]}", flush=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="an older checkout to compare with")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds before a run counts as a hang")
    ap.add_argument("--only", nargs="*", default=[])
    opts = ap.parse_args()
    k = compiled.kernel()
    if k is None:
        print(f"no compiled kernel here: {compiled.unavailable_reason()}")
        return 2
    after = outcomes(REPO, k.path, opts.limit, opts.only)
    before = outcomes(opts.before.resolve(), k.path, opts.limit, opts.only) if opts.before else {}
    classes = sorted(set(v[0] for v in after.values()) | set(v[0] for v in before.values()))
    ca, cb = Counter(v[0] for v in after.values()), Counter(v[0] for v in before.values())
    print(f"{len(after)} cases; outcome class: " + ("before -> after" if before else "after"))
    for c in classes:
        print(f"  {c:<12} " + (f"{cb[c]:>3} -> {ca[c]:>3}" if before else f"{ca[c]:>3}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
