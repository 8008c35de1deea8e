"""A sweep reads back nothing on trust (issue 18): a finished case is judged from its verified bundle, not from
record.json; --out must be a sweep's folder; every case's files stay under cases/<case>/; a grid is counted before
it is expanded; a dead scheduler or a missing engine is exit 3 with a sentence. No dask cluster starts here: the
case is run directly (app.sweep.task.run_case), and resuming a finished case needs no cluster."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.cli.main import main
from app.sweep.matrix import load_matrix, parse_matrix, slugify
from simulator.config import ConfigError

# float32 against float64 on a 16² detector with max_rel_error 0: the images differ in their last bits, so the
# case FAILs (its figures are what the bundle's images give); milliseconds per render.
ONE_CASE = """
[sweep]
name = "one"
engines = ["torch:float32", "torch:float64"]
[sweep.thresholds]
max_rel_error = 0.0
min_correlation = 1.0
[[case]]
name = "small"
args = "-cell 100 100 100 90 90 90 -default_F 100 -N 2 -lambda 1 -distance 100 -pixel 0.1 -detpixels 16"
"""


@pytest.fixture
def finished(tmp_path):
    """A sweep folder whose one case ran (bundle + record.json), as an earlier `nbparity sweep` leaves it."""
    from app.sweep.cli import _write_matrix_copy
    from app.sweep.task import run_case
    path = tmp_path / "one.toml"
    path.write_text(ONE_CASE)
    matrix = load_matrix(path)
    out = tmp_path / "sweep"
    out.mkdir()
    _write_matrix_copy(out, matrix)
    rec = run_case(matrix.cases[0], str(out), threads=1)
    assert rec.status == "fail" and rec.max_rel_err > 0, rec   # float32 vs float64: not bit-equal
    return path, matrix, out


def _record(out: Path, matrix) -> Path:
    return out / "cases" / matrix.cases[0].slug / "record.json"


def test_an_untouched_record_is_resumed_as_written(finished):
    from app.sweep.trust import verified_record
    _path, matrix, out = finished
    checked = verified_record(out, matrix.cases[0])
    assert checked is not None and checked.note is None and checked.record.status == "fail"


def test_a_record_edited_fail_to_pass_is_not_believed(finished, capsys):
    path, matrix, out = finished
    rp = _record(out, matrix)
    body = json.loads(rp.read_text())
    body["status"], body["max_rel_err"] = "pass", 0.0
    rp.write_text(json.dumps(body))
    rc = main(["sweep", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 1, captured   # exit 1: the case fails (exit 0 believed the edited record)
    assert "0 pass, 1 fail" in captured.out
    records = json.loads((out / "records.json").read_text())["records"]
    assert records[0]["status"] == "fail" and "record.json said pass" in records[0]["error"]
    assert records[0]["max_rel_err"] > 0


def test_an_edited_bundle_is_not_resumed(finished):
    from app.sweep.trust import verified_record
    _path, matrix, out = finished
    bundle = out / json.loads(_record(out, matrix).read_text())["bundle"]
    metrics = bundle / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"fail"', '"pass"'))   # manifest's sha256 no longer matches
    assert verified_record(out, matrix.cases[0]) is None   # run again, not believed


def test_a_record_pointing_outside_its_case_folder_is_not_followed(finished, tmp_path):
    from app.sweep.trust import verified_record
    _path, matrix, out = finished
    rp = _record(out, matrix)
    body = json.loads(rp.read_text())
    body["bundle"] = "../elsewhere"
    rp.write_text(json.dumps(body))
    assert verified_record(out, matrix.cases[0]) is None


def test_out_holding_other_files_is_refused_and_left_alone(tmp_path, capsys):
    path = tmp_path / "one.toml"
    path.write_text(ONE_CASE)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.html").write_text("my own report")
    (out / "notes.txt").write_text("keep")
    assert main(["sweep", str(path), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "not a sweep's" in err and "notes.txt" in err and "Traceback" not in err
    assert (out / "report.html").read_text() == "my own report" and sorted(p.name for p in out.iterdir()) == [
        "notes.txt", "report.html"]


@pytest.mark.parametrize("name, slug", [("..", "case"), (".", "case"), ("../../etc", ".._.._etc"),
                                        ("/abs/x", "abs_x")])
def test_a_case_name_never_leaves_cases(name, slug):
    assert slugify(name) == slug and "/" not in slug and slug not in (".", "..")


@pytest.mark.parametrize("flag", ["-floatfile /abs/x.bin", "-intfile x.img", "-pgmfile p.pgm", "-noisefile n.img",
                                  "-floatimage /tmp/y.bin"])
def test_output_flags_in_a_case_are_refused_with_a_sentence(flag):
    text = ONE_CASE.replace("-detpixels 16", f"-detpixels 16 {flag}")
    with pytest.raises(ConfigError) as ei:
        parse_matrix(text, source="m.toml")
    msg = str(ei.value)
    assert "'small'" in msg and "outside the case's folder" in msg and flag.split()[1] in msg


def test_a_grid_of_a_million_cases_is_refused_at_once():
    values = ", ".join(str(1 + i / 1000) for i in range(1000))
    text = f"""[[grid]]
name = "huge"
args = "-cell 100 100 100 90 90 90 -default_F 100 -detpixels 16"
[grid.flags]
"-lambda" = [{values}]
"-distance" = [{", ".join(str(100 + i) for i in range(1000))}]
"""
    t0 = time.process_time()
    with pytest.raises(ConfigError, match=r"expands to 1,000,000 cases \(1000 x 1000 values\)"):
        parse_matrix(text, source="huge.toml")
    assert time.process_time() - t0 < 1.0   # CPU seconds of this process: the count, not the expansion


def test_a_dead_scheduler_is_exit_3_with_a_sentence(tmp_path, capsys):
    import socket
    path = tmp_path / "one.toml"
    path.write_text(ONE_CASE)
    with socket.socket() as s:   # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        rc = main(["sweep", str(path), "--out", str(tmp_path / "o"), "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert rc == 3 and "nothing answers there" in err and "Traceback" not in err
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--scheduler", "http://x:1/path"]) == 3
    assert "not a scheduler address" in capsys.readouterr().err


def test_a_missing_engine_binary_is_exit_3_before_anything_starts(tmp_path, capsys):
    path = tmp_path / "one.toml"
    path.write_text(ONE_CASE.replace('"torch:float32"', f'"bin:{tmp_path}/no/nanoBragg"'))
    out = tmp_path / "o"
    assert main(["sweep", str(path), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "cannot run here" in err and "no/nanoBragg" in err and "Traceback" not in err
    assert not out.exists()   # refused before the folder was made
