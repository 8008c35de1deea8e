"""The set-up is the same bits on every instruction set (issue 18, AT-PARALLEL-024's root cause).

The 024 case (`-misset_seed 12345`, which upstream also reads as `-misset 12345 0 0`) has a crystal of exactly
5 x 100 Å and a reciprocal pixel of 1 Å x 100 mm / 0.4 mm = 250 Å, so 3 * 500 / 250 = 6: the automatic
oversampling is ceil() of a value within an ulp of 6, and the C reference computes it one ulp above (7-fold).
Before the fix the Python set-up took |c| from `np.linalg.norm` and rotated with `@` (OpenBLAS kernels chosen per
CPU): the SkylakeX/Prescott kernels gave 6, Haswell/Zen ones 7. Here the set-up runs in child processes under
several OpenBLAS cores and narrowed numpy dispatch; every value must be bit-identical and equal the C's choice.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path


from narrow_isa import narrowed_env

REPO = Path(__file__).resolve().parents[2]
ARGS = ("-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.4 -detpixels 128 "
        "-misset random -misset_seed 12345 -floatfile out.bin").split()
PROBE = ("import json, sys\n"
         "from simulator.argv import parse_argv\n"
         "from simulator.setup import build_setup\n"
         "s = build_setup(parse_argv(sys.argv[1:]).config)\n"
         "c, g = s.crystal, s.geometry\n"
         "vals = [float(x) for v in (c.a0, c.b0, c.c0, c.a_star, c.b_star, c.c_star, g.pix0, g.fdet, g.sdet, g.odet)"
         " for x in v]\n"
         "print(json.dumps({'oversample': s.oversample, 'bits': [v.hex() for v in vals],"
         " 'log': [ln for ln in s.log if 'oversampling' in ln]}))\n")
CORES = ["", "Prescott", "Haswell", "SkylakeX", "Zen"] if platform.machine() == "x86_64" else [""]


def _probe(tmp_path: Path, **env) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")}
    full.update(env, PYTHONPATH=str(REPO))   # this checkout's modules, whatever the venv's editable install says
    p = subprocess.run([sys.executable, "-c", PROBE, *ARGS], cwd=tmp_path, env=full, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_setup_bits_do_not_depend_on_blas_kernels_or_numpy_dispatch(tmp_path: Path) -> None:
    runs = {core or "default": _probe(tmp_path, **({"OPENBLAS_CORETYPE": core} if core else {})) for core in CORES}
    runs["narrowed"] = _probe(tmp_path, **narrowed_env())
    first = next(iter(runs.values()))
    for name, r in runs.items():
        assert r == first, f"{name} differs from {next(iter(runs))}"
    assert first["oversample"] == 7 and first["log"] == ["auto-selected 7-fold oversampling"]


def test_the_c_reference_chooses_the_same_oversampling(tmp_path: Path, c_binary: Path) -> None:
    p = subprocess.run([str(c_binary), *ARGS], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    m = re.search(r"auto-selected (\d+)-fold oversampling", p.stdout)
    assert m, p.stdout[-2000:]
    assert int(m.group(1)) == _probe(tmp_path)["oversample"] == 7
    # and the console's sign of zero (the "X: 100.00000000  0.00000000" vs "-0.00000000")
    py = subprocess.run([sys.executable, "-m", "simulator", *ARGS], cwd=tmp_path, capture_output=True, text=True,
                        timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    rows = [ln for ln in p.stdout.splitlines() if re.match(r"[XYZ]: ", ln)]
    assert rows and rows == [ln for ln in py.stdout.splitlines() if re.match(r"[XYZ]: ", ln)]
