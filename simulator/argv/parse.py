"""parse_argv: an argv read the way the C reads it (spec 2): flags applied in order, later ones overwrite earlier
ones, the -mask/-img header pre-pass, upstream's substring side effects (quirks.py), D5 errors that name the flag
and what was expected, D8 warnings."""
from __future__ import annotations

import os

from simulator.config import ConfigError, NanoBraggConfig

from .quirks import _UPSTREAM_NEEDS, _apply_side, _leading_values, _side_matches, _upstream_hits, _upstream_surprises
from .records import Diagnostic, ParsedArgs
from .table import _BY_NAME, _Ctx, _Flag, is_flag_token
from .values import _Bad, _looks_numeric

# --------------------------------------------------------------------------------------------- parsing

def _parse_tokens(tokens: list[str], check_files: bool) -> ParsedArgs:
    cfg = NanoBraggConfig()
    ctx = _Ctx(check_files=check_files, extras={}, warnings=[])
    diags: list[Diagnostic] = []
    _header_prepass(cfg, tokens, ctx, diags)

    def warn(msg: str, token: int) -> None:
        ctx.warnings.append(msg)
        diags.append(Diagnostic("warning", msg, token=token))

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("-h", "--help", "-help"):
            i += 1
            continue
        spec = _BY_NAME.get(tok)
        if tok.startswith("-") and _upstream_hits(tok, "-misset") and i + 1 < len(tokens) \
                and "rand" in tokens[i + 1]:
            # upstream: "-misset ...rand..." and nothing else of this argument (its branch ends with `continue`)
            cfg.crystal.misset_random = True
            cfg.crystal.misset_deg = None
            ctx.where["-misset"] = i
            if tok != "-misset":
                warn(f"upstream nanoBragg reads {tok} {tokens[i + 1]} as -misset random (substring match); "
                     f"{tok} itself is not applied. The golden build matches -misset exactly.", i)
            i += 2
            continue
        sides = _side_matches(tok, spec)
        if spec is None and not sides:
            if tok.startswith("-") and not _looks_numeric(tok):
                warn(f"unknown flag {tok} (the C ignores it)", i)
            else:
                warn(f"unexpected value '{tok}' (not preceded by a flag that takes it)", i)
            i += 1
            continue
        step = 1
        if spec is not None:
            step = _apply_own(cfg, tokens, i, spec, ctx, diags, warn)
        for side in sides:
            _apply_side(cfg, tokens, i, side, ctx, diags, warn, unknown=spec is None)
            if spec is None:
                step = max(step, 1 + _leading_values(tokens, i, side.nargs))
        i += step
    if not any(dg.severity == "error" for dg in diags):  # avoid a cascade: a bad -cell is not "no crystal"
        _check_consistency(cfg, diags)
        _upstream_surprises(cfg, tokens, ctx, warn)
    return ParsedArgs(config=cfg, warnings=ctx.warnings, extras=ctx.extras, diagnostics=diags)


def _apply_own(cfg: NanoBraggConfig, tokens: list[str], i: int, spec: _Flag, ctx: _Ctx,
               diags: list[Diagnostic], warn) -> int:
    """Apply the flag typed exactly at token i (strict values); returns how many tokens it used."""
    tok, n = tokens[i], spec.nargs
    need = _UPSTREAM_NEEDS.get(spec.names[0], n)
    if need > n and len(tokens) <= i + need:
        # upstream's argument-count guard: e.g. -curved_det as the very last argument does nothing
        warn(f"{tok} is the last argument: upstream nanoBragg (and the golden build) ignore it, because they only "
             f"read it when {need} more argument{'s' if need > 1 else ''} follow{'s' if need == 1 else ''}; "
             f"move it before another flag to switch it on (nanoBragg's fix/curved-det-flag-guard branch would "
             f"switch it on here)", i)
        return 1
    values = tokens[i + 1:i + 1 + n]
    missing = [k for k, v in enumerate(values) if is_flag_token(v)]
    if len(values) < n or missing:
        got = missing[0] if missing else len(values)
        diags.append(Diagnostic("error", f"{tok}: expects {n} value{'s' if n > 1 else ''}, got {got}", token=i))
        return 1 + got
    try:
        spec.apply(cfg, values, i + 1, ctx)
        ctx.where[spec.names[0]] = i
    except _Bad as bad:
        diags.append(Diagnostic("error", str(bad), token=bad.token))
    return 1 + n



def _header_prepass(cfg: NanoBraggConfig, tokens: list[str], ctx: _Ctx, diags: list[Diagnostic]) -> None:
    """The C's pre-pass (spec 2.1): the -mask header, then the -img header, whatever their order; the main pass then
    overwrites whatever the command line sets itself."""
    for i, tok in enumerate(tokens[:-1]):
        if tok in ("-mask", "-img") and os.path.isfile(tokens[i + 1]):
            setattr(cfg.detector, "mask_file" if tok == "-mask" else "img_file", tokens[i + 1])
    if cfg.detector.mask_file is None and cfg.detector.img_file is None:
        return
    from simulator.smv_in import apply_smv_headers  # numpy only; keeps plain command lines free of it

    try:
        ctx.warnings.extend(apply_smv_headers(cfg))
    except ConfigError as err:
        diags.append(Diagnostic("error", str(err)))



def _check_consistency(cfg: NanoBraggConfig, diags: list[Diagnostic]) -> None:
    """Whole-command checks the C makes before rendering (spec 2.3), as errors that say what is missing."""
    if cfg.crystal.mat_file is None and cfg.crystal.cell is None:
        diags.append(Diagnostic("error", "no crystal: give -cell a b c alpha beta gamma or -mat FILE"))
    if cfg.crystal.hkl_file is None and cfg.crystal.default_F == 0:
        diags.append(Diagnostic("error", "no structure factors: give -hkl FILE or -default_F F (> 0)"))


def parse_argv(argv: list[str], *, check_files: bool = True, require_inputs: bool = True) -> ParsedArgs:
    """Parse a nanoBragg argv (without the program name) into a configuration.

    Raises ConfigError with the first error (flag and what was expected); warnings (unknown flags) are returned.
    `require_inputs=False` skips the "no crystal / no structure factors" checks (for partial commands).
    """
    parsed = _parse_tokens(list(argv), check_files)
    errors = [d for d in parsed.diagnostics if d.severity == "error"
              and (require_inputs or d.token >= 0)]
    if errors:
        raise ConfigError(errors[0].message)
    return parsed


