"""The fault catalogue's bad (and borderline good) nanoBragg command lines, as data (issue 8).

Each `Case` is a command line plus the input files it needs, and what every entry point must do with it: `reject`
(exit 9 from nbref / `python -m simulator`, ConfigError from the Qt-free API, exit 3 from `nbparity compare`) with a
message containing every one of `words` (the flag, the file, the line), or accept it and render a finite image.
`test_faults_catalogue.py` runs them; `fault_baseline.py` replays them against an older checkout to count
what went wrong there. File contents are bytes; `{d}` in an argument is replaced by the case's folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# A 16 x 16 detector with a small cubic cell: every accepted case renders in milliseconds on both engines.
BASE = ("-cell", "100", "100", "100", "90", "90", "90", "-N", "2", "-default_F", "100", "-lambda", "1",
        "-distance", "100", "-pixel", "0.1", "-detpixels", "16", "-oversample", "1", "-nonoise", "-nopgm")
BASE_NO_OVERSAMPLE = tuple(a for i, a in enumerate(BASE) if a != "-oversample" and BASE[i - 1] != "-oversample")
BASE_NO_DETPIXELS = tuple(a for i, a in enumerate(BASE) if a != "-detpixels" and BASE[i - 1] != "-detpixels")
GOOD_HKL = b"0 0 0 10\n1 0 0 20\n0 1 0 30\n0 0 1 40\n-1 -1 -1 50\n"
GOOD_MAT = b"0.01 0 0\n0 0.01 0\n0 0 0.01\n"
# More memory than any machine has (PiB), so a memory refusal does not depend on the host.
GiB = 1 << 30


def smv(header: str, data_bytes: int = 2 * 16 * 16, header_bytes: int = 512) -> bytes:
    """An SMV file: '{\\nHEADER_BYTES=...' + `header` lines, padded to header_bytes, then zero data."""
    text = f"{{\nHEADER_BYTES={header_bytes};\n{header}}}\n"
    return text.encode("utf-8").ljust(header_bytes, b" ") + b"\1\0" * (data_bytes // 2)


MASK_OK = "DIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\nSIZE1=16;\nSIZE2=16;\nPIXEL_SIZE=0.1;\n"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]                    # appended to BASE (later flags win) unless `base` is False
    words: tuple[str, ...] = ()               # every one must be in the message (case-insensitive)
    files: dict[str, bytes] = field(default_factory=dict)
    accept: bool = False                      # a valid command line: both engines render a finite image
    base: bool = True
    mem_limit: int | None = None              # bytes the engines may use (budget and the C's RLIMIT_AS)
    c_words: tuple[str, ...] | None = None    # words for the C's message when they differ (None = `words`)

    def argv(self, folder: str) -> list[str]:
        args = [a.replace("{d}", folder) for a in self.args]
        return (list(BASE) + args) if self.base else args


def _hkl(cid: str, content: bytes, *words: str, accept: bool = False, **kw) -> Case:
    return Case(cid, ("-hkl", "f.hkl"), ("-hkl", "f.hkl", *words), {"f.hkl": content}, accept=accept, **kw)


def _mat(cid: str, content: bytes, *words: str, **kw) -> Case:
    return Case(cid, ("-mat", "A.mat"), ("-mat", "A.mat", *words), {"A.mat": content}, **kw)


def _src(cid: str, content: bytes, *words: str, accept: bool = False) -> Case:
    return Case(cid, ("-sourcefile", "s.txt"), ("-sourcefile", "s.txt", *words), {"s.txt": content},
                accept=accept)


def _mask(cid: str, header: str, *words: str, data_bytes: int = 512, flag: str = "-mask") -> Case:
    name = "m.img"
    return Case(cid, (flag, name), (flag, name, *words), {name: smv(header, data_bytes)})


CASES: list[Case] = [
    # ---- values on the command line
    Case("lambda-zero", ("-lambda", "0"), ("-lambda",)),
    Case("lambda-negative", ("-lambda", "-1"), ("-lambda",)),
    Case("lambda-inf", ("-lambda", "inf"), ("-lambda",)),
    Case("lambda-nan", ("-lambda", "nan"), ("-lambda",)),
    Case("energy-zero", ("-energy", "0"), ("-energy",)),
    Case("energy-negative", ("-energy", "-12398"), ("-energy",)),
    Case("default-F-inf", ("-default_F", "inf"), ("-default_F",)),
    Case("default-F-nan", ("-default_F", "nan"), ("-default_F",)),
    Case("mosaic-1e100", ("-mosaic", "1e100", "-mosaic_dom", "2"), ("-mosaic",)),
    Case("mosaic-inf", ("-mosaic", "inf", "-mosaic_dom", "2"), ("-mosaic",)),
    Case("mosaic-dom-3e8", ("-mosaic", "1", "-mosaic_dom", "300000000"), ("-mosaic_dom", "GiB"), mem_limit=4 * GiB),
    Case("mosaic-dom-1e8", ("-mosaic", "1", "-mosaic_dom", "100000000"), ("-mosaic_dom", "GiB"), mem_limit=2 * GiB),
    Case("phisteps-1e9", ("-phisteps", "1000000000", "-osc", "1"), ("-phisteps", "GiB"), mem_limit=4 * GiB),
    Case("phisteps-overflow", ("-osc", "1e9", "-phistep", "1e-9"), ("-phistep", "phi steps")),
    Case("phisteps-negative", ("-phisteps", "-1"), ("-phisteps",)),
    Case("phistep-zero-osc", ("-osc", "1", "-phistep", "0", "-phisteps", "3"), (), accept=True),
    Case("detpixels-1e5", ("-detpixels", "100000"), ("-detpixels", "GiB"), mem_limit=8 * GiB),
    Case("detpixels-zero", ("-detpixels", "0"), ("-detpixels",)),
    Case("detpixels-negative", ("-detpixels", "-5"), ("-detpixels",)),
    Case("detpixels-f-negative", ("-detpixels_f", "-5"), ("-detpixels",)),
    Case("detsize-huge", BASE_NO_DETPIXELS + ("-detsize", "1e7"), ("-detsize", "GiB"), base=False, mem_limit=8 * GiB),
    Case("detsize-beyond-int", BASE_NO_DETPIXELS + ("-detsize", "1e12"), ("-detsize",), base=False),
    Case("pixel-zero", ("-pixel", "0"), ("-pixel",)),
    Case("pixel-negative", ("-pixel", "-0.1"), ("-pixel",)),
    Case("pixel-inf", ("-pixel", "inf"), ("-pixel",)),
    Case("distance-inf", ("-distance", "inf"), ("-distance",)),
    Case("distance-zero", ("-distance", "0"), ("-distance",)),
    Case("cell-inf", ("-cell", "inf", "100", "100", "90", "90", "90"), ("-cell",)),
    Case("cell-zero", ("-cell", "0", "100", "100", "90", "90", "90"), ("-cell",)),
    Case("roi-off-detector", ("-roi", "100", "200", "100", "200"), ("-roi", "16 x 16")),
    Case("roi-reversed", ("-roi", "10", "5", "0", "15"), ("-roi",)),
    Case("divsteps-1e5", ("-divergence", "1", "-hdivsteps", "100000", "-vdivsteps", "100000"),
         ("-hdivsteps", "GiB"), mem_limit=8 * GiB),
    Case("dispsteps-1e8", ("-dispersion", "10", "-dispsteps", "100000000"), ("-dispsteps", "GiB"),
         mem_limit=2 * GiB),
    Case("fluence-inf", ("-fluence", "inf"), ("-fluence",)),
    Case("not-a-number", ("-distance", "12abc"), ("-distance", "12abc")),
    Case("missing-value", ("-distance",), ("-distance",)),
    Case("thicksteps-zero", ("-detector_thick", "100", "-detector_thicksteps", "0"), (), accept=True),
    Case("thicksteps-negative", ("-detector_thick", "100", "-detector_thicksteps", "-3"), (), accept=True),
    Case("detector-abs-inf", ("-detector_thick", "100", "-detector_abs", "inf"), (), accept=True),
    Case("mosaic-negative", ("-mosaic", "-1", "-mosaic_dom", "5"), ("-mosaic",)),
    Case("phisteps-zero", ("-phisteps", "0"), (), accept=True),
    Case("no-crystal", ("-default_F", "1", "-lambda", "1", "-detpixels", "16"), ("-cell",), base=False),
    Case("no-structure-factors", ("-cell", "100", "100", "100", "90", "90", "90", "-detpixels", "16"),
         ("-default_F",), base=False),

    # ---- HKL files
    _hkl("hkl-ok", GOOD_HKL, accept=True),
    _hkl("hkl-crlf-comments-6col", b"# h k l F\r\n0 0 0 10 1 2\r\n\r\n1 0 0 20\r\n", accept=True),
    _hkl("hkl-long-line", b" " * 9000 + b"1 2 3 4\n", accept=True),
    _hkl("hkl-no-trailing-newline", b"1 2 3 4", accept=True),
    _hkl("hkl-non-utf8", b"0 0 0 10\n1 2 3 \xff\xfe\n", "line 2"),
    _hkl("hkl-latin1-digit", b"0 0 0 10\n1 2 \xb3 4\n", "line 2"),
    _hkl("hkl-unicode-digit", "1 2 3 \u0664\n".encode(), "line 1"),
    _hkl("hkl-F-nan", b"0 0 0 10\n1 2 3 nan\n", "line 2"),
    _hkl("hkl-F-inf", b"1 2 3 inf\n", "line 1"),
    _hkl("hkl-index-inf", b"inf 0 0 1\n", "line 1"),
    _hkl("hkl-index-nan", b"0 nan 0 1\n", "line 1"),
    _hkl("hkl-index-2e31", b"2147483647 0 0 1\n-2147483648 0 0 1\n", "line 2"),
    _hkl("hkl-index-1e20", b"1e20 0 0 1\n", "line 1"),
    _hkl("hkl-grid-huge", b"-1000000 0 0 1\n1000000 1000 1000 1\n", "GiB", mem_limit=8 * GiB),
    _hkl("hkl-index-fraction", b"1.5 0 0 1\n", "line 1"),
    _hkl("hkl-index-hex", b"0x10 0 0 1\n", "line 1"),
    _hkl("hkl-underscore", b"1_0 0 0 1\n", "line 1"),
    _hkl("hkl-three-columns", b"0 0 0 1\n1 2 3\n", "line 2"),
    _hkl("hkl-seven-columns", b"1 2 3 4 5 6 7\n", "line 1"),
    _hkl("hkl-vertical-tab", b"1 2 3 4\x0b5\n", "line 1"),
    _hkl("hkl-nul-byte", b"0 0 0 1\n1 2\x00 3 4\n", "line 2"),
    _hkl("hkl-empty", b"", "no reflections"),
    _hkl("hkl-only-comments", b"# nothing\n\n", "no reflections"),
    Case("hkl-dev-zero", ("-hkl", "/dev/zero"), ("-hkl", "/dev/zero", "regular file")),
    Case("hkl-directory", ("-hkl", "{d}"), ("-hkl", "regular file")),
    Case("hkl-missing", ("-hkl", "nothere.hkl"), ("-hkl", "nothere.hkl")),

    # ---- MOSFLM matrices
    _mat("mat-ok", GOOD_MAT, accept=True),
    _mat("mat-non-utf8", b"0.01 0 0\n0 0.01 \xe9\n0 0 0.01\n", "9 numbers"),
    _mat("mat-nan", b"nan 0 0\n0 0.01 0\n0 0 0.01\n", "finite"),
    _mat("mat-inf", b"0.01 0 0\n0 inf 0\n0 0 0.01\n", "finite"),
    _mat("mat-zero", b"0 0 0\n0 0 0\n0 0 0\n", "singular"),
    _mat("mat-rank2", b"0.01 0.02 0\n0.02 0.04 0\n0 0 0.01\n", "singular"),
    _mat("mat-eight-numbers", b"0.01 0 0\n0 0.01 0\n0 0\n", "9 numbers"),
    _mat("mat-empty", b"", "9 numbers"),
    _mat("mat-hex", b"0x1 0 0\n0 0.01 0\n0 0 0.01\n", "9 numbers"),
    Case("mat-dev-zero", ("-mat", "/dev/zero"), ("-mat", "/dev/zero", "regular file")),
    Case("mat-directory", ("-mat", "{d}"), ("-mat", "regular file")),

    # ---- source files
    _src("src-ok", b"# X Y Z weight lambda\n-10 0 0 1 1e-10\n-10 0.01 0 1 1.01e-10\n", accept=True),
    _src("src-nan-column-default", b"-10 0 0 nan nan\n", accept=True),
    _src("src-non-utf8", b"-10 0 0 1 \xff\n", "line 1"),
    _src("src-zero-direction", b"-10 0 0 1 1e-10\n0 0 0 1 1e-10\n", "line 2", "direction"),
    _src("src-inf-direction", b"inf 0 0 1 1e-10\n", "line 1"),
    _src("src-lambda-zero", b"-10 0 0 1 0\n", "line 1", "wavelength"),
    _src("src-lambda-negative", b"-10 0 0 1 -1e-10\n", "line 1", "wavelength"),
    _src("src-lambda-inf", b"-10 0 0 1 inf\n", "line 1", "wavelength"),
    _src("src-weight-inf", b"-10 0 0 inf 1e-10\n", "line 1", "weight"),
    _src("src-word", b"-10 zero 0 1 1e-10\n", "line 1", "zero"),
    _src("src-empty", b"", "no sources"),
    _src("src-nul", b"-10 0 0\x00 1\n", "line 1"),
    Case("src-dev-zero", ("-sourcefile", "/dev/zero"), ("-sourcefile", "/dev/zero", "regular file")),

    # ---- SMV headers (-mask, -img)
    Case("mask-ok", ("-mask", "m.img"), (), {"m.img": smv(MASK_OK)}, accept=True),
    _mask("mask-size-1e999", MASK_OK.replace("SIZE1=16", "SIZE1=1e999"), "SIZE1"),
    _mask("mask-size-3e9", MASK_OK.replace("SIZE1=16", "SIZE1=3000000000"), "SIZE1"),
    _mask("mask-size-negative", MASK_OK.replace("SIZE1=16", "SIZE1=-5"), "SIZE1"),
    _mask("mask-truncated", MASK_OK, "holds only", data_bytes=100),
    _mask("mask-size-mismatch", MASK_OK.replace("SIZE1=16", "SIZE1=8"), "16 x 16"),
    Case("mask-not-smv", ("-mask", "m.img"), ("-mask", "m.img", "SMV"), {"m.img": b"P5\n16 16\n255\n" + b"\0" * 256}),
    _mask("img-pixel-size-word", MASK_OK.replace("PIXEL_SIZE=0.1", "PIXEL_SIZE=abc"), "PIXEL_SIZE", flag="-img"),
    _mask("img-pixel-size-zero", MASK_OK.replace("PIXEL_SIZE=0.1", "PIXEL_SIZE=0"), "PIXEL_SIZE", flag="-img"),
    _mask("img-size-1e999", MASK_OK.replace("SIZE2=16", "SIZE2=1e999"), "SIZE2", flag="-img"),
    _mask("img-wavelength-zero", MASK_OK + "WAVELENGTH=0;\n", "WAVELENGTH", flag="-img"),
    _mask("img-distance-inf", MASK_OK + "DISTANCE=1e999;\n", "DISTANCE", flag="-img"),
    Case("img-header-bytes-huge", ("-img", "i.img"), (),
         {"i.img": smv(MASK_OK).replace(b"HEADER_BYTES=512", b"HEADER_BYTES=99999999999999999999999")},
         accept=True),

    # ---- issue 22: both engines hold the same line, with the same figures and words (simulator/budget.def)
    Case("phisteps-1e9-alone", ("-phisteps", "1000000000"), ("-phisteps", "93.1 GiB", "phi ticks"),
         mem_limit=8 * GiB),
    Case("dispsteps-1e8-figure", ("-dispersion", "10", "-dispsteps", "100000000"),
         ("-dispsteps", "18.6 GiB", "sources"),
         mem_limit=8 * GiB),
    Case("mosaic-dom-zero", ("-mosaic", "1", "-mosaic_dom", "0"), ("-mosaic_domains", "positive count", "got 0")),
    Case("mosaic-dom-negative", ("-mosaic", "1", "-mosaic_domains", "-3"), ("-mosaic_domains", "got -3")),
    # 2 steps of 0.5 degrees derived by both; the carry-over off for both (D3: the engines' defaults differ)
    Case("osc-phistep-zero", ("-osc", "1", "-phistep", "0", "-phi0_carryover", "off"), (), accept=True),
    Case("xtalsize-oversample-beyond-int", (*BASE_NO_OVERSAMPLE, "-xtalsize", "1e6"),
         ("-oversample", "30000000000-fold", "2147483647"), base=False),
    # fuzz findings kept as regression cases
    Case("misset-seed-nan-side-match", ("-misset_seed", "nan", "1", "1"), ("-misset_seed",)),
    _hkl("hkl-long-digit-token", b"0 0 0 " + b"1" * 100000 + b"x\n", "line 1", "F"),
    Case("img-header-bytes-5000-digits", ("-img", "i.img"), (),
         {"i.img": smv(MASK_OK).replace(b"HEADER_BYTES=512", b"HEADER_BYTES=" + b"9" * 5000)}, accept=True),
    Case("img-header-bytes-beyond-short-file", ("-img", "i.img"), (),
         {"i.img": smv(MASK_OK, data_bytes=0).replace(b"HEADER_BYTES=512", b"HEADER_BYTES=1024")[:200]},
         accept=True),
]

CASE_IDS = [c.id for c in CASES]
