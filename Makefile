# Two commands for a new user: `make demo` and `make test`. Both create .venv on first use
# and install the exact tested versions from constraints.txt; afterwards they reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo_data
DEMO_OUT ?= demo_output

.PHONY: demo app test test-fast lint format venv benchmark clean

venv: $(STAMP)

$(STAMP): constraints.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py --data_dir $(DEMO_DATA) --output_dir $(DEMO_OUT)

# The web app on the model `make demo` trains (trained first when demo_output has none); HOST/PORT/STRIDE as flags.
HOST ?= 127.0.0.1
PORT ?= 7860
app: $(STAMP)
	test -f $(DEMO_OUT)/config.json || $(MAKE) demo
	$(PY) -m adhvit_hf.app --model $(DEMO_OUT) --host $(HOST) --port $(PORT) $(if $(STRIDE),--stride $(STRIDE))

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15 tests

# the inner loop: everything but subprocess, torchrun and multi-epoch tests (marked slow)
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow" tests

# ruff (configured in pyproject.toml: line length 119, import order, license header); CI runs it before the tests
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# ORIGINAL_MODEL_FILE=.../ADH-ViT/models/modeling_finetune_alternating.py adds the original model as a baseline
benchmark: $(STAMP)
	$(PY) -m benchmarks.run --output benchmark.json $(if $(ORIGINAL_MODEL_FILE),--original_model_file $(ORIGINAL_MODEL_FILE))

clean:
	rm -rf $(DEMO_DATA) $(DEMO_OUT) .pytest_cache
