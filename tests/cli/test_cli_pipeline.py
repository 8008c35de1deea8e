"""`nbparity compare --pixel/--ledger` and `nbparity trace --ledger` (issue 16): the whole calculation diffed and
written, the verdict explained by the shipped ledger, its path and sha256 in the manifest, bad ledgers refused."""
from __future__ import annotations

import json

from test_cli_headless import TINY, _only_bundle

from app.cli.main import EXIT_OK, EXIT_PARITY, EXIT_USAGE, main
from tracing.ledger import SHIPPED_LEDGER


def test_compare_with_a_pixel_explains_the_carryover(c_binary, tmp_path, capsys):
    # Our C reference carries tick 2's lattice into tick 0 (its default), torch does not: a per-pixel FAIL that the
    # shipped ledger explains; the traced pixel's whole calculation is written as markdown and JSON.
    # --no-auto-trace: the explanation comes from the --pixel alone (issue 21's auto-trace is test_auto_trace.py)
    code = main(["compare", "--out", str(tmp_path), "--c-bin", str(c_binary), "--no-auto-trace", "--pixel", "16",
                 "20", "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_PARITY, out
    assert "whole calculation: first divergent quantity: " in out
    assert "FAIL — explained: C φ=0 carry-over (known)" in out
    folder = _only_bundle(tmp_path)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["parity"]["known"] == "explained: C φ=0 carry-over (known)"
    manifest = json.loads((folder / "manifest.json").read_text())
    (entry,) = manifest["known_divergences"]
    assert entry["path"] == str(SHIPPED_LEDGER) and len(entry["sha256"]) == 64
    doc = json.loads((folder / "pipeline_s16_f20.json").read_text())
    assert doc["first_divergent"]["tick"] == 0 or doc["first_divergent"]["stage"] == "lattice"
    assert [r["stage"] for r in doc["rows"]][0] == "detector geometry"
    md = (folder / "pipeline_s16_f20.md").read_text()
    assert md.startswith("## Whole calculation of pixel (slow 16, fast 20)") and "| per-φ | k | 0 |" in md
    assert "whole calculation: first divergent quantity" in (folder / "summary.md").read_text()


def test_trace_with_the_carryover_on_both_sides_has_no_divergent_quantity(c_binary, tmp_path, capsys):
    code = main(["trace", "--out", str(tmp_path), "--c-bin", str(c_binary), "--torch-carryover", "on",
                 "--pixel", "16", "20", "--", *TINY])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "whole calculation: no divergent quantity among the " in out
    folder = _only_bundle(tmp_path)
    doc = json.loads((folder / "pipeline_s16_f20.json").read_text())
    assert doc["first_divergent"] is None and not doc["unit_problems"]


def test_a_bad_ledger_is_a_usage_error_naming_file_and_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "mine.toml"
    bad.write_text('[[divergence]]\nid = "a"\ntitle = "t"\nsignature = "phi0_carryover"\n\n'
                   '[[divergence]]\nid = "b"\ntitle = "u"\nsignature = "nope"\n', encoding="utf-8")
    assert main(["trace", "--ledger", str(bad), "--pixel", "1", "1", "--", *TINY]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{bad}, line 6: signature 'nope': expected one of phi0_carryover, quantities, scale_factor" in err
    assert "Traceback" not in err and not (tmp_path / "nbparity-out").exists()
