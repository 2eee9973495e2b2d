# visionmlp: everything a fresh machine needs is set up by these targets.
#   make demo   set up, then train a small MLP on Fashion-MNIST for a few minutes and print its test accuracy
#   make test   set up, then run the test suite and ruff
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Every pip call goes through constraints.txt so that torch stays the pinned CPU build.
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
STAMP := $(VENV)/.installed

.PHONY: setup data demo test lint slow soak clean

setup: $(STAMP) data

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	# timm is a test oracle only (benchmark --compare timm); --no-deps keeps torchvision, which has no
	# CPU wheel here, out: visionmlp stands a stub in for it on the compare path.
	$(PIP) --no-deps timm==1.0.31
	touch $(STAMP)

data:
	@bash scripts/ensure-fashion-mnist.sh

demo: setup
	$(VENV)/bin/visionmlp demo

lint: $(STAMP)
	$(PY) -m ruff check src tests

# The fast-path and precision tests run twice: on this CPU, then capped to AVX2 (scripts/as-cpu-kind.sh), so
# that both sides of every fast path run in every CI whatever CPU it lands on.
FAST_PATH_TESTS := tests/layers/test_capabilities.py tests/layers/test_packed_linear.py tests/layers/test_linear.py \
	tests/bench/test_bench_harness.py tests/cli/test_cli_train.py

test: setup lint
	$(PY) -m pytest -q -m "not slow"
	scripts/as-cpu-kind.sh avx2 $(PY) -m pytest -q -m "not slow" -p no:cacheprovider $(FAST_PATH_TESTS)

slow: setup
	$(PY) -m pytest -q -m slow

# Train and validate in a loop for VISIONMLP_SOAK_SECONDS (default 120); fails if RSS or open files grow.
soak: setup
	$(PY) -m pytest -q -m slow tests/reliability/test_soak.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
