"""Named nanoBragg command lines used by the tests, the benchmark and the README (spec/nanobragg.md section 12.1)."""
from __future__ import annotations

from pathlib import Path

from simulator.argv import split_command

# The "CLI-FLAGS-003" supervisor command, 2463 x 2527 pixels; {A} and {hkl} are the A.mat and scaled.hkl paths.
CLI_FLAGS_003 = (
    "-mat {A} -hkl {hkl} -nonoise -nointerpolate -oversample 1 -exposure 1 -flux 1e18 -beamsize 1.0 "
    "-spindle_axis -1 0 0 -Xbeam 217.742295 -Ybeam 213.907080 -distance 231.274660 -lambda 0.976800 -pixel 0.172 "
    "-detpixels_x 2463 -detpixels_y 2527 -odet_vector -0.000088 0.004914 -0.999988 -sdet_vector -0.005998 -0.999970 "
    "-0.004913 -fdet_vector 0.999982 -0.005998 -0.000118 -pix0_vector_mm -216.336293 215.205512 -230.200866 "
    "-beam_vector 0.00051387949 0.0 -0.99999986 -Na 36 -Nb 47 -Nc 29 -osc 0.1 -phi 0 -phisteps 10 -detector_rotx 0 "
    "-detector_roty 0 -detector_rotz 0 -twotheta 0"
)
# The pixel traced in spec 8.3 / 11.1, as (slow, fast).
CLI_FLAGS_003_PIXEL = (685, 1039)


def argv(text: str) -> list[str]:
    """A command line written as one string, split by the one tokenizer (simulator.argv.split_command)."""
    return split_command(text)


def cli_flags_003_args(data_dir: Path, roi: tuple[int, int, int, int] | None = None) -> list[str]:
    """The CLI-FLAGS-003 argv with absolute input paths from `data_dir`; roi = (xmin, xmax, ymin, ymax) inclusive."""
    d = Path(data_dir).resolve()
    # split first, then fill in the paths: a folder name with blanks or quotes stays one token
    args = [t.format(A=d / "A.mat", hkl=d / "scaled.hkl") for t in argv(CLI_FLAGS_003)]
    if roi is not None:
        args += ["-roi", *(str(v) for v in roi)]
    return args


def roi_around(slow: int, fast: int, half: int = 64) -> tuple[int, int, int, int]:
    """A (2*half)^2 ROI centred on a pixel, as -roi's xmin xmax ymin ymax (fast, fast, slow, slow), inclusive."""
    return (fast - half, fast + half - 1, slow - half, slow + half - 1)
