"""Either side, any engine (issue 7): a fake external PyTorch port vs our C, our C with the carry-over on vs off,
torch float32 vs float64 — each through `nbparity compare` and `nbparity trace` — plus the ENGINE spellings and the
port dialect read through a real process.

The fake port (tests/support/fakes/fake_port.py) renders with our torch engine and a fresh rotation at every tick (spec
§14.1), so against our C with the carry-over off the images agree exactly, and with the C's default carry-over on
the per-φ traces first diverge at tick 0, the tick at exactly 0° (spec §8.3).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.cli.main import EXIT_OK, EXIT_PARITY, EXIT_USAGE, main
from app.engines.registry import make_engine
from app.engines.spec import parse_engine_spec
from app.core.session import ComparisonSession, SessionOptions, SideOptions
from simulator.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
FAKE_PORT = REPO / "tests" / "support" / "fakes" / "fake_port.py"
PORT = f"cmd:{sys.executable} {FAKE_PORT}"
# 32x32 cubic crystal with a misset, 3 φ ticks from 0° over 1°: the tick-0 lattice matters.
ROT = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100 "
       "-phi 0 -osc 1 -phisteps 3 -misset 10 20 30").split()
PIXEL = ("10", "12")


def _bundle(parent: Path) -> Path:
    (folder,) = [p for p in parent.iterdir() if p.is_dir()]
    return folder


def _trace_json(folder: Path) -> dict:
    return json.loads((folder / f"pixel_s{PIXEL[0]}_f{PIXEL[1]}.json").read_text())


# ---- ENGINE spellings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, kind, extra", [
    ("cref", "cref", {}),
    ("torch", "torch", {"dtype": "float64", "device": "cpu"}),
    ("torch:float32", "torch", {"dtype": "float32", "device": "cpu"}),
    ("torch:float64:cuda", "torch", {"dtype": "float64", "device": "cuda"}),
    ("torch:f32:cuda:1", "torch", {"dtype": "float32", "device": "cuda:1"}),
    ("bin:/opt/nb/nanoBragg", "bin", {"path": "/opt/nb/nanoBragg"}),
    ("cmd:python -m nanobrag_torch --x 'a b'", "cmd", {"command": ("python", "-m", "nanobrag_torch", "--x", "a b")}),
])
def test_engine_spellings(text, kind, extra):
    spec = parse_engine_spec(text)
    assert spec.kind == kind and spec.text == text
    for key, value in extra.items():
        assert getattr(spec, key) == value


@pytest.mark.parametrize("text, needle", [
    ("", "empty"), ("gpu", "unknown kind 'gpu'"), ("cref:fast", "cref takes no options"),
    ("torch:float16", "dtype 'float16'"), ("torch:float32:tpu", "device 'tpu'"), ("bin:", "bin needs a path"),
    ("cmd:", "cmd needs a command"), ("cmd:'open", "cannot be split"),
])
def test_bad_engine_spellings_name_what_was_expected(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_engine_spec(text)


def test_display_names_follow_the_engine_and_a_binary_called_nanobragg_is_upstream(tmp_path, c_binary):
    upstream = tmp_path / "nanoBragg"
    upstream.write_bytes(c_binary.read_bytes() + b"\0")  # a different build: another sha256
    upstream.chmod(0o755)
    e = make_engine(f"bin:{upstream}")
    sha = e.identity.fingerprint.removeprefix("sha256:")
    assert e.identity.display_name == f"upstream nanoBragg {sha[:8]}"
    assert e.identity.capabilities.trace == "detect" and not e.identity.capabilities.carryover_switch
    # The byte-identical copy of our build is our C reference, whatever it is called.
    same = tmp_path / "copy"
    same.write_bytes(c_binary.read_bytes())
    same.chmod(0o755)
    assert make_engine(f"bin:{same}").identity.display_name.startswith("nbparity C reference ")
    port = make_engine(PORT)
    assert port.identity.display_name.startswith("fake_port.py ") and "fake_port.py sha256:" in \
        port.identity.fingerprint
    assert make_engine("torch:float32").identity.display_name == "nbparity PyTorch f32"


# ---- port vs our C -----------------------------------------------------------------------------------------------
def test_compare_port_vs_our_c_passes_with_the_carryover_off(tmp_path, c_binary, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["compare", "--out", str(tmp_path / "out"), "--carryover-a", "off", "--b", PORT, "--", *ROT])
    out = capsys.readouterr()
    assert code == EXIT_OK, out
    assert "PASS" in out.out
    folder = _bundle(tmp_path / "out")
    manifest = json.loads((folder / "manifest.json").read_text())
    b = manifest["sides"]["b"]
    assert b["kind"] == "cmd" and b["label"].startswith("fake_port.py ") and b["command"][:2] == [sys.executable,
                                                                                                   str(FAKE_PORT)]
    assert manifest["files_by_side"]["b"]["float"].startswith("B-fake_port.py-")
    assert (folder / manifest["files_by_side"]["b"]["float"]).stat().st_size == 32 * 32 * 4


def test_trace_port_vs_our_c_reads_the_port_dialect_and_finds_the_carryover_tick(tmp_path, c_binary, capsys,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["trace", "--out", str(tmp_path / "out"), "--pixel", *PIXEL, "--b", PORT, "--", *ROT])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    # Our C carries tick 2's lattice of the previous pixel into tick 0 (at exactly 0°); the port does not.
    assert "first divergence at φ tick 0" in out
    summary = _trace_json(_bundle(tmp_path / "out"))["summary"]
    assert summary["dialects"] == {"a": "rich", "b": "port"}
    assert summary["first_divergence"]["phi_tic"] == 0


def test_port_trace_units_and_quirks_are_converted(tmp_path, c_binary, monkeypatch):
    monkeypatch.setenv("FAKE_PORT_HALF_EVEN", "1")
    s = ComparisonSession(ROT, SessionOptions(SideOptions("cref", carryover=False), SideOptions(PORT)), cwd=tmp_path)
    insp = s.inspect_pixel(int(PIXEL[0]), int(PIXEL[1]))
    assert not insp.errors, insp.errors
    port, ours = insp.traces["b"], insp.traces["a"]
    assert port.dialect == "port" and ours.dialect == "rich"
    # S_x.. are printed in 1/Angstrom and stored in 1/m: equal to the scalar scattering vector (already in 1/m).
    q = port.scalars["scattering_vec_A_inv"]
    first = port.series()[0].values
    assert [first["S_x"], first["S_y"], first["S_z"]] == pytest.approx(q, rel=1e-12)
    assert q == pytest.approx(ours.scalars["scattering_vec_A_inv"], rel=1e-9)
    # hkl_rounded recomputed as ceil(x - 0.5): h = 3.5 gives 3 (the port's round-half-even printed 4).
    assert port.scalars["hkl_rounded"][0] == 3.0 and port.scalars["hkl_rounded_port"][0] == 4.0
    assert any("round-half-even" in n for n in port.notes)
    # The port's F_cell_* and pre-polar intensity take the common names; the fields it lacks are named.
    assert port.scalars["F_cell"] == port.scalars["F_cell_nearest"] == [100.0]
    assert port.scalars["I_before_scaling"] == port.scalars["I_before_scaling_pre_polar"]
    assert {"h_frac", "l_frac", "F_latt_a", "F_latt_c", "F_cell", "I_contrib"} <= set(port.missing)
    # With the carry-over off on our C both engines agree per tick (k to 1e-9; threshold 5e-4).
    assert insp.comparison.first_divergence is None and insp.comparison.max_abs_dk < 1e-9


# ---- our C with the carry-over on vs off -------------------------------------------------------------------------
def test_compare_our_c_carryover_on_vs_off_fails_and_names_both_sides(tmp_path, c_binary, capsys):
    code = main(["compare", "--out", str(tmp_path), "--a", "cref", "--carryover-a", "on", "--b", "cref",
                 "--carryover-b", "off", "--", *ROT])
    out = capsys.readouterr()
    assert code == EXIT_PARITY, out
    assert "FAIL" in out.out
    manifest = json.loads((_bundle(tmp_path) / "manifest.json").read_text())
    la, lb = manifest["sides"]["a"]["label"], manifest["sides"]["b"]["label"]
    assert la.startswith("nbparity C reference ") and la.endswith("(carry-over on)")
    assert lb.endswith("(carry-over off)") and la.split(" (")[0] == lb.split(" (")[0]  # one binary
    assert manifest["sides"]["a"]["command"][-2:] == ["-phi0_carryover", "on"]
    assert manifest["sides"]["b"]["command"][-2:] == ["-phi0_carryover", "off"]


def test_trace_our_c_carryover_on_vs_off_diverges_only_at_the_zero_degree_tick(tmp_path, c_binary, capsys):
    code = main(["trace", "--out", str(tmp_path), "--pixel", *PIXEL, "--a", "cref", "--carryover-a", "on",
                 "--b", "cref", "--carryover-b", "off", "--", *ROT])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    rows = _trace_json(_bundle(tmp_path))["rows"]
    assert [r["status"] for r in rows] == ["DIVERGE", "OK", "OK"]
    assert rows[1]["d_k_frac"] == 0.0 and rows[2]["d_k_frac"] == 0.0  # same binary, same ticks 1 and 2


# ---- torch float32 vs float64 ------------------------------------------------------------------------------------
def test_compare_torch_float32_vs_float64_passes(tmp_path, capsys):
    # float32 keeps float64 h, k, l per pixel and only small per-tick increments in float32 (README): the images
    # agree within the default 1e-5 relative error on bright pixels.
    code = main(["compare", "--out", str(tmp_path), "--a", "torch:float32", "--b", "torch:float64", "--", *ROT])
    out = capsys.readouterr()
    assert code == EXIT_OK, out
    manifest = json.loads((_bundle(tmp_path) / "manifest.json").read_text())
    assert (manifest["sides"]["a"]["label"], manifest["sides"]["b"]["label"]) == ("nbparity PyTorch f32",
                                                                                  "nbparity PyTorch f64")


def test_trace_torch_float32_vs_float64_has_no_divergence(tmp_path, capsys):
    code = main(["trace", "--out", str(tmp_path), "--pixel", *PIXEL, "--a", "torch:float32", "--b",
                 "torch:float64", "--", *ROT])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "no divergence above 5e-4" in out


def test_cli_rejects_a_bad_engine_and_both_side_a_spellings(tmp_path, capsys):
    assert main(["compare", "--a", "gpu", "--", *ROT]) == EXIT_USAGE
    assert "unknown kind 'gpu'" in capsys.readouterr().err
    assert main(["compare", "--a", "cref", "--c-bin", sys.executable, "--", *ROT]) == EXIT_USAGE
    assert "either --a ENGINE or --c-bin" in capsys.readouterr().err
