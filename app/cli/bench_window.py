"""The window's own figures for `make bench` (issue 19): Run → first image drawn, the other side's image drawn when it
arrives, and click → plots, measured on the real MainWindow (offscreen) in a child process.

Run as `python -m app.cli.bench_window '{"args": [...], "a": "torch:float32", "b": "bin:/path/nbref",
"pixels": [[685, 1039], ...]}'`: prints one `BENCH_WORKER {json}` line with, in ms from the press of Run, when each
engine finished and when each display plan was applied (the sides it showed), then per pixel the time from the
click to the inspection (both traces and the per-φ comparison) and to the window being idle again (every plot and
table drawn). Every wait is on the window's signals (a local event loop), never a sleep; a wait longer than
`timeout_s` ends the worker with an error line.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _wait(signal, timeout_s: float, done=lambda *a: True) -> list:
    """Run a local event loop until `signal` fires with arguments for which done(*args) holds; its arguments."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    got: list = []

    def on(*args) -> None:
        if done(*args):
            got[:] = [args]
            loop.quit()

    signal.connect(on)
    timer = QtCore.QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    signal.disconnect(on)
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_s:g} s")
    return list(got[0])


def measure(spec: dict, timeout_s: float = 900.0) -> dict:
    """The window figures for spec (see the module docstring); needs a QApplication."""
    from PySide6 import QtCore

    from app.qt.settings import AppSettings
    from app.window.main_window import MainWindow

    with tempfile.TemporaryDirectory(prefix="nbparity-bench-") as tmp:
        qs = QtCore.QSettings(str(Path(tmp) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        w = MainWindow(spec["args"], settings=AppSettings(qs), install_hook=False, a=spec["a"], b=spec["b"],
                       auto_trace=False)
        try:
            w.resize(1500, 950)
            w.show()
            events: list[tuple[str, float]] = []
            t0 = [0.0]

            def stamp(name: str) -> None:
                events.append((name, 1000 * (time.perf_counter() - t0[0])))

            w.model.engine_finished.connect(lambda side, _o: stamp(f"{side} finished"))
            w.display.applied.connect(lambda: stamp("applied " + "".join(
                k for k, img in zip("ab", w.display.shown, strict=True) if img is not None)))
            t0[0] = time.perf_counter()
            if not w.run():
                raise RuntimeError(w.last_error or "Run refused")
            _wait(w.model.run_finished, timeout_s)
            if not w.idle():
                _wait(w.idle_reached, timeout_s, lambda *a: w.idle())
            outcomes = {k: w.model.outcome(k) for k in "ab"}
            failed = {k: (o.error if o is not None else "no outcome") for k, o in outcomes.items()
                      if o is None or not o.ok}
            if failed:
                raise RuntimeError(f"engines failed: {failed}")
            clicks = []
            for slow, fast in spec["pixels"]:
                c0 = time.perf_counter()
                if not w.inspect_pixel(slow, fast):
                    raise RuntimeError(w.last_error or "click refused")
                (insp,) = _wait(w.model.inspection_ready, timeout_s)
                t_insp = time.perf_counter() - c0
                if not w.idle():
                    _wait(w.idle_reached, timeout_s, lambda *a: w.idle())
                t_idle = time.perf_counter() - c0
                if insp.errors:
                    raise RuntimeError(f"inspection of ({slow}, {fast}) failed: {insp.errors}")
                clicks.append({"pixel": [slow, fast], "inspection_ms": 1000 * t_insp, "plots_ms": 1000 * t_idle,
                               "ticks": {k: len(t.series()) for k, t in insp.traces.items()},
                               "compared": insp.comparison is not None})
            return {"events": events, "clicks": clicks, "a": spec["a"], "b": spec["b"]}
        finally:
            w.shutdown()
            w.deleteLater()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["nbparity-bench"])
    try:
        spec = json.loads(args[0]) if args else None
        if not isinstance(spec, dict) or not {"args", "a", "b", "pixels"} <= spec.keys():
            raise ValueError("expected one JSON object with args, a, b and pixels")
        res = measure(spec)
    except (RuntimeError, TimeoutError, ValueError) as exc:
        print("BENCH_WORKER " + json.dumps({"error": str(exc)}), flush=True)
        return 2
    finally:
        app.processEvents()
    print("BENCH_WORKER " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
