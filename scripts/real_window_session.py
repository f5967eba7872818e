"""A scripted curator session in the REAL window, with screenshots and an event-loop lag monitor.

    xvfb-run -s "-screen 0 1366x768x24" .venv/bin/python scripts/real_window_session.py OUT_DIR

Under an X server (Xvfb) the map clicks and key presses are real X events sent with ``xdotool``
and the screenshots are taken of the whole screen with ImageMagick ``import`` (dialogs included);
without one (``QT_QPA_PLATFORM=offscreen``, the pytest variant in
``tests/ui/test_real_window_session.py``) the same steps run with ``QTest`` events on the same
widgets and the screenshots are grabs of the window.

The session: open the sample project (analysed in the background), click a point on the map,
Shift-click a second one, review a duplicate group whose responses differ and a conflict (and
choose its canonical answer), reject an example with a reason, undo with Ctrl+Z, reject another
with the Delete key (no stale reason), promote a production input, close the window, reopen the
project (no crash on the promoted row without a map position), switch on the density overlay and
export. Every step checks what a curator would see; a failed check raises ``SessionFailed``.

The lag monitor is a 10 ms ``QTimer``; each time it fires it records how late it is. The report
(``lag.json`` and the last line printed) gives the longest stall overall and per step.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCREEN = (1366, 768)
ANALYSIS_TIMEOUT_S = 900


class SessionFailed(AssertionError):
    pass


def check(cond, message: str) -> None:
    if not cond:
        raise SessionFailed(message)


class LagMonitor:
    """Records how late a 10 ms timer fires: the GUI thread's stalls, labelled by step."""

    def __init__(self, interval_ms: int = 10):
        from PySide6 import QtCore

        self.interval = interval_ms / 1000
        self.step = "start"
        self.by_step: dict[str, float] = {}
        self.stalls: list[tuple[str, float]] = []  # (step, seconds) of every stall over 100 ms
        self._last = time.perf_counter()
        self.timer = QtCore.QTimer()
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.context = None  # () -> str: the background jobs running (what may hold the GIL)
        self.where: list[tuple[str, float, str]] = []  # (step, seconds stalled so far, GUI-thread stack)
        self.lags: list[float] = []  # every tick's lateness (seconds): p99 and counts
        self._main = threading.get_ident()
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watchdog, daemon=True)
        self._samples: collections.deque = collections.deque(maxlen=100)  # (time, {thread: frames})
        self.holders: list[tuple[str, float, str]] = []  # (step, seconds, what other threads ran)

    def start(self) -> None:
        import gc

        self._last = time.perf_counter()
        self.timer.start()
        self._watch.start()
        self.gc_pauses: list[tuple[str, int, float]] = []  # (step, generation, seconds) over 50 ms
        self._gc_t0 = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self._gc_t0:
            took = time.perf_counter() - self._gc_t0
            if took > 0.05:
                self.gc_pauses.append((self.step, int(info.get("generation", -1)), round(took, 3)))

    def stop(self) -> None:
        import gc

        self.timer.stop()
        self._stop.set()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _watchdog(self) -> None:
        """From another thread: when the GUI thread has not ticked for 250 ms, note where it is;
        every 20 ms, what the other threads run (a stall's GIL holder is the one that ran just
        before it began)."""
        noted = None
        while not self._stop.wait(0.02):
            frames = sys._current_frames()
            me = threading.get_ident()
            now = time.perf_counter()
            sample = {}
            for tid, frame in frames.items():
                if tid in (self._main, me):
                    continue
                stack = traceback.extract_stack(frame)[-12:]
                ours = [f for f in stack if "workbench" in f.filename or "scripts" in f.filename]
                top = stack[-1]
                text = f"{Path(top.filename).name}:{top.lineno} {top.name}"
                if ours and ours[-1] is not top:
                    text += f" < {Path(ours[-1].filename).name}:{ours[-1].lineno} {ours[-1].name}"
                if top.name not in ("wait", "_wait_for_tstate_lock", "select", "poll", "readline"):
                    sample[tid] = text
            self._samples.append((now, sample))
            late = time.perf_counter() - self._last
            if late > 0.25 and noted != self._last:
                noted = self._last
                frame = sys._current_frames().get(self._main)
                stack = traceback.extract_stack(frame)[-14:] if frame is not None else []
                text = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
                                  if "real_window_session" not in f.filename or f is stack[-1])
                self.where.append((self.step, round(late, 3), text))

    def set_step(self, name: str) -> None:
        self._tick()
        self.step = name

    def _tick(self) -> None:
        now = time.perf_counter()
        lag = max(0.0, now - self._last - self.interval)
        self._last = now
        self.by_step[self.step] = max(self.by_step.get(self.step, 0.0), lag)
        self.lags.append(lag)
        if lag > 0.1:
            busy = self.context() if self.context is not None else ""
            self.stalls.append((self.step, round(lag, 3), busy))
        if lag > 0.2:
            began = now - lag
            before = [smp for t, smp in self._samples if t <= began + 0.02]
            during = [smp for t, smp in self._samples if began + 0.02 < t]
            ran = sorted({v for smp in (before[-1:] + during) for v in smp.values()})
            self.holders.append((self.step, round(lag, 3), " | ".join(ran)[:600]))

    def report(self) -> dict:
        worst = max(self.by_step.values()) if self.by_step else 0.0
        return {"longest_stall_ms": round(1000 * worst, 1),
                "over_200ms": sum(1 for st in self.stalls if st[1] > 0.2),
                "over_500ms": sum(1 for st in self.stalls if st[1] > 0.5),
                "longest_with_no_background_job_ms": round(1000 * max([st[1] for st in self.stalls if not st[2]] + [0]), 1),
                "p99_ms": round(1000 * _quantile(self.lags, 0.99), 1),
                "ticks": len(self.lags),
                "by_step_ms": {k: round(1000 * v, 1) for k, v in self.by_step.items()},
                "other_threads_at_stalls_over_200ms": self.holders,
                "gc_pauses_over_50ms": getattr(self, "gc_pauses", []),
                "stalls_over_100ms": self.stalls,
                "where_stalled": self.where}


def _quantile(values, q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return float(v[min(len(v) - 1, int(q * len(v)))])


class Driver:
    """Real X events through xdotool when there is an X display, else QTest on the widgets."""

    def __init__(self, app, out: Path, lag: LagMonitor):
        self.app = app
        self.out = out
        self.lag = lag
        self.x11 = app.platformName() == "xcb" and shutil.which("xdotool") is not None
        self.shots: list[str] = []
        self.notes: list[str] = []

    # -- waiting -----------------------------------------------------------------------------
    def wait(self, ms: int) -> None:
        from PySide6 import QtTest

        QtTest.QTest.qWait(ms)

    def wait_until(self, cond, timeout_s: float, what: str) -> None:
        from PySide6 import QtTest

        t0 = time.monotonic()
        while not cond():
            if time.monotonic() - t0 > timeout_s:
                raise SessionFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
            QtTest.QTest.qWait(20)

    def run(self, args: list[str]) -> None:
        """An external command, while the Qt event loop keeps running (and being measured)."""
        proc = subprocess.Popen(args)
        while proc.poll() is None:
            self.wait(10)

    # -- input -------------------------------------------------------------------------------
    def click(self, widget, pos, modifiers=None) -> None:
        """Left click at ``pos`` (widget coordinates), optionally holding Shift/Ctrl."""
        from PySide6 import QtCore, QtTest

        modifiers = modifiers or QtCore.Qt.NoModifier
        if self.x11:
            g = widget.mapToGlobal(pos)
            keys = []
            if modifiers & QtCore.Qt.ShiftModifier:
                keys.append("shift")
            if modifiers & QtCore.Qt.ControlModifier:
                keys.append("ctrl")
            self.run(["xdotool", "mousemove", str(g.x()), str(g.y())])
            self.wait(150)  # hover first, as a curator's hand does: the hover ring appears
            for k in keys:
                self.run(["xdotool", "keydown", k])
            self.run(["xdotool", "click", "1"])
            for k in keys:
                self.run(["xdotool", "keyup", k])
        else:
            QtTest.QTest.mouseMove(widget, pos)
            self.wait(150)
            QtTest.QTest.mouseClick(widget, QtCore.Qt.LeftButton, modifiers, pos)
        self.wait(150)

    def key(self, widget, combo: str) -> None:
        """A key press (``"ctrl+z"``, ``"Delete"``, ``"j"``) to the focused widget."""
        from PySide6 import QtGui, QtTest

        if self.x11:
            widget.window().activateWindow()
            self.wait(50)
            self.run(["xdotool", "key", "--clearmodifiers", combo])
        else:
            seq = QtGui.QKeySequence(combo.replace("ctrl", "Ctrl").replace("shift", "Shift"))
            win = widget.window()
            if self.app.activeWindow() is not win:
                win.activateWindow()
                QtTest.QTest.qWaitForWindowActive(win, 1000)
            target = self.app.focusWidget() or widget
            QtTest.QTest.keySequence(target, seq)
        self.wait(150)

    # -- screenshots -------------------------------------------------------------------------
    def shot(self, name: str, widget=None) -> None:
        path = self.out / f"{len(self.shots) + 1:02d}-{name}.png"
        self.wait(200)
        if self.x11 and shutil.which("import"):
            self.run(["import", "-window", "root", str(path)])
        else:
            w = widget or self.app.activeWindow() or self.app.topLevelWidgets()[0]
            w.grab().save(str(path))
        self.shots.append(path.name)


def _point_pos(win, row: int):
    """Where row ``row`` is drawn, in the map viewport's coordinates."""
    from PySide6 import QtCore

    m = win.map
    scene = m.vb.mapViewToScene(QtCore.QPointF(float(m._x[row]), float(m._y[row])))
    return m.gv.mapFromScene(scene)


def _clickable_rows(win, count: int, exclude=()) -> list[int]:
    """Rows whose point is visible, away from the map's edges and from the legend, and is the
    nearest point under its own position (not hidden under another)."""
    import numpy as np

    m = win.map
    vp = m.gv.viewport()
    legend = m.legend.geometry() if m.legend.isVisible() else None
    out = []
    rng = np.random.default_rng(7)
    for row in rng.permutation(np.flatnonzero(np.isfinite(m._x))):
        row = int(row)
        if row in exclude or win.session.ws.rejected[row]:
            continue
        p = _point_pos(win, row)
        if not (40 < p.x() < vp.width() - 40 and 40 < p.y() < vp.height() - 40):
            continue
        if legend is not None and legend.adjusted(-12, -12, 12, 12).contains(p):
            continue
        px, py = m.vb.viewPixelSize()
        near = ((m._x - m._x[row]) / (4 * abs(px))) ** 2 + ((m._y - m._y[row]) / (4 * abs(py))) ** 2 <= 1.0
        if int(np.count_nonzero(near)) != 1:  # another point within 4 px: a hand could hit either
            continue
        out.append(row)
        if len(out) == count:
            break
    return out


def _min_width_ok(win, d: Driver, where: str) -> None:
    w = win.minimumSizeHint().width()
    check(w <= SCREEN[0], f"{where}: the window needs {w} px, wider than a {SCREEN[0]} px screen")
    check(win.width() <= SCREEN[0], f"{where}: the window is {win.width()} px wide on a {SCREEN[0]} px screen")
    d.notes.append(f"{where}: minimum width {w} px")


def _panel(win, title: str):
    for p, dock in zip(win.panels, win.panel_docks):
        if p.title == title:
            dock.show()
            dock.raise_()
            return p
    raise SessionFailed(f"no {title} panel")


def _select_finding(panel, k: int) -> None:
    from PySide6 import QtCore

    for i in range(panel.tree.topLevelItemCount()):
        it = panel.tree.topLevelItem(i)
        if it.data(0, QtCore.Qt.UserRole + 1) == k:
            panel.tree.setCurrentItem(it)
            panel.tree.scrollToItem(it)
            return
    raise SessionFailed(f"finding {k} not in {panel.title}")


def _accept_dialog_later(d: Driver, fill, timeout_s: float = 10.0) -> None:
    """When a modal dialog opens, ``fill`` it (and take a screenshot) then press its default button."""
    from PySide6 import QtCore, QtWidgets

    t0 = time.monotonic()

    def poll():
        dlg = QtWidgets.QApplication.activeModalWidget()
        if dlg is None:
            if time.monotonic() - t0 < timeout_s:
                QtCore.QTimer.singleShot(50, poll)
            return
        fill(dlg)

    QtCore.QTimer.singleShot(50, poll)


def run_session(out: Path, *, workdir: Path | None = None) -> dict:
    """Drive the whole session; returns the report (also written to ``out/session.json``)."""
    import numpy as np
    from PySide6 import QtCore, QtWidgets

    out.mkdir(parents=True, exist_ok=True)
    app = QtWidgets.QApplication.instance()
    from workbench.ui import app as app_module

    if app is None:
        app = app_module._app()
    from workbench.ui.main_window import MainWindow

    tmp = Path(workdir or tempfile.mkdtemp(prefix="wb-session-"))
    tmp.mkdir(parents=True, exist_ok=True)
    lag = LagMonitor()
    d = Driver(app, out, lag)
    report: dict = {"display": "x11+xdotool" if d.x11 else app.platformName(), "screen": list(SCREEN)}
    lag.start()
    t_start = time.monotonic()

    def new_window():
        w = MainWindow()
        w.resize(*SCREEN)
        w.move(0, 0)
        w.showMaximized() if d.x11 else w.show()
        d.wait(300)
        return w

    # -- 1. welcome, open the sample ----------------------------------------------------------
    lag.set_step("welcome")
    win = new_window()
    d.shot("welcome", win)
    lag.set_step("open sample + analyse")
    s = win.session
    lag.context = lambda: ", ".join(f"{j.kind}:{j.phase or j.label}" for j in win.session.jobs.running())
    errors: list[str] = []
    s.sig_error.connect(lambda m, det: errors.append(m))
    check(app_module.open_sample_project(s, tmp), "the sample project did not open")
    d.wait_until(lambda: s.jobs["analyse"].busy or s.analysis is not None, 120, "the analysis to start")
    if s.analysis is None:
        d.wait(1500)
        d.shot("analysing", win)
    d.wait_until(lambda: s.analysis is not None and not s.jobs.running(), ANALYSIS_TIMEOUT_S, "the analysis")
    check(not errors, f"errors while opening: {errors}")
    check(win.map.n_points == s.ws.n, "the map does not show every example")
    project_path = s.project.path
    report["examples"] = int(s.ws.n)
    _min_width_ok(win, d, "after analysis")
    d.shot("analysed", win)

    # -- 2. click a point: it opens; Shift-click adds ----------------------------------------
    lag.set_step("map click")
    win.map.gv.setFocus()
    rows = _clickable_rows(win, 1)
    check(len(rows) == 1, "no clickable point found on the map")
    d.click(win.map.gv.viewport(), _point_pos(win, rows[0]))
    check(s.selection.current == rows[0], f"clicking point {rows[0]} did not open it (current {s.selection.current})")
    check(win.example.row == rows[0], "the example panel does not show the clicked point")
    check(s.selection.rows.tolist() == [rows[0]], "a click did not select exactly the clicked point")
    rows += _clickable_rows(win, 1, exclude=rows)  # after the click: the panel opened, the map may not move
    d.click(win.map.gv.viewport(), _point_pos(win, rows[1]), QtCore.Qt.ShiftModifier)
    check(sorted(s.selection.rows.tolist()) == sorted(rows),
          f"Shift-click did not add the second point: {s.selection.rows.tolist()} vs {rows}")
    d.shot("map-click", win)
    d.click(win.map.gv.viewport(), _point_pos(win, rows[1]))
    check(s.selection.rows.tolist() == [rows[1]], "a plain click did not replace the selection")

    # -- 3. review a duplicate group whose responses differ ----------------------------------
    lag.set_step("duplicates")
    panel = _panel(win, "Duplicates")
    differ = [k for k, f in enumerate(panel.findings) if panel.responses_differ(f) and 2 < len(f.rows) <= 4]
    k = differ[0] if differ else 0
    check(panel.findings, "the sample has no duplicate groups")
    _select_finding(panel, k)
    d.wait(200)
    group = panel.findings[k]
    check(sorted(s.selection.rows.tolist()) == sorted(group.rows.tolist()), "selecting a group did not select its members")
    if differ:
        shown = panel.detail.toPlainText()
        resp = {" ".join(str(s.ws.response[int(r)]).split())[:30] for r in group.rows}
        check(all(r in " ".join(shown.split()) for r in resp if r),
              "a 'responses differ' group does not show its differing responses")
        check(panel.display_title(group)[:20] in panel.tree.currentItem().text(0),
              "the group is not named by its text")
    d.shot("duplicates", win)
    panel.open_review()
    d.wait(300)
    check(win.tabs.currentWidget() is win.review and len(win.review.columns) == min(len(group.rows), 12),
          "the Review tab does not show the group's members side by side")
    d.shot("duplicate-review", win)
    keep = [k for k, c in enumerate(win.review.columns) if "keep_this" in c.buttons]
    if keep:  # keep another member than the suggested keeper: the other copies go, one undo restores
        col = win.review.columns[keep[-1]]
        kept = col.row
        before = int(np.asarray(s.ws.rejected).sum())
        win.review.scroll.ensureWidgetVisible(col.buttons["keep_this"])
        d.wait(100)
        d.click(col.buttons["keep_this"], col.buttons["keep_this"].rect().center())
        check(int(np.asarray(s.ws.rejected).sum()) > before and not s.ws.rejected[kept],
              "'Keep this one' did not reject the other copies")
        check(any(c.row == kept for c in win.review.columns), "the Review tab went stale after the action")
        d.key(win, "ctrl+z")
        check(int(np.asarray(s.ws.rejected).sum()) == before, "Ctrl+Z did not undo 'Keep this one'")

    # -- 4. review a conflict, step with J/K, choose its canonical answer ----------------------
    lag.set_step("conflicts")
    panel = _panel(win, "Conflicts")
    check(panel.findings, "the sample has no conflicts")
    _select_finding(panel, 0)
    d.wait(200)
    first = panel.selected()[0]
    win.tabs.setCurrentWidget(win.map)
    d.shot("conflict", win)
    win.map.gv.setFocus()
    d.key(win.map.gv, "j")
    check(bool(panel.selected()) and panel.selected()[0] is not first, "J did not go to the next conflict")
    d.key(win.map.gv, "k")
    check(bool(panel.selected()) and panel.selected()[0] is first, "K did not go back to the previous conflict")
    text = panel.detail.toPlainText()
    n_div, n_near = panel.counts(first)
    check(f"{n_div} of {n_near}" in text, "the conflict's counts in the detail disagree with the list")
    panel.open_review()
    d.wait(300)
    check(len(win.review.columns) == min(len(first.rows), 12), "the Review tab does not show every response")
    d.shot("conflict-review", win)
    before = int(np.asarray(s.ws.rejected).sum())
    if panel.choose_btn.isEnabled():
        panel.choose_btn.click()
        d.wait(200)
        check(int(np.asarray(s.ws.rejected).sum()) > before, "choosing the canonical answer rejected nothing")
        d.shot("conflict-resolved", win)
        d.key(win, "ctrl+z")
        check(int(np.asarray(s.ws.rejected).sum()) == before, "Ctrl+Z did not undo the conflict resolution")
    win.tabs.setCurrentWidget(win.map)

    # -- a mismatched answer: prompt and response side by side --------------------------------
    mism = _panel(win, "Mismatch")
    if mism.findings:
        _select_finding(mism, 0)
        d.wait(200)
        mism.open_review()
        d.wait(300)
        check(len(win.review.columns) == len(mism.findings[0].rows), "the mismatch review is incomplete")
        d.shot("mismatch-review", win)
        win.tabs.setCurrentWidget(win.map)
    report["mismatches"] = len(mism.findings)

    # -- rebalance preview and settings (dialogs a curator opens before bulk changes) ----------
    lag.set_step("rebalance + settings")
    from workbench.ui.rebalance_dialog import RebalanceDialog

    rb = RebalanceDialog(s, win)
    rb.show()
    d.wait_until(lambda: rb.plan is not None, 120, "the rebalance plan")
    d.wait(300)
    rows_chart = rb.chart_rows(rb.plan, top=10_000)
    check(all(0 <= v <= 100 for r in rows_chart for v in r[1:]), "rebalance shares are not percentages")
    check(abs(sum(r[1] for r in rows_chart) - 100) < 1.0, "rebalance 'before' shares do not add up to 100 %")
    d.shot("rebalance", rb)
    rb.close()
    from workbench.ui.settings_dialog import AnalysisSettingsDialog

    sd = AnalysisSettingsDialog(s.analysis_params(), win, device="auto", unit=s.project.unit)
    sd.show()
    d.wait(300)
    d.shot("settings", sd)
    sd.close()

    # -- 5. reject with a reason, undo with Ctrl+Z, Delete-key reject without a stale reason ---
    lag.set_step("reject + undo")
    row = rows[0]
    s.selection.set([row], origin="table", current=row)
    d.wait(100)
    ex = win.example
    ex.reason.setCurrentText("outdated crypto info")
    d.click(ex.reject_btn, ex.reject_btn.rect().center())
    check(bool(s.ws.rejected[row]), "Reject did not reject the example")
    check(s.ws.reject_reason(row) == "outdated crypto info", "the reason was not recorded")
    fw = app.focusWidget()
    check(fw is not ex.tag_edit, "after Reject the focus jumped into the tag field")
    d.shot("rejected", win)
    d.key(win, "ctrl+z")
    check(not s.ws.rejected[row], "Ctrl+Z right after Reject did not undo it")
    other = rows[1]
    s.selection.set([other], origin="table", current=other)
    d.wait(100)
    win.map.gv.setFocus()
    d.key(win.map.gv, "Delete")
    check(bool(s.ws.rejected[other]), "the Delete key did not reject the selected example")
    check(s.ws.reject_reason(other) != "outdated crypto info",
          "a Delete-key reject silently reused the reason typed for another example")
    d.key(win, "ctrl+z")
    check(not s.ws.rejected[other], "Ctrl+Z did not undo the Delete-key reject")
    _min_width_ok(win, d, "after undo")

    # -- 6. promote a production input -------------------------------------------------------
    lag.set_step("promote")
    n_before = s.ws.n
    queue = _panel(win, "Queue")
    check(queue.findings, "the review queue is empty")
    _select_finding(queue, 0)
    d.wait(200)

    def fill(dlg):
        dlg.response.setPlainText("Your card arrives within 5 working days; track it under Cards → Delivery.")
        d.shot("promote-dialog", dlg)
        dlg.ok.click()

    _accept_dialog_later(d, fill)
    queue.promote_btn.click()
    d.wait_until(lambda: s.ws.n == n_before + 1, 20, "the promoted example")
    d.wait_until(lambda: "1 placed for now" in win.status.map_info.text(), 120,
                 "the promoted row drawn where it will land ('1 placed for now')")
    new_row = s.ws.n - 1
    check(bool(win.map.points._finite[new_row]),
          "the promoted row is not drawn on the map (it should be placed beside its neighbours)")
    d.shot("promoted", win)
    stale = lambda: win.status._notice_kind == "stale"  # noqa: E731 (shown once the transient message ends)
    check(stale(), "no 'analysis is stale' notice after adding an example")
    d.key(win, "ctrl+z")
    check(s.ws.n == n_before and not stale(),
          "the stale notice stayed after undoing the only change since the analysis")
    d.key(win, "ctrl+shift+z")
    check(s.ws.n == n_before + 1 and stale(), "redo did not bring the example and notice back")
    _min_width_ok(win, d, "after promote")

    # -- 7. close, reopen (promoted row has no map position), density overlay ------------------
    lag.set_step("close + reopen")
    win.close()
    d.wait(300)
    win.deleteLater()
    d.wait(100)
    win = new_window()
    s = win.session
    lag.context = lambda: ", ".join(f"{j.kind}:{j.phase or j.label}" for j in win.session.jobs.running())
    errors = []
    s.sig_error.connect(lambda m, det: errors.append(m))
    check(s.open_project(project_path), "the project did not reopen")
    d.wait_until(lambda: s.ws is not None and s.ws.n == n_before + 1, 120, "the reopened project")
    d.wait_until(lambda: s.analysis is not None, 120, "the stored analysis")
    d.wait(300)
    check(not errors, f"errors on reopening: {errors}")
    win.actions.density.setChecked(True)
    d.wait(200)
    check(win.map.density.isVisible(), "the density overlay is not shown")
    d.shot("reopened-density", win)
    win.actions.density.setChecked(False)
    _min_width_ok(win, d, "after reopen")

    # -- 8. export -----------------------------------------------------------------------------
    lag.set_step("export")
    from workbench.ui.export_dialog import ExportDialog

    dlg = ExportDialog(s, win)
    dest = tmp / "export"
    dlg.folder.setText(str(dest))
    dlg.show()
    done: list = []
    dlg.sig_done.connect(done.append)
    dlg.export_btn.click()
    d.wait_until(lambda: bool(done) or bool(errors), 300, "the export")
    check(not errors, f"export failed: {errors}")
    d.shot("exported", dlg)
    dlg.close()
    exported = sorted(p.name for p in dest.iterdir()) if dest.exists() else []
    check(any(n.endswith(".jsonl") for n in exported), f"nothing exported: {exported}")
    report["exported"] = exported

    lag.set_step("end")
    lag.stop()
    win.close()
    d.wait(200)
    report.update(seconds=round(time.monotonic() - t_start, 1), screenshots=d.shots, notes=d.notes,
                  lag=lag.report())
    (out / "session.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _shared_home() -> None:
    """A throwaway WORKBENCH_HOME (settings, projects) that reuses the model and embedding cache."""
    from workbench.core import paths

    real = paths.home()
    home = Path(tempfile.mkdtemp(prefix="wb-home-"))
    for part in ("models", "cache"):
        if (real / part).exists():
            (home / part).symlink_to(real / part, target_is_directory=True)
    os.environ[paths.ENV_HOME] = str(home)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Path(argv[0] if argv else "session-shots").resolve()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "WORKBENCH_HOME" not in os.environ:
        _shared_home()
    try:
        report = run_session(out)
    except SessionFailed as exc:
        from PySide6 import QtWidgets

        for k, w in enumerate(QtWidgets.QApplication.topLevelWidgets()):
            if w.isVisible():
                w.grab().save(str(out / f"FAILED-{k}.png"))
        print(f"session FAILED: {exc}", file=sys.stderr)
        return 1
    lagr = report["lag"]
    print(json.dumps({k: v for k, v in report.items() if k != "lag"}, indent=1))
    print(f"lag: longest stall {lagr['longest_stall_ms']} ms; {lagr['over_200ms']} over 200 ms, "
          f"{lagr['over_500ms']} over 500 ms; by step {lagr['by_step_ms']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
