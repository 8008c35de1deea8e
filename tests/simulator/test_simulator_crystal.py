"""Crystal setup, random numbers and lattice factor of the PyTorch engine (spec 4.1, 4.7, 4.8, 5.3)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simulator.config import ConfigError, CrystalConfig
from simulator.crystal import build_crystal
from simulator.hkl import build_grid, read_hkl
from simulator.kernel import sincg_reduced
from simulator.rng import Ran1, mosaic_rotation_umat


def test_cell_angle_drift():
    """Spec 4.1: the C's c*_z formula makes -cell 70 80 90 75 85 95 come out as 70 80 90 75.0391 85.0136 95.0081
    (lengths exact through the user_cell rescale, angles drift)."""
    c = build_crystal(CrystalConfig(cell=(70, 80, 90, 75, 85, 95)), 1.0, 1e-4)
    np.testing.assert_allclose(c.cell[:3], [70, 80, 90], rtol=1e-12)
    np.testing.assert_allclose(c.cell[3:], [75.0391, 85.0136, 95.0081], atol=5e-5)


def test_mat_without_rescale_gives_the_c_cell(cli_flags_003):
    """Spec 12.2: A.mat at lambda 0.9768 gives cell 26.7514 31.31 33.6734 88.687 71.5295 68.1375, V = 24682.3 A^3."""
    c = build_crystal(CrystalConfig(mat_file=str(cli_flags_003 / "A.mat")), 0.9768, 1e-3)
    np.testing.assert_allclose(c.cell, [26.7514, 31.31, 33.6734, 88.687, 71.5295, 68.1375], atol=6e-4)
    assert c.volume_A3 == pytest.approx(24682.3, abs=0.05)


def _nr_ran1_reference(seed: int, n: int) -> list[float]:
    """A separate, plain reading of NR ran1: direct modular multiply (no Schrage), 8 warm-ups + 32 table entries,
    output float32(iy/IM) capped at 1 - 1.2e-7."""
    im = 2147483647
    x = max(1, -seed)
    table = []
    for i in range(40):
        x = (16807 * x) % im
        if i >= 8:
            table.append(x)
    table = table[::-1]        # the C fills iv[j] for j = 31 .. 0, counting down
    iy = table[0]
    out = []
    for _ in range(n):
        x = (16807 * x) % im
        j = iy // (1 + (im - 1) // 32)
        iy = table[j]
        table[j] = x
        out.append(min(float(np.float32(iy / im)), float(np.float32(1 - 1.2e-7))))
    return out


def test_ran1_matches_a_plain_reference():
    """The first 100 ran1 values for the default mosaic seed -12345678 equal a plain NR ran1, all in (0, 1)."""
    r = Ran1(-12345678)
    got = [float(r()) for _ in range(100)]
    assert got == _nr_ran1_reference(-12345678, 100)
    assert all(0 < v < 1 for v in got)


def test_mosaic_domains_are_rotations_within_the_spread():
    """Spec 4.7: domain 0 is the identity; each U is a proper rotation by at most the spread (a spherical cap)."""
    c = build_crystal(CrystalConfig(cell=(100, 100, 100, 90, 90, 90), mosaic_spread_deg=2.0, mosaic_domains=50),
                      1.0, 1e-4)
    assert c.n_mosaic == 50
    np.testing.assert_array_equal(c.umats[0], np.eye(3))
    spread = math.radians(2.0)
    for U in c.umats:
        np.testing.assert_allclose(U @ U.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(U) == pytest.approx(1.0, abs=1e-12)
        angle = math.acos(max(-1.0, min(1.0, (np.trace(U) - 1) / 2)))
        assert angle <= spread * (1 + 1e-6)
    assert len({round(float(U[0, 1]), 12) for U in c.umats[1:]}) == 49   # all different


def test_umat_draws_three_numbers():
    """Each domain consumes 3 ran1 draws (domain 0 included), so the 2nd domain's matrix is the 2nd umat of the
    stream."""
    r = Ran1(-12345678)
    mosaic_rotation_umat(0.01, r)
    second = mosaic_rotation_umat(0.01, r)
    c = build_crystal(CrystalConfig(cell=(100, 100, 100, 90, 90, 90), mosaic_spread_deg=math.degrees(0.01),
                                    mosaic_domains=2), 1.0, 1e-4)
    np.testing.assert_allclose(c.umats[1], second, atol=1e-15)


def test_mosaic_table_without_domains():
    """Spec 4.7: spread given without domains -> 10 domains."""
    c = build_crystal(CrystalConfig(cell=(100, 100, 100, 90, 90, 90), mosaic_spread_deg=0.3), 1.0, 1e-4)
    assert c.n_mosaic == 10


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sincg_rounding_and_sign(dtype):
    """h0 = ceil(h - 0.5), the C's formula: ceil(-0.5 - 0.5) = -1, ceil(0.5 - 0.5) = 0, 1.5 -> 1, -1.5 -> -2, i.e.
    exact halves go DOWN (the spec's prose "-0.5 -> 0, 0.5 -> 1" contradicts its own formula; the C and our C
    reference use the formula), and it is not round-half-even (torch.round gives 2 at 1.5). At exact integers the
    factor is
    the limit +-N with sign (-1)^(h0(N-1)) (the C's sin(N pi h)/sin(pi h) in float64 gives 5.0 at h = 2, N = 5
    and -2.0 at h = 1, N = 2); away from integers it equals the C formula."""
    h = torch.tensor([-0.5, 0.5, 1.5, -1.5], dtype=torch.float64)
    np.testing.assert_array_equal(torch.ceil(h - 0.5).numpy(), [-1, 0, 1, -2])
    assert torch.round(h).tolist() == [-0.0, 0.0, 2.0, -2.0]
    for hv, n in [(2.0, 5), (1.0, 2), (3.0, 2), (-2.0, 36), (0.0, 7)]:
        h0 = torch.tensor([hv], dtype=torch.float64)
        r = sincg_reduced(torch.zeros(1, dtype=dtype), h0, torch.tensor([float(n)], dtype=dtype), True)
        sign = -1.0 if (int(hv) * (n - 1)) % 2 else 1.0
        assert float(r) == sign * n
    c_value = math.sin(5 * math.pi * 2.0) / math.sin(math.pi * 2.0)
    assert c_value == pytest.approx(5.0, rel=1e-9)
    for hv, n in [(2.3, 5), (-6.8795206, 36), (13.49, 29), (0.01, 47)]:
        h0 = math.ceil(hv - 0.5)
        r = sincg_reduced(torch.tensor([hv - h0], dtype=dtype), torch.tensor([float(h0)], dtype=torch.float64),
                          torch.tensor([float(n)], dtype=dtype), True)
        expect = math.sin(n * math.pi * hv) / math.sin(math.pi * hv)
        assert float(r) == pytest.approx(expect, rel=1e-9 if dtype == torch.float64 else 1e-5)


def test_sincg_n1_is_one():
    """A factor with N = 1 is exactly 1 (the C skips it)."""
    r = sincg_reduced(torch.tensor([0.3, 0.0, -0.5], dtype=torch.float32), torch.zeros(3, dtype=torch.float64),
                      torch.tensor([1.0], dtype=torch.float32), True)
    assert r.tolist() == [1.0, 1.0, 1.0]


def test_hkl_reader_comments_columns_and_lookup(tmp_path):
    """Decisions D5: '#' comments, blank lines and 4-6 columns are accepted; the grid is prefilled with default_F
    and lookups outside the file's range give default_F (spec 5.1, 5.3)."""
    p = tmp_path / "x.hkl"
    p.write_text("# comment\n\n0 0 0 100\n 2 0 0 80 0.5\n0 2 0 60 1 2\n-1 0 1 7\n")
    hkl, F = read_hkl(str(p))
    assert hkl.shape == (4, 3) and F.tolist() == [100, 80, 60, 7]
    g = build_grid(str(p), 10.0)
    assert g.hkls == 4
    assert g.lookup(0, 0, 0) == 100 and g.lookup(2, 0, 0) == 80 and g.lookup(-1, 0, 1) == 7
    assert g.lookup(1, 1, 0) == 10.0           # inside the grid, not in the file: the prefill
    assert g.lookup(3, 0, 0) == 10.0           # outside: default_F


def test_hkl_reader_names_file_and_line(tmp_path):
    p = tmp_path / "bad.hkl"
    p.write_text("0 0 0 100\n1 2 x 5\n")
    with pytest.raises(ConfigError, match=r"bad\.hkl, line 2: expected an integer l"):
        read_hkl(str(p))
    p.write_text("0 0 0 100\n1 2 3\n")
    with pytest.raises(ConfigError, match=r"line 2: expected 4 to 6 columns"):
        read_hkl(str(p))
