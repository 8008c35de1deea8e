"""Upstream main's flag-matching quirks on both engines (spec 2.2, decisions D8): parse results, warnings for the
editor, and images. Each quirky command line must give the same image as the plain command line that means what
upstream reads (and, where the quirk changes the physics, a different image from what the reader may expect).
"""
from __future__ import annotations

import numpy as np
import pytest

from parity_util import both, c_image, torch_image
from simulator.argv import diagnose_argv, parse_argv, to_argv

CELL = ["-cell", "70", "80", "90", "85", "95", "105", "-N", "5", "-lambda", "1", "-distance", "100",
        "-pixel", "0.4", "-detpixels", "64"]


def cfg_of(argv: list[str]):
    return parse_argv(argv, check_files=False).config


def same_everywhere(c_binary, quirky: list[str], plain: list[str]) -> np.ndarray:
    """The quirky and the plain argv give bit-identical C images and bit-identical float64 PyTorch images, and the
    two engines agree within float32 rounding (max relative error 2e-5 over pixels above 1e-3 of the max)."""
    c_q, t_q = both(c_binary, quirky, "float64")
    np.testing.assert_array_equal(c_q, c_image(c_binary, plain))
    np.testing.assert_array_equal(t_q, torch_image(plain, "float64"))
    bright = c_q > 1e-3 * c_q.max()
    assert np.max(np.abs(t_q[bright] - c_q[bright]) / c_q[bright]) < 2e-5
    return c_q


def test_misset_seed_is_also_read_as_misset_angles(c_binary):
    """Upstream: in `-misset random -misset_seed 77 -default_F 20`, -misset_seed matches -misset by substring and
    three arguments follow, so the angles are 77, atof("-default_F") = 0 and 20 degrees (the issue's case); the
    random orientation is not used. The golden build's exact match would have drawn a random orientation."""
    quirky = CELL + ["-misset", "random", "-misset_seed", "77", "-default_F", "20"]
    cfg = cfg_of(quirky)
    assert cfg.crystal.misset_deg == (77.0, 0.0, 20.0) and not cfg.crystal.misset_random
    assert cfg.crystal.misset_seed == 77 and cfg.crystal.default_F == 20.0
    warn = [d for d in diagnose_argv(" ".join(quirky), check_files=False) if d.severity == "warning"]
    assert any("-misset_seed" in d.message and "-misset 77 0 20" in d.message and "golden" in d.message
               for d in warn)
    img = same_everywhere(c_binary, quirky, CELL + ["-misset", "77", "0", "20", "-default_F", "20"])
    # what the reader expected (random orientation, seed 77) is another pattern
    golden_like = c_image(c_binary, CELL + ["-default_F", "20", "-misset", "random", "-misset_seed", "77"])
    assert np.corrcoef(img.ravel(), golden_like.ravel())[0, 1] < 0.9


def test_misset_seed_last_keeps_the_random_orientation():
    """With fewer than three arguments after it, -misset_seed is only the seed (upstream's argc guard)."""
    cfg = cfg_of(CELL + ["-default_F", "20", "-misset", "random", "-misset_seed", "77"])
    assert cfg.crystal.misset_random and cfg.crystal.misset_deg is None and cfg.crystal.misset_seed == 77
    # and to_argv keeps that meaning whatever it writes after the seed
    again = cfg_of(to_argv(cfg))
    assert again == cfg


def test_twotheta_axis_sets_twotheta_on_both_engines(c_binary):
    """`-twotheta_axis -1 0 0` also matches -twotheta: 2θ = -1 degree and the SAMPLE pivot (both builds); the editor
    says so."""
    quirky = CELL + ["-default_F", "20", "-twotheta_axis", "-1", "0", "0"]
    cfg = cfg_of(quirky)
    assert cfg.detector.twotheta_deg == -1.0 and cfg.detector.pivot == "SAMPLE"
    assert any("-twotheta_axis" in d.message and "-twotheta -1" in d.message
               for d in diagnose_argv(" ".join(quirky), check_files=False) if d.severity == "warning")
    tilted = same_everywhere(c_binary, quirky, CELL + ["-default_F", "20", "-twotheta_axis", "-1", "0", "0",
                                                       "-twotheta", "-1", "-pivot", "sample"])
    flat = c_image(c_binary, CELL + ["-default_F", "20", "-twotheta_axis", "-1", "0", "0", "-twotheta", "0"])
    assert not np.array_equal(tilted, flat)


def test_trailing_curved_det_is_ignored_on_both_engines(c_binary):
    """-curved_det as the very last argument: upstream reads it only when one more argument follows, so the image is
    the flat detector's; one flag earlier it switches the curved detector on (different image)."""
    base = CELL + ["-default_F", "20", "-detector_rotz", "3"]
    cfg = cfg_of(base + ["-curved_det"])
    assert not cfg.detector.curved_det
    assert any(d.severity == "warning" and "-curved_det is the last argument" in d.message
               for d in diagnose_argv(" ".join(base + ["-curved_det"]), check_files=False))
    flat = same_everywhere(c_binary, base + ["-curved_det"], base)
    curved_args = CELL + ["-curved_det", "-default_F", "20", "-detector_rotz", "3"]
    assert cfg_of(curved_args).detector.curved_det
    c_curved, t_curved = both(c_binary, curved_args, "float64")
    assert not np.array_equal(c_curved, flat)
    bright = c_curved > 1e-3 * c_curved.max()
    assert np.max(np.abs(t_curved[bright] - c_curved[bright]) / c_curved[bright]) < 2e-5
    assert to_argv(cfg_of(curved_args))[-1] != "-curved_det"


def test_substring_flag_is_applied_with_a_warning(c_binary):
    """An argument that is not a flag but contains one (`-distance_mm 120`) is read by upstream as that flag."""
    quirky = CELL + ["-default_F", "20", "-distance_mm", "120"]
    assert cfg_of(quirky).detector.distance_mm == 120.0
    diags = diagnose_argv(" ".join(quirky), check_files=False)
    assert any(d.severity == "warning" and "-distance_mm" in d.message and "-distance 120" in d.message
               for d in diags)
    assert not any("unknown flag -distance_mm" in d.message for d in diags)
    same_everywhere(c_binary, quirky, CELL + ["-default_F", "20", "-distance", "120"])


@pytest.mark.parametrize(("extra", "needle"), [
    (["-pix0_vector", "0.1", "0.02", "-0.03"], "-pix0_vector is ignored"),
    (["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "-1", "0", "-odet_vector", "0.99", "0", "0"],
     "auto-generating odet_vector"),
    (["-dump_pixel", "10", "20"], "reads it as -dump"),
])
def test_editor_warnings_for_surprising_flags(extra, needle):
    """Warnings (not errors: Run stays enabled) that say what upstream does with the flag."""
    diags = diagnose_argv(" ".join(CELL + ["-default_F", "20"] + extra), check_files=False)
    hits = [d for d in diags if needle in d.message]
    assert hits and all(d.severity == "warning" and d.start >= 0 for d in hits)
    assert not any(d.severity == "error" for d in diags)


def test_appending_flags_keeps_the_meaning(c_binary, tmp_path):
    """Flags the app and the driver append (with_flag, the scratch -floatfile, trace and ROI flags) must not turn a
    final `-misset_seed 77` into misset angles (three arguments would then follow it) nor switch on a trailing
    -curved_det: the C and PyTorch images of `... -misset random -misset_seed 77` still agree."""
    from c_reference.driver import prepare_args
    from simulator.argv import append_flags, with_flag

    argv = CELL + ["-default_F", "20", "-misset", "random", "-misset_seed", "77"]
    for out in (with_flag(argv, "-roi", "1", "2", "3", "4"), prepare_args(argv, tmp_path / "f.bin", str(tmp_path)),
                append_flags(argv + ["-curved_det"], ["-nonoise"])):
        cfg = cfg_of(out)
        assert cfg.crystal.misset_random and cfg.crystal.misset_deg is None and not cfg.detector.curved_det
    c, t = both(c_binary, argv, "float64")
    bright = c > 1e-3 * c.max()
    assert np.max(np.abs(t[bright] - c[bright]) / c[bright]) < 2e-5


def test_editor_shows_upstream_warnings_without_blocking_run(qtbot):
    """The parameter editor marks the quirks as warnings (orange, hover text) and the command stays runnable."""
    from app.widgets.params_editor import ParamsEditor

    ed = ParamsEditor()
    qtbot.addWidget(ed)
    ed.set_text(" ".join(CELL + ["-misset", "random", "-misset_seed", "77", "-default_F", "20", "-curved_det"]))
    assert ed.is_valid() and not ed.errors()
    at = ed.text().index("-misset_seed")
    d = ed.edit.diagnostic_at(at)
    assert d is not None and d.severity == "warning" and "misset angles 77, 0, 20" in d.message
    last = ed.edit.diagnostic_at(ed.text().rindex("-curved_det"))
    assert last is not None and last.severity == "warning" and "last argument" in last.message
    assert "misset angles" in ed.message.text()
