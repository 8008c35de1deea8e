"""The stand-alone colour bar (colour-map names: app.core.colormaps) that drives the panels' image levels."""
from __future__ import annotations

from PySide6 import QtWidgets  # noqa: F401  (PySide6 before pyqtgraph)

import pyqtgraph as pg

from app.core.colormaps import COLORMAPS, DIVERGING_COLORMAP, IMAGE_COLORMAPS, pg_colormap  # noqa: F401 (re-export)
from app.core.scaling import Levels

BAR_WIDTH_PX = 128        # every colour bar is this wide, so the three image panels share one width


class ColorBarView(pg.GraphicsLayoutWidget):
    """A stand-alone vertical colour bar that drives the levels of one or more panels' images."""

    # pyqtgraph's ColorBarItem: the bar spans the two levels (its end labels); the ◆ handles at 1/4 and 3/4 are
    # adjusters that move a level while dragged and snap back when released, not level markers.
    HANDLE_TIP = ("Colour bar ({unit}): it runs from the lower to the upper level, the values at its two ends. The "
                  "two ◆ handles are adjusters, not levels: drag the upper one to move the upper level (the further, "
                  "the faster), the lower one for the lower level, the band between them to shift both; they snap "
                  "back when released. Values beyond a level show in the end colour. The Levels boxes and Auto set "
                  "them exactly.")

    def __init__(self, colormap: str, label: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setFixedWidth(BAR_WIDTH_PX)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(pg_colormap(colormap)), label=None,
                                   interactive=True, rounding=1e-9, pen="k")
        # Plain numbers on the bar: no "(x0.001)" SI-prefix scaling of the tick labels.
        self.bar.axis.enableAutoSIPrefix(False)
        # Room for tick labels such as "-5e-05" and the axis title beside them (the automatic width forgets the
        # title, which then overlaps the ticks).
        self.bar.axis.setWidth(74)
        self.addItem(self.bar)
        self.set_label(label)

    def attach(self, items: list[pg.ImageItem]) -> None:
        self.bar.setImageItem(items)

    def set_levels(self, levels: Levels) -> None:
        self.bar.rounding = max((levels.high - levels.low) / 1000.0, 1e-30)
        self.bar.setLevels((levels.low, levels.high))

    def levels(self) -> Levels:
        lo, hi = self.bar.levels()
        return Levels(float(lo), float(hi))

    def set_colormap(self, name: str) -> None:
        self.bar.setColorMap(pg.colormap.get(pg_colormap(name)))

    def set_label(self, text: str) -> None:
        self.bar.axis.setLabel(text)
        self.setToolTip(self.HANDLE_TIP.format(unit=text))
