#!/usr/bin/env bash
# Install llama-cpp-python's OpenAI-compatible server into a virtualenv.
#
# Usage: scripts/install-llama-server.sh [VENV_DIR]   (default: .venv)
#
# The first run compiles llama.cpp from source (several minutes on a small machine);
# the built wheel is kept in a dedicated pip cache, so later runs take seconds.
# Environment: LLAMA_CPP_VERSION (default 0.3.36), EVALHARNESS_PIP_CACHE
# (default ~/.cache/evalharness/pip-llama), CMAKE_ARGS (default -DGGML_OPENMP=OFF).
set -euo pipefail

venv="${1:-.venv}"
version="${LLAMA_CPP_VERSION:-0.3.36}"
cache="${EVALHARNESS_PIP_CACHE:-$HOME/.cache/evalharness/pip-llama}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "error: no virtualenv at $venv (expected $venv/bin/python)" >&2
    exit 2
fi

mkdir -p "$cache"
start=$(date +%s)
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_OPENMP=OFF}" \
    "$venv/bin/python" -m pip install --cache-dir "$cache" \
    "llama-cpp-python[server]==${version}"
"$venv/bin/python" -c "import llama_cpp, llama_cpp.server; print('llama_cpp', llama_cpp.__version__)"
echo "installed in $(( $(date +%s) - start )) s"
