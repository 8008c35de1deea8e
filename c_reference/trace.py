"""The nanoBragg-specific runs for one pixel: the C's trace of a pixel (`-trace_pixel` restricted by a -roi that
keeps the carry-over and interpolation state of the full run) and, for binaries without per-φ trace lines, the
pixel's per-φ-tick intensities from single-tick runs. Each takes the parsed command line (simulator.argv's
ParsedCommand) and edits its tokens, stating what the edit means for the configuration: no parse here."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from simulator.argv import ParsedCommand, append_flags, as_command, single_tick_argv
from tracing.records import EngineError, PixelTrace

from .locate import binary_sha256, check_binary
from .outputs import remove_flags
from .process import LOG_TAIL_LINES, ProgressFn
from .run import CRunResult, run_c
from .trace_value import TraceValueMissing, TraceValues

def trace_roi(slow: int, fast: int, shape: tuple[int, int],
              user_roi: tuple[int, int, int, int] | None = None, *,
              prefix: bool = False) -> tuple[int, int, int, int]:
    """-roi (xmin, xmax, ymin, ymax) for tracing (slow, fast): the pixel and the one rendered just before it.

    With one thread the C renders in raster order, and its φ=0 carry-over state (C-PARITY-001, decisions D3/D4)
    comes from the previously rendered pixel; including that pixel makes the trace see the state of the full-image
    run. The region rendered in the full run is the user's -roi (clipped to the detector) or the whole detector; if
    the traced pixel is the first pixel of that region, it is rendered alone, as in the full run.

    prefix=True: every row of that region from its first through the traced one, so that the run also sees every
    evaluation that comes before the pixel in raster order (the C switches tricubic interpolation off for the rest
    of the run at the first out-of-range one, spec 5.4, which two pixels alone cannot know).
    """
    s_n, f_n = shape
    if not (0 <= slow < s_n and 0 <= fast < f_n):
        raise EngineError(f"pixel (slow {slow}, fast {fast}) is outside the {s_n} x {f_n} detector")
    x0, x1, y0 = 0, f_n - 1, 0
    if user_roi is not None:
        ux0, ux1, uy0, uy1 = (max(0, user_roi[0]), min(f_n - 1, user_roi[1]),
                              max(0, user_roi[2]), min(s_n - 1, user_roi[3]))
        if ux0 <= fast <= ux1 and uy0 <= slow <= uy1:
            x0, x1, y0 = ux0, ux1, uy0
    if prefix:
        return x0, x1, y0, slow
    if fast > x0:
        return fast - 1, fast, slow, slow
    if slow > y0:
        return x0, x1, slow - 1, slow
    return fast, fast, slow, slow



def may_interpolate(args: ParsedCommand | Sequence[str]) -> bool:
    """Whether the C may use tricubic interpolation for this command line (spec 5.4): an -hkl file, and
    -interpolate, or the automatic choice with some N <= 2 (or a crystal size that decides N later). True when the
    parse refused part of the line (the safe answer)."""
    cmd = as_command(args)
    if cmd.errors:
        return True
    c = cmd.config.crystal
    if c.hkl_file is None or c.interpolate is False:
        return False
    if c.interpolate is True:
        return True
    sized = any(v is not None for v in (c.sample_x_mm, c.sample_y_mm, c.sample_z_mm))
    return sized or min(c.Na, c.Nb, c.Nc) <= 2


def trace_command(args: ParsedCommand | Sequence[str], slow: int, fast: int) -> ParsedCommand:
    """The command line of the trace run of pixel (slow, fast): the user's -roi, -trace_pixel and -dump_pixel
    replaced by `-trace_pixel slow fast -roi ...` (trace_roi) and `-nonoise -nopgm`."""
    cmd = as_command(args)
    roi = trace_roi(slow, fast, cmd.shape, cmd.config.output.roi, prefix=may_interpolate(cmd))
    a = remove_flags(cmd.tokens, "-trace_pixel", "-roi")
    a = append_flags(a, ["-trace_pixel", str(slow), str(fast), "-roi", *map(str, roi), "-nonoise", "-nopgm"])
    out = replace(cmd.config.output, trace_pixel=(slow, fast), roi=roi, nonoise=True, nopgm=True)
    return cmd.derived(a, output=out)


def trace_c_run(args: ParsedCommand | Sequence[str], slow: int, fast: int, *,
                trace_values: TraceValues | None = None, **kw) -> CRunResult:
    """Run trace_command(args, slow, fast) with one thread and none of the user's outputs.

    When interpolation may be on, the -roi covers every row up to the traced one (trace_roi prefix=True), so the
    trace sees the run-wide interpolation switch-off of the full image (decisions D4). Keyword arguments as run_c
    (threads is forced to 1).

    trace_values (issue 19): what is known of binaries whose trace prints the pixel's stored float value
    (c_reference.trace_value). A binary trusted there runs with its float file sent to /dev/null and the pixel's
    value taken from the trace (`image` holds only that pixel); any other binary writes its float file as usual,
    and that run cross-checks the trace's value against the file (learnt for the binary's sha256). A trusted
    binary whose trace then prints no value is run again with the float file and is no longer trusted.
    """
    kw["threads"] = 1
    kw["outputs"] = False
    cmd = trace_command(args, slow, fast)
    roi = cmd.config.output.roi
    sha = None if trace_values is None or kw.get("command") else binary_sha256(check_binary(kw.get("binary")))
    if sha is not None and trace_values is not None and trace_values.trusted(sha):
        try:
            return run_c(cmd, region=roi, float_from_trace=True, **kw)
        except TraceValueMissing:
            trace_values.distrust(sha)
    res = run_c(cmd, region=roi, **kw)
    if sha is not None and trace_values is not None and res.binary_sha256 == sha:
        trace_values.learn(sha, res.trace, float(res.image[slow, fast]))
    return res


def trace_c(args: ParsedCommand | Sequence[str], slow: int, fast: int, **kw) -> PixelTrace:
    """The C's trace of pixel (slow, fast) for the command line `args` (see trace_c_run).

    A binary that prints no TRACE lines gives a PixelTrace with dialect "none" and a note; use phi_intensity_curve.
    Raises EngineError if the trace lines are malformed.
    """
    return trace_of(trace_c_run(args, slow, fast, **kw), slow, fast)


def trace_of(res: CRunResult, slow: int, fast: int) -> PixelTrace:
    """The PixelTrace of a trace run (trace_c_run): EngineError if its TRACE lines were malformed; dialect "none"
    with a note when it printed no per-phi lines."""
    name = res.binary.name
    if res.trace_error is not None:
        raise EngineError(f"could not read the trace of {name}: {res.trace_error}",
                          "\n".join(res.log.splitlines()[-LOG_TAIL_LINES:]))
    trace = res.trace if res.trace is not None else PixelTrace(engine="c", slow=slow, fast=fast)
    if not trace.samples:
        trace.notes.append(f"{name} printed no per-phi TRACE lines; phi_intensity_curve gives per-tick "
                           "intensities for such binaries")
    return trace


def phi_intensity_curve(args: ParsedCommand | Sequence[str], slow: int, fast: int, *,
                        progress: ProgressFn | None = None, **kw) -> list[tuple[float, float]]:
    """Per-φ-tick intensity of pixel (slow, fast) from single-tick runs, for binaries without per-φ trace lines.

    The φ grid is resolved as the C does (spec §8.2): ticks φ_i = φ0 + i·Δ, i = 0..N−1, Δ = the resolved phistep
    (osc/N when -phisteps and -osc are given). Run i is `-phi φ_i -osc Δ -phisteps 1 -roi f f s s`; value_i is the
    pixel's float value. Because each run divides by steps = 1, Σ_i value_i / N equals the spec-compliant N-step
    pixel (a fresh rotation at every tick, spec §15): it differs from the C's own N-step value where C-PARITY-001
    replaces tick 0, or where -oversample_thick/_polar/_omega make the running sums not add up across runs.
    Returns [(φ_i in degrees, value_i)], N entries. Keyword arguments as run_c.
    """
    cmd = as_command(args)
    grid = cmd.phi
    s_n, f_n = cmd.shape
    if not (0 <= slow < s_n and 0 <= fast < f_n):
        raise EngineError(f"pixel (slow {slow}, fast {fast}) is outside the {s_n} x {f_n} detector")
    roi = (fast, fast, slow, slow)
    out: list[tuple[float, float]] = []
    for i in range(grid.n):
        phi_i = grid.angle(i)
        tick = cmd.derived(
            single_tick_argv(cmd.argv(), phi_i, grid.step, drop=("-roi", "-trace_pixel"),
                             extra=["-roi", *map(str, roi), "-nonoise", "-nopgm"]),
            sampling=replace(cmd.config.sampling, phi_deg=phi_i, osc_deg=grid.step, phistep_deg=None, phisteps=1),
            output=replace(cmd.config.output, roi=roi, trace_pixel=None, nonoise=True, nopgm=True))
        sub = None if progress is None else (lambda x, i=i: progress((i + x) / grid.n))
        res = run_c(tick, progress=sub, region=roi, **{**kw, "outputs": False})
        out.append((phi_i, float(res.image[slow, fast])))
        if progress is not None:
            progress((i + 1) / grid.n)
    return out
