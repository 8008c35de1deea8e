"""A comparison bundle read back (app.bundle.bundle_reader) is the comparison that was written: the same images to the
bit, the same metrics and verdict, the same inspected pixels with the same per-phi rows and first divergence; a
damaged or foreign folder is refused with the file's name. And `nbparity gui --bundle` shows it in the window
(pytest-qt) without running an engine."""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from app.bundle.bundle_reader import BundleError, read_bundle
from app.core.session import ComparisonSession, SessionOptions, SideOptions
from app.bundle.snapshot import explained_verdict, write_snapshot
from tracing.ledger import load_ledger

# Two phi ticks from 0 with the C's carry-over on and torch's off: tick 0 diverges (spec 8.3), so the tables carry
# a first divergence to read back; 48² keeps it quick.
ARGV = ("-cell 70 80 90 75 85 95 -default_F 100 -N 3 -lambda 1 -distance 100 -pixel 0.4 -detpixels 48 "
        "-phi 0 -osc 0.2 -phisteps 2").split()
PIXELS = [(10, 30), (24, 24)]


@pytest.fixture(scope="module")
def written(tmp_path_factory, c_binary):
    session = ComparisonSession(ARGV, SessionOptions(SideOptions("cref", threads=1), SideOptions("torch")))
    a, b = session.run_both()
    assert a.ok and b.ok, (a.error, b.error)
    inspections = [session.inspect_pixel(s, f) for s, f in PIXELS]
    rec = session.record(a, b, None, inspections)
    folder = write_snapshot(session.record(a, b, rec.metrics, inspections), tmp_path_factory.mktemp("bundles"))
    return rec, folder


def test_the_record_read_back_equals_the_one_written(written):
    rec, folder = written
    back = read_bundle(folder)
    assert back.argv == tuple(ARGV) and back.labels == rec.labels
    for side in "ab":
        w, r = rec.outcome(side).result, back.outcome(side).result
        assert r.image.dtype == np.float32 and np.array_equal(r.image, w.image), side  # bit for bit
        assert r.wall_s == w.wall_s and back.outcome(side).engine == rec.outcome(side).engine
    assert back.metrics.to_dict() == rec.metrics.to_dict()
    # The verdict written is the record's, explained (app.bundle.snapshot.explained_verdict: the shipped ledger).
    explained = explained_verdict(rec, load_ledger())
    assert back.verdict.to_dict() == explained.to_dict() and back.verdict.passed is False  # tick 0 differs
    assert back.verdict.known == "explained: C φ=0 carry-over (known)"
    assert back.thresholds == rec.thresholds
    assert [(i.slow, i.fast) for i in back.inspections] == PIXELS
    for w, r in zip(rec.inspections, back.inspections, strict=True):
        assert r.describe() == w.describe()
        fw, fr = w.comparison.first_divergence, r.comparison.first_divergence
        assert (asdict(fr) if fr else None) == (asdict(fw) if fw else None)
        # Every per-phi value of the compared path, both sides, as traced.
        for side, trace in (("a", w.traces["a"]), ("b", w.traces["b"])):
            path = r.comparison.path_c if side == "a" else r.comparison.path_py   # PhiComparison: A, B
            want = [(s.phi_tic, s.phi_deg, s.values) for s in trace.series(path)]
            got = [(s.phi_tic, s.phi_deg, s.values) for s in r.traces[side].series(path)]
            assert [(t, p) for t, p, _ in got] == [(t, p) for t, p, _ in want]
            for (_, _, gv), (_, _, wv) in zip(got, want, strict=True):
                assert {k: gv[k] for k in gv} == {k: wv[k] for k in gv}, side
        assert r.traces["a"].scalars["pix0_vector_meters"] == w.traces["a"].scalars["pix0_vector_meters"]
    # Non-trivial: the first pixel diverges at tick 0 (the carry-over), and that reads back.
    assert back.inspections[0].comparison.first_divergence.phi_tic == 0


def test_a_damaged_or_foreign_folder_is_refused_with_the_file_named(written, tmp_path):
    import shutil
    _, folder = written
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    name = json.loads((copy / "manifest.json").read_text())["files_by_side"]["a"]["float"]
    data = bytearray((copy / name).read_bytes())
    data[100] ^= 0xFF
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"{name}: differs from what was written"):
        read_bundle(copy)
    (copy / name).unlink()
    with pytest.raises(BundleError, match=f"{name}: listed in manifest.json but missing"):
        read_bundle(copy)
    with pytest.raises(BundleError, match="manifest.json: missing"):
        read_bundle(tmp_path)


OLD_KEYS = {"a": "c", "b": "py"}   # what tracing.tables called sides A and B before the A/B names (issue 15)


def _table_with_old_names(doc: dict) -> dict:
    """A per-phi table as bundles wrote it before issue 15: c_*/py_* columns, "c"/"py" keys, "only C"/"only Py"."""
    def col(name: str) -> str:
        for new, old in OLD_KEYS.items():
            if name.startswith(f"{new}_"):
                return f"{old}_{name[2:]}"
        return name
    status = {"only A": "only C", "only B": "only Py"}
    rows = [{col(k): (status.get(v, v) if k == "status" else v) for k, v in r.items()} for r in doc["rows"]]
    s = dict(doc["summary"])
    for key in ("engines", "dialects", "notes"):
        s[key] = {OLD_KEYS[k]: v for k, v in s[key].items()}
    for stem in ("path", "missing_in", "ticks_only"):
        for new, old in OLD_KEYS.items():
            s[f"{stem}_{old}"] = s.pop(f"{stem}_{new}")
    scalars = [{OLD_KEYS.get(k, k): v for k, v in row.items()} for row in doc["scalars"]]
    return {"summary": s, "columns": [col(c) for c in doc["columns"]], "rows": rows, "scalars": scalars}


def test_a_bundle_written_with_the_old_c_py_names_opens_with_the_same_images_and_traces(written, tmp_path):
    # Build the old layout from a new bundle: every per-phi table rewritten with c_/py_ names, its size and sha256
    # put back into the manifest (the reader verifies them), then read both and compare what comes back.
    import hashlib
    import shutil
    _, folder = written
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    manifest = json.loads((old / "manifest.json").read_text())
    tables = sorted(old.glob("pixel_s*_f*.json"))
    assert len(tables) == len(PIXELS)
    for path in tables:
        doc = json.loads(path.read_text())
        assert "a_phi_deg" in doc["columns"] and "c_phi_deg" not in doc["columns"]   # written with the new names
        path.write_text(json.dumps(_table_with_old_names(doc), indent=2))
        entry = next(e for e in manifest["files"] if e["name"] == path.name)
        entry["bytes"], entry["sha256"] = path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()
        assert "c_phi_deg" in json.loads(path.read_text())["columns"]
    (old / "manifest.json").write_text(json.dumps(manifest, indent=2))

    new_rec, old_rec = read_bundle(folder), read_bundle(old)
    for side in "ab":
        assert np.array_equal(old_rec.outcome(side).result.image, new_rec.outcome(side).result.image)
    for n, o in zip(new_rec.inspections, old_rec.inspections, strict=True):
        assert o.describe() == n.describe()
        for side in "ab":
            tn, to = n.traces[side], o.traces[side]
            assert len(to.samples) == len(tn.samples) == 2   # two phi ticks on each side, not an empty trace
            assert [(s.phi_tic, s.phi_deg, s.path, s.values) for s in to.samples] == \
                [(s.phi_tic, s.phi_deg, s.path, s.values) for s in tn.samples]
            assert to.scalars == tn.scalars and to.dialect == tn.dialect
    assert old_rec.inspections[0].comparison.first_divergence.phi_tic == 0   # the carry-over tick, as written


@pytest.mark.gui
def test_gui_bundle_shows_the_written_images_metrics_and_traces(qtbot, written, make_window):
    pytest.importorskip("pytestqt")
    from gui_util import wait_idle

    from app.window.bundle_view import show_bundle
    rec, folder = written
    w = make_window(["-cell", "100", "100", "100", "90", "90", "90", "-default_F", "1", "-detpixels", "16"])
    # The record is shown as a run is (run_finished), and the panels' display plan is made on a worker.
    with qtbot.waitSignals([w.model.run_finished, w.display.applied], timeout=30_000):
        show_bundle(w, folder)
    wait_idle(qtbot, w)
    assert w.model.session is None and not w.model.busy  # nothing ran
    assert np.array_equal(w.panels.image_a(), rec.outcome("a").result.image)
    assert np.array_equal(w.panels.image_b(), rec.outcome("b").result.image)
    assert w.model.metrics.to_dict() == rec.metrics.to_dict()
    assert w.metrics_panel.values["correlation"].text() == f"{rec.metrics.correlation:.9f}"
    assert w.editor.argv() == list(ARGV)
    assert "not re-run" in w.windowTitle() and str(folder) in w.statusBar().currentMessage()
    shown = w.inspector.inspection
    assert shown is not None and (shown.slow, shown.fast) == PIXELS[-1]
    first = rec.inspections[-1].comparison.first_divergence  # the inspector shows the last pixel read
    assert w.inspector.divergence_tick() == (first.phi_tic if first else None)
    ticks, _ = w.inspector.curve_data("k_frac", "a")
    assert ticks.tolist() == [0, 1]
    assert all(not reason for reason in w.model.staleness.values())  # not marked as another command line
    # The pipeline tab of a loaded record: diffs made on a worker after the inspections (wait_idle waited for
    # it), with the per-φ rows of both ticks the bundle's tables hold.
    pipe = w.inspector.pipeline_of(*PIXELS[-1])
    assert pipe is not None and pipe.diff is not None, pipe
    assert {r.tick for r in pipe.diff.rows if r.tick is not None} == {0, 1}
    assert w.inspector.pipeline.diff is pipe.diff and w.inspector.pipeline.table.rowCount() == len(pipe.diff.rows)


@pytest.mark.gui
def test_run_gui_with_a_bundle_opens_it_and_the_cli_refuses_a_broken_one(qtbot, written, monkeypatch, tmp_path):
    """What `nbparity gui --bundle DIR` calls: run_gui shows the record in the window it opens, nothing runs; a
    folder that is no bundle is refused before any window opens (exit 3, the file named)."""
    pytest.importorskip("pytestqt")
    from PySide6 import QtCore, QtWidgets

    from app.cli import main as cli
    from app.window import lifecycle, main_window
    from app.qt.settings import AppSettings
    rec, folder = written
    qs = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    monkeypatch.setattr(main_window, "AppSettings", lambda: AppSettings(qs))
    made, seen = [], {}

    class Recording(main_window.MainWindow):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)
    monkeypatch.setattr(main_window, "MainWindow", Recording)

    def fake_exec(app):
        win = made[0]
        if win.panels.image_a() is None:  # the display plan arrives through the event loop
            with qtbot.waitSignal(win.display.applied, timeout=30_000):
                pass
        seen["a"] = win.panels.image_a().copy()
        seen["title"], seen["session"] = win.windowTitle(), win.model.session
        win.close()
        return 0
    monkeypatch.setattr(QtWidgets.QApplication, "exec", fake_exec)
    back = read_bundle(folder)
    assert lifecycle.run_gui(list(back.argv), None, autorun=False, bundle=(folder, back)) == 0
    assert np.array_equal(seen["a"], rec.outcome("a").result.image)
    assert seen["session"] is None and "not re-run" in seen["title"]
    assert cli.main(["gui", "--bundle", str(tmp_path)]) == cli.EXIT_USAGE
