"""app.core.inspection_pipeline (Qt-free): an inspected pixel's pipeline diff, the per-φ fields a side prints in another
unit converted for the plots by the power of ten the diff found, and why there is no diff."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.core.inspection_pipeline import convert_trace, pipeline_for, unit_factors
from tracing.records import PathKey, PhiSample, PixelTrace

N = 4


def trace(engine: str, k_scale: float, dialect: str) -> PixelTrace:
    """k = 2.0 + 0.01·tick (times k_scale, as a port printing k at 1e-10 of the index would) and F_latt = 5."""
    samples = [PhiSample(t, 0.1 * t, PathKey(), {"k_frac": (2.0 + 0.01 * t) * k_scale, "F_latt": 5.0})
               for t in range(N)]
    return PixelTrace(engine, 5, 7, samples=samples, dialect=dialect)


def inspection(a: PixelTrace | None, b: PixelTrace | None):
    traces = {k: t for k, t in (("a", a), ("b", b)) if t is not None}
    return SimpleNamespace(slow=5, fast=7, traces=traces, labels={"a": "golden", "b": "port"})


def test_a_side_printing_k_at_1e_minus_10_is_converted_for_the_plots():
    a, b = trace("c", 1.0, "golden"), trace("port", 1e-10, "port")
    pipe = pipeline_for(inspection(a, b))
    assert pipe.diff is not None and pipe.reason == ""
    k_rows = [r for r in pipe.diff.rows if r.name == "k" and r.tick is not None]
    assert len(k_rows) == N and all(r.status == "unit B" for r in k_rows), [r.status for r in k_rows]
    assert unit_factors(pipe.diff) == {"b": {"k_frac": pytest.approx(1e10)}}
    assert pipe.conversions == ("B's k_frac × 1e+10",)
    conv = pipe.traces["b"]
    assert [s.get("k_frac") for s in conv.series()] == pytest.approx([2.0 + 0.01 * t for t in range(N)], rel=1e-12)
    assert [s.get("F_latt") for s in conv.series()] == [5.0] * N          # other fields untouched
    assert b.series()[0].get("k_frac") == pytest.approx(2e-10)             # the inspection keeps what was printed
    assert "a" not in pipe.traces and any("k_frac × 1e+10" in n for n in conv.notes)


def test_same_units_need_no_conversion():
    pipe = pipeline_for(inspection(trace("c", 1.0, "rich"), trace("torch", 1.0, "py")))
    assert pipe.diff is not None and pipe.traces == {} and pipe.conversions == ()
    assert unit_factors(pipe.diff) == {}


def test_convert_trace_multiplies_only_the_named_fields():
    t = trace("port", 1e-10, "port")
    c = convert_trace(t, {"k_frac": 1e10})
    assert c is not t and c.samples[1].get("k_frac") == pytest.approx(2.01)
    assert c.samples[1].path == t.samples[1].path and c.samples[1].phi_deg == t.samples[1].phi_deg


def test_no_diff_without_both_traces_and_a_failing_diff_is_a_reason(monkeypatch):
    pipe = pipeline_for(inspection(trace("c", 1.0, "golden"), None))
    assert pipe.diff is None and pipe.reason == "no trace from port"

    def boom(*_a, **_k):
        raise ValueError("bad row")
    monkeypatch.setattr("app.core.inspection_pipeline.diff_pipeline", boom)   # a fault, not a stand-in engine
    pipe = pipeline_for(inspection(trace("c", 1.0, "golden"), trace("port", 1.0, "port")))
    assert pipe.diff is None and pipe.reason == "the pipeline diff failed: ValueError: bad row"
