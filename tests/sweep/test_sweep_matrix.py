"""The sweep matrix file: cases, grids (one case per combination of flag values), defaults, overrides, and the
messages of bad files (each names the file, the case and the key). No cluster here."""
from __future__ import annotations

import pytest

from app.sweep.matrix import load_matrix, parse_matrix
from app.sweep.cli import estimate
from simulator.config import ConfigError

CELL = "-cell 100 100 100 90 90 90 -default_F 1"
BASE = "-cell 100 100 100 90 90 90 -default_F 100 -distance 100 -pixel 0.1 -detpixels 64"


def test_cases_and_grid_expand_with_defaults_and_overrides():
    m = parse_matrix(f"""
[sweep]
name = "demo"
engines = ["cref", "torch:float32"]
probes = [[1, 2]]
[sweep.thresholds]
min_correlation = 0.99
[[case]]
name = "one"
args = "{BASE} -lambda 6.2"
probes = [[3, 4], [5, 6]]
thresholds = {{ max_rel_error = 0.5 }}
[[grid]]
name = "g"
args = "{BASE} -lambda 1 -N 2"
[grid.flags]
"-lambda" = [1.5, 6.2]
"-N" = [3, 5, 7]
"-misset" = ["0 0 0"]
""")
    assert m.name == "demo"
    # 1 named case + 2 x 3 x 1 grid combinations, the first flag varying slowest.
    assert [c.name for c in m.cases] == ["one"] + [f"g[lambda={lam} N={n} misset=0,0,0]"
                                                   for lam in ("1.5", "6.2") for n in (3, 5, 7)]
    one, g0 = m.cases[0], m.cases[1]
    assert one.probes == ((3, 4), (5, 6)) and g0.probes == ((1, 2),)
    assert one.thresholds.min_correlation == 0.99 and one.thresholds.max_rel_error == 0.5
    assert g0.thresholds.max_rel_error == 1e-5  # the built-in default where neither level sets it
    assert one.engines == ("cref", "torch:float32")
    # A grid value replaces the flag of the base line (one -lambda, one -N), and adds the missing one.
    assert g0.argv.count("-lambda") == 1 and g0.argv[g0.argv.index("-lambda") + 1] == "1.5"
    assert g0.argv[g0.argv.index("-N") + 1] == "3"
    assert list(g0.argv[g0.argv.index("-misset") + 1:][:3]) == ["0", "0", "0"]
    assert g0.group == "g" and g0.slug == "g_lambda=1.5_N=3_misset=0_0_0"
    # The fingerprint follows what decides the result, not the name.
    assert g0.fingerprint() != m.cases[2].fingerprint()


def test_here_resolves_against_the_matrix_folder(tmp_path):
    (tmp_path / "f.hkl").write_text("0 1 0 100\n")
    p = tmp_path / "m.toml"
    p.write_text('[[case]]\nname = "x"\nargs = "-cell 100 100 100 90 90 90 -hkl {here}/f.hkl -detpixels 32"\n')
    case = load_matrix(p).cases[0]
    assert case.argv[case.argv.index("-hkl") + 1] == str(tmp_path / "f.hkl")


@pytest.mark.parametrize("text, expected", [
    ("[[case]]\nname = 'a'\nargs = '-cell 100 100 100 90 90 90 -lambda x'", "-lambda"),
    ("[[case]]\nname = 'a'", "missing `args`"),
    ("[[case]]\nargs = '-detpixels 64'", "missing `name`"),
    ("[[case]]\nname = 'a'\nargs = '" + CELL + " -detpixels 64'\nprobes = [[64, 0]]", "outside the 64 x 64"),
    ("[[case]]\nname = 'a'\nargs = '-default_F 1'\nengines = ['cref', 'tprch']", "unknown kind 'tprch'"),
    ("[[case]]\nname = 'a'\nargs = '-default_F 1'\nthreshold = 1", "unknown key(s) threshold"),
    ("[[grid]]\nname = 'g'\nargs = '-default_F 1'\n[grid.flags]\n'-misset' = ['1 2']", "takes 3"),
    ("[[grid]]\nname = 'g'\nargs = '-default_F 1'", "[grid.flags]"),
    (f"[[case]]\nname = 'a'\nargs = '{CELL}'\n[[case]]\nname = 'a'\nargs = '{CELL} -N 2'", "clashes"),
    ("[sweep]\nname = 'x'", "no cases"),
    ("[[case]\nname = 'a'", "not valid TOML"),
])
def test_bad_matrix_files_name_the_problem(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_matrix(text, source="m.toml")
    assert expected in str(err.value) and "m.toml" in str(err.value)
    if "name = 'a'" in text and expected not in ("clashes", "not valid TOML"):
        assert "('a')" in str(err.value)  # the case is named


def test_builtin_acceptance_matrix_loads_and_is_sized_for_this_machine():
    from app.sweep.cli import BUILTIN_DIR
    m = load_matrix(BUILTIN_DIR / "at-parallel.toml")
    rows = {c.name.split("-")[2] for c in m.cases}
    # Every image-comparison row of spec 13.3 (013/014/019/028 are not image comparisons of one command line).
    assert rows >= {f"{n:03d}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 20, 21, 22, 23,
                                          24, 25, 26, 27, 29)}
    # At most 129² pixels a case, and the whole matrix under 2e6 pixel-paths (about a minute per core here).
    assert max(estimate(c)[1] for c in m.cases) <= 129 * 129 * 24
    assert sum(estimate(c)[0] for c in m.cases) < 2e6
