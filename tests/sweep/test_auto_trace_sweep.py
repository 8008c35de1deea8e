"""Issue 21 in the sweep: each failing case traces its worst pixels (app/sweep/task.py), its record and the CSV /
markdown / HTML report name the first divergent quantity, where, and what explains it, and the HTML groups failing
cases by cause — six cases with two causes read as two lines, the case names listed under each.

The two causes are real engines run on real command lines:
- carry-over: our C reference (φ=0 carry-over on, the real C's behaviour) against our PyTorch engine (off) on a
  command line whose first φ tick is exactly 0 — tick 0 diverges, the shipped ledger explains it;
- fluence: our C reference against itself given `-fluence 1e22` before the case's flags (a `cmd:` engine: a
  mis-set beam, the fault a sweep must name) — the scale factor fluence diverges, nothing explains it.
The sweep runs on a dask LocalCluster of one worker process (the runner passes the auto-trace options to it).
"""
from __future__ import annotations

import html
import json
import re

import pytest

from app.sweep.matrix import parse_matrix
from app.sweep.record import RECORD_FILE, CaseRecord
from app.sweep.report import cause_groups, to_csv, write_reports
from app.sweep.runner import SweepOptions, run_sweep

BASE = "-default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.4 -osc 0.5 -phisteps 5 -oversample 1 -nonoise"


def _matrix(nbref: str) -> str:
    bad_beam = f"cmd:{nbref} -fluence 1e22"
    cases = []
    for i, (cell, n) in enumerate((("70 80 90", 32), ("60 60 80", 40), ("75 75 75", 36))):
        cases.append(f'[[case]]\nname = "carry-{i}"\nargs = "-cell {cell} 90 90 90 -detpixels {n} -phi 0 {BASE}"\n'
                     'engines = ["cref", "torch"]\n')
        cases.append(f'[[case]]\nname = "beam-{i}"\nargs = "-cell {cell} 90 90 90 -detpixels {n} -phi 1 {BASE}"\n'
                     f'engines = ["cref", "{bad_beam}"]\n')
    return '[sweep]\nname = "two-causes"\nprobes = []\n' + "\n".join(cases)


@pytest.fixture(scope="module")
def swept(tmp_path_factory, c_binary):
    out = tmp_path_factory.mktemp("sweep21")
    matrix = parse_matrix(_matrix(str(c_binary)))
    assert len(matrix.cases) == 6
    result = run_sweep(matrix, SweepOptions(out=out, workers=1, threads=1))
    assert not result.cancelled
    write_reports(out, result.records, title="two causes", facts={})
    return out, {r.name: r for r in result.records}


@pytest.mark.slow
def test_every_failing_case_records_its_cause(swept):
    out, recs = swept
    assert {r.status for r in recs.values()} == {"fail"}, {n: (r.status, r.error) for n, r in recs.items()}
    for name, r in recs.items():
        assert r.auto_trace_s is not None and r.auto_trace_s > 0
        assert re.fullmatch(r"(φ tick 0 )?at \(\d+, \d+\)", r.first_where), r.first_where
        if name.startswith("carry"):
            assert r.first_where.startswith("φ tick 0 at ")
            assert r.explained_by == "C φ=0 carry-over (known)"
        else:
            assert r.first_quantity == "fluence" and r.explained_by == "unexplained"
        assert r.verdict.startswith(f"FAIL — {r.cause}; "), r.verdict
        back = CaseRecord.from_dict(json.loads((out / r.bundle).parent.joinpath(RECORD_FILE).read_text()))
        assert (back.first_quantity, back.first_where, back.explained_by) == \
            (r.first_quantity, r.first_where, r.explained_by)


@pytest.mark.slow
def test_six_cases_two_causes_two_lines_in_the_html(swept):
    out, recs = swept
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page.split("<h2>Failing cases by cause</h2>", 1)[1].split("</ol>", 1)[0]
    lines = re.findall(r"<li class='cause'><b>(.*?)</b>: (\d+) cases<div class='muted'>(.*?)</div></li>", section)
    assert len(lines) == 2, section
    by_line = {html.unescape(t): (int(n), sorted(html.unescape(c).split(", "))) for t, n, c in lines}
    carry = recs["carry-0"].first_quantity
    assert by_line[f"first divergent quantity: {carry} at φ tick 0 — C φ=0 carry-over (known)"] == \
        (3, ["carry-0", "carry-1", "carry-2"])
    assert by_line["first divergent quantity: fluence — unexplained"] == (3, ["beam-0", "beam-1", "beam-2"])
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Failing cases by cause" in md
    header = (out / "report.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[8:11] == ["first divergent quantity", "where", "explained by"]


def test_grouping_and_untrusted_record_fields():
    """cause_groups on records as read back: a non-text value in record.json is dropped, never shown."""
    def rec(name, q, where, by, status="fail"):
        cause = f"first divergent quantity: {q}" if isinstance(q, str) else {"<b>": 1}
        return CaseRecord.from_dict({"name": name, "slug": name, "status": status, "argv": [], "engines": [],
                                     "fingerprint": "", "first_quantity": q, "first_where": where,
                                     "explained_by": by, "cause": cause})
    recs = [rec("a", "k", "φ tick 0 at (1, 2)", "X (known)"), rec("b", "k", "φ tick 0 at (7, 9)", "X (known)"),
            rec("c", "fluence", "at (3, 3)", "unexplained"), rec("d", "k", "φ tick 0 at (1, 2)", "X", "pass"),
            rec("e", ["<script>"], {"x": 1}, 5), rec("f", "", "", ""), rec("g", "", "", "")]
    recs[5].cause, recs[6].cause = "no divergent quantity in the traced pixel (1, 1)", "… (2, 2)"
    groups = cause_groups(recs)
    assert [(line, [m.name for m in ms]) for line, ms in groups] == [
        ("first divergent quantity: k at φ tick 0 — X (known)", ["a", "b"]),
        ("no divergent quantity in the traced pixels: the divergence is elsewhere", ["f", "g"]),
        ("first divergent quantity: fluence — unexplained", ["c"]),
        ("cause not traced (auto-trace off, cut short by its budget, or the case was resumed)", ["e"])]
    assert (recs[4].first_quantity, recs[4].first_where, recs[4].explained_by, recs[4].cause) == ("", "", "", "")
    assert "<script>" not in to_csv(recs)


def test_a_case_with_auto_trace_off_records_no_cause(tmp_path, c_binary):
    """`nbparity sweep --no-auto-trace` reaches the task: the case fails as before and names no cause."""
    from app.core.auto_trace import AutoTraceOptions
    from app.sweep.task import run_case
    matrix = parse_matrix(_matrix(str(c_binary)))
    case = next(c for c in matrix.cases if c.name == "carry-0")
    rec = run_case(case, str(tmp_path), threads=1, auto=AutoTraceOptions(enabled=False))
    assert rec.status == "fail"
    assert (rec.first_quantity, rec.first_where, rec.explained_by, rec.cause, rec.auto_trace_s) == \
        ("", "", "", "", None)
    assert "first divergent quantity" not in rec.verdict
    assert cause_groups([rec])[0][0].startswith("cause not traced")


def test_sweep_command_line_takes_the_options(tmp_path, monkeypatch, c_binary):
    """--no-auto-trace / --auto-trace-budget reach the runner's options (the run itself replaced: no cluster)."""
    from app.core.auto_trace import options_from_args
    from app.sweep import cli
    seen = []
    monkeypatch.setattr(cli, "_run", lambda matrix, out, opts, cluster=None: seen.append(options_from_args(opts))
                        or 0)
    assert cli.cmd_sweep(["--builtin", "at-parallel", "--no-auto-trace", "--auto-trace-budget", "7",
                          "--out", str(tmp_path / "s")]) == 0
    assert [(o.enabled, o.budget_s) for o in seen] == [(False, 7.0)]
    from app.core.cli_args import UsageError
    with pytest.raises(UsageError, match="--auto-trace-budget: .0.: expected a positive number of seconds"):
        cli.cmd_sweep(["--builtin", "at-parallel", "--auto-trace-budget", "0", "--out", str(tmp_path / "t")])
