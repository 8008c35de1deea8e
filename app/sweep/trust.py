"""What a sweep reads back or is given is untrusted input (issue 18): a finished case is believed only from its
verified bundle, `--out` must be a sweep's folder (or new, or empty), every case's files stay in its own folder,
a matrix's expansion is counted before it is made, and the scheduler and engines are checked before any case runs.

- `verified_record`: a record.json of an earlier run is a claim. The case's bundle is read back with every file's
  size and sha256 checked against its manifest (app.bundle.bundle_reader), its images must be finite and of the record's
  shape, and the metrics and verdict are recomputed from those images with the case's thresholds. A record whose
  status or figures disagree with its bundle is not believed: the case reports what its bundle says, with a note.
- `check_out_folder`: refuse an existing folder that holds anything but a sweep's files.
- `case_output_problem`: output flags (-floatfile, -intfile, -pgmfile, -noisefile) would write outside the case's
  folder (an absolute path, or the worker's current folder): refused with a sentence at load.
- `MAX_CASES` / `check_expansion`: a grid is counted (product of its value lists) before it is expanded.
- `check_scheduler`, `check_engines`: a dead or malformed scheduler address, or a missing engine binary, is a
  usage error (exit 3) with a sentence, before anything starts.
"""
from __future__ import annotations

import json
import logging
import math
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from simulator.config import ConfigError

log = logging.getLogger(__name__)

MAX_CASES = 10_000          # cases one sweep may expand to; more is a typo or a job for several sweeps
CONNECT_TIMEOUT_S = 5.0     # the scheduler's TCP port must answer within this (a dead host: refused at once)
# What a sweep writes in its folder (slurm-logs/: a SLURM cluster's job output, issue 17's cluster spec).
SWEEP_NAMES = frozenset({"matrix.toml", "cases", "report.csv", "report.md", "report.html", "records.json",
                         "slurm-logs"})
OUTPUT_FIELDS = (("floatfile", "-floatfile"), ("intfile", "-intfile"), ("pgmfile", "-pgmfile"),
                 ("noisefile", "-noisefile"))


class SweepSetupError(ConfigError):
    """The sweep cannot start as asked (scheduler, engines, --out); the message says what and how to fix it."""


# ---- --out -----------------------------------------------------------------------------------------------------
def check_out_folder(out: Path) -> None:
    """SweepSetupError unless `out` is missing, empty, or an earlier sweep's folder (holding only a sweep's files:
    SWEEP_NAMES and hidden temporary files, with matrix.toml or cases/ among them)."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise SweepSetupError(f"--out {out}: not a folder; expected a new or empty folder, or an earlier sweep's")
    try:
        names = {p.name for p in out.iterdir()}
    except OSError as exc:
        raise SweepSetupError(f"--out {out}: cannot list it ({exc.strerror or exc})") from None
    visible = {n for n in names if not n.startswith(".")}
    if not visible:
        return
    foreign = sorted(visible - SWEEP_NAMES)
    if foreign or not visible & {"matrix.toml", "cases"}:
        shown = ", ".join(foreign[:3] or sorted(visible)[:3]) + ("…" if len(foreign) > 3 else "")
        raise SweepSetupError(f"--out {out}: holds files that are not a sweep's ({shown}); a sweep writes "
                              "report.html, report.csv, report.md, records.json, matrix.toml and cases/ there and "
                              "would replace them: choose a new or empty folder, or an earlier sweep's folder to "
                              "resume it")


# ---- the matrix ----------------------------------------------------------------------------------------------
def case_output_problem(config, where: str) -> str | None:
    """A sentence when the case's command line asks for output files (they would land outside the case's folder:
    the sweep keeps each case's images in its bundle, cases/<case>/); None when it asks for none."""
    out = config.output
    given = [f"{flag} {getattr(out, name)}" for name, flag in OUTPUT_FIELDS if getattr(out, name, None)]
    if not given:
        return None
    return (f"{where}: {', '.join(given)} would write outside the case's folder; a sweep keeps every case's "
            "images in its comparison bundle (cases/<case>/): remove the output flag(s)")


def check_expansion(n_cases: int, where: str, room: int, sizes: list[int]) -> None:
    """ConfigError when a grid of `n_cases` (the product of `sizes`) does not fit in the `room` left under
    MAX_CASES: said before any case is made, so a 10^6-case grid is refused in milliseconds."""
    if n_cases > room:
        product = " x ".join(str(n) for n in sizes)
        raise ConfigError(f"{where}: expands to {n_cases:,} cases ({product} values); a sweep runs at most "
                          f"{MAX_CASES:,} cases ({MAX_CASES - room:,} before this grid): split the matrix into "
                          "several sweeps or use fewer values")


def grid_size(sizes: list[int]) -> int:
    return math.prod(sizes) if sizes else 0


# ---- the scheduler and the engines -------------------------------------------------------------------------------
def check_scheduler(address: str) -> None:
    """SweepSetupError unless `address` is a dask scheduler address (tcp://HOST:PORT, tls://HOST:PORT or
    HOST:PORT) whose port accepts a connection within CONNECT_TIMEOUT_S."""
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise SweepSetupError(f"--scheduler {address}: not a scheduler address; expected tcp://HOST:PORT (e.g. "
                              "tcp://127.0.0.1:8786, as `dask scheduler` prints it)")
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, socket.gaierror):
            why = f"unknown host {parts.hostname}"
        elif isinstance(exc, TimeoutError):
            why = f"no answer within {CONNECT_TIMEOUT_S:g} s"
        raise SweepSetupError(f"--scheduler {address}: nothing answers there ({why}); start the scheduler "
                              "(`dask scheduler`) or leave --scheduler out to run on a local cluster") from None


def check_engines(engines: set[str]) -> None:
    """SweepSetupError naming the first engine that cannot run here (a missing or non-executable binary, a command
    not on PATH): checked before the cluster starts, not once per case on the workers. Nothing is run, and this
    process is not made a subreaper (app.engines.registry.make_engine would): only files are looked at."""
    import shutil

    from app.engines.spec import parse_engine_spec
    from c_reference.locate import REFERENCE_BINARY, EngineError, check_binary

    for text in sorted(engines):
        try:
            spec = parse_engine_spec(text)
            if spec.kind in ("cref", "bin"):
                check_binary(REFERENCE_BINARY if spec.kind == "cref" else spec.path)
            elif spec.kind == "cmd":
                exe = spec.command[0]
                found = shutil.which(exe) if "/" not in exe else (exe if Path(exe).expanduser().is_file() else None)
                if found is None:
                    raise EngineError(f"command not found: {exe}")
        except (ConfigError, EngineError) as exc:
            raise SweepSetupError(f"the matrix's engine {text!r} cannot run here: {exc}") from None


# ---- resume: believe a bundle, not a record -----------------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    """A finished case's record as its bundle supports it. note: what disagreed (None when nothing did)."""

    record: object            # app.sweep.record.CaseRecord
    note: str | None = None


def verified_record(sweep_dir: Path, case) -> Checked | None:
    """The finished record of `case` (an app.sweep.matrix.CaseSpec) when its bundle verifies, with status and
    figures recomputed from the bundle's images; None when the case must run again (no record, another
    fingerprint, a bundle that is missing, damaged, edited, outside the case's folder or unreadable)."""
    from app.sweep.record import RECORD_FILE, CaseRecord

    folder = sweep_dir / "cases" / case.slug
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        rec = CaseRecord.from_dict(raw) if isinstance(raw, dict) else None
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        log.warning("case %s: record.json unreadable (%s); running it again", case.name, exc)
        return None
    if rec is None or rec.fingerprint != case.fingerprint() or rec.status not in ("pass", "fail") \
            or not isinstance(rec.bundle, str) or not rec.bundle:
        return None
    bundle = (sweep_dir / rec.bundle)
    try:
        inside = bundle.resolve().parent == folder.resolve() and not bundle.is_symlink()
    except OSError:
        inside = False
    if not inside:
        log.warning("case %s: record.json names a bundle outside cases/%s/ (%s); running it again", case.name,
                    case.slug, rec.bundle)
        return None
    return _recheck(bundle, case, rec)


def _recheck(bundle: Path, case, rec) -> Checked | None:
    from app.bundle.bundle_reader import read_bundle
    from tracing.metrics import compare_images, parity_verdict

    try:
        back = read_bundle(bundle)   # every listed file's size and sha256, the manifest's schema, finite images
    except ConfigError as exc:
        log.warning("case %s: its bundle does not verify (%s); running it again", case.name, exc)
        return None
    if list(back.argv) != list(case.argv):
        log.warning("case %s: its bundle holds another command line; running it again", case.name)
        return None
    a, b = back.outcome("a"), back.outcome("b")
    if a is None or b is None or not (a.ok and b.ok) or a.result.image.shape != b.result.image.shape:
        log.warning("case %s: its bundle has no pair of images to judge; running it again", case.name)
        return None
    t = case.thresholds   # app.sweep.matrix.Thresholds is tracing.metrics.ParityThresholds
    metrics = compare_images(a.result.image, b.result.image, tol_rel=t.max_rel_error, floor_frac=t.rel_floor,
                             roi=back.config.output.roi)
    verdict = parity_verdict(metrics, t, reference=back.label("a"))
    status = "pass" if verdict.passed else "fail"
    claims = {"status": rec.status, "correlation": rec.correlation, "max_rel_err": rec.max_rel_err}
    actual = {"status": status, "correlation": float(metrics.correlation), "max_rel_err": float(metrics.max_rel_err)}
    differs = [k for k in claims if not _same(claims[k], actual[k])]
    if not differs:
        return Checked(rec)
    rec.status, rec.verdict = status, verdict.sentence()
    if status == "pass":   # a cause the record claimed for a FAIL its bundle does not show
        rec.first_quantity = rec.first_where = rec.explained_by = rec.cause = ""
    rec.correlation, rec.max_rel_err = actual["correlation"], actual["max_rel_err"]
    rec.max_rel_err_pixel = list(metrics.max_rel_err_pixel) if metrics.max_rel_err_pixel is not None else None
    rec.sum_ratio, rec.max_abs_diff = float(metrics.sum_ratio), float(metrics.max_abs_diff)
    rec.n_beyond_tol, rec.shape = int(metrics.n_beyond_tol), list(metrics.shape)
    note = (f"record.json said {claims['status']}"
            + (f" (correlation {claims['correlation']!r}, max_rel_err {claims['max_rel_err']!r})"
               if differs != ["status"] else "")
            + f"; its verified bundle says {status}: the record was not believed")
    log.warning("case %s: %s", case.name, note)
    rec.error = note
    return Checked(rec, note)


def _same(claimed, actual) -> bool:
    if isinstance(actual, str):
        return claimed == actual
    if claimed is None:   # a record keeps NaN figures as null
        return math.isnan(actual)
    if not isinstance(claimed, (int, float)) or isinstance(claimed, bool):
        return False
    return math.isclose(float(claimed), float(actual), rel_tol=1e-9, abs_tol=0.0) or (
        math.isnan(float(claimed)) and math.isnan(float(actual)))
