#!/usr/bin/env bash
# Build the frozen app into dist/curation-workbench/ and smoke-test it.
# Needs the project's virtualenv (./run.sh setup) plus PyInstaller:  .venv/bin/pip install pyinstaller
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m PyInstaller --noconfirm --clean packaging/workbench.spec
QT_QPA_PLATFORM=offscreen dist/curation-workbench/workbench --smoke-test
echo "Built dist/curation-workbench/ (smoke test passed)"
