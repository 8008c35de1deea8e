"""Known divergences: a small TOML ledger of accepted differences between engines, each with a signature the tool
tests against a pixel's pipeline diff (tracing.pipeline), so that a FAIL reads "FAIL — explained: C φ=0 carry-over
(known)" when every divergent quantity is covered, and names what is not ("unexplained: fluence, …") otherwise.

The shipped ledger is resources/known_divergences.toml (its comments document the format); users add files of the
same form (`--ledger PATH`). A ledger file is untrusted input: every problem is a LedgerError naming the file, the
line and what was expected. Signatures (the only code that runs; a file cannot add behaviour):
- "phi0_carryover": the per-φ Miller indices diverge at tick 0 only, and one side's tick-0 indices equal its own
  last tick's (to rounding) while the other side's do not (spec §8.3: the C reuses the previous path's last
  rotation).
  Explains the per-φ rows of tick 0 and every row of the stages computed from the tick-0 lattice: "lattice",
  "structure factor", "intensity", "final".
- "quantities": explains divergent rows whose canonical name is in `quantities`.
- "scale_factor": explains the row of the scaling factor `factor` and the "final" rows, when that factor diverges.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .metrics import ParityThresholds
from .names import PHI_QUANTITIES, PIXEL_QUANTITIES
from .pipeline import PipelineDiff, PipelineRow

SHIPPED_LEDGER = Path(__file__).resolve().parents[1] / "resources" / "known_divergences.toml"
SIGNATURES: tuple[str, ...] = ("phi0_carryover", "quantities", "scale_factor")
MAX_LEDGER_BYTES = 1 << 20
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = {"id", "title", "signature", "quantities", "factor", "reference"}
_NAMES = {q.name for q in PIXEL_QUANTITIES} | {q.name for q in PHI_QUANTITIES}
_CARRY_STAGES = ("lattice", "structure factor", "intensity", "final")


class LedgerError(ValueError):
    """A ledger file that cannot be used: file, 1-based line (0 when unknown), what was expected."""

    def __init__(self, path: str, line: int, message: str):
        where = f"{path}, line {line}" if line else path
        super().__init__(f"known-divergence ledger {where}: {message}")
        self.path, self.line = path, line


@dataclass(frozen=True)
class LedgerEntry:
    """One accepted divergence (see the module docstring for the signatures)."""

    id: str
    title: str
    signature: str
    quantities: tuple[str, ...] = ()
    factor: str = ""
    reference: str = ""
    source: str = ""   # "path:line" of its [[divergence]] header


@dataclass(frozen=True)
class Ledger:
    """Entries from the shipped ledger and the user's files; files: (path, sha256) of each file read."""

    entries: tuple[LedgerEntry, ...]
    files: tuple[tuple[str, str], ...]

    def manifest(self) -> list[dict]:
        """JSON-ready provenance for a bundle's manifest."""
        return [{"path": p, "sha256": h} for p, h in self.files]


def _header_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), start=1) if line.strip().startswith("[[divergence]]")]


def parse_ledger(text: str, path: str) -> tuple[LedgerEntry, ...]:
    """Entries of one ledger file's text (LedgerError on bad TOML or a bad entry)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise LedgerError(path, int(m.group(1)) if m else 0, f"not valid TOML ({exc})") from None
    extra = set(doc) - {"divergence"}
    if extra:
        raise LedgerError(path, 0, f"unknown table(s) {', '.join(sorted(extra))}: expected only [[divergence]]")
    items = doc.get("divergence", [])
    if not isinstance(items, list):
        raise LedgerError(path, 0, "expected [[divergence]] entries (an array of tables)")
    lines = _header_lines(text)
    out = []
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else 0
        out.append(_entry(item, path, line))
    ids = [e.id for e in out]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise LedgerError(path, 0, f"duplicate id(s) {', '.join(dup)}")
    return tuple(out)


def _entry(item: dict, path: str, line: int) -> LedgerEntry:
    def fail(msg: str) -> LedgerError:
        return LedgerError(path, line, msg)

    unknown = set(item) - _KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}: expected {', '.join(sorted(_KEYS))}")
    for key in ("id", "title", "signature"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise fail(f"'{key}' must be a non-empty string")
    if not _ID.match(item["id"]):
        raise fail(f"id {item['id']!r}: expected letters, digits, '-' or '_' (at most 64)")
    sig = item["signature"]
    if sig not in SIGNATURES:
        raise fail(f"signature {sig!r}: expected one of {', '.join(SIGNATURES)}")
    quantities = item.get("quantities", [])
    if not isinstance(quantities, list) or not all(isinstance(q, str) for q in quantities):
        raise fail("'quantities' must be a list of strings")
    bad = [q for q in quantities if q not in _NAMES]
    if bad:
        raise fail(f"unknown quantit{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)}: expected canonical names "
                   "of tracing/names.py (e.g. fluence, k, I_pixel_final)")
    if sig == "quantities" and not quantities:
        raise fail("signature 'quantities' needs a non-empty 'quantities' list")
    factor = item.get("factor", "")
    if not isinstance(factor, str) or (sig == "scale_factor" and factor not in _NAMES):
        raise fail("signature 'scale_factor' needs 'factor', a canonical quantity name (e.g. \"fluence\")")
    ref = item.get("reference", "")
    if not isinstance(ref, str):
        raise fail("'reference' must be a string")
    return LedgerEntry(item["id"], item["title"].strip(), sig, tuple(quantities), factor, ref, f"{path}:{line}")


def read_ledger_file(path: Path) -> tuple[tuple[LedgerEntry, ...], str]:
    """(entries, sha256) of one ledger file; LedgerError when it cannot be read."""
    try:
        if not path.is_file():
            raise LedgerError(str(path), 0, "no such file (expected a TOML file of [[divergence]] entries)")
        data = path.read_bytes()[:MAX_LEDGER_BYTES + 1]
    except OSError as exc:
        raise LedgerError(str(path), 0, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_LEDGER_BYTES:
        raise LedgerError(str(path), 0, f"larger than {MAX_LEDGER_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise LedgerError(str(path), line, "not UTF-8 text") from None
    return parse_ledger(text, str(path)), hashlib.sha256(data).hexdigest()


def load_ledger(paths: Sequence[Path] = (), *, shipped: bool = True) -> Ledger:
    """The shipped ledger (when `shipped`) and the user's files, in that order; a later id replaces an earlier."""
    files = ([SHIPPED_LEDGER] if shipped else []) + [Path(p) for p in paths]
    by_id: dict[str, LedgerEntry] = {}
    read = []
    for p in files:
        entries, sha = read_ledger_file(p)
        read.append((str(p), sha))
        for e in entries:
            by_id[e.id] = e
    return Ledger(tuple(by_id.values()), tuple(read))


# ---- matching ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerMatch:
    """explained: titles of the entries that cover some divergent rows; unexplained: divergent rows no entry covers
    (compact descriptions); traced: whether any pixel trace was tested."""

    explained: tuple[str, ...]
    unexplained: tuple[str, ...]
    traced: bool = True

    def text(self) -> str:
        """"explained: C φ=0 carry-over (known)", "explained in part: …; unexplained: …", "unexplained: …"."""
        if not self.traced:
            return "unexplained: no pixel was traced on both sides, so the known-divergence ledger was not tested"
        known = ", ".join(f"{t} (known)" for t in self.explained)
        if self.explained and not self.unexplained:
            return f"explained: {known}"
        rest = ", ".join(self.unexplained) or "the traced pixels agree; the divergence is elsewhere"
        if self.explained:
            return f"explained in part: {known}; unexplained: {rest}"
        return f"unexplained: {rest}"

    @property
    def fully_explained(self) -> bool:
        return self.traced and bool(self.explained) and not self.unexplained


CARRY_EQUAL_REL = 1e-9   # a carried tick 0 repeats the last tick's computation: equal to rounding


def carryover_signature(diff: PipelineDiff, tol: float | None = None) -> bool:
    """phi0_carryover's test on one pixel's diff: the per-φ Miller indices (h, k, l: the lattice's orientation)
    diverge at no tick but 0, something at tick 0 diverges (a per-φ row or the tick-0 lattice block), and one
    side's tick-0 Miller indices equal its own last tick's (to CARRY_EQUAL_REL: the same rotation applied to the
    same scattering vector) while the other side's do not. Other per-φ quantities that diverge at later ticks are
    not the carry-over's (they stay unexplained). `tol` is unused (kept for callers that pass the per-φ tolerance).
    """
    phi = [r for r in diff.rows if r.stage == "per-φ" and r.name in ("h", "k", "l") and r.a is not None
           and r.b is not None]
    if not phi or any(r.diverged and r.tick != 0 for r in phi):
        return False
    if not any(r.diverged and (r.tick == 0 or r.stage == "lattice") for r in diff.rows):
        return False
    ticks = [r.tick for r in phi if r.tick is not None]   # per-φ rows carry their tick
    last = max(ticks) if ticks else 0
    if last == 0:
        return False
    first = {r.name: r for r in phi if r.tick == 0}
    final = {r.name: r for r in phi if r.tick == last}
    names = [n for n in first if n in final]

    def repeats(side: str) -> bool:
        for n in names:
            v0, v1 = getattr(first[n], side)[0], getattr(final[n], side)[0]
            if abs(v0 - v1) > CARRY_EQUAL_REL * max(abs(v0), abs(v1)):
                return False
        return bool(names)
    return repeats("a") != repeats("b")


def _covers(entry: LedgerEntry, row: PipelineRow) -> bool:
    if entry.signature == "phi0_carryover":
        return (row.stage == "per-φ" and row.tick == 0) or row.stage in _CARRY_STAGES
    if entry.signature == "quantities":
        return row.name in entry.quantities
    return row.name == entry.factor or row.stage == "final"


def _applies(entry: LedgerEntry, diff: PipelineDiff, tol: float) -> bool:
    if entry.signature == "phi0_carryover":
        return carryover_signature(diff, tol)
    if entry.signature == "scale_factor":
        return any(r.name == entry.factor and r.stage == "scaling" and r.diverged for r in diff.rows)
    return any(r.diverged and r.name in entry.quantities for r in diff.rows)


def _describe(rows: list[PipelineRow]) -> list[str]:
    """'k (per φ, ticks 0, 3)' / 'fluence' per name, in row order."""
    ticks: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        key = (r.name, "per φ" if r.tick is not None else "")
        ticks.setdefault(key, [])
        if r.tick is not None and r.tick not in ticks[key]:   # several pixels' diffs: each tick once
            ticks[key].append(r.tick)
    out = []
    for (name, kind), ts in ticks.items():
        ts = sorted(ts)
        if kind:
            span = f"ticks {ts[0]}–{ts[-1]}" if len(ts) > 2 and ts == list(range(ts[0], ts[-1] + 1)) else \
                ("tick " if len(ts) == 1 else "ticks ") + ", ".join(map(str, ts))
            out.append(f"{name} (per φ, {span})")
        else:
            out.append(name)
    return out


def match_ledger(ledger: Ledger, diffs: Sequence[PipelineDiff],
                 thresholds: ParityThresholds | None = None) -> LedgerMatch:
    """Which entries explain the divergent rows of the traced pixels' diffs, and what stays unexplained."""
    tol = (thresholds or ParityThresholds()).phi_tol
    traced = [d for d in diffs if any(r.a is not None and r.b is not None for r in d.rows)]
    if not traced:
        return LedgerMatch((), (), traced=False)
    explained: list[str] = []
    left: list[PipelineRow] = []
    for d in traced:
        applied = [e for e in ledger.entries if _applies(e, d, tol)]
        for r in d.rows:
            if not r.diverged:
                continue
            who = next((e for e in applied if _covers(e, r)), None)
            if who is None:
                left.append(r)
            elif who.title not in explained:
                explained.append(who.title)
    return LedgerMatch(tuple(explained), tuple(dict.fromkeys(_describe(left))))
