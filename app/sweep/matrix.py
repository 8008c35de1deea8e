"""The sweep matrix: a TOML file of named cases and grids, expanded into a flat list of `CaseSpec`.

File layout (every key but the case/grid `name` and `args` is optional)::

    [sweep]
    name = "my-sweep"
    engines = ["cref", "torch"]          # sides A and B: engine-registry spellings
    probes = [[32, 32]]                  # pixels (slow, fast) traced per phi tick in every case
    timeout_s = 600                      # per engine run, seconds
    [sweep.thresholds]                   # parity thresholds (app.session.ParityThresholds)
    min_correlation = 0.999999
    max_rel_error = 1e-5
    rel_floor = 1e-3
    phi_tol = 5e-4                       # per-phi divergence limit on h, k, l

    [[case]]
    name = "cubic-64"
    args = "-cell 100 100 100 90 90 90 -default_F 100 -lambda 6.2 -N 3 -detpixels 64"   # or a list of tokens
    probes = [[10, 20]]                  # replaces the sweep's probes for this case
    thresholds = { min_correlation = 0.9999 }   # overrides single figures for this case
    engines = ["cref", "torch:float32"]  # replaces the sweep's engines for this case

    [[grid]]                             # one case per combination of the flag values (first flag varies slowest)
    name = "cubic"
    args = "-cell 100 100 100 90 90 90 -default_F 100 -detpixels 64"
    [grid.flags]
    "-lambda" = [1.0, 6.2]               # each value replaces (or adds) the flag in args
    "-misset" = ["0 0 0", "10 0 0"]      # several values of one flag: a string split on whitespace

`{here}` in args is replaced by the folder of the matrix file (for -hkl, -mat, ... inputs shipped beside it).
Every problem is a `ConfigError` naming the file, the case and the key.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from app.sweep.trust import MAX_CASES, case_output_problem, check_expansion, grid_size
from simulator.argv import flag_nargs, format_value, parse_argv, split_command, with_flag
from simulator.config import ConfigError
from tracing.metrics import ParityThresholds

DEFAULT_ENGINES = ("cref", "torch")
_SWEEP_KEYS = {"name", "description", "engines", "probes", "timeout_s", "thresholds"}
_CASE_KEYS = {"name", "args", "probes", "thresholds", "engines", "description"}
_GRID_KEYS = _CASE_KEYS | {"flags"}
_THRESHOLD_KEYS = ("min_correlation", "max_rel_error", "rel_floor", "phi_tol")
_SLUG = re.compile(r"[^A-Za-z0-9._=+-]+")


# The sweep's thresholds are the one parity-threshold record (every figure and its default lives there).
Thresholds = ParityThresholds


@dataclass(frozen=True)
class CaseSpec:
    """One command line of the sweep, fully resolved. probes: (slow, fast) pixels, zero-based."""

    name: str
    argv: tuple[str, ...]
    engines: tuple[str, str]
    thresholds: Thresholds
    probes: tuple[tuple[int, int], ...]
    timeout_s: float
    group: str = ""                      # the grid it came from ("" for a named case)
    description: str = ""

    @property
    def slug(self) -> str:
        """Folder name of the case's bundle: the name with anything but letters, digits and ._=+- as '_'."""
        return slugify(self.name)

    def fingerprint(self) -> str:
        """sha256 of everything that decides the case's result (argv, engines, thresholds, probes, time limit):
        a resumed sweep reuses a finished bundle only when this matches."""
        body = {k: v for k, v in asdict(self).items() if k not in ("name", "group", "description")}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Matrix:
    """A parsed matrix: its name, the file it came from, and the expanded cases in file order."""

    name: str
    source: str
    cases: tuple[CaseSpec, ...]
    description: str = ""
    text: str = field(default="", repr=False)   # the TOML as read, copied into the sweep bundle

    def select(self, patterns: list[str]) -> Matrix:
        """Only the cases whose name contains one of `patterns` (all when empty); ConfigError when none match."""
        if not patterns:
            return self
        kept = tuple(c for c in self.cases if any(p in c.name for p in patterns))
        if not kept:
            names = ", ".join(c.name for c in self.cases[:8]) + (", ..." if len(self.cases) > 8 else "")
            raise ConfigError(f"--only {' '.join(patterns)}: no case of {self.source} matches (cases: {names})")
        return replace(self, cases=kept)


def slugify(name: str) -> str:
    """A folder name: anything but letters, digits and ._=+- becomes '_'; a name of dots only ('.', '..') or
    nothing becomes 'case' (a case's folder is always a new folder under cases/)."""
    slug = _SLUG.sub("_", name).strip("_")
    return slug if slug.strip(".") else "case"


def check_unique(cases: list[CaseSpec], what: str, rule: str) -> None:
    """ConfigError when two cases share a name or a folder name (slug): `what` and `rule` word the message."""
    seen: dict[str, str] = {}
    for c in cases:
        for key in {c.name, c.slug}:
            if key in seen:
                raise ConfigError(f"{what} {c.name!r} clashes with {seen[key]!r} ({rule})")
            seen[key] = c.name


def read_matrix_text(path: Path) -> str:
    """A matrix file's UTF-8 text; ConfigError naming the file when it cannot be read or decoded."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"matrix {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"matrix {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text


def load_matrix(path: Path | str, *, check_files: bool = True) -> Matrix:
    """Read and expand a matrix file; ConfigError (file, line, key, what was expected) on any problem."""
    path = Path(path)
    text = read_matrix_text(path)
    return parse_matrix(text, source=str(path), here=path.resolve().parent, check_files=check_files)


def parse_matrix(text: str, *, source: str = "<matrix>", here: Path | None = None,
                 check_files: bool = True) -> Matrix:
    """Parse TOML text (see the module docstring). check_files: input files named in args must exist."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"matrix {source}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"sweep", "case", "grid"}
    if unknown:
        raise ConfigError(f"matrix {source}: unknown top-level key(s) {', '.join(sorted(unknown))}: expected "
                          "[sweep], [[case]] and [[grid]]")
    top = _table(doc.get("sweep", {}), f"matrix {source}: [sweep]")
    _check_keys(top, _SWEEP_KEYS, f"matrix {source}: [sweep]")
    where = f"matrix {source}: [sweep]"
    defaults = {
        "engines": _engines(top.get("engines", list(DEFAULT_ENGINES)), where),
        "probes": _probes(top.get("probes", []), where),
        "thresholds": _thresholds(top.get("thresholds", {}), Thresholds(), where),
        "timeout_s": _positive(top.get("timeout_s", 3600.0), f"{where} timeout_s"),
    }
    ctx = _Ctx(source, here or Path.cwd(), check_files)
    cases: list[CaseSpec] = []
    named = _array(doc.get("case", []), f"matrix {source}: [[case]]")
    check_expansion(len(named), f"matrix {source}: [[case]]", MAX_CASES, [len(named)])
    for i, raw in enumerate(named):
        cases.append(_case(raw, defaults, ctx, f"matrix {source}: [[case]] #{i + 1}"))
    for i, raw in enumerate(_array(doc.get("grid", []), f"matrix {source}: [[grid]]")):
        cases.extend(_grid(raw, defaults, ctx, f"matrix {source}: [[grid]] #{i + 1}", room=MAX_CASES - len(cases)))
    if not cases:
        raise ConfigError(f"matrix {source}: no cases: expected at least one [[case]] or [[grid]]")
    check_unique(cases, f"matrix {source}: case", "names, and their folder names, must be unique")
    name = str(top.get("name") or Path(source).stem or "sweep")
    return Matrix(name=name, source=source, cases=tuple(cases), description=str(top.get("description", "")),
                  text=text)


# ---- pieces ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Ctx:
    source: str
    here: Path
    check_files: bool


def _case(raw: Any, defaults: dict, ctx: _Ctx, where: str, *, group: str = "",
          argv: list[str] | None = None, name: str | None = None) -> CaseSpec:
    raw = _table(raw, where)
    if name is None:
        name = _name(raw, where)
        where = f"{where} ({name!r})"
        _check_keys(raw, _CASE_KEYS, where)
    else:
        where = f"{where} case {name!r}"
    if argv is None:
        argv = _args(raw, ctx, where)
    engines = _engines(raw["engines"], where) if "engines" in raw else defaults["engines"]
    probes = _probes(raw["probes"], where) if "probes" in raw else defaults["probes"]
    thresholds = _thresholds(raw.get("thresholds", {}), defaults["thresholds"], where)
    try:
        parsed = parse_argv(argv, check_files=ctx.check_files)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    problem = case_output_problem(parsed.config, where)
    if problem:
        raise ConfigError(problem)
    s_n, f_n = parsed.config.pixel_counts()
    for s, f in probes:
        if not (0 <= s < s_n and 0 <= f < f_n):
            raise ConfigError(f"{where}: probe pixel (slow={s}, fast={f}) is outside the {s_n} x {f_n} "
                              "(slow x fast) detector")
    return CaseSpec(name=name, argv=tuple(argv), engines=engines, thresholds=thresholds, probes=probes,
                    timeout_s=defaults["timeout_s"], group=group, description=str(raw.get("description", "")))


def _grid(raw: Any, defaults: dict, ctx: _Ctx, where: str, room: int = MAX_CASES) -> list[CaseSpec]:
    raw = _table(raw, where)
    _check_keys(raw, _GRID_KEYS, where)
    gname = _name(raw, where)
    where = f"{where} ({gname!r})"
    base = _args(raw, ctx, where)
    flags = _table(raw.get("flags"), f"{where} flags") if "flags" in raw else None
    if not flags:
        raise ConfigError(f"{where}: expected a [grid.flags] table mapping flags to lists of values")
    axes: list[list[tuple[str, tuple[str, ...]]]] = []
    for flag, values in flags.items():
        if not flag.startswith("-"):
            raise ConfigError(f"{where} flags: {flag!r} is not a nanoBragg flag (expected e.g. \"-lambda\")")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} flags.{flag}: expected a non-empty list of values, got {values!r}")
        axis = []
        for v in values:
            tokens = _value_tokens(v, f"{where} flags.{flag}")
            n = flag_nargs(flag)
            if n is not None and len(tokens) != n:
                raise ConfigError(f"{where} flags.{flag}: value {v!r} has {len(tokens)} token(s), {flag} takes {n}")
            axis.append((flag, tokens))
        axes.append(axis)
    sizes = [len(a) for a in axes]
    check_expansion(grid_size(sizes), where, room, sizes)  # counted before any case is made
    out = []
    for combo in itertools.product(*axes):
        argv = list(base)
        label = []
        for flag, tokens in combo:
            argv = with_flag(argv, flag, *tokens)
            label.append(f"{flag.lstrip('-')}={','.join(tokens)}")
        name = f"{gname}[{' '.join(label)}]"
        out.append(_case(raw, defaults, ctx, where, group=gname, argv=argv, name=name))
    return out


def _value_tokens(v: Any, where: str) -> tuple[str, ...]:
    if isinstance(v, bool):
        raise ConfigError(f"{where}: {v!r} is not a flag value (expected a number or a string)")
    if isinstance(v, (int, float)):
        return (format_value(v),)
    if isinstance(v, str):
        try:
            words = split_command(v)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if words:
            return tuple(words)
    raise ConfigError(f"{where}: {v!r} is not a flag value (expected a number or a non-empty string)")


def _args(raw: dict, ctx: _Ctx, where: str) -> list[str]:
    if "args" not in raw:
        raise ConfigError(f"{where}: missing `args` (the nanoBragg command line, a string or a list of tokens)")
    args = raw["args"]
    if isinstance(args, str):
        try:
            tokens = split_command(args)
        except ValueError as exc:
            raise ConfigError(f"{where} args: {exc}") from None
    elif isinstance(args, list) and all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
        tokens = [a if isinstance(a, str) else format_value(a) for a in args]
    else:
        raise ConfigError(f"{where} args: expected a string or a list of strings, got {type(args).__name__}")
    tokens = [t.replace("{here}", str(ctx.here)) for t in tokens]
    if not tokens:
        raise ConfigError(f"{where} args: empty command line")
    return tokens


def _name(raw: dict, where: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: missing `name` (a non-empty string)")
    return name.strip()


def _engines(v: Any, where: str) -> tuple[str, str]:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(e, str) and e.strip() for e in v)):
        raise ConfigError(f"{where} engines: expected two engine spellings [A, B] such as [\"cref\", \"torch\"], "
                          f"got {v!r}")
    from app.sweep.engines import check_engine
    a, b = (e.strip() for e in v)
    for e in (a, b):
        check_engine(e, f"{where} engines")
    return a, b


def _probes(v: Any, where: str) -> tuple[tuple[int, int], ...]:
    ok = isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
        for p in v)
    if not ok:
        raise ConfigError(f"{where} probes: expected a list of [slow, fast] integer pairs, got {v!r}")
    return tuple((int(s), int(f)) for s, f in v)


def _thresholds(v: Any, base: Thresholds, where: str) -> Thresholds:
    v = _table(v, f"{where} thresholds")
    _check_keys(v, set(_THRESHOLD_KEYS), f"{where} thresholds")
    out = {k: _number(v[k], f"{where} thresholds.{k}") for k in _THRESHOLD_KEYS if k in v}
    t = replace(base, **out)
    if not 0 < t.rel_floor < 1 or t.max_rel_error < 0 or not -1 <= t.min_correlation <= 1 or t.phi_tol <= 0:
        raise ConfigError(f"{where} thresholds: expected -1 <= min_correlation <= 1, max_rel_error >= 0, "
                          f"0 < rel_floor < 1 and phi_tol > 0, got {asdict(t)}")
    return t


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {v!r}")
    return float(v)


def _positive(v: Any, where: str) -> float:
    x = _number(v, where)
    if not x > 0:
        raise ConfigError(f"{where}: expected a positive number of seconds, got {v!r}")
    return x


def _table(v: Any, where: str) -> dict:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a table, got {type(v).__name__}")
    return v


def _array(v: Any, where: str) -> list:
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected an array of tables ([[...]]), got {type(v).__name__}")
    return v


def _check_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}: expected some of "
                          f"{', '.join(sorted(allowed))}")
