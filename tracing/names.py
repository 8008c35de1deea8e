"""One name map for every trace dialect: canonical quantity names, their stage in nanoBragg's computation order,
one unit each, the raw keys (aliases) that carry them in each engine's output, and a plausible magnitude range.

A raw key may carry a quantity in another unit than the canonical one (the C's `lambda_meters` is λ in m where the
canonical unit is Å): `Alias.factor` converts the printed value into the canonical unit (canonical = raw × factor).
The plausible range bounds the largest |component| of a quantity in its canonical unit (e.g. a Miller index vector
has some component between 1e-5 and 1e6; a real-space cell edge is between 0.5 Å and 1e5 Å); tracing.units uses it to
decide which side of a power-of-ten mismatch prints the wrong unit. Quantities without a range (counts, factors
that may legitimately be any size such as fluence or intensity) are never called unit problems.
"""
from __future__ import annotations

from dataclasses import dataclass

STAGES: tuple[str, ...] = ("detector geometry", "pixel position", "scattering", "lattice", "per-φ",
                           "structure factor", "intensity", "scaling", "final")


@dataclass(frozen=True)
class Alias:
    """A raw trace key and the factor that turns its printed value into the canonical unit."""

    key: str
    factor: float = 1.0


@dataclass(frozen=True)
class Quantity:
    """A canonical quantity: name, stage (one of STAGES), unit ("" = dimensionless), raw keys in preference order,
    plausible (low, high) of max |component| in the canonical unit (None: no plausibility check), and whether the
    values are Miller indices (compared by an absolute Δ against the per-φ tolerance rather than a relative one)."""

    name: str
    stage: str
    unit: str
    aliases: tuple[Alias, ...]
    plausible: tuple[float, float] | None = None
    miller: bool = False
    label: str = ""     # what the quantity is, in words


def _q(name: str, stage: str, unit: str, keys: tuple[str | tuple[str, float], ...],
       plausible: tuple[float, float] | None = None, miller: bool = False, label: str = "") -> Quantity:
    aliases = tuple(Alias(k) if isinstance(k, str) else Alias(k[0], k[1]) for k in keys)
    return Quantity(name, stage, unit, aliases, plausible, miller, label)


_M = (1e-5, 1e2)          # detector distances and positions, m
_ANG = (0.5, 1e5)         # cell edges, Å
_INV_ANG = (1e-6, 2.0)    # reciprocal cell edges, 1/Å
_MILLER = (1e-5, 1e6)     # largest |h|, |k|, |l| of a pixel

# Pixel-level quantities in nanoBragg's order (spec 11.1 c). The "lattice" rows are printed at φ tick 0, mosaic 0.
PIXEL_QUANTITIES: tuple[Quantity, ...] = (
    _q("pix0_vector", "detector geometry", "m", ("pix0_vector_meters", "pix0_vector"), _M, label="pix0 vector"),
    _q("fdet_vec", "detector geometry", "", ("fdet_vec", "fdet_after_twotheta"), label="fast axis"),
    _q("sdet_vec", "detector geometry", "", ("sdet_vec", "sdet_after_twotheta"), label="slow axis"),
    _q("odet_vec", "detector geometry", "", ("odet_vec", "odet_after_twotheta"), label="detector normal"),
    _q("distance", "detector geometry", "m", ("distance_m",), _M, label="distance"),
    _q("close_distance", "detector geometry", "m", ("close_distance_meters", "close_distance_m"), _M,
       label="close distance"),
    _q("pixel_pos", "pixel position", "m", ("pixel_pos_meters",), _M, label="pixel position"),
    _q("R_distance", "pixel position", "m", ("R_distance_meters",), _M, label="sample-to-pixel distance"),
    _q("obliquity_factor", "pixel position", "", ("obliquity_factor",), label="obliquity factor"),
    _q("diffracted_vec", "scattering", "", ("diffracted_vec",), label="diffracted unit vector"),
    _q("incident_vec", "scattering", "", ("incident_vec",), label="incident unit vector"),
    _q("lambda", "scattering", "Å", ("lambda_angstroms", ("lambda_meters", 1e10)), (1e-3, 1e3),
       label="wavelength"),
    # The C prints this in 1/m under a name that says 1/Å (spec 11.1); canonical is what the C prints.
    _q("scattering_vec", "scattering", "1/m", ("scattering_vec_A_inv",), (1e4, 2e10), label="scattering vector"),
    _q("rot_a", "lattice", "Å", ("rot_a_angstroms",), _ANG, label="rotated a (tick 0)"),
    _q("rot_b", "lattice", "Å", ("rot_b_angstroms",), _ANG, label="rotated b (tick 0)"),
    _q("rot_c", "lattice", "Å", ("rot_c_angstroms",), _ANG, label="rotated c (tick 0)"),
    _q("rot_a_star", "lattice", "1/Å", ("rot_a_star_A_inv",), _INV_ANG, label="a* (tick 0)"),
    _q("rot_b_star", "lattice", "1/Å", ("rot_b_star_A_inv",), _INV_ANG, label="b* (tick 0)"),
    _q("rot_c_star", "lattice", "1/Å", ("rot_c_star_A_inv",), _INV_ANG, label="c* (tick 0)"),
    _q("hkl_frac", "lattice", "", ("hkl_frac",), _MILLER, miller=True, label="fractional h k l (tick 0)"),
    _q("hkl_rounded", "lattice", "", ("hkl_rounded",), miller=True, label="nearest h k l (tick 0)"),
    _q("F_latt_a", "lattice", "", ("F_latt_a",), label="F_latt a (tick 0)"),
    _q("F_latt_b", "lattice", "", ("F_latt_b",), label="F_latt b (tick 0)"),
    _q("F_latt_c", "lattice", "", ("F_latt_c",), label="F_latt c (tick 0)"),
    _q("F_latt", "lattice", "", ("F_latt",), label="F_latt (tick 0)"),
    _q("F_cell", "structure factor", "", ("F_cell",), label="structure factor"),
    _q("I_before_scaling", "intensity", "", ("I_before_scaling", "I_before_scaling_pre_polar"),
       label="intensity before scaling"),
    _q("r_e_sqr", "scaling", "m²", ("r_e_sqr",), (1e-31, 1e-28), label="r_e²"),
    _q("fluence", "scaling", "photons/m²", ("fluence_photons_per_m2",), label="fluence"),
    _q("steps", "scaling", "", ("steps",), label="steps"),
    _q("oversample_thick", "scaling", "", ("oversample_thick",)),
    _q("oversample_polar", "scaling", "", ("oversample_polar",)),
    _q("oversample_omega", "scaling", "", ("oversample_omega",)),
    _q("capture_fraction", "scaling", "", ("capture_fraction",), label="capture fraction"),
    _q("polar", "scaling", "", ("polar",), label="polarisation factor"),
    _q("omega_pixel", "scaling", "sr", ("omega_pixel", "omega_pixel_sr"), (1e-14, 12.6), label="solid angle"),
    _q("cos_2theta", "scaling", "", ("cos_2theta",)),
    _q("I_pixel_final", "final", "photons", ("I_pixel_final",), label="final intensity"),
    _q("floatimage_accumulated", "final", "photons", ("floatimage_accumulated",), label="stored float value"),
)

# Per-φ quantities (one row per tick), in the order they are computed within a tick.
PHI_QUANTITIES: tuple[Quantity, ...] = (
    _q("h", "per-φ", "", ("h_frac",), _MILLER, miller=True, label="fractional h"),
    _q("k", "per-φ", "", ("k_frac",), _MILLER, miller=True, label="fractional k"),
    _q("l", "per-φ", "", ("l_frac",), _MILLER, miller=True, label="fractional l"),
    _q("F_latt_a", "per-φ", "", ("F_latt_a",)),
    _q("F_latt_b", "per-φ", "", ("F_latt_b",)),
    _q("F_latt_c", "per-φ", "", ("F_latt_c",)),
    _q("F_latt", "per-φ", "", ("F_latt",)),
    _q("F_cell", "per-φ", "", ("F_cell",)),
    _q("I_contrib", "per-φ", "", ("I_contrib",)),
    # The port's extra per-φ fields (spec 11.3): y components of the rotated reciprocal vectors and the volume.
    _q("a_star_y", "per-φ", "1/Å", ("a_star_y",), _INV_ANG, label="a*_y"),
    _q("b_star_y", "per-φ", "1/Å", ("b_star_y",), _INV_ANG, label="b*_y"),
    _q("c_star_y", "per-φ", "1/Å", ("c_star_y",), _INV_ANG, label="c*_y"),
    _q("V_cell", "per-φ", "Å³", ("V_actual",), (1.0, 1e12), label="unit-cell volume"),
)

# Scaling factors that multiply I_before_scaling into I_pixel_final (spec 7): the verdict decomposes a sum ratio
# into these (tracing.scale).
SCALE_FACTORS: tuple[str, ...] = ("r_e_sqr", "fluence", "steps", "capture_fraction", "polar", "omega_pixel")

_BY_KEY: dict[str, tuple[Quantity, Alias]] = {}
for _quant in PIXEL_QUANTITIES:
    for _al in _quant.aliases:
        _BY_KEY.setdefault(_al.key, (_quant, _al))


def pixel_quantity(name: str) -> Quantity:
    """The pixel-level Quantity called `name` (KeyError when there is none)."""
    for q in PIXEL_QUANTITIES:
        if q.name == name:
            return q
    raise KeyError(name)


def canonical_of(key: str) -> str | None:
    """Canonical name of a raw pixel-level trace key, or None for a key outside the map."""
    hit = _BY_KEY.get(key)
    return hit[0].name if hit else None


def lookup(scalars: dict[str, list[float]], q: Quantity) -> tuple[Alias, list[float]] | None:
    """The first alias of `q` present in a trace's scalars, with its raw values (None when the trace lacks q)."""
    for al in q.aliases:
        v = scalars.get(al.key)
        if v:
            return al, v
    return None
