# Two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup demo test train-demo-models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/storyreel render projects/demo/storyboard.yaml

# `make test` leaves out the tests marked slow (real Prefect flows and servers, subprocesses
# killed mid-render, the demo models' quality runs, training); `make test TESTS=all` (what
# .ci/run runs) runs every test.
TESTS ?= fast
test: $(STAMP)
	$(PY) -m pytest -q $(if $(filter all,$(TESTS)),,-m "not slow")

# Train the embedded demo models (the VAE and scorer on CPU, the video transformer on a CUDA GPU
# where there is one: minutes there, about 21 hours on 2 CPU cores; resumes from
# build/demo-models/checkpoints when interrupted) and install them into generation/weights:
#   nohup make train-demo-models > build/train-demo-models.log 2>&1 &
train-demo-models: $(STAMP)
	$(PY) -m generation.training --out build/demo-models --install generation/weights

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
