"""The long fuzz run, by hand (issue 22): N inputs per reader through the PyTorch side and through nbref.

    .venv/bin/python tests/support/fuzz_long.py [--n 10000] [--readers argv,smv,hkl] [--sides python,c] [--jobs 2]
                                        [--limit 5] [--c-binary c_reference/build/nbref]

Prints, per reader and side: inputs, accepted, documented errors (ConfigError / exit 9), estimated long runs (nbref
announced its estimate and was still working at the bound), undocumented exceptions, hangs and floods, with the
seeds of the first findings (replay one with fuzz_inputs.py: materialise(reader, seed, folder)). Exit status
1 when anything was found. The in-suite run (tests/faults/test_fuzz.py) uses the same inputs, fewer of them.
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from fuzz_inputs import READERS, c_verdict, is_finding, python_verdict  # noqa: E402

KINDS = ("accepted", "refused", "estimated", "undocumented", "hang", "flood")


def _run_one(side: str, binary: Path, reader: str, seed: int, limit: float) -> str:
    with tempfile.TemporaryDirectory(prefix="nbfuzz-") as d:
        if side == "python":
            return python_verdict(reader, seed, Path(d), limit)
        return c_verdict(binary, reader, seed, Path(d), limit)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="inputs per reader and side")
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--sides", default="python,c")
    ap.add_argument("--jobs", type=int, default=2, help="nbref processes at once")
    ap.add_argument("--limit", type=float, default=5.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--c-binary", type=Path, default=HERE.parents[1] / "c_reference" / "build" / "nbref")
    ap.add_argument("--first-seed", type=int, default=0)
    a = ap.parse_args(argv)
    import os
    os.environ["NBPARITY_MEMORY_LIMIT"] = str(64 << 20)
    found = 0
    for side in a.sides.split(","):
        for reader in a.readers.split(","):
            seeds = range(a.first_seed, a.first_seed + a.n)
            if side == "python":   # the interval timer needs the main thread
                verdicts = [_run_one(side, a.c_binary, reader, s, a.limit) for s in seeds]
            else:
                with ThreadPoolExecutor(a.jobs) as ex:
                    verdicts = list(ex.map(lambda s, r=reader, sd=side: _run_one(sd, a.c_binary, r, s, a.limit),
                                           seeds))
            counts = collections.Counter(v.split(":")[0] for v in verdicts)
            findings = [(s, v) for s, v in zip(seeds, verdicts, strict=True) if is_finding(v)]
            found += len(findings)
            print(f"{side:6} {reader:4}: {a.n} inputs, {counts['accepted']} accepted, {counts['refused']} documented "
                  f"errors, {counts['estimated']} estimated long runs, {counts['undocumented']} undocumented "
                  f"exceptions, {counts['hang']} hangs, {counts['flood']} floods", flush=True)
            for s, v in findings[:5]:
                print(f"    seed {s}: {v}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
