"""Hands new images to the panels without freezing the window: scaling, levels, the difference and the
zoomed-out copies of multi-megapixel images (app.core.display_plan.plan_display) are computed on a worker thread, and
only the newest plan is applied (on the GUI thread)."""
from __future__ import annotations

from PySide6 import QtCore
from PySide6.QtCore import Signal, Slot

from app.core.display_plan import plan_display
from app.core.hugepages import avoid_hugepage_stalls
from app.widgets.image_panels import ImagePanels
from app.qt.workers import JobRunner

# From this many pixels on, a scale or difference-mode change is computed on a worker (it takes 0.1–0.5 s).
ASYNC_REPLAN_PIXELS = 1_000_000


class DisplayPlanner(QtCore.QObject):
    """Owns the raw (A, B) images shown by `panels` and their display plans; `applied` follows each plan handed
    to the panels."""

    applied = Signal()

    def __init__(self, panels: ImagePanels, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        avoid_hugepage_stalls()   # the plans' big short-lived arrays, without memory-compaction stalls (issue 19)
        self.panels = panels
        self.runner = JobRunner("nbparity-view")
        self.runner.result.connect(self._on_plan)
        self.shown: tuple = (None, None)   # raw (A, B) arrays most recently sent to the panels
        self._gen = 0
        self._full_pending = False         # a plan with new images is being computed
        self.ready = False
        panels.async_threshold = ASYNC_REPLAN_PIXELS
        panels.replanRequested.connect(self._replan)

    def reset(self) -> None:
        """Forget the images (a new run starts): plans still being computed are dropped."""
        self.shown = (None, None)
        self._gen += 1
        self._full_pending = False
        self.ready = False

    def drop(self, side: str) -> None:
        """Side 'a' or 'b' has no image any more (failed or cancelled); the difference follows what is left."""
        self.shown = (None, self.shown[1]) if side == "a" else (self.shown[0], None)
        self.panels.refresh_difference()

    def show(self, side: str, image=None, *, kind: str = "full") -> None:
        """Show `image` as side 'a' or 'b' ('keep': re-plan what is shown). kind 'diff' hands over only the
        difference (a mode change keeps the images' manual levels)."""
        a, b = self.shown
        self.shown = (image if side == "a" else a, image if side == "b" else b)
        if kind != "full" and self._full_pending:
            kind = "full"  # a newer plan supersedes the pending one, which carried new images: keep them
        self._full_pending = self._full_pending or kind == "full"
        self._gen += 1
        gen, opts, (a2, b2) = self._gen, self.panels.plan_options(), self.shown
        self.runner.start("display", lambda _p, _c: (gen, kind, plan_display(a2, b2, **opts)))

    @Slot(str)
    def _replan(self, kind: str) -> None:
        self.show("keep", kind="full" if kind == "scale" else "diff")

    @Slot(int, str, object)
    def _on_plan(self, _job: int, _tag: str, value) -> None:
        gen, kind, plan = value
        if gen != self._gen:
            return  # a newer image or setting arrived meanwhile; its plan follows
        if kind == "full":
            self._full_pending = False
            self.panels.apply_plan(plan)
        else:
            self.panels.apply_difference(plan)
        self.ready = True
        self.applied.emit()

    def busy(self) -> bool:
        return bool(self.runner.running())

    def close(self, wait_s: float = 0.2) -> bool:
        self.runner.close()
        return self.runner.wait_all(wait_s)
