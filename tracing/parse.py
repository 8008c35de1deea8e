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
- `a_star_y/b_star_y/c_star_y` and `V_actual` are kept as printed (the real port prints them in 1/m and m³ where
  its docs say 1/Å and Å³; tracing.units names that, tracing.pipeline shows raw and converted values);
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
from collections.abc import Iterable

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


def _store_scalar(trace: PixelTrace, key: str, values: list[str], keep_repeat=None) -> None:
    nums = _numbers(values)
    if nums is not None and nums:
        trace.scalars.setdefault(key, nums)
        if keep_repeat is None or keep_repeat(key):
            trace.scalars_all.setdefault(key, []).append(nums)
        return
    trace.text.setdefault(key, " ".join(values))
    # "rotx:0.1 roty:0 ..." style: keep each named number as key.name.
    subs = [m for v in values if (m := _SUBVALUE.match(v))]
    if values and len(subs) == len(values):
        for m in subs:
            v = _to_float(m.group(2).strip(_STRIP))
            if v is not None:
                name = f"{key}.{m.group(1)}"
                trace.scalars.setdefault(name, [v])
                trace.scalars_all.setdefault(name, []).append([v])


def _parse_scalar_line(trace: PixelTrace, body: str, lineno: int, line: str, keep_repeat=None) -> None:
    tokens = body.split()
    if not tokens:
        raise TraceParseError(lineno, line, "TRACE line without a key")
    if _KEY_EQ.match(tokens[0]):
        for key, values in _split_key_groups(tokens):
            _store_scalar(trace, key, values, keep_repeat)
        return
    if tokens[0].startswith("="):
        raise TraceParseError(lineno, line, "empty key before '='")
    _store_scalar(trace, tokens[0], tokens[1:], keep_repeat)


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


MAX_SAMPLES = 5_000    # per-φ samples kept per trace; later ones are counted, not kept (memory stays bounded)
MAX_REPEATS = 1_000    # occurrences of one scalar key kept in scalars_all (the C repeats per sub-pixel)
MAX_FREE = 2_000       # keys kept from free-form TRACE: lines and other TRACE_* tags
_FREE_PAIR = re.compile(r"([^=]+?)\s*=\s*(\[[^\]]*\]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf))"
                        r"(?=\s|$|,)", re.IGNORECASE)
_TAG = re.compile(r"^(TRACE_[A-Z0-9_]+):?(?:\s|$)")


def _slug(text: str) -> str:
    t = text.strip().replace("^", "")
    if t.startswith("|") and t.endswith("|"):   # "|a_star|": the length of a_star
        t = "norm " + t.strip("|")
    return re.sub(r"[^0-9A-Za-z]+", "_", t).strip("_").lower()


class TraceReader:
    """Streaming reader of one engine's output for pixel (slow, fast): `feed` one line at a time, then `finish`.

    Memory is bounded by what is kept, not by the lines read: at most `max_samples` per-φ samples (later ones are
    counted and named in a note), `MAX_REPEATS` occurrences per scalar key, `MAX_FREE` free-form keys. Lines kinds:
    see the module docstring; also the golden build's free-form ``TRACE:`` blocks (a line ending in ':' opens a
    section; ``name = value`` / ``name = [v, v, v]`` pairs are kept in PixelTrace.free as "section/name"), and
    any other ``TRACE_<TAG>`` line (e.g. the port's TRACE_PY_TRICUBIC grid, the C's TRACE_C_SOURCE2 block), kept in
    PixelTrace.free as "<TAG>/key" (the tricubic grid's 64 values as "TRACE_PY_TRICUBIC/grid", in print order).
    """

    def __init__(self, engine: str, slow: int, fast: int, *, interpolate: bool | None = None,
                 lattice_shape: str | None = None, max_samples: int = MAX_SAMPLES):
        self.trace = PixelTrace(engine=engine, slow=slow, fast=fast)
        self.interpolate = interpolate
        self.lattice_shape = lattice_shape
        self.max_samples = max_samples
        self.lineno = 0
        self.dropped = 0
        self._last_tic: dict[str, int] = {}    # per phi tag: last phi_tic of a line without path fields
        self._group: dict[str, int] = {}       # per phi tag: current golden-dialect group index
        self._tags_seen: dict[str, bool] = {}  # phi tag -> any line with more than the golden fields
        self._section = ""

    def feed(self, raw: str) -> None:
        """Read one line (with or without its newline). Raises TraceParseError on a malformed TRACE line."""
        self.lineno += 1
        line = raw.strip()
        if not line.startswith("TRACE"):
            return
        tag = next((t for t in SCALAR_TAGS if line.startswith(t)), None)
        if tag is not None:
            _parse_scalar_line(self.trace, line[len(tag):], self.lineno, raw, self._repeats_ok)
            return
        if line.startswith("TRACE:"):
            self._free_line(line[len("TRACE:"):])
            return
        head, _, body = line.partition(" ")
        head = head.rstrip(":")
        if head in PHI_TAGS:
            self._phi_line(head, body, raw)
            return
        m = _TRACE_CONFIG.match(line)
        if m:
            if (int(m.group(1)), int(m.group(2))) != (self.trace.slow, self.trace.fast):
                self.trace.notes.append(f"output says it traced (slow={m.group(1)}, fast={m.group(2)}), not the "
                                        f"requested ({self.trace.slow}, {self.trace.fast})")
            return
        t = _TAG.match(line)
        if t:
            self._other_tag(t.group(1), line[t.end():])

    def _repeats_ok(self, key: str) -> bool:
        return len(self.trace.scalars_all.get(key, ())) < MAX_REPEATS

    def _phi_line(self, head: str, body: str, raw: str) -> None:
        fields = _parse_phi_fields(body, self.lineno, raw)
        tic = int(fields.pop("phi_tic"))
        phi_deg = fields.pop("phi_deg")
        path_vals = {f: int(fields.pop(f)) for f in PATH_FIELDS if f in fields}
        extra = any(f not in GOLDEN_PHI_FIELDS for f in fields) or bool(path_vals)
        self._tags_seen[head] = self._tags_seen.get(head, False) or extra
        if path_vals:
            path = PathKey(**path_vals)
        else:
            if head in self._last_tic and tic <= self._last_tic[head]:
                self._group[head] = self._group.get(head, 0) + 1
            self._last_tic[head] = tic
            path = PathKey(layer=self._group.get(head, 0))
        if len(self.trace.samples) >= self.max_samples:
            self.dropped += 1
            return
        self.trace.samples.append(PhiSample(phi_tic=tic, phi_deg=phi_deg, path=path, values=fields))

    def _keep_free(self, key: str, values: list[float]) -> None:
        free = self.trace.free
        if key in free:
            return
        if len(free) < MAX_FREE:
            free[key] = values

    def _free_line(self, body: str) -> None:
        """A human-readable ``TRACE:`` line: a section heading, or name = value pairs (never an error)."""
        text = body.strip()
        if not text:
            return
        if text.endswith(":"):
            self._section = _slug(text[:-1])
            return
        for m in _FREE_PAIR.finditer(text):
            label = m.group(1)
            nums = _numbers(m.group(2).strip("[]").replace(",", " ").split())
            if not nums or not _slug(label):
                continue
            key = f"{self._section}/{_slug(label)}" if self._section else _slug(label)
            self._keep_free(key, nums)

    def _other_tag(self, tag: str, body: str) -> None:
        """Any other TRACE_<TAG> line: kept as numbers where it has them (never an error)."""
        text = body.strip()
        if tag == "TRACE_PY_TRICUBIC" and "=" in text:
            v = _to_float(text.rsplit("=", 1)[1].strip())
            grid = self.trace.free.setdefault(f"{tag}/grid", [])
            if v is not None and len(grid) < 4096:
                grid.append(v)
            return
        if not text:
            return
        groups = _split_key_groups(text.split()) if _KEY_EQ.match(text.split()[0]) else []
        if groups:
            for key, vals in groups:
                nums = _numbers(vals)
                if nums:
                    self._keep_free(f"{tag}/{key}", nums)
            return
        head, _, rest = text.partition(" ")
        nums = _numbers(text.replace(",", " ").split())
        if nums:
            self._keep_free(tag, nums)
            return
        nums = _numbers(rest.replace(",", " ").split())
        if nums:
            self._keep_free(f"{tag}/{head.rstrip(':=')}", nums)

    def finish(self) -> PixelTrace:
        """The PixelTrace read so far, with its dialect, the port's conversions and the notes."""
        trace = self.trace
        trace.dialect = _dialect(self._tags_seen, trace.engine, trace)
        if _is_port(trace):
            read_port_dialect(trace, interpolate=self.interpolate, lattice_shape=self.lattice_shape)
        for head, g in self._group.items():
            if g > 0:
                trace.notes.append(f"{head}: the per-phi series repeats {g + 1} times without path fields (one per "
                                   f"layer/sub-pixel, print order); group i is stored as PathKey(layer=i)")
        if self.dropped:
            trace.notes.append(f"{self.dropped} more per-phi lines were read and not kept (the first "
                               f"{self.max_samples} are)")
        trace.samples_dropped = self.dropped
        return trace


def parse_trace_lines(lines: Iterable[str], engine: str, slow: int, fast: int, *, interpolate: bool | None = None,
                      lattice_shape: str | None = None, max_samples: int = MAX_SAMPLES) -> PixelTrace:
    """TraceReader over an iterable of lines (a file object streams: nothing but the kept values stays)."""
    reader = TraceReader(engine, slow, fast, interpolate=interpolate, lattice_shape=lattice_shape,
                         max_samples=max_samples)
    for line in lines:
        reader.feed(line)
    return reader.finish()


def parse_trace(text: str, engine: str, slow: int, fast: int, *, interpolate: bool | None = None,
                lattice_shape: str | None = None) -> PixelTrace:
    """Read every TRACE line of one engine's output for pixel (slow, fast) (TraceReader over text's lines).

    interpolate / lattice_shape: what the command line says (tricubic F on or off; "square", "round", ...), used
    only to read the port dialect (see the module docstring); None = unknown.

    Numbers become floats; keys whose values are not all numbers go to `PixelTrace.text`. Raises TraceParseError on
    a malformed TRACE line (keyless scalar line; φ field without '=', without a value, not a number; a golden field
    missing). Other lines are ignored.
    """
    return parse_trace_lines(text.splitlines(), engine, slow, fast, interpolate=interpolate,
                             lattice_shape=lattice_shape)


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
