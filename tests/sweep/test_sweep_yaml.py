"""The port team's parity matrix (parity_cases.yaml) as a sweep: read as their harness reads it (spec §11.7), judged
by each case's own thresholds, with a metrics.json per run in their summary.json terms."""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.nb_compare.metrics import image_metrics
from app.sweep import cli_port
from app.sweep.yaml_matrix import parse_yaml_matrix
from simulator.config import ConfigError
from tracing.metrics import ParityThresholds, compare_images, parity_verdict

THEIR_MATRIX = Path(__file__).resolve().parents[3] / "shared" / "clients" / "parity_cases.yaml"
ONE = """\
cases:
  - id: C1
    description: a cubic cell
    base_args: -default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 3 -detpixels 32
    thresholds: {corr_min: 0.9999, sum_ratio_min: 0.9, sum_ratio_max: 1.1, max_abs_max: 500}
    runs:
      - name: a
        extra_args: -distance 100
      - name: b
        extra_args:
"""


def test_their_matrix_reads_into_one_case_per_run():
    if not THEIR_MATRIX.is_file():
        pytest.skip(f"the port team's matrix is not at {THEIR_MATRIX} (needs ../shared beside the clone)")
    m = parse_yaml_matrix(THEIR_MATRIX.read_text(), source=str(THEIR_MATRIX))
    assert len({c.group for c in m.cases}) == 16       # the 16 AT-PARALLEL ids of the file (clients README)
    assert len(m.cases) == 55                          # their runs[] entries, counted in the file
    first = m.cases[0]
    assert first.name == "AT-PARALLEL-001/detpixels-64"
    assert first.argv[-6:] == ("-detpixels", "64", "-Xbeam", "3.2", "-Ybeam", "3.2")  # base_args, then extra_args
    assert first.argv[:2] == ("-default_F", "100")
    t = first.thresholds
    assert (t.min_correlation, t.sum_ratio_min, t.sum_ratio_max, t.max_abs_max) == (0.9999, 0.9, 1.1, 500.0)
    assert math.isinf(t.max_rel_error)                  # their harness does not judge the relative error
    comprehensive = next(c for c in m.cases if c.group == "AT-PARALLEL-020")
    assert comprehensive.name == "AT-PARALLEL-020/comprehensive" and "-misset" in comprehensive.argv  # empty extra


def test_engines_default_to_their_variables():
    ns = argparse.Namespace(a=None, b=None)
    assert cli_port.engines(ns, {}, True) == ("cref", "torch")
    assert cli_port.engines(ns, {"NB_C_BIN": "/x/nanoBragg", "NB_PY_BIN": "run.py"}, True) == \
        ("bin:/x/nanoBragg", "cmd:python run.py")
    assert cli_port.engines(ns, {"NB_C_BIN": "/x/nanoBragg"}, False) == (None, None)  # a TOML keeps its own
    assert cli_port.engines(argparse.Namespace(a="cref", b="torch:float32"), {"NB_C_BIN": "/y"}, True) == \
        ("cref", "torch:float32")


@pytest.mark.parametrize("text, words", [
    ("cases: [", "line 1"),
    ("runs: []", "top-level `cases:`"),
    (ONE.replace("max_abs_max: 500", "max_abs_max: lots"), "thresholds.max_abs_max: expected a finite number"),
    (ONE.replace(", max_abs_max: 500", ""), "missing max_abs_max"),
    (ONE.replace("corr_min", "corr_mni"), "unknown key(s) corr_mni"),
    (ONE.replace("-distance 100", "-distance far"), "run 'a'"),
    (ONE.replace("name: b", "name: a"), "clashes"),
    (ONE.replace("    runs:\n", "    runz:\n"), "unknown key(s) runz"),
])
def test_bad_matrix_names_case_run_and_key(text, words):
    with pytest.raises(ConfigError) as err:
        parse_yaml_matrix(text, source="m.yaml", check_files=False)
    assert words in str(err.value) and "m.yaml" in str(err.value)


def test_verdict_by_their_thresholds():
    a = np.zeros((16, 16), np.float32)
    a[4, 4], a[10, 12] = 100.0, 50.0
    b = a * 2                                          # sum ratio 2, max |B - A| 100 photons, r = 1
    t = ParityThresholds(min_correlation=0.9999, max_rel_error=math.inf, sum_ratio_min=0.9, sum_ratio_max=1.1,
                         max_abs_max=500)
    v = parity_verdict(compare_images(a, b, tol_rel=t.max_rel_error), t)
    assert not v.passed and v.reasons == ["sum ratio 2 > 1.1"]
    t2 = ParityThresholds(min_correlation=0.9999, max_rel_error=math.inf, sum_ratio_min=0.9, sum_ratio_max=2.5,
                          max_abs_max=10)
    v2 = parity_verdict(compare_images(a, b, tol_rel=t2.max_rel_error), t2)
    assert v2.reasons == ["max |B - A| 100 > 10"]
    t3 = ParityThresholds(min_correlation=0.9999, max_rel_error=None, sum_ratio_min=0.9, sum_ratio_max=2.5,
                          max_abs_max=100)
    assert math.isinf(t3.max_rel_error)                 # a bundle stores inf as null: read back as "not judged"
    assert parity_verdict(compare_images(a, b, tol_rel=t3.max_rel_error), t3).passed


@pytest.mark.slow
def test_yaml_sweep_verdicts_metrics_json_and_reports(tmp_path):
    """Our two engines on two runs: the φ=0 carry-over (on in our C by default, off in our torch engine, decisions
    D3) makes a 9-step rotation from φ=0 differ (r = 0.9912 on AT-PARALLEL-021's multi_step_phi, its 256 x 256 command
    line), so a corr_min of 0.9999 fails it; the still image (one tick) passes."""
    matrix = tmp_path / "m.yaml"
    matrix.write_text("""\
cases:
  - id: ROT
    base_args: -default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -pixel 0.1 -distance 100 -detpixels 256
      -mosflm -seed 1 -phi 0 -mosaic 0 -oversample 1
    thresholds: {corr_min: 0.9999, sum_ratio_min: 0.9, sum_ratio_max: 1.1, max_abs_max: 500}
    runs:
      - {name: still, extra_args: ""}
      - {name: multi_step_phi, extra_args: -osc 90 -phisteps 9}
""")
    out = tmp_path / "sweep"
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("NB_C_BIN", "NB_PY_BIN")}
    run = subprocess.run([sys.executable, "-m", "app", "sweep", "--matrix", str(matrix), "--out", str(out),
                          "--workers", "1"], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]   # some case failed its thresholds
    records = {r["name"]: r for r in json.loads((out / "records.json").read_text())["records"]}
    assert records["ROT/still"]["status"] == "pass"
    bad = records["ROT/multi_step_phi"]
    assert bad["status"] == "fail" and bad["correlation"] < 0.9999 and "correlation" in bad["verdict"]
    for name, slug in (("ROT/still", "ROT_still"), ("ROT/multi_step_phi", "ROT_multi_step_phi")):
        m = json.loads((out / "cases" / slug / "metrics.json").read_text())
        assert list(m)[:9] == ["correlation", "mse", "rmse", "max_abs_diff", "c_sum", "py_sum", "sum_ratio",
                               "mean_peak_distance", "max_peak_distance"]
        assert m["thresholds"] == {"corr_min": 0.9999, "sum_ratio_min": 0.9, "sum_ratio_max": 1.1,
                                   "max_abs_max": 500}
        assert m["pass"] == (records[name]["status"] == "pass")
        # the figures are nb-compare's, of the two images in the case's bundle
        bundle = out / records[name]["bundle"]
        a = np.fromfile(next(bundle.glob("A-*_float.bin")), np.float32).reshape(256, 256)
        b = np.fromfile(next(bundle.glob("B-*_float.bin")), np.float32).reshape(256, 256)
        want = image_metrics(a, b)
        for k in ("correlation", "mse", "max_abs_diff", "c_sum", "py_sum", "sum_ratio", "max_peak_distance"):
            assert m[k] == pytest.approx(want[k], rel=1e-12), k
    for report in ("report.csv", "report.html", "report.md"):
        assert "ROT/multi_step_phi" in (out / report).read_text()


def test_a_b_replace_the_engines_of_a_toml_matrix_and_bad_spellings_are_named():
    from app.sweep.cli import BUILTIN_DIR
    toml = BUILTIN_DIR / "at-parallel.toml"
    own = cli_port.load(toml, argparse.Namespace(a=None, b=None), env={"NB_C_BIN": "/nowhere"})
    assert {c.engines for c in own.cases} == {("cref", "torch")}   # $NB_C_BIN is for their YAML only
    swapped = cli_port.load(toml, argparse.Namespace(a=None, b="torch:float32"), env={})
    assert {c.engines for c in swapped.cases} == {("cref", "torch:float32")}
    with pytest.raises(ConfigError, match="--b"):
        cli_port.load(toml, argparse.Namespace(a=None, b="gpu-magic"), env={})


def test_cluster_options_are_checked_before_anything_runs(tmp_path):
    from app.sweep.cluster import ClusterSpec
    for spec, words in ((ClusterSpec("slurm", memory="lots"), "--memory"),
                        (ClusterSpec("slurm", walltime="soon"), "--walltime"),
                        (ClusterSpec("slurm", cores=0), "--cores"),
                        (ClusterSpec("scheduler", scheduler=" "), "--scheduler")):
        with pytest.raises(ConfigError, match=words):
            spec.validate(require_sbatch=False)
    kw = ClusterSpec("slurm", queue="debug", cores=4, memory="8GB", walltime="02:00:00").slurm_kwargs()
    assert (kw["queue"], kw["cores"], kw["memory"], kw["walltime"], kw["processes"]) == \
        ("debug", 4, "8GB", "02:00:00", 1)
    assert kw["worker_extra_args"] == ["--preload", "app.sweep.worker_setup"]  # workers ignore SIGINT
    out = subprocess.run([sys.executable, "-m", "app", "sweep", "--builtin", "at-parallel", "--cluster", "slurm",
                          "--memory", "lots", "--out", str(tmp_path / "o")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 3 and "--memory 'lots'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists()
