"""Loaded images: counts become photons (offset, fitted gain) before comparing; the traces of a loaded side come
from the engine named for that side and the inspector says so; run time "loaded"; HDF5/NeXus through fabio."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_util import RUN_TIMEOUT_MS, inspect_and_wait, wait_idle  # noqa: E402

pytestmark = pytest.mark.gui
GAIN, OFFSET = 37.5, 40.0   # counts = photons·GAIN + OFFSET, rounded (nanoBragg's int image with -scale 37.5)


@pytest.fixture(scope="module")
def demo_photons():
    """The demo rendered by PyTorch with its default carry-over (off): float32 photons (slow, fast)."""
    from app.core.demo import demo_argv
    from app.core.session import ComparisonSession
    return ComparisonSession(demo_argv()).run_side("b").result.image


def write_counts_edf(path, photons):
    import fabio.edfimage
    counts = np.floor(np.clip(photons.astype(np.float64) * GAIN + OFFSET, 0, 65535) + 0.5).astype(np.uint16)
    fabio.edfimage.EdfImage(data=counts).write(str(path))
    return counts


def test_counts_get_offset_and_fitted_gain_and_traces_say_where_they_come_from(qtbot, make_window, c_binary,
                                                                              tmp_path, demo_photons):
    w = make_window(None, c_binary)
    raw = tmp_path / "carry_off.bin"
    demo_photons.astype("<f4").tofile(raw)
    edf = tmp_path / "carry_off_counts.edf"
    write_counts_edf(edf, demo_photons)
    assert w.load_image_file("a", str(raw))
    with qtbot.waitSignal(w.model.metrics_ready, timeout=RUN_TIMEOUT_MS):
        assert w.load_image_file("b", str(edf))
    wait_idle(qtbot, w)
    note_b = w.panels.panel_b.note()
    assert "counts" in note_b and "fitted" in note_b and f"− {OFFSET:g})" in note_b
    # The fitted gain is the one the counts were made with (rounding to whole counts: within 0.1 %).
    gain = float(note_b.split(") / ")[1].split(" ")[0])
    assert gain == pytest.approx(GAIN, rel=1e-3)
    # Compared in photons: the sum ratio is 1 within the rounding, not the raw counts' 1/37.5 or worse.
    assert w.model.metrics.sum_ratio == pytest.approx(1.0, abs=2e-3)
    assert "loaded" in w.metrics_panel.values["times"].text() and "0.00 s" not in w.metrics_panel.values["times"].text()
    # A click traces with the engines named for the sides, and the inspector says the traces are not the files'.
    insp = inspect_and_wait(qtbot, w, 128, 130)
    assert insp is not None
    text = w.inspector.summary.text()
    assert "Side A is the file carry_off.bin" in text and "Side B is the file carry_off_counts.edf" in text
    label_a = w.model.session.label("a") if w.model.session is not None else None
    assert label_a and f"computed by {label_a}" in text
    # A new run makes both sides engines again: the note goes.
    with qtbot.waitSignal(w.model.run_finished, timeout=RUN_TIMEOUT_MS):
        assert w.run()
    wait_idle(qtbot, w)
    assert "is the file" not in w.inspector.summary.text()


def test_hdf5_nexus_stack_loads_its_first_frame_as_counts(tmp_path):
    import h5py

    from app.core.image_loading import load_detector_image, prepare_side
    frames = np.arange(3 * 20 * 30, dtype=np.uint32).reshape(3, 20, 30) % 500 + 40
    path = tmp_path / "scan.nxs"
    with h5py.File(path, "w") as f:
        e = f.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        d = e.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        d.create_dataset("data", data=frames)
    li = load_detector_image(path)
    assert li.unit == "counts" and li.note == "frame 1 of 3" and np.array_equal(li.data, frames[0])
    prepared = prepare_side(li, None, 40.0)
    assert "no gain known" in prepared.sentence
    assert np.array_equal(prepared.photons, frames[0].astype(np.float32) - 40.0)   # offset removed, gain 1


def test_nan_image_is_refused_with_its_count(tmp_path):
    import fabio.edfimage

    from app.core.image_loading import ImageLoadError, load_detector_image
    data = np.ones((10, 10), np.float32)
    data[2, 3] = np.nan
    path = tmp_path / "bad.edf"
    fabio.edfimage.EdfImage(data=data).write(str(path))
    with pytest.raises(ImageLoadError, match="1 pixel of 100 are NaN"):
        load_detector_image(path)
