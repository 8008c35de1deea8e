"""Shared fixtures: headless Qt, the built C reference, and the real parity data in ../shared (skipped if absent)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

REPO = Path(__file__).resolve().parents[1]
C_REF_DIR = REPO / "c_reference"
C_REF_BIN = C_REF_DIR / "build" / "nbref"
SHARED_DATA = REPO.parent / "shared" / "data" / "cli-flags-003"


@pytest.fixture(scope="session")
def c_binary() -> Path:
    """Path of our C reference binary, built with its Makefile if it is missing or stale."""
    subprocess.run(["make", "-s", "-C", str(C_REF_DIR)], check=True)
    assert C_REF_BIN.exists(), f"make did not produce {C_REF_BIN}"
    return C_REF_BIN


@pytest.fixture(scope="session")
def cli_flags_003() -> Path:
    """Folder with A.mat and scaled.hkl of the CLI-FLAGS-003 case; skips where a clone has no ../shared beside it."""
    if not (SHARED_DATA / "A.mat").exists() or not (SHARED_DATA / "scaled.hkl").exists():
        pytest.skip(f"CLI-FLAGS-003 data not found at {SHARED_DATA} (needs ../shared beside the clone)")
    return SHARED_DATA


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Factory of real MainWindows with throw-away settings (tests/support/gui_util.py); shut down after the test."""
    from gui_util import make_window_factory
    make, made = make_window_factory(qtbot, tmp_path)
    yield make
    for w in made:
        w.shutdown()


def _client(build):
    """Run a tests/support/clients.py builder, skipping the test with its reason where the client cannot be had here."""
    import clients
    try:
        return build(clients)
    except clients.ClientUnavailable as exc:
        pytest.skip(f"real client unavailable: {exc}")


@pytest.fixture(scope="session")
def golden_c() -> Path:
    """The port team's instrumented golden C build (`-trace_pixel` prints TRACE_C lines), built and cached."""
    return _client(lambda c: c.c_program("golden"))


@pytest.fixture(scope="session")
def upstream_c() -> Path:
    """Upstream nanoBragg (no trace lines), built with -O3 -fopenmp and cached."""
    return _client(lambda c: c.c_program("upstream"))


@pytest.fixture(scope="session")
def port_client():
    """The port team's PyTorch port in its own venv (`clients.Port`: python, command wrapper, nb_compare.py)."""
    return _client(lambda c: c.port())


@pytest.fixture(autouse=True)
def _collect_after_window_tests(request):
    """Tests of tests/gui: garbage collected at once after each (in the GUI thread, the test's widgets closed): left
    for later, the reference cycles of a finished test's pyqtgraph items were torn down during another test's event
    processing, in a scene that still indexed them (a segfault in QGraphicsItem::boundingRect in 2 full runs of 2 on
    this machine; none in 2 runs with this collection). A window switches automatic collection off for its process
    (app/qt/gui_gc.py); every other test runs with it on, as the program does without a window."""
    import gc
    gui = request.node.get_closest_marker("gui") is not None or request.node.path.parent.name == "gui"
    if not gui:
        gc.enable()
    yield
    if gui:
        gc.collect()
