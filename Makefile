# Two entry points: `make demo` and `make test`. Both create .venv and install on first use;
# re-running is a fast no-op until pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The PyTorch build to install when the venv has none (override for another CUDA/CPU build).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test install clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m mrw.demo
	@echo "next: . $(VENV)/bin/activate (puts mrw, mrw-bench, mrw-leaderboard on PATH), then the README's tour"

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
