"""The port team's parity matrix (their `parity_cases.yaml`, spec §11.7) as a sweep: the same `CaseSpec`s the TOML
matrix gives.

Layout::

    cases:
      - id: AT-PARALLEL-001
        description: ...                  # optional
        base_args: "-default_F 100 -cell 100 100 100 90 90 90 ..."
        thresholds: {corr_min: 0.9999, sum_ratio_min: 0.9, sum_ratio_max: 1.1, max_abs_max: 500}
        runs:
          - name: detpixels-64
            extra_args: "-detpixels 64 -Xbeam 3.2 -Ybeam 3.2"   # may be empty

One case per run, named `<id>/<run name>`, command line base_args + extra_args (split like a shell), grouped by id.
A run passes when r >= corr_min, sum_ratio_min <= ΣB/ΣA <= sum_ratio_max and max |B − A| <= max_abs_max (photons),
as their harness judges (the relative-error rule of nbparity's own matrices is off). Every problem is a
`ConfigError` naming the file, the case id, the run and the key (the YAML line for syntax errors).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.sweep.matrix import DEFAULT_ENGINES, CaseSpec, Matrix, check_unique, read_matrix_text, slugify
from simulator.argv import parse_argv, split_command
from simulator.config import ConfigError
from tracing.metrics import ParityThresholds

YAML_SUFFIXES = (".yaml", ".yml")
_CASE_KEYS = {"id", "description", "base_args", "thresholds", "runs"}
_RUN_KEYS = {"name", "extra_args"}
THRESHOLD_KEYS = ("corr_min", "sum_ratio_min", "sum_ratio_max", "max_abs_max")
DEFAULT_TIMEOUT_S = 3600.0


def is_yaml(path: Path | str) -> bool:
    return Path(path).suffix.lower() in YAML_SUFFIXES


def load_yaml_matrix(path: Path | str, engines: tuple[str, str] = DEFAULT_ENGINES, *,
                     check_files: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S) -> Matrix:
    """Read and expand the YAML file; engines: sides A and B of every case (their file names none)."""
    path = Path(path)
    text = read_matrix_text(path)
    return parse_yaml_matrix(text, source=str(path), engines=engines, check_files=check_files, timeout_s=timeout_s)


def parse_yaml_matrix(text: str, *, source: str = "<matrix>", engines: tuple[str, str] = DEFAULT_ENGINES,
                      check_files: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S) -> Matrix:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"matrix {source}:{where}: not valid YAML: {problem}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise ConfigError(f"matrix {source}: expected a top-level `cases:` list (the port team's parity matrix)")
    unknown = set(doc) - {"cases"}
    if unknown:
        raise ConfigError(f"matrix {source}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}: "
                          "expected `cases`")
    specs: list[CaseSpec] = []
    for i, raw in enumerate(doc["cases"]):
        specs.extend(_case(raw, f"matrix {source}: case #{i + 1}", engines, check_files, timeout_s))
    if not specs:
        raise ConfigError(f"matrix {source}: no runs: expected cases with `runs:` entries")
    check_unique(specs, f"matrix {source}: run", "case id and run name pairs, and their folder names, must be unique")
    return Matrix(name=Path(source).stem or "parity-cases", source=source, cases=tuple(specs), text=text)


def _case(raw: Any, where: str, engines: tuple[str, str], check_files: bool, timeout_s: float) -> list[CaseSpec]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id, base_args, thresholds and runs")
    cid = raw.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ConfigError(f"{where}: missing `id` (a non-empty string such as AT-PARALLEL-001)")
    cid = cid.strip()
    where = f"{where} ({cid})"
    _check_keys(raw, _CASE_KEYS, where)
    base = _tokens(raw.get("base_args"), f"{where} base_args", required=True)
    thresholds = _thresholds(raw.get("thresholds"), f"{where} thresholds")
    runs = raw.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"{where} runs: expected a non-empty list of {{name, extra_args}}")
    out = []
    for j, run in enumerate(runs):
        rwhere = f"{where} runs #{j + 1}"
        if not isinstance(run, dict):
            raise ConfigError(f"{rwhere}: expected a mapping with name and extra_args")
        name = run.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{rwhere}: missing `name` (a non-empty string)")
        rwhere = f"{where} run {name.strip()!r}"
        _check_keys(run, _RUN_KEYS, rwhere)
        argv = base + _tokens(run.get("extra_args"), f"{rwhere} extra_args", required=False)
        try:
            parse_argv(argv, check_files=check_files)
        except ConfigError as exc:
            raise ConfigError(f"{rwhere}: {exc}") from None
        out.append(CaseSpec(name=f"{cid}/{name.strip()}", argv=tuple(argv), engines=engines, thresholds=thresholds,
                            probes=(), timeout_s=timeout_s, group=cid, description=str(raw.get("description", ""))))
    return out


def _tokens(v: Any, where: str, *, required: bool) -> list[str]:
    if v is None:
        if required:
            raise ConfigError(f"{where}: missing (the nanoBragg flags, one string)")
        return []
    if not isinstance(v, str):
        raise ConfigError(f"{where}: expected a string of nanoBragg flags, got {type(v).__name__}")
    try:
        tokens = split_command(v)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if required and not tokens:
        raise ConfigError(f"{where}: empty command line")
    return tokens


def _thresholds(v: Any, where: str) -> ParityThresholds:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a mapping of {', '.join(THRESHOLD_KEYS)}")
    _check_keys(v, set(THRESHOLD_KEYS), where)
    missing = [k for k in THRESHOLD_KEYS if k not in v]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    num = {}
    for k in THRESHOLD_KEYS:
        x = v[k]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ConfigError(f"{where}.{k}: expected a finite number, got {x!r}")
        num[k] = float(x)
    if not (-1 <= num["corr_min"] <= 1 and 0 <= num["sum_ratio_min"] <= num["sum_ratio_max"]
            and num["max_abs_max"] >= 0):
        raise ConfigError(f"{where}: expected -1 <= corr_min <= 1, 0 <= sum_ratio_min <= sum_ratio_max and "
                          f"max_abs_max >= 0, got {num}")
    return ParityThresholds(min_correlation=num["corr_min"], max_rel_error=math.inf,
                            sum_ratio_min=num["sum_ratio_min"], sum_ratio_max=num["sum_ratio_max"],
                            max_abs_max=num["max_abs_max"])


def _check_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = set(map(str, raw)) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}: expected some of "
                          f"{', '.join(sorted(allowed))}")


__all__ = ["is_yaml", "load_yaml_matrix", "parse_yaml_matrix", "slugify"]
