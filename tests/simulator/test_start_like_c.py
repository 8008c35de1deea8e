"""Start like C (issue 19): `python -m simulator` on a command line the compiled kernel renders imports neither torch
nor Qt nor dask (`python -X importtime` lists every module a process imports), and its images are the engine's
bit for bit; the torch-free pieces (numpy F grid, render_fast) give exactly what the torch-loaded ones give."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import compiled, fastpath
from simulator.argv import parse_argv
from simulator.engine import render
from simulator.render_compiled import render_fast
from simulator.setup import build_setup

from parity_util import c_image
from test_simulator_compiled import exact_cases, write_hkl

REPO = Path(__file__).resolve().parents[2]
# Case (a) of app/cli/bench.py on a 128^2 detector (the same set-up and imports, a test-sized render).
CASE_A = "-cell 100 100 100 90 90 90 -default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.1 -detpixels 128"


def small_cell_hkl(tmp_path) -> str:
    """An HKL file on a 20-24 A cell: the padded F grid (reach 2|a|/lambda + 2 = 50 per axis, under
    fastpath.MAX_PADDED_CELLS), filled by numpy where torch is not loaded."""
    return (f"-cell 20 22 24 90 90 90 -misset 10 20 30 -hkl {write_hkl(tmp_path / 'F.hkl')} -default_F 3 "
            "-nointerpolate -N 5 -lambda 1 -distance 100 -pixel 0.1 -detpixels 64")


HEAVY = ("torch", "PySide6", "dask", "pyqtgraph", "shiboken6")
BOUND_S = 120     # a hang guard only


@pytest.fixture(scope="module")
def kern():
    k = compiled.kernel()
    if k is None:
        pytest.skip(f"no compiled kernel here: {compiled.unavailable_reason()}")
    return k


def imported(stderr: str) -> set[str]:
    """Module names from `-X importtime` lines ("import time: self | cumulative | name")."""
    return {m.group(1).strip() for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \| (.+)$", stderr, re.M)}


def run_cli(args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "simulator", *args.split()], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=BOUND_S)
    assert r.returncode == 0, r.stderr[-2000:]
    return r, imported(r.stderr)


def heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if m.split(".")[0].strip() in HEAVY)


def test_compiled_command_line_imports_no_torch_qt_or_dask(kern, tmp_path):
    """Both dtypes: not one module of torch / PySide6 / pyqtgraph / dask is imported, the compiled kernel ran, and
    the float file is the in-process engine's image bit for bit (the same kernel on the same inputs)."""
    for dtype in ("float32", "float64"):
        r, mods = run_cli(f"{CASE_A} -dtype {dtype} -nonoise -nopgm", tmp_path)
        assert "numpy" in mods and "simulator.render_compiled" in mods     # the parser saw the real lines
        assert heavy(mods) == [], heavy(mods)[:10]
        assert "compiled kernel" in r.stdout
        img = np.fromfile(tmp_path / "floatimage.bin", dtype=np.float32).reshape(128, 128)
        want = render(parse_argv(CASE_A.split()).config, dtype=dtype)
        assert want.meta["kernel"] == "compiled"
        assert np.array_equal(img, want.image), dtype
        for key in ("max_I", "mean=", "solid angle"):   # the C's statistics lines, word for word
            assert next(ln for ln in r.stdout.splitlines() if ln.startswith(key)) == \
                next(ln for ln in want.log.splitlines() if ln.startswith(key))


def test_nbparity_sim_imports_no_torch_either(kern, tmp_path):
    """`nbparity sim` (python -m app sim) hands the command line to the same CLI: the same import list."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "app", "sim", *CASE_A.split(), "-nonoise",
                        "-nopgm"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=BOUND_S)
    assert r.returncode == 0, r.stderr[-2000:]
    mods = imported(r.stderr)
    assert "simulator.render_compiled" in mods and heavy(mods) == [], heavy(mods)[:10]


def test_a_trace_still_loads_torch(kern, tmp_path):
    """The control of the test above: -trace_pixel needs the torch kernel, and the import list shows it."""
    _, mods = run_cli(f"{CASE_A} -nonoise -nopgm -trace_pixel 64 64", tmp_path)
    assert "torch" in mods


def test_torch_free_cli_float64_is_the_c_reference_bit_for_bit(c_binary, kern, tmp_path):
    """With an HKL file (the numpy-padded F grid, no torch in the process) the CLI's float64 image equals the C
    reference's exactly."""
    args = small_cell_hkl(tmp_path)
    r, mods = run_cli(args + " -nonoise -nopgm", tmp_path)
    assert heavy(mods) == []
    c = c_image(c_binary, args.split())
    img = np.fromfile(tmp_path / "floatimage.bin", dtype=np.float32).reshape(c.shape)
    assert c.max() > 0
    assert np.count_nonzero(img != c) == 0


def test_numpy_and_torch_inputs_are_the_same_bits(tmp_path, monkeypatch):
    """fastpath's F grid and F^2 (float32) from numpy (torch not loaded) and from torch (loaded): equal arrays."""
    setup = build_setup(parse_argv(small_cell_hkl(tmp_path).split()).config)
    with_torch = fastpath.f_grid(setup)
    sq_torch = fastpath.f_squared_f32(with_torch[0])
    monkeypatch.delitem(sys.modules, "torch")
    without = fastpath.f_grid(setup)
    sq_numpy = fastpath.f_squared_f32(without[0])
    assert with_torch[1:] == without[1:] and with_torch[3] is True
    assert np.array_equal(with_torch[0], without[0])
    assert np.array_equal(sq_torch, sq_numpy) and sq_numpy.dtype == np.float32


def test_render_fast_is_engine_render(kern, tmp_path):
    """render_fast on every branch of the kernel (phi carry-over with its torch-found first path, mosaic, dmin,
    HKL, layers, sources, point pixels, ROI): the same image and statistics as engine.render; None where the
    compiled kernel does not serve (tricubic interpolation, CUDA)."""
    for name, args in exact_cases(tmp_path).items():
        cfg = parse_argv(args.split()).config
        for dtype in ("float32", "float64"):
            a, b = render_fast(cfg, dtype=dtype), render(cfg, dtype=dtype)
            assert a is not None and a.meta["kernel"] == b.meta["kernel"] == "compiled", name
            assert np.array_equal(a.image, b.image), (name, dtype)
            assert a.meta["stats"] == b.meta["stats"], (name, dtype)
    hkl = exact_cases(tmp_path)["hkl_thick"].replace(" -nointerpolate", " -interpolate")
    assert render_fast(parse_argv(hkl.split()).config) is None
    assert render_fast(parse_argv(CASE_A.split()).config, device="cuda") is None
