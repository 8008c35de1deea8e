"""One parser for every trace dialect: the golden C, our C reference, and the PyTorch simulator.

Line kinds read (everything else in the output is ignored):
- ``TRACE_C: key v1 v2 ...`` / ``TRACE_PY: key v1 ...``   pixel-level scalars (spec §11.1 c, §11.3);
- ``TRACE_C:key=v1 v2 [key2=...]`` / ``TRACE_PY:key=...``   geometry-block style (spec §11.1 a);
- ``TRACE_C_PHI k=v ...`` / ``TRACE_PY_PHI k=v ...``          one φ tick of one path.

The PyTorch port's dialect (spec §11.3; `dialect == "port"`): `TRACE_PY:` scalars printed once per pixel (pixel
centre, no sub-pixel repetition) and `TRACE_PY_PHI` lines with the five golden fields plus `S_x S_y S_z a_star_y
b_star_y c_star_y V_actual`, no path fields. It is recognised by those per-phi keys or by the port's own scalar
keys (PORT_SCALAR_KEYS) and read into the common vocabulary by `read_port_dialect`:
- `S_x/S_y/S_z` are in Å^-1 (the port's internal unit) and are stored in m^-1 (x 1e10), the unit of the scalar
  `scattering_vec_A_inv`, which the port already prints in m^-1 "to match C" despite its name;
- `a_star_y/b_star_y/c_star_y` (Å^-1) and `V_actual` (Å^3) are kept as printed;
- `hkl_rounded` is Python's round-half-even: it is recomputed as the C's ceil(x - 0.5) from `hkl_frac` (the port's
  value is kept as `hkl_rounded_port`, and a note names any component where the two differ);
- `F_cell` comes from `F_cell_interpolated` when interpolation is on, else `F_cell_nearest` (both kept);
  `I_before_scaling` from `I_before_scaling_pre_polar` (the C's is the pre-polar one);
- its F_latt values always use the SQUARE formula: a note says so when the caller says the lattice shape is not
  square; `rot_*_star_A_inv` is the tick-0 / mosaic-0 entry (a note says so);
- the per-phi fields of RICH_PHI_FIELDS it lacks are listed in `PixelTrace.missing`.

Golden-dialect path groups: the golden C prints only the five fields
``phi_tic phi_deg k_frac F_latt_b F_latt`` and repeats the whole series once per (thickness layer, sub-pixel) without
saying which. A new group starts whenever phi_tic does not increase; group g (0-based, print order) is stored as
``PathKey(layer=g)``, and a note says so. Lines that carry path fields (layer, sub_s, sub_f, src, mos) use them.
"""
from __future__ import annotations

import math
import re

from .records import GOLDEN_PHI_FIELDS, PATH_FIELDS, RICH_PHI_FIELDS, PathKey, PhiSample, PixelTrace

SCALAR_TAGS: tuple[str, ...] = ("TRACE_C:", "TRACE_PY:")
PHI_TAGS: dict[str, str] = {"TRACE_C_PHI": "c", "TRACE_PY_PHI": "py"}

_KEY_EQ = re.compile(r"^([A-Za-z_][\w.\-]*)=(.*)$")
_SUBVALUE = re.compile(r"^([A-Za-z_]\w*):(.*)$")
_TRACE_CONFIG = re.compile(r"TRACE_CONFIG:\s*tracing pixel \(spixel=(-?\d+),\s*fpixel=(-?\d+)\)")
_STRIP = "[];,()"
PORT_PHI_KEYS: frozenset[str] = frozenset({"S_x", "S_y", "S_z", "a_star_y", "b_star_y", "c_star_y", "V_actual"})
PORT_SCALAR_KEYS: frozenset[str] = frozenset({"F_cell_interpolated", "F_cell_nearest", "I_before_scaling_pre_polar",
                                              "I_before_scaling_post_polar", "spindle_axis_raw"})
PORT_S_KEYS: tuple[str, ...] = ("S_x", "S_y", "S_z")
A_INV_TO_M_INV = 1e10


class TraceParseError(ValueError):
    """A TRACE line that cannot be read; names the 1-based line number and the line."""

    def __init__(self, lineno: int, line: str, reason: str):
        super().__init__(f"trace line {lineno}: {reason}: {line!r}")
        self.lineno = lineno
        self.line = line
        self.reason = reason


def _to_float(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


def _numbers(tokens: list[str]) -> list[float] | None:
    """All tokens as floats (brackets, ';' and ',' stripped, as in the C's matrix lines), or None if any is text."""
    out: list[float] = []
    for tok in tokens:
        t = tok.strip(_STRIP)
        if not t:
            continue
        v = _to_float(t)
        if v is None:
            return None
        out.append(v)
    return out


def _split_key_groups(tokens: list[str]) -> list[tuple[str, list[str]]]:
    """``key=v1 v2 key2=v3`` -> [(key, [v1, v2]), (key2, [v3])]; tokens before the first key= are not expected."""
    groups: list[tuple[str, list[str]]] = []
    for tok in tokens:
        m = _KEY_EQ.match(tok)
        if m:
            groups.append((m.group(1), [m.group(2)] if m.group(2) else []))
        elif groups:
            groups[-1][1].append(tok)
    return groups


def _store_scalar(trace: PixelTrace, key: str, values: list[str]) -> None:
    nums = _numbers(values)
    if nums is not None and nums:
        trace.scalars.setdefault(key, nums)
        trace.scalars_all.setdefault(key, []).append(nums)
        return
    trace.text.setdefault(key, " ".join(values))
    # "rotx:0.1 roty:0 ..." style: keep each named number as key.name.
    subs = [_SUBVALUE.match(v) for v in values]
    if values and all(subs):
        for m in subs:
            v = _to_float(m.group(2).strip(_STRIP))
            if v is not None:
                name = f"{key}.{m.group(1)}"
                trace.scalars.setdefault(name, [v])
                trace.scalars_all.setdefault(name, []).append([v])


def _parse_scalar_line(trace: PixelTrace, body: str, lineno: int, line: str) -> None:
    tokens = body.split()
    if not tokens:
        raise TraceParseError(lineno, line, "TRACE line without a key")
    if _KEY_EQ.match(tokens[0]):
        for key, values in _split_key_groups(tokens):
            _store_scalar(trace, key, values)
        return
    if tokens[0].startswith("="):
        raise TraceParseError(lineno, line, "empty key before '='")
    _store_scalar(trace, tokens[0], tokens[1:])


def _parse_phi_fields(body: str, lineno: int, line: str) -> dict[str, float]:
    fields: dict[str, float] = {}
    for tok in body.split():
        key, eq, val = tok.partition("=")
        if not eq:
            raise TraceParseError(lineno, line, f"field {tok!r} has no '='")
        if not key:
            raise TraceParseError(lineno, line, f"field {tok!r} has no name")
        if not val:
            raise TraceParseError(lineno, line, f"field {key!r} has no value")
        v = _to_float(val)
        if v is None:
            raise TraceParseError(lineno, line, f"field {key!r} is not a number ({val!r})")
        fields[key] = v
    missing = [f for f in GOLDEN_PHI_FIELDS if f not in fields]
    if missing:
        raise TraceParseError(lineno, line, f"missing field(s) {', '.join(missing)}")
    for f in ("phi_tic",) + PATH_FIELDS:
        if f in fields and (not math.isfinite(fields[f]) or fields[f] != int(fields[f])):
            raise TraceParseError(lineno, line, f"field {f!r} is not an integer ({fields[f]!r})")
    return fields


def parse_trace(text: str, engine: str, slow: int, fast: int, *, interpolate: bool | None = None,
                lattice_shape: str | None = None) -> PixelTrace:
    """Read every TRACE line of one engine's output for pixel (slow, fast).

    interpolate / lattice_shape: what the command line says (tricubic F on or off; "square", "round", ...), used
    only to read the port dialect (see the module docstring); None = unknown.

    Numbers become floats; keys whose values are not all numbers go to `PixelTrace.text`. Raises TraceParseError on
    a malformed TRACE line (keyless scalar line; φ field without '=', without a value, not a number; a golden field
    missing). Other lines are ignored.
    """
    trace = PixelTrace(engine=engine, slow=slow, fast=fast)
    last_tic: dict[str, int] = {}   # per phi tag: last phi_tic of a line without path fields
    group: dict[str, int] = {}      # per phi tag: current golden-dialect group index
    tags_seen: dict[str, bool] = {}  # phi tag -> any line with more than the golden fields
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line.startswith("TRACE"):
            continue
        tag = next((t for t in SCALAR_TAGS if line.startswith(t)), None)
        if tag is not None:
            _parse_scalar_line(trace, line[len(tag):], lineno, raw)
            continue
        head, _, body = line.partition(" ")
        head = head.rstrip(":")
        if head in PHI_TAGS:
            fields = _parse_phi_fields(body, lineno, raw)
            tic = int(fields.pop("phi_tic"))
            phi_deg = fields.pop("phi_deg")
            path_vals = {f: int(fields.pop(f)) for f in PATH_FIELDS if f in fields}
            extra = any(f not in GOLDEN_PHI_FIELDS for f in fields) or bool(path_vals)
            tags_seen[head] = tags_seen.get(head, False) or extra
            if path_vals:
                path = PathKey(**path_vals)
            else:
                if head in last_tic and tic <= last_tic[head]:
                    group[head] = group.get(head, 0) + 1
                last_tic[head] = tic
                path = PathKey(layer=group.get(head, 0))
            trace.samples.append(PhiSample(phi_tic=tic, phi_deg=phi_deg, path=path, values=fields))
            continue
        m = _TRACE_CONFIG.match(line)
        if m and (int(m.group(1)), int(m.group(2))) != (slow, fast):
            trace.notes.append(
                f"output says it traced (slow={m.group(1)}, fast={m.group(2)}), not the requested ({slow}, {fast})")
    trace.dialect = _dialect(tags_seen, engine, trace)
    if _is_port(trace):
        read_port_dialect(trace, interpolate=interpolate, lattice_shape=lattice_shape)
    for head, g in group.items():
        if g > 0:
            trace.notes.append(f"{head}: the per-phi series repeats {g + 1} times without path fields (one per "
                               f"layer/sub-pixel, print order); group i is stored as PathKey(layer=i)")
    return trace


def _dialect(tags_seen: dict[str, bool], engine: str, trace: PixelTrace) -> str:
    if not tags_seen:
        return "none"
    if "TRACE_C_PHI" in tags_seen and "TRACE_PY_PHI" in tags_seen:
        trace.notes.append("output mixes TRACE_C_PHI and TRACE_PY_PHI lines")
        if engine.lower().startswith("py"):
            return "py"
    if "TRACE_C_PHI" in tags_seen:
        return "rich" if tags_seen["TRACE_C_PHI"] else "golden"
    return "py"


def _is_port(trace: PixelTrace) -> bool:
    if any(k in PORT_SCALAR_KEYS for k in trace.scalars):
        return True
    return any(s.path == PathKey(layer=s.path.layer) and PORT_PHI_KEYS & s.values.keys() for s in trace.samples)


def _ceil_round(x: float) -> float:
    return float(math.ceil(x - 0.5))


def read_port_dialect(trace: PixelTrace, *, interpolate: bool | None = None,
                      lattice_shape: str | None = None) -> None:
    """Convert a trace in the port's §11.3 dialect into the common vocabulary, in place (module docstring)."""
    trace.dialect = "port"
    notes = ["port dialect (spec 11.3): TRACE_PY scalars are printed once per pixel, at the pixel centre"]
    for smp in trace.samples:
        for key in PORT_S_KEYS:
            if key in smp.values:
                smp.values[key] *= A_INV_TO_M_INV
    if any(k in s.values for s in trace.samples for k in PORT_S_KEYS):
        notes.append("S_x, S_y, S_z converted from 1/Angstrom to 1/m (x 1e10), the unit of scattering_vec_A_inv")
    sc = trace.scalars
    frac, rounded = sc.get("hkl_frac"), sc.get("hkl_rounded")
    if frac is not None and len(frac) == 3:
        c_style = [_ceil_round(v) for v in frac]
        if rounded is not None:
            sc["hkl_rounded_port"] = list(rounded)
            differ = [n for n, a, b in zip("hkl", c_style, rounded, strict=False) if a != b]
            if differ:
                notes.append(f"hkl_rounded recomputed as ceil(x - 0.5): the port's round-half-even gave a "
                             f"different {', '.join(differ)} ({rounded} vs {c_style})")
        sc["hkl_rounded"] = c_style
    if "F_cell" not in sc:
        pick = "F_cell_interpolated" if interpolate and "F_cell_interpolated" in sc else "F_cell_nearest"
        if pick not in sc:
            pick = next((k for k in ("F_cell_interpolated", "F_cell_nearest") if k in sc), "")
        if pick:
            sc["F_cell"] = list(sc[pick])
            notes.append(f"F_cell taken from the port's {pick}")
    if "I_before_scaling" not in sc and "I_before_scaling_pre_polar" in sc:
        sc["I_before_scaling"] = list(sc["I_before_scaling_pre_polar"])
    for key in list(sc):
        trace.scalars_all.setdefault(key, [sc[key]])
    if lattice_shape is not None and lattice_shape != "square":
        notes.append(f"the port's F_latt values always use the SQUARE formula, not this command's {lattice_shape} "
                     "shape: they are not comparable")
    if any(k.startswith("rot_") and k.endswith("_star_A_inv") for k in sc):
        notes.append("rot_*_star_A_inv is the port's tick-0 / mosaic-0 entry (recomputed from the rotated real "
                     "vectors when phi0 != 0; the C prints the static a*)")
    present = {k for s in trace.samples for k in s.values}
    trace.missing = [f for f in RICH_PHI_FIELDS if f not in present]
    if trace.missing and trace.samples:
        notes.append("per-phi fields this dialect lacks: " + ", ".join(trace.missing))
    trace.notes.extend(notes)
