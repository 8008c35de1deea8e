"""The real clients build and run: each prints what the clients' README says it prints (tests/support/clients.py)."""
from __future__ import annotations

import subprocess

import pytest

# A 16 x 16 detector and a small cubic cell: every engine renders it in well under a second.
SMALL = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "2", "-default_F", "100", "-lambda", "1",
         "-distance", "100", "-pixel", "0.1", "-detpixels", "16", "-oversample", "1"]


def test_golden_build_prints_its_trace_dialect(golden_c, tmp_path):
    """The golden build's -trace_pixel prints `TRACE_C:` scalars and `TRACE_C_PHI` per-φ lines (clients README)."""
    out = subprocess.run([str(golden_c), *SMALL, "-phisteps", "3", "-osc", "0.3", "-trace_pixel", "8", "8",
                          "-floatfile", "f.bin"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1000:]
    assert "TRACE_C:" in out.stdout
    phi_lines = [ln for ln in out.stdout.splitlines() if ln.startswith("TRACE_C_PHI")]
    assert len(phi_lines) == 3, phi_lines  # one line per φ tick
    assert (tmp_path / "f.bin").stat().st_size == 16 * 16 * 4  # float32 image, 16 x 16


def test_upstream_build_prints_no_trace(upstream_c, tmp_path):
    out = subprocess.run([str(upstream_c), *SMALL, "-floatfile", "f.bin"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1000:]
    assert "TRACE_C" not in out.stdout
    assert (tmp_path / "f.bin").stat().st_size == 16 * 16 * 4


@pytest.mark.slow
def test_port_runs_and_traces(port_client, tmp_path):
    """The port prints TRACE_PY scalars and TRACE_PY_PHI per-φ lines for -trace_pixel and writes a float image."""
    out = subprocess.run([str(port_client.command), *SMALL, "-phisteps", "3", "-osc", "0.3",
                          "-trace_pixel", "8", "8", "-floatfile", "f.bin"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TRACE_PY" in out.stdout
    assert sum(ln.startswith("TRACE_PY_PHI") for ln in out.stdout.splitlines()) == 3
    assert (tmp_path / "f.bin").stat().st_size == 16 * 16 * 4
