"""A long list of findings is listed in slices (the window handles events in between: 25,000
duplicate groups of a 100k-row project froze it 3.4 s), completely, once, with its summary."""

from __future__ import annotations

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project


def test_long_finding_lists_fill_in_slices_completely(qtbot, window, tmp_path_factory, tmp_path, monkeypatch):
    from workbench.ui import finding_panels

    project = analysed_project(tmp_path_factory, tmp_path / "fill.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    s = window.session
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    qtbot.waitUntil(lambda: not s.jobs.running(), timeout=120_000)
    panel = next(p for p in window.panels if p.title == "Duplicates")
    n = len(panel.findings)
    assert n > 10
    full_summary = panel.summary.text()
    full_cells = sorted(panel.tree.topLevelItem(i).text(1) for i in range(n))

    monkeypatch.setattr(finding_panels, "SYNC_FILL", 5)
    monkeypatch.setattr(finding_panels, "SLICE_S", 0.0)  # one finding per slice
    panel.fill()
    assert panel.tree.topLevelItemCount() < n  # the rest follows while events are handled
    assert "listing" in panel.summary.text()
    panel.fill()  # a newer list replaces the one being filled: nothing is listed twice
    qtbot.waitUntil(lambda: panel.summary.text() == full_summary, timeout=30_000)
    qtbot.wait(100)
    assert panel.tree.topLevelItemCount() == n
    assert sorted(panel.tree.topLevelItem(i).text(1) for i in range(n)) == full_cells
    keys = sorted(panel.tree.topLevelItem(i).data(0, 0x0100 + 1) for i in range(n))
    assert keys == list(range(n))
