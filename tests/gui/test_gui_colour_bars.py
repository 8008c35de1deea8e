"""Colour bars and maps: plain tick labels, explained handles, a sane linear lower level, grey among the maps."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_util import wait_laid_out  # noqa: E402

pytestmark = pytest.mark.gui


def test_linear_lower_level_is_zero_for_a_non_negative_image():
    from app.core.scaling import percentile_levels
    a = np.full((50, 50), 4e-14, np.float32)   # a dim background...
    a[10, 10] = 100.0                          # ...and one peak
    assert percentile_levels([a], 100.0, "linear").low == 0.0
    pedestal = a + 40.0                        # a real pedestal (counts with an offset) keeps its minimum
    assert percentile_levels([pedestal], 100.0, "linear").low == pytest.approx(40.0)


def test_bar_ticks_have_no_si_multiplier_and_the_handles_are_explained(qtbot):
    from app.widgets.image_panels import ImagePanels
    from app.core.scaling import Levels
    p = ImagePanels()
    qtbot.addWidget(p)
    p.resize(1200, 500)
    p.show()
    qtbot.waitExposed(p)
    for bar in (p.image_bar, p.diff_bar):
        bar.set_levels(Levels(0.0, 0.003))    # pyqtgraph would label such an axis "(x0.001)"
        wait_laid_out(qtbot, p)   # the axis laid out for the new levels (no signal for a layout pass)
        assert bar.bar.axis.autoSIPrefixScale == 1.0
        assert "x0.001" not in bar.bar.axis.labelString() and "x1e" not in bar.bar.axis.labelString()
        tip = bar.toolTip()
        assert "from the lower to the upper level" in tip and "handles are adjusters" in tip


def test_colour_maps_include_grey_and_colorcet_maps():
    from app.widgets.colour_bar import IMAGE_COLORMAPS
    from app.bundle.panel_png import lut
    assert {"viridis", "grey", "cividis"} <= set(IMAGE_COLORMAPS)
    assert any("CET" in name for name in IMAGE_COLORMAPS)
    grey = lut("grey").astype(int)
    assert grey[0].max() <= 5 and grey[-1].min() >= 250              # black to white
    assert np.all(np.abs(grey[:, 0] - grey[:, 2]) <= 3)              # no hue
    assert np.all(np.diff(grey[:, 1]) >= 0)                          # monotonic
