# Convenience steps. Everything runs from a fresh clone: `make demo` or `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all venv c-ref demo demo-headless typecheck test test-fast test-narrow-isa bench bench-verdict bench-autotrace clean

all: venv c-ref

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

c-ref:
	$(MAKE) -s -C c_reference

# The pre-check names the missing Qt system packages (one apt-get line) instead of letting Qt abort.
demo: venv c-ref
	$(VPY) -m app.cli.qt_preflight
	$(VENV)/bin/nbparity

# Exit 1 means "the engines differ", which the demo shows on purpose (the C's phi=0 carry-over); 2 or 3 are failures.
demo-headless: venv c-ref
	$(VENV)/bin/nbparity compare --demo --png; rc=$$?; [ $$rc -le 1 ]

# mypy on the files named in pyproject.toml's [tool.mypy] (the one place the file set is kept); cache in .mypy_cache.
typecheck: venv
	$(VPY) -m mypy

test: venv c-ref typecheck
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q

test-fast: venv c-ref
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -m "not slow"

# The parity tests again with the CPU features narrowed (issue 18; tests/support/narrow_isa.py sets numpy's dispatch,
# torch's ATen capability, OpenBLAS's core and the compiled kernel's -march), the kernel in a scratch cache, so a
# parity result that depends on the instruction set fails on whatever machine runs this (about 4 min on 2 cores).
NARROW_TESTS ?= tests/parity/test_parity_matrix.py tests/simulator/test_simulator_compiled.py \
	tests/parity/test_upstream_console.py
test-narrow-isa: venv c-ref
	@cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	$(VPY) tests/support/narrow_isa.py > "$$cache/env" && set -a && . "$$cache/env" && set +a && \
	echo "narrowed ISA: $$(tr '\n' ' ' < "$$cache/env")" && \
	NBPARITY_CACHE_DIR="$$cache" QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q -p no:cacheprovider $(NARROW_TESTS)

# Peers from ../shared/clients where present: upstream nanoBragg (NB_C_BIN) and the port (--port); BENCH_ARGS=--quick
# for cases (a) and (f) only.
PEERS := cd tests/support && ../../$(VPY) -c 'import clients as c; print(c.c_program("upstream")); print(c.port().python); \
	print(c.c_program("golden"))'
bench: venv c-ref
	@peers=$$($(PEERS) 2>/dev/null); up=$$(echo "$$peers" | sed -n 1p); port=$$(echo "$$peers" | sed -n 2p); \
	golden=$$(echo "$$peers" | sed -n 3p); \
	NB_C_BIN="$${NB_C_BIN:-$$up}" $(VPY) -m app.cli.bench $${port:+--port "$$port"} $${golden:+--golden "$$golden"} \
	$(BENCH_ARGS)

# nbparity compare's time to a verdict vs side A alone + side B alone on CLI-FLAGS-003 (needs ../shared).
bench-verdict: venv c-ref
	$(VPY) -m app.cli.bench_verdict --repeat 2

# Issue 21: the time the auto-trace of a FAIL adds, per case and as a share of the comparison.
bench-autotrace: venv c-ref
	$(VPY) -m app.cli.bench_autotrace

clean:
	$(MAKE) -s -C c_reference clean
	rm -rf $(VENV) *.egg-info
