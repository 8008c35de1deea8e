"""`python -m simulator <nanoBragg args> [-dtype float32|float64] [-device cpu|cuda]`: the PyTorch engine with the
C program's command line, outputs and console statistics (spec 10).

Writes -floatfile (default floatimage.bin), -intfile (intimage.img), -pgmfile (image.pgm unless -nopgm) and
-noisefile (noiseimage.img unless -nonoise; Poisson noise from numpy's generator, not the C's stream, decisions D2)
into the current directory; stdout is upstream nanoBragg's report (simulator.console), -printout blocks
(simulator.printout) and statistics, our own lines prefixed "simulator: ". Exit status 0 on success, 9 for a bad
command line (like the C's usage exit).
"""
from __future__ import annotations

import sys
import time

from simulator.config import ConfigError

USAGE = """\
usage: python -m simulator [options]   (the nanoBragg command line)
  crystal:    -cell a b c alpha beta gamma | -mat A.mat   -misset rx ry rz | -misset random
              -N n | -Na n -Nb n -Nc n   -mosaic deg -mosaic_dom n -mosaic_seed n
              -square_xtal | -round_xtal | -gauss_xtal | -tophat_spots   -fudge f
  structure:  -hkl file.hkl  -default_F F  -nointerpolate  -dump Fdump.bin
  beam:       -lambda A | -energy eV  -fluence | -flux -exposure -beamsize  -polar K -nopolar  -dmin A
              -divergence mrad -dispersion %  -hdivrange -vdivrange -hdivstep -vdivstep -dispsteps
  detector:   -pixel mm -detpixels n | -detpixels_f n -detpixels_s n | -detsize mm  -distance mm
              -close_distance mm  -Xbeam -Ybeam -Xclose -Yclose -ORGX -ORGY  -pivot beam|sample
              -mosflm -xds -dials -adxv -denzo  -fdet_vector -sdet_vector -odet_vector -beam_vector
              -polar_vector -spindle_axis -twotheta_axis  -detector_rotx -detector_roty -detector_rotz
              -twotheta deg  -curved_det -point_pixel  -detector_thick um -detector_thicksteps n
              -detector_abs um
  sampling:   -phi deg -osc deg -phistep deg -phisteps n  -oversample n  -oversample_thick
              -oversample_polar -oversample_omega  -roi xmin xmax ymin ymax  -phi0_carryover on|off
  output:     -floatfile f -intfile f -pgmfile f -noisefile f  -nopgm -nonoise  -scale s -adc a
              -pgmscale s -seed n  -trace_pixel slow fast  -printout  -printout_pixel fast slow
  engine:     -dtype float32|float64 (default float64)  -device cpu|cuda (default cpu)
"""


def _print_progress(frac: float) -> None:
    sys.stderr.write(f"\r{100 * frac:.0f}% done")
    if frac >= 1:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _warn(msg: str | None) -> None:
    if msg:
        print(msg, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run like the C program; returns the exit status.

    stdout carries upstream nanoBragg's lines in its words and order (simulator.console): the set-up report, any
    -printout lines, a blank line, then the statistics and file lines. Our own lines carry the "simulator: " prefix
    (TRACE lines keep their trace dialect); warnings of our parser and engine go to stderr.
    """
    from simulator.argv import parse_argv
    from simulator.preflight import check_config, derived_lines

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "-help") for a in args):
        print(USAGE, end="")
        return 0
    try:
        parsed = parse_argv(args)
        est = check_config(parsed.config)  # input files, values and memory, before any work (issue 8)
        derived = derived_lines(parsed.config, est)
    except ConfigError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        return 9
    print("\n".join(f"simulator: {ln}" for ln in derived), flush=True)   # the same lines as nbref's (issue 22)
    # torch loads only where the compiled kernel does not serve, or for a trace or printout (issues 8, 19)
    from simulator import io_files
    from simulator.console import setup_report
    from simulator.fdump import maybe_write_fdump
    from simulator.noise import noise_image
    from simulator.printout import printout_lines, printout_pixels
    from simulator.render_compiled import CARRYOVER_DEFAULT, render_fast
    from simulator.setup import build_setup

    for w in parsed.warnings:
        _warn(f"simulator: WARNING: {w}")
    cfg = parsed.config
    dtype = parsed.extras.get("dtype", "float64")
    device = parsed.extras.get("device", "cpu")
    out = cfg.output
    seed = None if out.nonoise else (out.seed if out.seed is not None else int(time.time()))
    try:
        setup = build_setup(cfg, carryover_default=CARRYOVER_DEFAULT)
        for w in setup.warnings:
            _warn(f"simulator: {w}" if w.startswith("WARNING") else f"simulator: WARNING: {w}")
        to_print = printout_pixels(cfg, setup) if out.printout else []   # bounded before any work
        print("\n".join(setup_report(setup, seed)), flush=True)
        maybe_write_fdump(cfg)   # the C writes its cache while setting up, before rendering (line in the report)
        progress = _print_progress if sys.stderr.isatty() else None
        res = render_fast(cfg, dtype=dtype, device=device, progress=progress)
        if res is None:
            from simulator.engine import render
            res = render(cfg, dtype=dtype, device=device, progress=progress)
        trace_text = ""
        if out.trace_pixel is not None:
            from simulator.engine import format_trace, trace_pixel
            trace_text = format_trace(trace_pixel(cfg, out.trace_pixel[0], out.trace_pixel[1], dtype=dtype,
                                                  device=device))
        printout = printout_lines(cfg, setup, res.image, to_print, dtype=dtype, device=device) if to_print else []
    except ConfigError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 9
    image = res.image
    meta = res.meta
    stats, roi = meta["stats"], tuple(meta["roi"])
    header = io_files.SMVHeader.from_dict(meta["smv_header"])
    lines = res.log.rstrip("\n").split("\n")
    for ln in lines:
        if ln.startswith("WARNING: out of range") or ln.startswith("WARNING: further"):
            print(ln)   # upstream prints these two during the render
    if printout:
        print("\n".join(printout))
    if trace_text and out.trace_pixel is not None:
        print(f"TRACE_CONFIG: tracing pixel (spixel={out.trace_pixel[0]}, fpixel={out.trace_pixel[1]})")
        print(trace_text, end="")
    print()   # upstream ends its progress meter with a blank line
    print(next(ln for ln in lines if ln.startswith("solid angle")))
    floatfile = out.floatfile or "floatimage.bin"
    print(f"writing {floatfile} as {image.size} 4-byte floats")
    io_files.write_float(floatfile, image)
    print(next(ln for ln in lines if ln.startswith("max_I")))
    print(next(ln for ln in lines if ln.startswith("mean=")))
    iscale = io_files.int_scale(image, roi, out.scale)
    print(f"intfile_scale = {iscale:g}")
    intfile = out.intfile or "intimage.img"
    print(f"writing {intfile} as 2-byte integers")
    _warn(io_files.write_smv(intfile, header, io_files.int_image(image, roi, iscale, out.adc)))
    if not out.nopgm:
        pscale = io_files.pgm_scale(image, roi, iscale, stats["rmsd"], out.pgmscale)
        print(f"pgm_scale = {pscale:g}")
        pgmfile = out.pgmfile or "image.pgm"
        print(f"writing {pgmfile} as 1-byte integers")
        io_files.write_pgm(pgmfile, image, roi, pscale)
    if seed is not None:
        noise_img, photons, overloads = noise_image(image, roi, out.adc, seed)
        print(f"{photons:.0f} photons on noise image ({overloads} overloads)")
        noisefile = out.noisefile or "noiseimage.img"
        print(f"writing {noisefile} as 2-byte integers")
        _warn(io_files.write_smv(noisefile, header, noise_img))
    print(f"simulator: phi0 carry-over {'on' if setup.phi.carryover else 'off'}")
    print("simulator: " + lines[-1])
    return 0
