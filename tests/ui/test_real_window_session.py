"""The scripted curator session of ``scripts/real_window_session.py``, offscreen (QTest events on
the real widgets of the real window, real sample data, real model and analysis).

Under Xvfb the same script drives the window with real X events (xdotool) and screenshots of
the screen; see the script's docstring. The lag figures are written, not asserted (no timing
assertions in tests); every behaviour check of the session is.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_real_window_curator_session(qapp, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import real_window_session as session
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    out = tmp_path / "shots"
    report = session.run_session(out, workdir=tmp_path / "work")
    assert report["examples"] > 2000
    assert any(n.endswith(".jsonl") for n in report["exported"])
    shots = sorted(p.name for p in out.glob("*.png"))
    assert len(shots) >= 14 and any("review" in s for s in shots)
    saved = json.loads((out / "session.json").read_text(encoding="utf-8"))
    assert saved["lag"]["longest_stall_ms"] >= 0  # measured and written (the figure itself is reported)
    assert all("minimum width" in n and int(n.split()[-2]) <= 1366 for n in saved["notes"])
