# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU wheel of this exact torch lies on the machine's disk; the package itself
# only asks for a range (see pyproject.toml).
TORCH  ?= torch==2.13.0

.PHONY: demo test venv dev bench tikz clean wheel-smoke

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -q -e ".[dev,interop]"
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

demo: $(VENV)/.installed
	$(VENV)/bin/seqlm compare --out runs/demo

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q

# Build the wheel and sdist, install the wheel into a new venv and run it from an empty
# directory, as a stranger would (CI runs it too).
wheel-smoke: $(VENV)/.dev-installed
	bash tools/wheel_smoke.sh

bench: $(VENV)/.dev-installed
	$(PIP) install -q -e ".[bench]"
	$(PY) benchmarks/cells.py --quick
	$(PY) benchmarks/ngram.py
	$(PY) benchmarks/output_layer.py --quick
	$(PY) benchmarks/ptb_lm.py --quick
	$(PY) benchmarks/compare_ptb.py --quick
	$(PY) benchmarks/grading.py --quick

# Re-render Figures 5.1, 5.3, 5.4 (PDF, PNG, SVG + renders.json) into the package after
# editing a TikZ source: pdflatex, pdftoppm and pdftocairo (TeX Live, poppler-utils).
tikz: $(VENV)/.installed
	$(PY) -c "from seqlm.figures.tikz import render_package; print(render_package())"

clean:
	rm -rf $(VENV) runs .pytest_cache
