"""The nanoBragg command-line grammar: quirks of spec section 2, errors of decisions D5, and argv round trips."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.core.known_cases import cli_flags_003_args

from simulator.argv import diagnose_argv, parse_argv, to_argv, with_flag, without_flag
from simulator.config import ConfigError

BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-default_F", "100"]

CLI_FLAGS_003 = cli_flags_003_args(Path("data"))  # files are not opened: parse_argv(check_files=False)


def parse(*extra: str):
    return parse_argv(BASE + list(extra), check_files=False).config


def test_cli_flags_003_is_custom_sample_pivot_with_pixel_counts():
    # spec 12.2: vector flags give CUSTOM; -twotheta 0 (last pivot-setting flag) gives SAMPLE.
    cfg = parse_argv(CLI_FLAGS_003, check_files=False).config
    assert cfg.detector.convention == "CUSTOM"
    assert cfg.detector.pivot == "SAMPLE"
    assert cfg.pixel_counts() == (2527, 2463)  # (slow, fast) from -detpixels_y / -detpixels_x
    assert (cfg.crystal.Na, cfg.crystal.Nb, cfg.crystal.Nc) == (36, 47, 29)
    assert cfg.detector.pix0_vector_m == (-216.336293, 215.205512, -230.200866)  # stored, unconverted (spec 3.8)


def test_twotheta_axis_also_sets_twotheta_and_sample_pivot():
    # spec 2.2: strstr("-twotheta_axis", "-twotheta") -> 2theta = first number, pivot SAMPLE.
    cfg = parse("-twotheta_axis", "-1", "0", "0")
    assert cfg.detector.twotheta_deg == -1.0
    assert cfg.detector.pivot == "SAMPLE"
    assert cfg.detector.convention == "CUSTOM"
    assert parse("-twotheta_axis", "-1", "0", "0", "-twotheta", "5").detector.twotheta_deg == 5.0


def test_convention_flag_after_vector_switches_back():
    # spec 3.3: a later -xds overrides the CUSTOM switch of an earlier vector flag.
    assert parse("-spindle_axis", "1", "0", "0", "-xds").detector.convention == "XDS"
    assert parse("-xds", "-spindle_axis", "1", "0", "0").detector.convention == "CUSTOM"


def test_pivot_follows_last_flag():
    # spec 3.6: -distance sets BEAM, -close_distance SAMPLE, -pivot explicit; last wins.
    assert parse("-distance", "100").detector.pivot == "BEAM"
    assert parse("-distance", "100", "-close_distance", "90").detector.pivot == "SAMPLE"
    assert parse("-close_distance", "90", "-pivot", "beam").detector.pivot == "BEAM"


def test_output_flag_side_effects():
    assert parse("-nopgm", "-pgmfile", "x.pgm").output.nopgm is False
    assert parse("-pgmfile", "x.pgm", "-nopgm").output.nopgm is True
    assert parse("-nonoise", "-noisefile", "n.img").output.nonoise is False
    assert parse("-printout_pixel", "3", "4").output.printout is True


def test_energy_converts_to_angstrom():
    # spec 1.1: lambda = 12398.42 / E  (Angstrom)
    assert parse("-energy", "12398.42").beam.lambda_A == pytest.approx(1.0, abs=1e-15)


def test_misset_random_and_seeds_stored_as_typed():
    # -misset_seed last: fewer than three arguments follow, so upstream's substring match of -misset does not fire
    # (decisions D8; this test used "-misset_seed 12345 -seed 7", which upstream reads as angles 12345, 0, 7).
    cfg = parse("-seed", "7", "-misset", "random", "-misset_seed", "12345")
    assert cfg.crystal.misset_random and cfg.crystal.misset_deg is None
    assert cfg.crystal.misset_seed == 12345 and cfg.output.seed == 7


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["-distance", "abc"], "-distance: expected a number, got 'abc'"),
        (["-distance"], "-distance: expects 1 value, got 0"),
        (["-cell", "1", "2"], "-cell: expects 6 values"),
        (["-detpixels", "-5"], "-detpixels: expected a pixel count > 0"),
        (["-pixel", "0"], "-pixel: expected a pixel size in mm > 0"),
        (["-lambda", "nan"], "-lambda: expected a number, got NaN"),
        (["-phisteps", "2.5"], "-phisteps: expected an integer"),
        (["-pivot", "middle"], "-pivot: expected 'beam' or 'sample'"),
        (["-phi0_carryover", "maybe"], "-phi0_carryover: expected 'on' or 'off'"),
    ],
)
def test_bad_values_name_the_flag(extra, needle):
    with pytest.raises(ConfigError) as err:
        parse_argv(BASE + extra, check_files=False)
    assert needle in str(err.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="-hkl: file not found: .*nope.hkl"):
        parse_argv(["-cell", "1", "1", "1", "90", "90", "90", "-hkl", str(tmp_path / "nope.hkl")])


def test_missing_crystal_or_structure_factors():
    with pytest.raises(ConfigError, match="no crystal"):
        parse_argv(["-default_F", "1"])
    with pytest.raises(ConfigError, match="no structure factors"):
        parse_argv(["-cell", "1", "1", "1", "90", "90", "90"])


def test_unknown_flag_is_a_warning_not_an_error():
    # decisions D5: the C ignores unknown flags silently; we report them.
    parsed = parse_argv(BASE + ["-detector_twotheta", "20", "-hdiv", "1"], check_files=False)
    assert any("-detector_twotheta" in w for w in parsed.warnings)
    assert any("-hdiv" in w for w in parsed.warnings)


def test_diagnose_gives_spans_of_offending_tokens():
    text = "nanoBragg -cell 100 100 x 90 90 90 -bogus -default_F 10"
    diags = diagnose_argv(text)
    err = [d for d in diags if d.severity == "error"]
    warn = [d for d in diags if d.severity == "warning"]
    assert len(err) == 1 and text[err[0].start:err[0].end] == "x"
    assert len(warn) == 1 and text[warn[0].start:warn[0].end] == "-bogus"


@pytest.mark.parametrize(
    "argv",
    [
        CLI_FLAGS_003,
        BASE + ["-xds", "-ORGX", "100", "-ORGY", "120", "-detector_rotx", "5", "-twotheta", "10"],
        BASE + ["-twotheta_axis", "-1", "0", "0", "-pivot", "beam", "-Xbeam", "30"],
        BASE + ["-mosaic", "0.5", "-mosaic_dom", "10", "-mosaic_seed", "42", "-phi", "-1", "-osc", "2",
                "-phisteps", "4", "-roi", "1", "5", "2", "7", "-phi0_carryover", "off", "-nopolar"],
        BASE + ["-misset", "random", "-gauss_xtal", "-fudge", "2", "-detector_abs", "inf",
                "-detector_thick", "100", "-divergence", "0.5", "-square_div"],
    ],
)
def test_round_trip(argv):
    cfg = parse_argv(argv, check_files=False).config
    again = parse_argv(to_argv(cfg), check_files=False).config
    assert again == cfg


def test_with_and_without_flag_replace_every_alias():
    argv = BASE + ["-floatimage", "a.bin", "-roi", "1", "2", "3", "4"]
    assert with_flag(argv, "-floatfile", "b.bin")[-2:] == ["-floatfile", "b.bin"]
    assert "a.bin" not in with_flag(argv, "-floatfile", "b.bin")
    assert without_flag(argv, "-roi") == BASE + ["-floatimage", "a.bin"]
