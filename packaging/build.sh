#!/usr/bin/env bash
# Build the frozen app into dist/curation-workbench/ and smoke-test it.
# Needs the project's virtualenv (./run.sh setup) plus PyInstaller:  .venv/bin/pip install pyinstaller
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m PyInstaller --noconfirm --clean packaging/workbench.spec
start=$(date +%s.%N)
QT_QPA_PLATFORM=offscreen dist/curation-workbench/workbench --smoke-test
end=$(date +%s.%N)
echo "Built dist/curation-workbench/ ($(du -sh dist/curation-workbench | cut -f1)); smoke test passed in" \
     "$(python3 -c "print(f'{$end - $start:.1f}')") s (start-up, sample analysis, window, exit)"
