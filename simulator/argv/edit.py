"""The only argv editing: flags replaced, removed or appended without changing what the other flags mean under
upstream's substring matching (a trailing -curved_det, a -misset_seed near the end), values looked up and mapped by
any alias of a flag."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .quirks import _upstream_hits
from .table import _BY_NAME, flag_aliases

def _drop(argv: list[str], flag: str, default_nargs: int) -> list[str]:
    """argv with every occurrence of `flag` (any alias) and its values removed; an unknown flag takes
    `default_nargs` values."""
    spec = _BY_NAME.get(flag)
    n = spec.nargs if spec else default_nargs
    names = set(spec.names) if spec else {flag}
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in names:
            i += 1 + n
            continue
        out.append(argv[i])
        i += 1
    return out


def with_flag(argv: list[str], flag: str, *values: str) -> list[str]:
    """argv with every occurrence of `flag` (and its values) removed and `flag values` appended."""
    # appending must not change what the other flags mean
    return append_flags(_drop(argv, flag, len(values)), [flag, *values])


def without_flag(argv: list[str], flag: str) -> list[str]:
    """argv with every occurrence of `flag` (any alias) and its values removed."""
    return _drop(argv, flag, 0)


def drop_ignored_trailing(argv: list[str]) -> list[str]:
    """argv without a last argument that nanoBragg ignores because it is last (a trailing `-curved_det`, whose
    branch needs one more argument): same meaning, and safe to append flags to."""
    if argv and argv[-1].startswith("-") and _upstream_hits(argv[-1], "-curved_det"):
        return list(argv[:-1])
    return list(argv)


def append_flags(argv: list[str], extra: list[str]) -> list[str]:
    """argv followed by the complete flags `extra`, placed so that neither changes meaning under upstream's matching:
    an ignored trailing `-curved_det` is dropped, and a `-misset_seed` near the end (read as `-misset` only when three
    arguments follow it) stays behind the new flags."""
    out = drop_ignored_trailing(list(argv))
    for k in range(max(0, len(out) - 3), len(out)):
        t = out[k]
        if t.startswith("-") and t != "-misset" and _upstream_hits(t, "-misset") \
                and not (k + 1 < len(out) and "rand" in out[k + 1]):
            return out[:k] + list(extra) + out[k:]
    return out + list(extra)


def last_values(argv: list[str], flag: str, nargs: int | None = None) -> list[str] | None:
    """The values after the LAST occurrence of `flag` (any alias; later flags win in the C), or None.
    nargs: number of values (default: the flag table's)."""
    spec = _BY_NAME.get(flag)
    n = nargs if nargs is not None else (spec.nargs if spec else 0)
    names = flag_aliases(flag)
    found = None
    for i, tok in enumerate(argv):
        if tok in names and i + n < len(argv):
            found = list(argv[i + 1:i + 1 + n])
    return found


def map_values(argv: list[str], flags: Iterable[str], fn: Callable[[str, str], str]) -> list[str]:
    """Copy of argv with the single value of every occurrence of each flag (any alias) replaced by
    fn(canonical flag, value); e.g. paths made absolute."""
    canon = {name: flag for flag in flags for name in flag_aliases(flag)}
    out = list(argv)
    for i, tok in enumerate(out[:-1]):
        if tok in canon:
            out[i + 1] = fn(canon[tok], out[i + 1])
    return out



# The flags that place φ ticks; a single-tick command line replaces them all (spec 8.2).
PHI_FLAGS: tuple[str, ...] = ("-phi", "-osc", "-phistep", "-phisteps")


def single_tick_argv(argv: list[str], phi_deg: float, step_deg: float, *, drop: Iterable[str] = (),
                     extra: Iterable[str] = ()) -> list[str]:
    """The single-tick command line of the tick at `phi_deg` (degrees) of a grid with step `step_deg`: argv without
    its φ flags and the flags in `drop` (any alias, with their values), then `-phi φ -osc step -phisteps 1` and the
    complete flags `extra`, appended so that nothing else changes meaning (append_flags). Values are written with
    repr, so the engine reads back the very float of the grid."""
    out = list(argv)
    for flag in (*PHI_FLAGS, *drop):
        out = without_flag(out, flag)
    return append_flags(out, ["-phi", repr(float(phi_deg)), "-osc", repr(float(step_deg)), "-phisteps", "1",
                              *extra])
