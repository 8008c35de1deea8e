"""simulator.argv as a package (issue 15): the public names of the old module, modules of one job under 500 lines,
the one tokenizer of command text, the one single-tick command line, a parse that travels as a value."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

import simulator.argv as argv_pkg
from simulator.argv import (
    ParsedCommand,
    append_flags,
    diagnose_argv,
    lenient_command,
    parse_argv,
    parse_command,
    single_tick_argv,
    split_command,
    tokenize,
)
from simulator.config import ConfigError, phi_ticks

ROOT = Path(__file__).resolve().parents[2]
BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-default_F", "100"]

# Every public name of simulator/argv.py before the split (its __all__, plus the names other modules and tests
# imported): `from simulator.argv import X` must keep working on every branch.
OLD_NAMES = ("KNOWN_FLAGS", "VECTOR_FIELDS", "ConfigError", "Diagnostic", "ParsedArgs", "diagnose_argv",
             "append_flags", "drop_ignored_trailing", "flag_aliases", "flag_nargs", "format_value", "is_flag_token",
             "last_values", "map_values", "parse_argv", "strip_program", "to_argv", "tokenize", "with_flag",
             "without_flag", "ENGINE_EXTRAS", "LONG_MAX", "_c_number", "c_strtod")


def test_every_old_public_name_is_importable_from_the_package():
    missing = [n for n in OLD_NAMES if not hasattr(argv_pkg, n)]
    assert missing == []


@pytest.mark.parametrize("folder", ["simulator/argv", "c_reference"])
def test_no_module_of_the_split_is_over_500_lines(folder):
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / folder).glob("*.py")}
    assert sizes and max(sizes.values()) <= 500, sizes


def test_the_driver_has_no_grammar_of_its_own():
    # issue 15: the driver's second grammar (_scan_shape) and flag reader (flag_values) are gone; the C side reads
    # the command line only through simulator.argv.
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "c_reference").glob("*.py"))
    assert "_scan_shape" not in text and "def flag_values" not in text and "parse_argv(" not in text


# -- the one tokenizer ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "-hkl 'my file.hkl' -cell 1 2 3 90 90 90",
    '-mat "a b/A.mat" -default_F 1',
    r"-hkl my\ file.hkl -N 3",
    "-hkl 'it''s'.hkl",
    '-x "say \\"hi\\" \\$5"',
    "plain words only",
])
def test_split_command_agrees_with_posix_shlex_on_shell_words(text):
    # shlex.split(posix=True) is the reference for quoting and escapes (the sweep matrices used it before).
    assert split_command(text) == shlex.split(text)


def test_continuations_comments_and_spans():
    text = "nanoBragg -cell 1 2 3 90 90 90 \\\n  -hkl 'a b.hkl' \\  \r\n -N 3 # a comment\n-default_F 1\\"
    words = split_command(text, comments=True)
    assert words == ["nanoBragg", "-cell", "1", "2", "3", "90", "90", "90", "-hkl", "a b.hkl", "-N", "3",
                     "-default_F", "1"]
    spans = tokenize(text)
    hkl = next(s for s in spans if s[0] == "a b.hkl")
    assert text[hkl[1]:hkl[2]] == "'a b.hkl'"          # the span covers the quotes, for in-place rewriting
    assert "#" in [w for w, _, _ in spans]              # without comments=True a '#' is a word (as in the C)


def test_unclosed_quote_is_a_clear_error_in_split_and_a_word_in_the_editor():
    with pytest.raises(ConfigError, match=r"unclosed ' quote at character 6"):
        split_command("-hkl 'a b")
    assert tokenize("-hkl 'a b") == [("-hkl", 0, 4), ("a b", 5, 9)]
    # The editor keeps underlining as the user types: the unfinished word is the -hkl value, underlined whole.
    text = "-cell 1 2 3 90 90 90 -default_F 1 -hkl 'no such"
    (err,) = [d for d in diagnose_argv(text) if d.severity == "error"]
    assert err.message == "-hkl: file not found: no such" and text[err.start:err.end] == "'no such"


def test_the_demo_matrix_and_engine_spellings_use_the_one_tokenizer():
    from app.engines.spec import parse_engine_spec
    from app.core.known_cases import argv
    spec = parse_engine_spec("cmd:python -m 'nano brag' \\\n --x")
    assert spec.command == ("python", "-m", "nano brag", "--x")
    assert argv("-hkl 'a b' -N 1") == ["-hkl", "a b", "-N", "1"]


# -- one single-tick command line, one φ grid ------------------------------------------------------------------------

def test_single_tick_argv_replaces_every_phi_flag_and_keeps_a_trailing_curved_det_meaning():
    argv = BASE + ["-phi", "1", "-osc", "0.3", "-phisteps", "3", "-phistep", "0.1", "-intfile", "x.img",
                   "-curved_det"]
    cfg = parse_argv(argv, check_files=False).config
    grid = phi_ticks(cfg.sampling)
    assert (grid.phi0, grid.step, grid.n) == (1.0, 0.1, 3)   # spec 8.2: -phistep given with -phisteps wins
    out = single_tick_argv(argv, grid.angle(2), grid.step, drop=("-intfile",))
    tick = parse_argv(out, check_files=False).config
    assert (tick.sampling.phi_deg, tick.sampling.osc_deg, tick.sampling.phisteps) == (1.0 + 2 * 0.1, 0.1, 1)
    assert tick.sampling.phistep_deg is None and tick.output.intfile is None
    assert not tick.detector.curved_det                    # the trailing -curved_det was ignored before, still is
    assert out[-6:] == ["-phi", repr(1.0 + 2 * 0.1), "-osc", "0.1", "-phisteps", "1"]
    assert out == append_flags(out[:-6], out[-6:])


def test_app_phi_ticks_and_the_driver_build_the_same_tick_line():
    from app.core.phi_ticks import phi_grid, tick_argv
    argv = BASE + ["-phi", "-0.2", "-osc", "0.4", "-phisteps", "2"]
    cmd = parse_command(argv, check_files=False)
    grid = phi_grid(cmd.config)
    assert grid == cmd.phi and grid.angles() == [-0.2, -0.2 + 0.2]
    assert tick_argv(argv, grid, 1) == single_tick_argv(argv, grid.angle(1), grid.step)
    with pytest.raises(ValueError, match="outside 0..1"):
        tick_argv(argv, grid, 2)


# -- the parse as a value ----------------------------------------------------------------------------------------------

def test_parsed_command_is_frozen_and_derived_states_its_edit():
    cmd = parse_command(BASE + ["-detpixels", "12"], check_files=False)
    assert isinstance(cmd, ParsedCommand) and cmd.shape == (12, 12) and cmd.errors == ()
    with pytest.raises(AttributeError):
        cmd.tokens = ()  # type: ignore[misc]
    from dataclasses import replace
    moved = cmd.derived([*cmd.tokens, "-roi", "1", "2", "3", "4"], output=replace(cmd.config.output, roi=(1, 2, 3, 4)))
    assert moved.config.output.roi == (1, 2, 3, 4) and cmd.config.output.roi is None
    assert moved.config == parse_argv(list(moved.tokens), check_files=False).config   # the stated edit is the truth


def test_parse_command_raises_and_lenient_command_names_the_refused_flag():
    with pytest.raises(ConfigError, match="-detpixels"):
        parse_command(BASE + ["-detpixels", "-3"], check_files=False)
    lenient = lenient_command(["-detpixels", "-3", "-pixel", "0.2"])   # no crystal, a bad count: still a value
    assert lenient.errors == ("-detpixels: expected a pixel count > 0, got -3",)
    assert lenient.shape == (512, 512)                                 # 102.4 mm / 0.2 mm (spec 3.1 defaults)
