"""Write a comparison snapshot (bundle) from an immutable app.core.records.ComparisonRecord. Qt-free; never calls
back into the session.

Files in the new timestamped folder (all written through tracing.bundle.BundleWriter: whole or not at all, never
over an earlier bundle), named after the engines: `<S>` is the side's tag, its letter and the engine's label as a
file name, e.g. `A-nbparity-C-reference-84f6a0fa`, `B-nbparity-PyTorch-f64` (`manifest.json` maps sides to files
under "files_by_side"):

| file | content |
|---|---|
| `<S>_float.bin` | raw little-endian float32 (slow, fast) image of each side, like the C's `-floatfile` |
| `diff_A_minus_B.bin` | float32 A − B, same layout (when both images exist and their shapes agree) |
| `<S>.img` | uint16 SMV image as the C's -intfile (simulator.io_files: spec 9.3 scaling, 10.3 header) |
| `metrics.json` | tracing.metrics.ImageMetrics (a = side A, b = side B), the parity verdict and its thresholds |
| `summary.md` | command, engines, metrics table, verdict, first divergence per inspected pixel |
| `<S>_log.txt` | each engine's log (bounded), or its error and log tail |
| `manifest.json` | ComparisonRecord.manifest (sides, engines, fingerprints, threads and why) + files, sha256 |
| `pixel_s<S>_f<F>.*` | per-phi tables of each inspected pixel (tracing.tables; a_ columns = side A, b_ = side B) |
| `pipeline_s<S>_f<F>.md/.json` | the whole calculation of the pixel diffed (tracing.pipeline / pipeline_report) |
| `pixel_s<S>_f<F>_<side>_curve.csv` | per-tick intensity from single-tick runs of a side without per-phi trace |
| `*.png` | `panel_a.png`, `panel_b.png`, `panel_diff.png` with png=True (app.bundle.panel_png), plus extra_files |
| `report.html`, `pixel_*_figure.png` | png=True: the report, a figure per pixel (app.bundle.report_files) |

The verdict written (metrics.json, summary.md, report.html) is the record's verdict explained (tracing.why): the
scale decomposed into the scaling factors both sides report, what could not be traced, and the known-divergence
ledger's reading of the traced pixels; the ledger files' paths and sha256 go into the manifest
("known_divergences").
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.records import ComparisonRecord, EngineOutcome, PixelInspection
from simulator.config import ConfigError, NanoBraggConfig
from simulator.io_files import SMVHeader, header_from_setup, int_image, int_scale, smv_header_text
from simulator.setup import build_setup
from tracing.bundle import BundleWriter
from tracing.ledger import Ledger, LedgerError, load_ledger
from tracing.metrics import Verdict
from tracing.metrics import metric_rows  # noqa: F401  (re-exported: the console and the window use it)
from tracing.phi_compare import compare_traces
from tracing.pipeline import PipelineDiff, diff_pipeline
from tracing.pipeline_report import pipeline_json, pipeline_markdown
from tracing.records import PixelTrace
from tracing.scale import ScaleFactors, factors_from_log
from tracing.tables import write_phi_tables
from tracing.why import explain_verdict
from app.core.sides import SIDES
DIFF_NAME = "diff_A_minus_B.bin"


def side_tag(side: str, label: str) -> str:
    """File-name tag of a side: 'A-nbparity-C-reference-84f6a0fa' (letters, digits, '.', '_' and '-')."""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", label).strip("-.")[:60] or "engine"
    return f"{side.upper()}-{slug}"


def write_snapshot(record: ComparisonRecord, parent: Path, *, extra_files: dict[str, bytes] | None = None,
                   png: bool = False, prefix: str = "compare", ledger: Ledger | None = None) -> Path:
    """See the module docstring; returns the final folder. ledger: the known divergences (default: the shipped
    ledger, resources/known_divergences.toml)."""
    notes: list[str] = []
    extra_files = dict(extra_files or {})
    if ledger is None:
        try:
            ledger = load_ledger()
        except LedgerError as exc:
            notes.append(str(exc))
    record = dataclasses.replace(record, verdict=explained_verdict(record, ledger))
    tags = {k: side_tag(k, record.label(k)) for k in SIDES}
    reserved = reserved_names(tags)
    for name in extra_files:
        _check_extra_name(name, reserved)
    outs = {k: record.outcome(k) for k in SIDES}
    imgs = {k: _image(outs[k]) for k in SIDES}
    img_a, img_b = imgs["a"], imgs["b"]
    pair = (img_a, img_b) if img_a is not None and img_b is not None and img_a.shape == img_b.shape else None
    both = pair is not None
    metrics, verdict = record.metrics, record.verdict

    header, why = smv_header(record) if any(v is not None for v in imgs.values()) else (None, None)
    if why:
        notes.append(why)
    files_by_side: dict[str, dict[str, str]] = {k: {} for k in SIDES}
    with BundleWriter(Path(parent), prefix) as bundle:
        assert bundle.tmp is not None  # the temporary folder, from __enter__ on
        for k in SIDES:
            img = imgs[k]
            if img is None:
                continue
            bundle.write_array_f32(f"{tags[k]}_float.bin", img)
            files_by_side[k]["float"] = f"{tags[k]}_float.bin"
            if header is not None and img.shape == (header.spixels, header.fpixels):
                bundle.write_bytes(f"{tags[k]}.img", smv_bytes(img, record.config, header))
                files_by_side[k]["smv"] = f"{tags[k]}.img"
            elif header is not None:
                notes.append(f"{tags[k]}.img not written: image {img.shape} differs from the geometry "
                             f"({header.spixels}, {header.fpixels})")
        if pair is not None:
            bundle.write_array_f32(DIFF_NAME, pair[0].astype(np.float32) - pair[1].astype(np.float32))
        for k in SIDES:
            o = outs[k]
            if o is not None:
                bundle.write_text(f"{tags[k]}_log.txt", _log_text(o))
                files_by_side[k]["log"] = f"{tags[k]}_log.txt"
        if any(o is not None for o in outs.values()):
            bundle.write_json("metrics.json", {
                "sides": {k: record.label(k) for k in SIDES},
                "metrics": metrics.to_dict() if metrics is not None else None,
                "parity": verdict.to_dict() if verdict else None,
                "shape_mismatch": None if both or img_a is None or img_b is None
                else {"a": list(img_a.shape), "b": list(img_b.shape)},
            })
        for insp in record.inspections:
            _write_inspection(bundle, insp, tags, record.thresholds)
        if png and any(v is not None for v in imgs.values()):
            from app.bundle.panel_png import panel_pngs  # lazy: pulls in Qt / plotting
            pictures = panel_pngs(imgs["a"], imgs["b"], names=(record.label("a"), record.label("b")))
            for name, data in pictures.items():
                bundle.write_bytes(name, data)
            if "report.html" not in extra_files:  # the window brings its own (app.window.export.render)
                from app.bundle.report_files import report_files
                for name, data in report_files(record, pictures).items():
                    bundle.write_bytes(name, data)
        for name, data in extra_files.items():
            bundle.write_bytes(name, data)
        manifest = dict(record.manifest, files_by_side=files_by_side,
                        known_divergences=ledger.manifest() if ledger is not None else [])
        bundle.write_text("summary.md", summary_markdown(record, manifest, notes))
        # Last, so that its file list (name, size, sha256) covers everything above.
        bundle.write_manifest("manifest.json", extra=manifest)
    assert bundle.path is not None  # set by a clean __exit__
    return Path(bundle.path)


# ---- the verdict explained and the pipeline diffs -----------------------------------------------------------------
def names_of(record: ComparisonRecord) -> tuple[str, str]:
    return record.label("a"), record.label("b")


def pixel_pipeline(record: ComparisonRecord, insp: PixelInspection) -> PipelineDiff | None:
    """The pipeline diff of one inspected pixel (None unless both sides traced it)."""
    ta, tb = insp.traces.get("a"), insp.traces.get("b")
    if ta is None or tb is None:
        return None
    return diff_pipeline(ta, tb, record.thresholds, names=names_of(record))


def explained_verdict(record: ComparisonRecord, ledger: Ledger | None) -> Verdict | None:
    """The record's verdict with tracing.why's explanation (scale, untraced sides, ledger), or None."""
    if record.verdict is None or record.metrics is None:
        return record.verdict
    outs = [record.outcome(k) for k in SIDES]
    log_a, log_b = (factors_from_log(o.result.log) if o is not None and o.ok and o.result is not None
                    else ScaleFactors() for o in outs)
    traces = [(i.traces.get("a"), i.traces.get("b")) for i in record.inspections]
    diffs = [d for d in (pixel_pipeline(record, i) for i in record.inspections) if d is not None]
    return explain_verdict(record.verdict, record.metrics, names=names_of(record), traces=traces, diffs=diffs,
                           logs=(log_a, log_b), ledger=ledger)


# ---- pieces -------------------------------------------------------------------------------------------------------
def smv_header(record: ComparisonRecord) -> tuple[SMVHeader | None, str | None]:
    """(header, None) with the resolved geometry of spec 10.3 — from a torch render's meta when there is one,
    else resolved here from the configuration (torch-free) — or (None, why not)."""
    for k in SIDES:
        o = record.outcome(k)
        meta = o.result.meta if o is not None and o.result is not None else {}
        if "smv_header" in meta:
            return SMVHeader.from_dict(meta["smv_header"]), None
    try:
        return header_from_setup(build_setup(record.config)), None
    except Exception as exc:  # noqa: BLE001 - the float images are the record; the SMV copies are a convenience
        return None, f"SMV images not written: the geometry could not be resolved ({exc})"


def smv_bytes(img: np.ndarray, cfg: NanoBraggConfig, header: SMVHeader) -> bytes:
    """SMV file of a float image, as the C's -intfile: spec 9.3 int conversion (scale, ADC, ROI), 10.3 header."""
    s_n, f_n = img.shape
    roi = cfg.output.roi if cfg.output.roi is not None else (0, f_n - 1, 0, s_n - 1)
    data = int_image(img, roi, int_scale(img, roi, cfg.output.scale), cfg.output.adc)
    return smv_header_text(header) + np.ascontiguousarray(data, dtype=np.uint16).tobytes()


def summary_markdown(record: ComparisonRecord, manifest: dict, notes: Sequence[str] = ()) -> str:
    """The human-readable page of a bundle."""
    outs = {k: record.outcome(k) for k in SIDES}
    ran = any(o is not None for o in outs.values())
    kind = "comparison" if ran else "pixel traces"
    lines = [f"# nbparity {kind} ({manifest['time_utc']})", "", "## Command", "",
             "```", "nanoBragg " + " ".join(_quote(a) for a in manifest["argv"]), "```", ""]
    for k in SIDES:
        side = manifest["sides"][k]
        lines.append(f"- {k.upper()}: **{side['label']}** ({side['fingerprint']}): "
                     f"`{' '.join(_quote(a) for a in side['command'])}`")
        lines += [f"  - {n}" for n in side.get("notes", [])]
    lines.append("")
    if manifest.get("warnings"):
        lines += ["Warnings:", ""] + [f"- {w}" for w in manifest["warnings"]] + [""]
    if ran:  # a trace-only bundle has no renders to report
        lines += _engine_section(record, outs)
    if record.inspections:
        lines += ["## Pixels traced", ""] + [f"- {i.describe()}" for i in record.inspections] + [""]
        for insp in record.inspections:
            diff = pixel_pipeline(record, insp)
            if diff is not None:
                lines.append(f"- pixel (slow={insp.slow}, fast={insp.fast}), whole calculation: {diff.sentence} "
                             f"(`{insp.pipeline_stem}.md`)")
                lines += [f"  - unit problem: {u}" for u in diff.unit_problems]
        lines.append("")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _engine_section(record: ComparisonRecord, outs: dict[str, EngineOutcome | None]) -> list[str]:
    lines = ["## Engines", "", "| side | engine | status | wall time (s) | image (slow × fast) |",
             "|---|---|---|---|---|"]
    for k in SIDES:
        o, name = outs[k], _cell(record.label(k))
        if o is None:
            lines.append(f"| {k.upper()} | {name} | not run | | |")
        elif o.ok and o.result is not None:
            r = o.result
            lines.append(f"| {k.upper()} | {name} | ok | {r.wall_s:.3f} | {r.shape[0]} × {r.shape[1]} |")
        else:
            status = "cancelled" if o.cancelled else f"FAILED: {_cell(o.error or '')}"
            lines.append(f"| {k.upper()} | {name} | {status} | | |")
    lines.append("")
    if record.metrics is not None:
        lines += [f"## Metrics (A = {record.label('a')}, B = {record.label('b')})", "", "| metric | value |",
                  "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in metric_rows(record.metrics)]
        lines.append("")
    lines += ["## Verdict", ""]
    a, b = outs["a"], outs["b"]
    if record.verdict is not None:
        lines.append(record.verdict.sentence())
    elif a is not None and a.ok and a.result is not None and b is not None and b.ok and b.result is not None:
        lines.append(f"No verdict: the images differ in shape ({record.label('a')} {a.result.shape}, "
                     f"{record.label('b')} {b.result.shape}).")
    else:
        lines.append("No verdict: both images are needed (see Engines).")
    lines.append("")
    return lines


def _write_inspection(bundle: BundleWriter, insp: PixelInspection, tags: dict[str, str], thresholds) -> None:
    """Per-phi tables whenever at least one side traced the pixel (the other side's columns stay empty), each
    side's single-tick curve when there is one, and the errors."""
    ta, tb = insp.traces.get("a"), insp.traces.get("b")
    if ta is not None or tb is not None:
        assert bundle.tmp is not None  # the temporary folder, from __enter__ on
        a_tr = ta or PixelTrace(engine=insp.labels.get("a", "A"), slow=insp.slow, fast=insp.fast)
        b_tr = tb or PixelTrace(engine=insp.labels.get("b", "B"), slow=insp.slow, fast=insp.fast)
        cmp = insp.comparison if insp.comparison is not None else compare_traces(a_tr, b_tr)
        for path in write_phi_tables(bundle.tmp, insp.stem, cmp, a_tr, b_tr):
            bundle.path_for(path.name)  # register it for the manifest's file list
    if ta is not None and tb is not None:
        names = (insp.labels.get("a", "A"), insp.labels.get("b", "B"))
        diff = diff_pipeline(ta, tb, thresholds, names=names)
        title = f"Whole calculation of pixel (slow {insp.slow}, fast {insp.fast})"
        stem = insp.pipeline_stem
        bundle.write_text(f"{stem}.md", pipeline_markdown(diff, names, title))
        bundle.write_json(f"{stem}.json", pipeline_json(diff, names))
    for k, curve in insp.curves.items():
        rows = [f"# {curve.engine}: per-tick contribution from single-tick runs (single-tick value / N)",
                f"# sum {curve.sum_value!r}, image value {curve.image_value!r}"
                + (f": {curve.explanation}" if curve.explanation else ""), "phi_tic,phi_deg,I_tick"]
        rows += [f"{r['phi_tic']},{r['phi_deg']!r},{r['I_tick']!r}" for r in curve.rows()]
        bundle.write_text(f"{insp.stem}_{tags[k]}_curve.csv", "\n".join(rows) + "\n")
    problems = {f"{tags[k]}_error": v for k, v in insp.errors.items()}
    problems.update({f"{tags[k]}_log_tail": v for k, v in insp.log_tails.items() if v})
    if problems:
        bundle.write_json(f"{insp.stem}_errors.json", problems)


def _image(o: EngineOutcome | None) -> np.ndarray | None:
    return o.result.image if o is not None and o.result is not None else None


def _log_text(o: EngineOutcome) -> str:
    if o.result is not None:
        return o.result.log
    head = "cancelled" if o.cancelled else f"ERROR: {o.error}"
    return f"{head}\n\n--- log tail ---\n{o.log_tail}\n"


def reserved_names(tags: dict[str, str]) -> frozenset[str]:
    """Names the snapshot writes itself (extra files may not take them)."""
    names = {DIFF_NAME, "metrics.json", "summary.md", "manifest.json"}
    for t in tags.values():
        names |= {f"{t}_float.bin", f"{t}.img", f"{t}_log.txt"}
    return frozenset(names)


def _check_extra_name(name: str, reserved: frozenset[str]) -> None:
    """Extra files are plain names inside the bundle: no folders, no hidden files, no reserved names."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name in reserved:
        raise ConfigError(f"extra file name {name!r}: expected a plain file name not in {sorted(reserved)}")


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _quote(a: str) -> str:
    import shlex
    return shlex.quote(str(a))
