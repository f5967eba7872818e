#!/usr/bin/env bash
# Curation Workbench: set up (once) and run.
#   ./run.sh            set up .venv if needed, then open the app on the sample project
#                       (no display: runs the headless demo instead and says so)
#   ./run.sh demo       set up, then run the headless demo on sample_data/
#   ./run.sh test       set up, then run the test suite
#   ./run.sh setup      only set up
# Set PYTHON to choose the interpreter (default: python3, 3.10+).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV ..."
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    echo "Installing Curation Workbench and its dependencies into $VENV (first run takes a few minutes) ..."
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # The one-time model conversion needs PyTorch; a CPU build is enough. Installing it first keeps
    # sentence-transformers from pulling a multi-GB CUDA build.
    "$VENV/bin/python" -m pip install -q "torch==2.13.0" || "$VENV/bin/python" -m pip install -q torch
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    touch "$VENV/.installed"
  fi
}

cmd=${1:-app}
case "$cmd" in
  setup) setup ;;
  test)
    setup
    shift || true
    QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -m pytest -q "$@"
    ;;
  demo)
    setup
    "$VENV/bin/workbench" demo
    ;;
  app)
    setup
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = "Linux" ]; then
      echo "No display found: running the headless demo instead (workbench demo)."
      "$VENV/bin/workbench" demo
    else
      "$VENV/bin/workbench" --sample
    fi
    ;;
  *) echo "usage: ./run.sh [app|demo|test|setup]" >&2; exit 2 ;;
esac
