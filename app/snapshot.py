"""Write a comparison snapshot (bundle) for ComparisonSession.write_bundle. Qt-free.

Files in the new timestamped folder (all written through tracing.bundle.BundleWriter: whole or not at all, never
over an earlier bundle):

| file | content |
|---|---|
| `c_float.bin`, `torch_float.bin` | raw little-endian float32 (slow, fast) images, like the C's `-floatfile` |
| `diff_c_minus_torch.bin` | float32 C − torch, same layout (when both images exist and their shapes agree) |
| `c.img`, `torch.img` | uint16 SMV images as the C's -intfile (simulator.io_files: spec 9.3 scaling, 10.3 header) |
| `metrics.json` | tracing.metrics.ImageMetrics plus the parity verdict and its thresholds (when engines ran) |
| `summary.md` | command, engines, metrics table, verdict, first divergence per inspected pixel |
| `c_log.txt`, `torch_log.txt` | each engine's log, or its error and log tail |
| `manifest.json` | ComparisonSession.manifest(), plus every file's name, size and sha256 |
| `pixel_s<S>_f<F>.*` | per-phi tables of each inspected pixel (tracing.tables), `_c_curve.csv` for curve-only C |
| `*.png` | panel PNGs when png=True (app.panel_png), plus the caller's extra_files |
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.config import ConfigError, NanoBraggConfig
from simulator.io_files import SMVHeader, header_from_setup, int_image, int_scale, smv_header_text
from simulator.setup import build_setup
from tracing.bundle import BundleWriter
from tracing.phi_compare import compare_traces
from tracing.records import PixelTrace
from tracing.tables import write_phi_tables

if TYPE_CHECKING:
    from app.session import ComparisonSession, EngineOutcome, PixelInspection, Verdict


def write_snapshot(session: ComparisonSession, parent: Path, *, c: EngineOutcome | None, py: EngineOutcome | None,
                   metrics: Any, inspections: list[PixelInspection], extra_files: dict[str, bytes], png: bool,
                   prefix: str) -> Path:
    """See the module docstring; returns the final folder."""
    for name in extra_files:
        _check_extra_name(name)
    c_img = _image(c)
    py_img = _image(py)
    both = c_img is not None and py_img is not None and c_img.shape == py_img.shape
    if metrics is None and both:
        metrics = session.compare(c.result, py.result)
    verdict = session.verdict(metrics) if both and metrics is not None else None

    notes: list[str] = []
    header, why = smv_header(session, py) if c_img is not None or py_img is not None else (None, None)
    if why:
        notes.append(why)
    with BundleWriter(Path(parent), prefix) as bundle:
        for tag, img in (("c", c_img), ("torch", py_img)):
            if img is None:
                continue
            bundle.write_array_f32(f"{tag}_float.bin", img)
            if header is not None and img.shape == (header.spixels, header.fpixels):
                bundle.write_bytes(f"{tag}.img", smv_bytes(img, session.config, header))
            elif header is not None:
                notes.append(f"{tag}.img not written: image {img.shape} differs from the geometry "
                             f"({header.spixels}, {header.fpixels})")
        if both:
            bundle.write_array_f32("diff_c_minus_torch.bin", c_img.astype(np.float32) - py_img.astype(np.float32))
        for tag, outcome in (("c", c), ("torch", py)):
            if outcome is not None:
                bundle.write_text(f"{tag}_log.txt", _log_text(outcome))
        if c is not None or py is not None:
            bundle.write_json("metrics.json", {
                "metrics": metrics.to_dict() if metrics is not None else None,
                "parity": verdict.to_dict() if verdict else None,
                "shape_mismatch": None if both or c_img is None or py_img is None
                else {"c": list(c_img.shape), "torch": list(py_img.shape)},
            })
        for insp in inspections:
            _write_inspection(bundle, insp)
        if png and (c_img is not None or py_img is not None):
            from app.panel_png import write_panel_pngs  # lazy: pulls in Qt / plotting
            for path in write_panel_pngs(bundle.tmp, c_img, py_img):
                bundle.path_for(Path(path).name)  # register it for the manifest's file list
        for name, data in extra_files.items():
            bundle.write_bytes(name, data)
        manifest = session.manifest(c, py)
        bundle.write_text("summary.md", summary_markdown(manifest, c, py, metrics, verdict, inspections, notes))
        # Last, so that its file list (name, size, sha256) covers everything above.
        bundle.write_manifest("manifest.json", extra=manifest)
    return Path(bundle.path)


# ---- pieces -------------------------------------------------------------------------------------------------------
def smv_header(session: ComparisonSession, py: EngineOutcome | None) -> tuple[SMVHeader | None, str | None]:
    """(header, None) with the resolved geometry of spec 10.3 — from the torch render's meta when there is one,
    else resolved here from the configuration (torch-free) — or (None, why not)."""
    meta = py.result.meta if py is not None and py.result is not None else {}
    if "smv_header" in meta:
        return SMVHeader.from_dict(meta["smv_header"]), None
    try:
        return header_from_setup(build_setup(session.config)), None
    except Exception as exc:  # noqa: BLE001 - the float images are the record; the SMV copies are a convenience
        return None, f"SMV images not written: the geometry could not be resolved ({exc})"


def smv_bytes(img: np.ndarray, cfg: NanoBraggConfig, header: SMVHeader) -> bytes:
    """SMV file of a float image, as the C's -intfile: spec 9.3 int conversion (scale, ADC, ROI), 10.3 header."""
    s_n, f_n = img.shape
    roi = cfg.output.roi if cfg.output.roi is not None else (0, f_n - 1, 0, s_n - 1)
    data = int_image(img, roi, int_scale(img, roi, cfg.output.scale), cfg.output.adc)
    return smv_header_text(header) + np.ascontiguousarray(data, dtype=np.uint16).tobytes()


def summary_markdown(manifest: dict, c: EngineOutcome | None, py: EngineOutcome | None, metrics: Any,
                     verdict: Verdict | None, inspections: list[PixelInspection], notes: list[str] = ()) -> str:
    """The human-readable page of a bundle."""
    kind = "comparison" if c is not None or py is not None else "pixel traces"
    lines = [f"# nbparity {kind} ({manifest['time_utc']})", "", "## Command", "",
             "```", "nanoBragg " + " ".join(_quote(a) for a in manifest["argv"]), "```", "",
             f"- C: `{' '.join(_quote(a) for a in manifest['c_command'])}`",
             f"- torch: `{' '.join(_quote(a) for a in manifest['torch_command'])}`"
             f" (dtype {manifest['torch_dtype']}, device {manifest['torch_device']})", ""]
    if manifest.get("warnings"):
        lines += ["Warnings:", ""] + [f"- {w}" for w in manifest["warnings"]] + [""]
    if c is not None or py is not None:  # a trace-only bundle has no renders to report
        lines += _engine_section(c, py, metrics, verdict)
    if inspections:
        lines += ["## Pixels traced", ""] + [f"- {i.describe()}" for i in inspections] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _engine_section(c: EngineOutcome | None, py: EngineOutcome | None, metrics: Any,
                    verdict: Verdict | None) -> list[str]:
    lines = ["## Engines", "", "| engine | status | wall time (s) | image (slow × fast) |", "|---|---|---|---|"]
    for name, o in (("C", c), ("torch", py)):
        if o is None:
            lines.append(f"| {name} | not run | | |")
        elif o.ok:
            r = o.result
            lines.append(f"| {name} | ok | {r.wall_s:.3f} | {r.shape[0]} × {r.shape[1]} |")
        else:
            status = "cancelled" if o.cancelled else f"FAILED: {_cell(o.error or '')}"
            lines.append(f"| {name} | {status} | | |")
    lines.append("")
    if metrics is not None:
        lines += ["## Metrics (C vs torch)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in metric_rows(metrics)]
        lines.append("")
    lines += ["## Verdict", ""]
    if verdict is not None:
        lines.append(verdict.sentence())
    elif c is not None and c.ok and py is not None and py.ok:
        lines.append(f"No verdict: the images differ in shape (C {c.result.shape}, torch {py.result.shape}).")
    else:
        lines.append("No verdict: both images are needed (see Engines).")
    lines.append("")
    return lines


def _write_inspection(bundle: BundleWriter, insp: PixelInspection) -> None:
    """Per-phi tables whenever at least one engine traced the pixel (the other side's columns stay empty), the C
    curve when there is one, and the errors."""
    if insp.c_trace is not None or insp.py_trace is not None:
        c_tr = insp.c_trace or PixelTrace(engine="c", slow=insp.slow, fast=insp.fast)
        py_tr = insp.py_trace or PixelTrace(engine="torch", slow=insp.slow, fast=insp.fast)
        cmp = insp.comparison if insp.comparison is not None else compare_traces(c_tr, py_tr)
        for path in write_phi_tables(bundle.tmp, insp.stem, cmp, c_tr, py_tr):
            bundle.path_for(path.name)  # register it for the manifest's file list
    if insp.c_curve is not None:
        rows = ["phi_deg,I_pixel_c"] + [f"{phi!r},{val!r}" for phi, val in insp.c_curve]
        bundle.write_text(f"{insp.stem}_c_curve.csv", "\n".join(rows) + "\n")
    problems = {k: v for k, v in (("c_error", insp.c_error), ("torch_error", insp.py_error),
                                  ("c_log_tail", insp.c_log_tail), ("torch_log_tail", insp.py_log_tail)) if v}
    if problems:
        bundle.write_json(f"{insp.stem}_errors.json", problems)


def _image(o: EngineOutcome | None) -> np.ndarray | None:
    return o.result.image if o is not None and o.result is not None else None


def _log_text(o: EngineOutcome) -> str:
    if o.result is not None:
        return o.result.log
    head = "cancelled" if o.cancelled else f"ERROR: {o.error}"
    return f"{head}\n\n--- log tail ---\n{o.log_tail}\n"


def _check_extra_name(name: str) -> None:
    """Extra files are plain names inside the bundle: no folders, no hidden files, no reserved names."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name in RESERVED:
        raise ConfigError(f"extra file name {name!r}: expected a plain file name not in {sorted(RESERVED)}")


RESERVED = frozenset({"c_float.bin", "torch_float.bin", "diff_c_minus_torch.bin", "c.img", "torch.img",
                      "metrics.json", "summary.md", "c_log.txt", "torch_log.txt", "manifest.json"})


def metric_rows(metrics: Any) -> list[tuple[str, str]]:
    """(name, text) of the scalar figures of an ImageMetrics, peaks summarised; for tables and the console."""
    rows = []
    for key, value in metrics.to_dict().items():
        if key == "peaks":
            for sub in ("fraction_matched", "mean_distance", "max_distance"):
                rows.append((f"peaks_{sub}", _fmt(value.get(sub))))
            rows.append(("peaks_found_c_torch", f"{len(value.get('peaks_a', []))}, {len(value.get('peaks_b', []))}"))
        else:
            rows.append((key, _fmt(value)))
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.9g}"
    if isinstance(v, list):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _quote(a: str) -> str:
    import shlex
    return shlex.quote(str(a))
