"""Upstream nanoBragg's substring matching (decisions D8, spec 2.2): an argument that contains another flag's name
also triggers that flag, with the C's length and argument-count guards and its lenient atof/atoi values; and the
warnings where a command line means something the reader may not expect (-pix0_vector, a non-unit -odet_vector,
-dump_pixel)."""
from __future__ import annotations

import functools
import math

from simulator.config import NanoBraggConfig

from .records import Diagnostic
from .table import _BY_NAME, _TABLE, _Ctx, _Flag, is_flag_token
from .values import _Bad, _c_number, _looks_numeric
from .write import format_value

# --------------------------------------------------------------------------------------------- upstream substring rules

# Flags upstream compares with a length check or exactly (spec 2.2); every other name is found with strstr.
_EXACT_LEN = {"-phi": 4, "-phistep": 8, "-detpixels": 10, "-detsize": 8, "-detector_thick": 15, "-polar": 6,
              "-hdivstep": 9, "-vdivstep": 9, "-stol": 5, "-4stol": 6, "-Q": 2, "-mosaic": 7}
_EXACT_ONLY = {"-N", "-MW"}
# Our own flags (and the golden build's -dump_pixel alias), which upstream does not look for.
_NOT_UPSTREAM = {"-trace_pixel", "-dump_pixel", "-phi0_carryover", "-dtype", "-device"}
# Upstream reads these only when more arguments follow than our grammar takes (its argument-count guards).
_UPSTREAM_NEEDS = {"-curved_det": 1}
# Side matches whose effect our own flag already has (no warning needed).
_QUIET_SIDES = {("-printout_pixel", "-printout")}
_STRING_VALUED = {"-mat", "-hkl", "-dump", "-sourcefile", "-floatfile", "-intfile", "-pgmfile", "-noisefile",
                  "-mask", "-img", "-pivot", "-stol", "-density"}
_INT_VALUED = {"-detpixels", "-detpixels_f", "-detpixels_s", "-N", "-Na", "-Nb", "-Nc", "-mosaic_dom", "-mosaic_seed",
               "-misset_seed", "-seed", "-detector_thicksteps", "-dispsteps", "-hdivsteps", "-vdivsteps", "-divsteps",
               "-phisteps", "-oversample", "-roi", "-printout_pixel"}


def _upstream_hits(tok: str, needle: str) -> bool:
    """Does upstream's branch for `needle` fire on the argument `tok`? (strstr plus the few length checks)"""
    if needle in _EXACT_ONLY:
        return tok == needle
    if needle not in tok:
        return False
    if needle in _EXACT_LEN:
        return len(tok) == _EXACT_LEN[needle]
    if needle == "-stolout":
        return len(tok) > 7
    if needle == "-oversample":  # the -oversample_thick/_polar/_omega branches end the argument first
        return not any(x in tok for x in ("-oversample_thick", "-oversample_polar", "-oversample_omega"))
    return True


_UPSTREAM_NEEDLES: tuple[str, ...] = tuple(n for f in _TABLE for n in f.names if n not in _NOT_UPSTREAM)
_NEEDLE_SET = frozenset(_UPSTREAM_NEEDLES)
_NEEDLE_MAX = max(len(n) for n in _UPSTREAM_NEEDLES)


def _side_matches(tok: str, own: _Flag | None) -> list[_Flag]:
    """The other flags upstream's substring matching triggers for the argument `tok`, in table order."""
    return [spec for spec in _substring_hits(tok) if spec is not own]


@functools.lru_cache(maxsize=4096)
def _substring_hits(tok: str) -> tuple[_Flag, ...]:
    """Every flag whose upstream branch fires on `tok` (cached: the editor re-parses on every keystroke)."""
    if not tok.startswith("-") or tok in _NOT_UPSTREAM or _looks_numeric(tok):
        return ()
    present = {tok[p:p + n] for p, ch in enumerate(tok) if ch == "-"
               for n in range(2, min(len(tok) - p, _NEEDLE_MAX) + 1)} & _NEEDLE_SET
    out: list[_Flag] = []
    for needle in _UPSTREAM_NEEDLES:
        if needle not in present:
            continue
        spec = _BY_NAME[needle]
        if not any(spec is o for o in out) and _upstream_hits(tok, needle):
            out.append(spec)
    return tuple(out)


def _upstream_surprises(cfg: NanoBraggConfig, tokens: list[str], ctx: _Ctx, warn) -> None:
    """Warnings where a command line means something the reader may not expect (decisions D8)."""
    d = cfg.detector
    if "-pix0_vector" in ctx.where:
        warn("-pix0_vector is ignored by nanoBragg (upstream and the golden build): pix0 is recomputed from the beam "
             "centre and distance (spec 3.8); the flag only switches to the CUSTOM convention",
             ctx.where["-pix0_vector"])
    if "-odet_vector" in ctx.where and d.odet_vector is not None and d.convention == "CUSTOM":
        x, y, z = d.odet_vector
        length = math.sqrt(x * x + y * y + z * z)
        if length != 1.0:
            warn(f"-odet_vector {x:g} {y:g} {z:g} has length {length:.17g}, not exactly 1: nanoBragg (upstream and the "
                 "golden build) replaces it by unit(fdet x sdet) and prints 'WARNING: auto-generating odet_vector'",
                 ctx.where["-odet_vector"])
    for i, tok in enumerate(tokens):
        if tok == "-dump_pixel":
            warn("-dump_pixel is the golden build's alias of -trace_pixel (our engines trace this pixel); upstream "
                 "nanoBragg has no trace and reads it as -dump (its Fdump cache file name is the next argument)", i)



def _apply_side(cfg: NanoBraggConfig, tokens: list[str], i: int, side: _Flag, ctx: _Ctx,
                diags: list[Diagnostic], warn, *, unknown: bool) -> None:
    """Apply `side`, triggered by upstream's substring match of token i, with the C's lenient atof/atoi values."""
    tok, name, n = tokens[i], side.names[0], side.nargs
    if len(tokens) <= i + max(n, _UPSTREAM_NEEDS.get(name, n)):
        return  # upstream's argument-count guard: not enough arguments follow, the branch is skipped
    raw = tokens[i + 1:i + 1 + n]
    vals = raw if name in _STRING_VALUED else [format_value(_c_number(v, name in _INT_VALUED)) for v in raw]
    try:
        side.apply(cfg, vals, i + 1, ctx)
        ctx.where[name] = i
    except _Bad as bad:
        diags.append(Diagnostic("error", f"{tok} (read by upstream nanoBragg as {name}): {bad}", token=i))
        return
    shown = " ".join(vals)
    if unknown:
        warn(f"{tok} is not a nanoBragg flag, but upstream nanoBragg matches flags by substring and reads it as "
             f"{name}{' ' + shown if shown else ''}", i)
    elif (tok, name) not in _QUIET_SIDES:
        golden = (f"the golden build matches -misset exactly: there {tok} sets nothing but its own value"
                  if name == "-misset" else "the golden build does the same")
        effect = {"-misset": f": misset angles {', '.join(vals)} degrees (the next three arguments, read with atof)",
                  "-twotheta": f": detector 2theta = {shown} degrees and the SAMPLE pivot"}.get(name, "")
        warn(f"upstream nanoBragg also reads {tok} as {name}{' ' + shown if shown else ''}{effect} (substring match; "
             f"{golden})", i)


def _leading_values(tokens: list[str], i: int, n: int) -> int:
    k = 0
    while k < n and i + 1 + k < len(tokens) and not is_flag_token(tokens[i + 1 + k]):
        k += 1
    return k


