# The two README commands (`make reproduce`, `make test`) plus benchmarks.
# Everything runs inside .venv, created on first use; the package is installed editable
# (so `experiments/` and the `fsnn` command resolve to this checkout) and reinstalled only
# when pyproject.toml is newer than the stamp file.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: help venv reproduce reproduce-full paper test bench docs docs-clean

help:
	@echo "make reproduce       run every experiment in quick mode -> results/<name>/"
	@echo "make reproduce-full  the same at paper sizes (--full)"
	@echo "make paper           results/ -> paper/generated/ and, with TeX installed, paper/fsnn_theory.pdf"
	@echo "make test            the whole test suite, slow tests included"
	@echo "make bench           run benchmarks/*.py"
	@echo "make docs            HTML documentation -> docs/_build/html (tutorials executed; fails on any warning)"
	@echo "make docs-clean      remove docs/_build and the generated tutorial and theorem pages"
	@echo "(PYTHON=$(PYTHON) creates $(VENV) if it is missing)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Order-only prerequisite: re-creating nothing just because the venv's mtime changed.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

venv: $(STAMP)

reproduce: $(STAMP)
	$(BIN)/fsnn reproduce --quick

reproduce-full: $(STAMP)
	$(BIN)/fsnn reproduce --full

# Figures and every quoted number for paper/fsnn_theory.tex, from the outputs of `make reproduce`.
# With latexmk on the PATH it also typesets paper/fsnn_theory.pdf and checks it (no undefined
# reference, no missing figure, no ??); without, it says what to install.
paper: $(STAMP)
	@if command -v latexmk >/dev/null 2>&1; then \
		$(BIN)/fsnn paper --pdf; \
	else \
		$(BIN)/fsnn paper && \
		echo "no latexmk: paper/generated is ready, the PDF is not typeset. Install TeX (Debian/Ubuntu:" && \
		echo "  apt-get install texlive-latex-extra latexmk poppler-utils), then run make paper again."; \
	fi

# Any non-zero pytest exit fails make, including 5 (no tests collected). The docs extra is
# installed too, so the suite's slow test builds the documentation (tutorials executed, -W).
test: $(DOCS_STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	@set -e; found=0; \
	for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; found=1; \
		echo "==> $$f"; $(BIN)/python "$$f"; \
	done; \
	[ $$found = 1 ] || echo "no benchmarks in benchmarks/"

# The docs extra (sphinx, sphinx-gallery, myst-parser, offline MathJax) is installed once per
# change of pyproject.toml. -W --keep-going: every warning is reported, and any warning fails.
$(DOCS_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[test,docs]'
	touch $@

docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

docs-clean:
	rm -rf docs/_build docs/auto_tutorials docs/theory/generated docs/sg_execution_times.rst
