"""Colour-map names, Qt-free: the names the window shows and the pyqtgraph map behind each, shared by the panels
(app/widgets/image_panels.py) and the snapshot pictures drawn offscreen (app/bundle/panel_png.py)."""
from __future__ import annotations

# Shown name -> pyqtgraph colour map (pyqtgraph ships the matplotlib maps and colorcet's CET maps itself, so
# colorcet is not a dependency). The first is the default.
COLORMAPS: dict[str, str] = {
    "viridis": "viridis", "inferno": "inferno", "magma": "magma", "plasma": "plasma", "cividis": "cividis",
    "grey": "CET-L1", "fire (CET-L3)": "CET-L3", "blue (CET-L6)": "CET-L6", "rainbow (CET-R4)": "CET-R4",
    "turbo": "turbo",
}
IMAGE_COLORMAPS: tuple[str, ...] = tuple(COLORMAPS)
DIVERGING_COLORMAP = "CET-D1"


def pg_colormap(name: str) -> str:
    """The pyqtgraph map behind a shown colour-map name (pyqtgraph names pass through)."""
    return COLORMAPS.get(name, name)
