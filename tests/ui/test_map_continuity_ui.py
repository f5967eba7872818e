"""The map stays put in the window: rows added after the analysis are drawn where they will land
(placed beside their nearest analysed rows for display, never NaN into a view) and counted in the
status bar; the next analysis places them there in the kept map ("Map kept: N placed");
Analysis > Re-lay out the map makes a fresh layout."""

from __future__ import annotations

import numpy as np

from tests.analysis.realdata import analysis_home
from tests.conftest import SAMPLE
from tests.project.helpers import analysed_project


def test_added_rows_are_placed_into_the_kept_map_and_relayout_is_fresh(qtbot, window, tmp_path_factory, tmp_path,
                                                                      monkeypatch):
    project = analysed_project(tmp_path_factory, tmp_path / "keep.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    s, st = window.session, window.status
    errors = []
    s.sig_error.connect(lambda m, d: errors.append(m))
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    qtbot.waitUntil(lambda: not s.jobs.running(), timeout=120_000)
    n0 = s.ws.n
    before = np.column_stack([s.analysis.x, s.analysis.y]).copy()
    assert "not on the map" not in st.map_info.text()

    extra = tmp_path / "more_train.jsonl"
    extra.write_bytes(b"".join((SAMPLE / "production_banking.jsonl").read_bytes().splitlines(keepends=True)[:25]))
    assert s.add_sources([extra], "train")
    qtbot.waitUntil(lambda: s.ws is not None and s.ws.n == n0 + 25 and s.analysis is not None
                    and not s.jobs.running(), timeout=120_000)
    assert not errors, errors
    new = np.asarray([name == "more_train.jsonl" for name in s.ws.source_names])
    assert new.sum() == 25
    # not analysed yet: drawn where they will land (placed beside their nearest analysed rows,
    # display only), never NaN into a view; the analysed rows did not move
    qtbot.waitUntil(lambda: "25 placed for now" in st.map_info.text(), timeout=120_000)
    assert np.isfinite(s.analysis.x[new]).all() and window.map.points._finite[new].all()
    assert np.array_equal(np.column_stack([s.analysis.x, s.analysis.y])[~new], before)
    assert np.isfinite(window.map.vb.viewRange()).all()
    provisional = np.column_stack([s.analysis.x, s.analysis.y])[new].copy()

    messages = []
    s.sig_message.connect(messages.append)
    window.actions.run.trigger()
    qtbot.waitUntil(lambda: not s.analysis_stale and not s.jobs.running(), timeout=600_000)
    assert not errors, errors
    assert st.map_info.text() == "Map kept: 25 placed"
    assert any(m.startswith("Analysis done — map kept: ") for m in messages), messages
    assert np.isfinite(s.analysis.x).all() and window.map.points._finite.all()
    kept = ~new
    assert np.array_equal(np.column_stack([s.analysis.x, s.analysis.y])[kept], before)  # nothing moved
    # the analysis put the added rows where the window had drawn them (one placement rule)
    assert np.allclose(np.column_stack([s.analysis.x, s.analysis.y])[new], provisional, atol=1e-3)

    window.actions.relayout.trigger()
    qtbot.waitUntil(lambda: not s.jobs.running() and st.map_info.text() == "Map: fresh layout", timeout=600_000)
    assert not errors, errors
    assert np.isfinite(s.analysis.x).all()
