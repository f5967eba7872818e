"""Finding panels: clusters, duplicates, conflicts, coverage gaps, review queue, leakage, flags.

Each panel lists one kind of finding from the analysis. Selecting an item selects its examples
everywhere (map, table, example panel) and frames them on the map. Bulk actions ("reject all
but keeper in every group") are one journal op each — one Ctrl+Z undoes them.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6 import QtCore, QtWidgets

from workbench.analysis.aligned import Finding

EMPTY_HINT = "Run the analysis (Ctrl+R) to see {what}."
RUNNING_HINT = "The analysis is running; its {what} show here when it is done."


def _pct(v) -> str:
    try:
        return f"{100 * float(v):.1f} %"
    except (TypeError, ValueError):
        return ""


def _num(v, fmt="{:.2f}") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return fmt.format(f) if np.isfinite(f) else ""


SYNC_FILL = 2000  # findings listed at once; a longer list is filled in slices
SLICE_S = 0.04  # seconds of listing between two turns of the event loop


class _SortItem(QtWidgets.QTreeWidgetItem):
    """Sorts numerically where the cell holds a number."""

    def __lt__(self, other):
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, QtCore.Qt.UserRole), other.data(col, QtCore.Qt.UserRole)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return self.text(col).lower() < other.text(col).lower()


class FindingPanel(QtWidgets.QWidget):
    """A list of findings with a detail view and actions. Subclasses fill ``columns``/``row``."""

    title = "Findings"
    what = "findings"
    columns: list[str] = []
    sig_zoom = QtCore.Signal(object)  # rows to frame on the map
    sig_active = QtCore.Signal()  # the curator works in this panel (for next/previous finding)
    sig_review = QtCore.Signal(object, object)
    sig_edit = QtCore.Signal(int)  # open this row for editing (focus the response)  # (panel, finding) selected: the Review tab shows it
    sig_open_review = QtCore.Signal()  # "Review…" pressed: bring the Review tab to the front
    review_kind = ""  # panels whose findings the Review tab can show side by side
    column_tips: list[str] = []
    review_diff = True  # the Review tab highlights what differs from the first member
    text_column = 0  # the column of text that takes the panel's spare width (and elides)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.findings: list[Finding] = []
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(QtCore.Qt.RichText)
        lay.addWidget(self.summary)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName(f"{self.objectName() or 'finding'}Tree")
        self.tree.setHeaderLabels(self.columns)
        for c, tip in enumerate(self.column_tips):
            self.tree.headerItem().setToolTip(c, tip)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(QtCore.Qt.ElideRight)
        self.tree.header().setStretchLastSection(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.ExtendedSelection)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(-1, QtCore.Qt.AscendingOrder)
        self.tree.itemSelectionChanged.connect(self._on_select)
        lay.addWidget(self.tree, 2)
        self.detail = QtWidgets.QTextBrowser()
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._on_link)
        self.detail.setMaximumHeight(200)
        lay.addWidget(self.detail, 1)
        self.buttons = QtWidgets.QHBoxLayout()
        lay.addLayout(self.buttons)
        session.sig_analysis.connect(self.fill)
        session.jobs.sig_activity.connect(self._hint)
        session.sig_changed.connect(self.on_state_changed)
        self.fill()

    # -- content -------------------------------------------------------------------------------
    def items(self) -> list[Finding]:
        return []

    def cells(self, f: Finding) -> list:
        return [f.title]

    def fill(self) -> None:
        """List the analysis' findings. Up to ``SYNC_FILL`` at once; more (25,000 duplicate groups
        of a 100k-row project took 3.4 s) in slices of ``SLICE_S`` seconds between which the
        window keeps handling events; the summary follows when the list is complete."""
        a = self.session.analysis
        self._fill_gen = getattr(self, "_fill_gen", 0) + 1
        self._recount_gen = getattr(self, "_recount_gen", 0) + 1  # its items are about to go
        self.tree.clear()
        self.detail.clear()
        self.findings = self.items() if a is not None else []
        self.tree.setSortingEnabled(False)
        if a is None:
            self._hint()
        elif len(self.findings) > SYNC_FILL:
            self.summary.setText(f"<b>{len(self.findings):,} {self.what}</b>: listing…")
        if len(self.findings) <= SYNC_FILL:
            self._fill_from(0, self._fill_gen, sync=True)
        else:  # the first slice too after this turn: the analysis is being applied right now
            gen = self._fill_gen
            QtCore.QTimer.singleShot(0, lambda: self._fill_from(0, gen))

    def _hint(self) -> None:
        """Without an analysis: run it, or (while it runs) wait for it."""
        if self.session.analysis is not None:
            return
        running = any(j.kind == "analyse" for j in self.session.jobs.running())
        text = f"<span style='color:gray'>{(RUNNING_HINT if running else EMPTY_HINT).format(what=self.what)}</span>"
        if self.summary.text() != text:
            self.summary.setText(text)

    def _fill_from(self, start: int, gen: int, sync: bool = False) -> None:
        import time

        if gen != getattr(self, "_fill_gen", 0) or self.session.ws is None or self.session.analysis is None:
            return  # a newer analysis replaced this list, or the project was closed meanwhile
        t0 = time.perf_counter()
        items = []
        k = start
        while k < len(self.findings):
            items.append(self._make_item(k, self.findings[k]))
            k += 1
            if not sync and time.perf_counter() - t0 > SLICE_S:
                break
        self.tree.addTopLevelItems(items)
        if k < len(self.findings):
            QtCore.QTimer.singleShot(0, lambda: self._fill_from(k, gen))
            return
        if self.session.analysis is not None:
            self.summary.setText(self.summary_text())
        self.tree.setSortingEnabled(True)
        self.size_columns()
        self.update_buttons()

    def _make_item(self, k: int, f: Finding) -> QtWidgets.QTreeWidgetItem:
        cells = self.cells(f)
        it = _SortItem([str(v) if not isinstance(v, tuple) else v[0] for v in cells])
        for col, v in enumerate(cells):
            if isinstance(v, tuple):  # (text, sort value)
                it.setData(col, QtCore.Qt.UserRole, v[1])
                it.setTextAlignment(col, QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        it.setData(0, QtCore.Qt.UserRole + 1, k)
        it.setToolTip(0, self.item_tooltip(f))
        return it

    def size_columns(self) -> None:
        """Numbers get the width they need (never cut: "344" stays "344"); the first, text column
        takes the rest of the panel and elides with "…" (full text in its tooltip)."""
        hdr = self.tree.header()
        hdr.setTextElideMode(QtCore.Qt.ElideRight)  # a long header elides ("Dens…"); its tooltip says it all
        hdr.setMinimumSectionSize(24)
        fm = self.tree.fontMetrics()
        n = min(self.tree.topLevelItemCount(), 2000)
        for c in range(len(self.columns)):
            if c == self.text_column:
                hdr.setSectionResizeMode(c, QtWidgets.QHeaderView.Stretch)
                continue
            # as wide as the widest value (never cut), not as its header: the text keeps its room
            widest = max([fm.horizontalAdvance(self.tree.topLevelItem(i).text(c)) for i in range(n)]
                         + [fm.horizontalAdvance(self.columns[c][:3])])
            hdr.setSectionResizeMode(c, QtWidgets.QHeaderView.Interactive)
            hdr.resizeSection(c, widest + 12)

    def item_tooltip(self, f: Finding) -> str:
        return self.display_title(f)

    def display_title(self, f: Finding) -> str:
        return f.title

    # -- the Review tab ------------------------------------------------------------------------
    def review_reason(self, f: Finding) -> str:
        return str(f.data.get("reason", ""))

    def member_role(self, f: Finding, row: int) -> str:
        return ""

    def review_group_actions(self, f: Finding) -> list[tuple[str, str, str]]:
        return []

    def review_member_actions(self, f: Finding, row: int) -> list[tuple[str, str, str]]:
        ws = self.session.ws
        out = [("edit", "Edit", "Open this example in the Example panel to edit it")]
        if ws.rejected[row]:
            out.append(("restore", "Restore", "Bring it back into the export (R on the open example)"))
        else:
            out.append(("reject", "Reject", "Leave this example out of the export (Delete on the open example)"))
        return out

    def review_act(self, f: Finding, key: str, row: int) -> None:
        from workbench.curate import actions

        ws = self.session.ws
        if key == "edit" and row >= 0:
            self.session.selection.set([row], origin="finding", current=row)
            self.sig_edit.emit(row)
        elif key in ("reject", "restore") and row >= 0:
            sel = actions.rows_selection([row], "examples", f"reviewed in {self.title.lower()}")
            plan = (actions.reject if key == "reject" else actions.restore)(ws, sel)
            self._apply_plan(plan)

    def _apply_plan(self, plan) -> bool:
        if plan.op is None:
            self.session.sig_message.emit(plan.message)
            return False
        if self.session.apply(plan.op) is not None:
            self.session.sig_message.emit(f"{plan.message} Undo with Ctrl+Z.")
            return True
        return False

    def open_review(self):
        """Show the selected finding in the Review tab (selects the first when none is)."""
        if not self.selected() and self.tree.topLevelItemCount():
            self.step(+1)
        self.sig_open_review.emit()

    def summary_text(self) -> str:
        return f"{len(self.findings):,} {self.what}"

    def _recount(self, todo, start: int, gen: int, sync: bool = False) -> None:
        """Redraw the cells of ``todo`` [(item, finding index)]; a long list in slices."""
        import time

        if gen != getattr(self, "_recount_gen", 0) or gen is None:
            return
        t0 = time.perf_counter()
        k = start
        while k < len(todo):
            it, i = todo[k]
            k += 1
            if i >= len(self.findings):
                continue
            for col, v in enumerate(self.cells(self.findings[i])):
                it.setText(col, v[0] if isinstance(v, tuple) else str(v))
                if isinstance(v, tuple):
                    it.setData(col, QtCore.Qt.UserRole, v[1])
            if not sync and time.perf_counter() - t0 > SLICE_S:
                break
        if k < len(todo):
            QtCore.QTimer.singleShot(0, lambda: self._recount(todo, k, gen))
        elif todo:
            self.size_columns()  # a count may have grown a digit

    def on_state_changed(self, change=None) -> None:
        """After an action: the counts in the list and the detail shown are redrawn, never stale
        (a panel hidden behind another tab does it when it is shown). Only the findings with a
        member the action touched are recomputed."""
        if self.session.ws is None:
            return
        rows = None
        if change is not None and not getattr(change, "structural", True):
            rows = self.session.rows_of(change.ids)
        pending = getattr(self, "_pending", ())
        if pending is None or rows is None:
            self._pending = None
        else:
            self._pending = np.union1d(np.asarray(pending, np.int64), rows)
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        touched, self._pending = self._pending, ()
        if touched is not None:
            mask = np.zeros(self.session.ws.n, bool)
            t = np.asarray(touched, np.int64)
            mask[t[(t >= 0) & (t < len(mask))]] = True
            touched = mask
        todo = []
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            k = it.data(0, QtCore.Qt.UserRole + 1)
            if k is None or not (0 <= k < len(self.findings)):
                continue
            if touched is not None:
                fr = self.findings[k].rows
                fr = fr[fr < len(touched)]
                if not touched[fr].any():
                    continue
            todo.append((it, k))
        self._recount_gen = getattr(self, "_recount_gen", 0) + 1
        self._recount(todo, 0, self._recount_gen, sync=len(todo) <= SYNC_FILL)
        chosen = self.selected()
        if chosen:
            self.detail.setHtml(self.detail_html(chosen[0]))
        self.update_buttons()

    def update_buttons(self) -> None:
        pass

    def _refresh_after(self, pending) -> None:
        """Redraw what changed while the panel was hidden (``None``: everything)."""
        class _C:  # the rows as a change-like object
            structural = pending is None
            ids = ()

        self._pending = pending
        self.on_state_changed(None if pending is None else _C())

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if getattr(self, "_stale", False):
            self._stale = False
            pending = getattr(self, "_pending", ())
            self._pending = ()
            self._refresh_after(pending)

    def selected(self) -> list[Finding]:
        out = []
        for it in self.tree.selectedItems():
            k = it.data(0, QtCore.Qt.UserRole + 1)
            if k is not None and 0 <= k < len(self.findings):
                out.append(self.findings[k])
        return out

    def step(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) finding in the list's order (J / K)."""
        n = self.tree.topLevelItemCount()
        if not n:
            return
        cur = self.tree.currentItem()
        i = self.tree.indexOfTopLevelItem(cur) if cur is not None and cur.isSelected() else -1
        j = (0 if delta > 0 else n - 1) if i < 0 else max(0, min(n - 1, i + delta))
        it = self.tree.topLevelItem(j)
        self.tree.setCurrentItem(it)
        self.tree.scrollToItem(it)
        if i == j:
            self.session.sig_message.emit(f"That was the {'last' if delta > 0 else 'first'} of the {self.what}.")

    def _on_select(self) -> None:
        chosen = self.selected()
        self.update_buttons()
        if not chosen:
            return
        self.sig_active.emit()
        rows = np.unique(np.concatenate([f.rows for f in chosen])) if chosen else np.zeros(0, np.int64)
        current = self.current_row(chosen[0])
        self.session.selection.set(rows, origin="finding", current=current)
        self.detail.setHtml(self.detail_html(chosen[0]))
        if self.review_kind:
            self.sig_review.emit(self, chosen[0])
        if len(rows):
            self.sig_zoom.emit(rows)

    def current_row(self, f: Finding) -> int | None:
        return int(f.rows[0]) if len(f.rows) else None

    def detail_html(self, f: Finding) -> str:
        return html.escape(f.title)

    def _on_link(self, url) -> None:
        if url.scheme() == "row":
            row = int(url.path().strip("/") or -1)
            self.session.selection.set([row], origin="finding", current=row)

    def add_button(self, text: str, slot, tip: str = "") -> QtWidgets.QPushButton:
        b = QtWidgets.QPushButton(text)
        if tip:
            b.setToolTip(tip)
        b.clicked.connect(slot)
        self.buttons.addWidget(b)
        return b

    # -- helpers -------------------------------------------------------------------------------
    def link(self, row: int) -> str:
        ws = self.session.ws
        text = " ".join(str(ws.prompt[row]).split())
        text = text if len(text) <= 120 else text[:119] + "…"
        rej = " <span style='color:#d62728'>(rejected)</span>" if ws.rejected[row] else ""
        return (f"<a href='row:{row}'>{html.escape(str(ws.source_names[row]))}:{int(ws.line[row])}</a>"
                f" <span style='color:gray'>{html.escape(str(ws.role[row]))}</span>{rej} — {html.escape(text)}")


# ---------------------------------------------------------------------------------------------
class ClustersPanel(FindingPanel):
    title = "Clusters"
    what = "clusters"
    columns = ["Cluster", "Size", "Train", "Production", "Eval", "Inconsistency"]

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.rename_btn = self.add_button("Rename…", self.rename_selected,
                                          "Give the selected cluster your own name (journalled; Ctrl+Z undoes it)")
        self.merge_btn = self.add_button("Merge…", self.merge_selected,
                                         "Merge the selected clusters into the largest one: one cluster id for all "
                                         "their members (journalled; Ctrl+Z undoes it)")
        self.buttons.addStretch(1)
        session.sig_analysis.connect(self.sync_cluster_edits)
        session.sig_changed.connect(self.sync_cluster_edits)
        self.update_buttons()

    def sync_cluster_edits(self, *_):
        """Show the project's cluster names and merges (after an action, undo, redo or a new
        analysis): the aligned analysis applies them; the map, colours and panels redraw."""
        a, project = self.session.analysis, self.session.project
        if a is None or project is None:
            return
        new = a.with_cluster_edits(project.state.cluster_edits)
        if new is not a:
            self.session.analysis = new
            self.session.sig_analysis.emit()

    def update_buttons(self):
        if hasattr(self, "merge_btn"):
            n = len(self.selected())
            self.rename_btn.setEnabled(n == 1)
            self.merge_btn.setEnabled(n >= 2)

    @staticmethod
    def _cid(f) -> int:
        return int(f.data.get("id", f.data.get("cluster", -1)))

    def _apply_cluster_op(self, make) -> None:
        from workbench.core.errors import WorkbenchError

        try:
            op = make()
        except WorkbenchError as exc:
            self.session.sig_message.emit(exc.user_message)
            return
        if self.session.apply(op) is not None:
            self.session.sig_message.emit(f"{op.label}. Undo with Ctrl+Z.")

    def rename_selected(self):
        from workbench.curate import clusters as cc

        chosen = self.selected()
        if len(chosen) != 1:
            return
        f = chosen[0]
        name, ok = QtWidgets.QInputDialog.getText(self, "Rename cluster", f"New name for cluster {self._cid(f)}:",
                                                  text=f.title)
        if ok and name.strip():
            self._apply_cluster_op(lambda: cc.rename(self.session.analysis, self._cid(f), name))

    def merge_selected(self):
        from workbench.curate import clusters as cc

        chosen = sorted(self.selected(), key=lambda f: -len(f.rows))
        if len(chosen) < 2:
            return
        name, ok = QtWidgets.QInputDialog.getText(
            self, "Merge clusters", f"Merge {len(chosen)} clusters into one named:", text=chosen[0].title)
        if ok:
            ids = [self._cid(f) for f in chosen]
            keep = name.strip() if name.strip() != chosen[0].title else None
            self._apply_cluster_op(lambda: cc.merge(self.session.analysis, ids, keep))

    def items(self):
        return list(self.session.analysis.clusters)

    def summary_text(self) -> str:
        a = self.session.analysis
        noise = int((a.cluster < 0).sum())
        return (f"<b>{len(self.findings):,} clusters</b>; {noise:,} examples in no cluster (noise). "
                "Select one to frame it on the map.")

    def cells(self, f):
        d = f.data
        roles = d.get("roles", {}) or {}
        size = int(d.get("size", len(f.rows)))

        def share(role):
            n = int(roles.get(role, 0))
            return (f"{n:,}", n)

        inc = d.get("inconsistency")
        return [f.title, (f"{size:,}", size), share("train"), share("production"), share("eval"),
                (_num(inc), float(inc) if inc is not None else -1.0)]

    def detail_html(self, f):
        d = f.data
        parts = [f"<b>{html.escape(f.title)}</b> — {len(f.rows):,} examples"]
        if d.get("train_share") is not None:
            parts.append(f"train share {_pct(d.get('train_share'))}, production share {_pct(d.get('production_share'))}")
        if d.get("inconsistency_reason"):
            parts.append(f"<br><b>Inconsistency:</b> {html.escape(str(d['inconsistency_reason']))}")
        ex = d.get("examples", []) or []
        if ex:
            items = []
            for e in ex[:5]:
                r = self.session.analysis.row(e)
                if r >= 0:
                    items.append(f"<li>{self.link(r)}</li>")
            parts.append("<ul>" + "".join(items) + "</ul>")
        return " ".join(parts)


class DuplicatesPanel(FindingPanel):
    title = "Duplicates"
    what = "duplicate groups"
    columns = ["Prompt", "Copies", "Answers"]
    column_tips = ["The group's text (its keeper's prompt)",
                   "Removable copies / members: train/reference members other than the keeper, not rejected yet, "
                   "of all the group's members (sorts by removable copies)",
                   "Whether the members' responses are the same or differ"]
    review_kind = "duplicates"

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.review_btn = self.add_button("Review…", self.open_review,
                                          "Show the group's members side by side, differences highlighted (J/K: "
                                          "next/previous group)")
        self.reject_one = self.add_button("Keep keeper", self.reject_selected_groups,
                                          "Reject all but the keeper in the selected groups: their removable "
                                          "train/reference copies (eval and production rows are never rejected here)")
        self.reject_all = self.add_button("All groups…", self.reject_every_group,
                                          "Reject all but the keeper in every duplicate group, as one undoable step")
        self.buttons.addStretch(1)
        self.update_buttons()

    def display_title(self, f):
        """A group is named by its text (the keeper's prompt), not by a number."""
        ws = self.session.ws
        r = f.keeper if f.keeper >= 0 else (int(f.rows[0]) if len(f.rows) else -1)
        text = " ".join(str(ws.prompt[r]).split()) if r >= 0 else f.title
        return text if len(text) <= 90 else text[:89] + "…"

    def responses_differ(self, f) -> bool:
        same = f.data.get("same_response")
        if same is not None:
            return not bool(same)
        from workbench.curate.resolve import normalise_answer

        ws = self.session.ws
        return len({normalise_answer(ws.response[int(r)]) for r in f.rows}) > 1

    def item_tooltip(self, f):
        d = f.data
        ws = self.session.ws
        keeper = f"{ws.source_names[f.keeper]}:{int(ws.line[f.keeper])}" if f.keeper >= 0 else "?"
        return (f"{self.display_title(f)}\n{d.get('kind', '')} duplicates, {d.get('scope', '')}; keeper {keeper}\n"
                f"{d.get('reason', '')}")

    def member_role(self, f, row):
        return "keeper" if row == f.keeper else ("removable copy" if row in set(self.removable(f).tolist()) else "")

    def review_group_actions(self, f):
        n = len(self.removable(f))
        return [("keep_keeper", f"Keep the keeper, reject {n} cop{'y' if n == 1 else 'ies'}",
                 "Reject every removable copy of this group (one undoable step)")] if n else []

    def review_member_actions(self, f, row):
        out = []
        from workbench.curate.actions import removable_rows

        if not self.session.ws.rejected[row] and len(removable_rows(self.session.ws, f.rows, row)):
            out.append(("keep_this", "Keep this one", "Keep this member and reject the other removable copies"))
        return out + super().review_member_actions(f, row)

    def review_act(self, f, key, row):
        from workbench.curate import actions

        ws = self.session.ws
        if key == "keep_keeper":
            self._apply([f])
        elif key == "keep_this" and row >= 0:
            rows = actions.removable_rows(ws, f.rows, row)
            sel = actions.Selection("duplicate copies", ((rows, f"duplicate of {ws.source_names[row]}:{int(ws.line[row])}"),))
            self._apply_plan(actions.reject(ws, sel))
        else:
            super().review_act(f, key, row)

    def items(self):
        return list(self.session.analysis.duplicates)

    def summary_text(self):
        sec = self.session.analysis.summary.get("duplicates", {}) or {}
        counted = getattr(self, "_n_removable", {})
        n_rem = sum(counted[id(f)] if id(f) in counted else len(self.removable(f)) for f in self.findings)
        return (f"<b>{len(self.findings):,} groups</b> of duplicate prompts (cosine ≥ {sec.get('threshold', '?')}); "
                f"{n_rem:,} copies could go. The keeper is the most complete, least flagged member.")

    def cells(self, f):
        rem = len(self.removable(f))
        if not hasattr(self, "_n_removable") or getattr(self, "_n_removable_of", None) is not self.findings:
            self._n_removable, self._n_removable_of = {}, self.findings
        self._n_removable[id(f)] = rem  # the summary adds these up instead of computing them again
        return [self.display_title(f), (f"{rem:,}/{len(f.rows):,}", rem * 100_000 + len(f.rows)),
                "differ" if self.responses_differ(f) else "same"]

    def removable(self, f: Finding) -> np.ndarray:
        """Members that may go (the one rule: workbench.curate.actions.removable_rows)."""
        from workbench.curate.actions import removable_rows

        return removable_rows(self.session.ws, f.rows, f.keeper)

    def current_row(self, f):
        return f.keeper if f.keeper >= 0 else super().current_row(f)

    def detail_html(self, f):
        """The members; when the responses differ, each member's response (that is the finding)."""
        ws = self.session.ws
        differ = self.responses_differ(f)
        items = []
        for r in f.rows[:30]:
            r = int(r)
            mark = " <b>keeper</b>" if r == f.keeper else ""
            if differ:
                resp = " ".join(str(ws.response[r] or "").split())
                resp = resp if len(resp) <= 220 else resp[:219] + "…"
                rej = " <span style='color:#d62728'>(rejected)</span>" if ws.rejected[r] else ""
                items.append(f"<li><a href='row:{r}'>{html.escape(str(ws.source_names[r]))}:{int(ws.line[r])}</a>"
                             f"{mark}{rej}: <i>{html.escape(resp)}</i></li>")
            else:
                items.append(f"<li>{self.link(r)}{mark}</li>")
        more = f"<li>… {len(f.rows) - 30:,} more</li>" if len(f.rows) > 30 else ""
        head = (f"<b>Responses differ</b> for “{html.escape(self.display_title(f))}”:" if differ
                else html.escape(str(f.data.get("reason", ""))))
        return f"{head}<ul>{''.join(items)}{more}</ul>"

    def update_buttons(self):
        if not hasattr(self, "reject_one"):
            return
        chosen = self.selected() if self.session.ws is not None else []
        self.reject_one.setEnabled(any(len(self.removable(f)) for f in chosen))
        self.review_btn.setEnabled(bool(self.findings))
        self.reject_all.setEnabled(self.session.ws is not None
                                   and any(len(self.removable(f)) for f in self.findings))

    def reject_selected_groups(self) -> None:
        self._apply(self.selected())

    def reject_every_group(self) -> None:
        self._apply(self.findings)

    def _apply(self, groups: list[Finding]) -> None:
        from workbench.curate import actions

        plan = actions.reject(self.session.ws, actions.duplicates(self.session.ws, self.session.analysis, groups))
        if plan.op is not None and self.session.apply(plan.op) is not None:
            self.session.sig_message.emit(f"{plan.message} Undo with Ctrl+Z.")


class ConflictsPanel(FindingPanel):
    title = "Conflicts"
    what = "conflicts"
    columns = ["Prompt", "Disagrees", "Score"]
    column_tips = ["The flagged example's prompt", "With how many of the similar train examples its answer "
                   "disagrees", "Conflict score (0-1): how strongly and how often it disagrees"]
    review_kind = "conflicts"

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.detail.setMaximumHeight(16777215)
        self.review_btn = self.add_button("Review…", self.open_review,
                                          "Show every response in full, side by side (J/K: next/previous conflict)")
        self.choose_btn = self.add_button("Majority", self.keep_majority,
                                          "Choose the canonical answer: the one most of these examples give; the "
                                          "train examples answering differently are rejected (one undoable step). "
                                          "To choose another answer, use Review…")
        self.reject_btn = self.add_button("Reject", self.reject_flagged,
                                          "Reject the flagged example (the one whose answer disagrees)")
        self.edit_btn = self.add_button("Edit", self.edit_flagged,
                                        "Open the flagged example in the Example panel to correct its answer")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        return list(self.session.analysis.conflicts)

    def summary_text(self):
        return (f"<b>{len(self.findings):,} conflicts</b>: training examples whose similar prompts get diverging "
                "responses. Choose the canonical answer, edit or reject; Review… shows the responses in full.")

    def counts(self, f) -> tuple[int, int]:
        """(disagreeing, similar) train examples, as the analysis counted them."""
        n_near = int(f.data.get("n_near", len(f.rows) - 1) or 0)
        n_div = int(f.data.get("n_divergent", len(f.rows) - 1) or 0)
        if n_near <= 0:  # a finding without neighbour counts: the members listed are what it has
            n_near = n_div = max(0, len(f.rows) - 1)
        return n_div, n_near

    def display_title(self, f):
        ws = self.session.ws
        r = int(f.rows[0]) if len(f.rows) else -1
        text = " ".join(str(ws.prompt[r]).split()) if r >= 0 else f.title
        return text if len(text) <= 90 else text[:89] + "…"

    def item_tooltip(self, f):
        return f"{self.display_title(f)}\n{f.title}"

    def cells(self, f):
        score = float(f.data.get("score", 0) or 0)
        n_div, n_near = self.counts(f)
        return [self.display_title(f), (f"{n_div} of {n_near}", n_div), (f"{score:.2f}", score)]

    def member_role(self, f, row):
        return "flagged" if len(f.rows) and row == int(f.rows[0]) else ""

    def detail_html(self, f):
        ws = self.session.ws
        n_div, n_near = self.counts(f)
        shown = len(f.rows) - 1
        note = f" ({shown} listed)" if shown != n_div else ""
        items = []
        for k, r in enumerate(f.rows[:12]):
            r = int(r)
            resp = " ".join(str(ws.response[r] or "").split())
            resp = resp if len(resp) <= 300 else resp[:299] + "…"
            tag = " <b>flagged</b>" if k == 0 else ""
            rej = " <span style='color:#d62728'>(rejected)</span>" if ws.rejected[r] else ""
            items.append(f"<li>{self.link(r)}{tag}{rej}<br>→ <i>{html.escape(resp)}</i></li>")
        return (f"<p>Disagrees with <b>{n_div} of {n_near}</b> similar train examples{note}. "
                f"{html.escape(f.title)}</p><ul>{''.join(items)}</ul>")

    def review_group_actions(self, f):
        from workbench.curate import resolve

        rows = [int(r) for r in f.rows]
        m = resolve.majority(self.session.ws, rows)
        n = len(resolve.differing(self.session.ws, rows, m)) if m >= 0 else 0
        return [("majority", f"Keep the majority answer, reject {n}", "The answer most members give becomes "
                 "canonical; the others are rejected (one undoable step)")] if n else []

    def review_member_actions(self, f, row):
        from workbench.curate import resolve

        out = []
        if not self.session.ws.rejected[row] and len(resolve.differing(self.session.ws, f.rows, row)):
            out.append(("canonical", "Canonical", "Canonical answer: this answer is right; reject the members "
                                                  "answering differently (one undoable step)"))
        return out + super().review_member_actions(f, row)

    def review_act(self, f, key, row):
        if key == "majority":
            self._resolve(f, None)
        elif key == "canonical":
            self._resolve(f, row)
        else:
            super().review_act(f, key, row)

    def _resolve(self, f, canonical_row) -> None:
        from workbench.curate import actions, resolve

        ws = self.session.ws
        rows = [int(r) for r in f.rows]
        canon = resolve.majority(ws, rows) if canonical_row is None else int(canonical_row)
        if canon < 0:
            return
        self._apply_plan(actions.reject(ws, resolve.canonical(ws, rows, canon)))

    def keep_majority(self) -> None:
        for f in self.selected()[:1]:
            self._resolve(f, None)

    def reject_flagged(self) -> None:
        for f in self.selected()[:1]:
            if len(f.rows):
                self.review_act(f, "reject", int(f.rows[0]))

    def edit_flagged(self) -> None:
        for f in self.selected()[:1]:
            if len(f.rows):
                self.review_act(f, "edit", int(f.rows[0]))

    def update_buttons(self):
        if not hasattr(self, "edit_btn"):
            return
        from workbench.curate import resolve

        chosen = self.selected() if self.session.ws is not None else []
        ws = self.session.ws
        f = chosen[0] if chosen else None
        can_major = False
        if f is not None:
            rows = [int(r) for r in f.rows]
            m = resolve.majority(ws, rows)
            can_major = m >= 0 and len(resolve.differing(ws, rows, m)) > 0
        self.choose_btn.setEnabled(can_major)
        self.reject_btn.setEnabled(f is not None and len(f.rows) > 0 and not ws.rejected[int(f.rows[0])])
        self.edit_btn.setEnabled(f is not None)
        self.review_btn.setEnabled(bool(self.findings))


class GapsPanel(FindingPanel):
    title = "Gaps"
    what = "coverage gaps"
    columns = ["Gap", "Affected", "Production", "Train", "Add ≈", "Similarity"]

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.colour_btn = self.add_button("Colour map by gaps", lambda: self.sig_colour.emit("gap"))
        self.buttons.addStretch(1)

    sig_colour = QtCore.Signal(str)

    def items(self):
        return list(self.session.analysis.gaps)

    def summary_text(self):
        sec = self.session.analysis.summary.get("gaps", {}) or {}
        thr = (sec.get("params") or {}).get("gap_threshold", "?")
        return (f"<b>{len(self.findings):,} gaps</b>: groups of production inputs training does not cover (gap score "
                f"≥ {thr}: mostly production around them, or far from every training example), ranked by "
                f"weight ({int(sec.get('n_gap_inputs', 0)):,} uncovered inputs). "
                "Select one to see it on the map.")

    def cells(self, f):
        d = f.data
        aff = int(d.get("n_affected", len(f.rows)))
        return [f.title, (f"{aff:,}", aff), (f"{int(d.get('n_production', 0)):,}", int(d.get("n_production", 0))),
                (f"{int(d.get('n_train', 0)):,}", int(d.get("n_train", 0))),
                (f"{int(d.get('suggested_add', 0)):,}", int(d.get("suggested_add", 0))),
                (_num(d.get("mean_nearest_train_sim")), float(d.get("mean_nearest_train_sim") or 0))]

    def detail_html(self, f):
        d = f.data
        items = []
        for e in d.get("examples", []) or []:
            r = self.session.analysis.row(e.get("example"))
            if r >= 0:
                items.append(f"<li>{self.link(r)}</li>")
        return (f"<p>{html.escape(str(d.get('reason', '')))}<br>Suggested: add about "
                f"<b>{int(d.get('suggested_add', 0)):,}</b> training examples like these.</p>"
                f"<ul>{''.join(items)}</ul>")


class QueuePanel(FindingPanel):
    title = "Queue"
    what = "the review queue"
    columns = ["#", "Production input", "Priority", "Gap", "Density"]
    text_column = 1

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.promote_btn = self.add_button("Promote to training…", self.promote,
                                           "Write the response this input should get; it becomes a training example")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        return list(self.session.analysis.queue)

    def summary_text(self):
        return (f"<b>{len(self.findings):,} production inputs</b> worth labelling first: far from the training "
                "data, in busy production regions, and not variants of each other.")

    def cells(self, f):
        d = f.data
        r = int(f.rows[0])
        text = " ".join(str(self.session.ws.prompt[r]).split())[:120]
        rank = int(d.get("rank", 0))
        return [(str(rank + 1), rank), text, (_num(d.get("priority")), float(d.get("priority") or 0)),
                (_num(d.get("gap")), float(d.get("gap") or 0)), (_num(d.get("density")), float(d.get("density") or 0))]

    def detail_html(self, f):
        return f"<p>{self.link(int(f.rows[0]))}</p><p>{html.escape(str(f.data.get('reason', '')))}</p>"

    def update_buttons(self):
        if hasattr(self, "promote_btn"):
            self.promote_btn.setEnabled(len(self.selected()) == 1)

    def promote(self):
        from workbench.ui.dialogs import PromoteDialog

        chosen = self.selected()
        if chosen:
            PromoteDialog.run(self.session, int(chosen[0].rows[0]), self)


class LeakagePanel(FindingPanel):
    title = "Leakage"
    what = "eval leakage"
    columns = ["Eval example", "Kind", "Similarity"]
    review_kind = "leakage"

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.reject_btn = self.add_button("Reject training copies", self.reject_train,
                                          "Reject the training examples that leak the selected eval examples")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        return list(self.session.analysis.leakage)

    def summary_text(self):
        sec = self.session.analysis.summary.get("leakage", {}) or {}
        return (f"<b>{int(sec.get('n_leaked', len(self.findings))):,} of {int(sec.get('n_eval', 0)):,} eval examples</b> "
                "have an exact or near copy in the training data.")

    def cells(self, f):
        d = f.data
        r = int(f.rows[0]) if len(f.rows) else -1
        text = " ".join(str(self.session.ws.prompt[r]).split())[:100] if r >= 0 else ""
        sim = d.get("prompt_sim")
        return [text, ", ".join(d.get("kinds", []) or []), (_num(sim), float(sim or 0))]

    def detail_html(self, f):
        rows = "".join(f"<li>{self.link(int(r))}</li>" for r in f.rows)
        return f"<p>{html.escape(f.title)}</p><ul>{rows}</ul>"

    def _train_rows(self, chosen) -> np.ndarray:
        from workbench.curate.actions import leaked_copies  # the one leaked-copy rule

        if not chosen or self.session.ws is None:
            return np.zeros(0, np.int64)
        rows = leaked_copies(self.session.ws, self.session.analysis, chosen)
        return rows[~np.asarray(self.session.ws.rejected, bool)[rows]] if len(rows) else rows

    def update_buttons(self):
        if hasattr(self, "reject_btn"):
            self.reject_btn.setEnabled(len(self._train_rows(self.selected())) > 0)

    def reject_train(self):
        from workbench.curate import actions

        plan = actions.reject(self.session.ws, actions.leaked(self.session.ws, self.session.analysis, self.selected()))
        if plan.op is not None:
            self.session.apply(plan.op)


class FlagsPanel(FindingPanel):
    title = "Flags"
    what = "quality flags"
    columns = ["Flag", "Examples", "Meaning"]
    text_column = 2

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.reject_btn = self.add_button("Reject flagged", self.reject_flagged,
                                          "Reject every example with the selected flag(s), as one undoable step")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        a = self.session.analysis
        out = []
        for name, count in sorted(a.flag_counts.items(), key=lambda kv: -kv[1]):
            rows = a.flag_rows[name]
            out.append(Finding(name, rows, {"count": count, "definition": a.flag_definitions.get(name, "")}))
        return out

    def summary_text(self):
        n = int(sum(1 for f in self.session.analysis.flags if f))
        return f"<b>{n:,} examples</b> carry at least one quality flag."

    def cells(self, f):
        return [f.title, (f"{len(f.rows):,}", len(f.rows)), str(f.data.get("definition", ""))[:120]]

    def detail_html(self, f):
        items = "".join(f"<li>{self.link(int(r))}</li>" for r in f.rows[:20])
        return f"<p><b>{html.escape(f.title)}</b>: {html.escape(str(f.data.get('definition', '')))}</p><ul>{items}</ul>"

    def update_buttons(self):
        if hasattr(self, "reject_btn"):
            self.reject_btn.setEnabled(bool(self.selected()))

    def reject_flagged(self):
        from workbench.curate import actions

        chosen = self.selected()
        if chosen:
            sel = actions.flagged(self.session.ws, self.session.analysis, [f.title for f in chosen])
            plan = actions.reject(self.session.ws, sel)
            if plan.op is not None:
                self.session.apply(plan.op)


class MismatchPanel(FindingPanel):
    """Responses that may not answer their own prompt (analysis/mismatch.py), prompt and response
    side by side, with the example whose response would fit this prompt better."""

    title = "Mismatch"
    what = "mismatched answers"
    columns = ["Prompt", "Score"]
    column_tips = ["The example's prompt", "How strongly its response seems to answer another question (0-1)"]
    review_kind = "mismatch"
    review_diff = False  # unrelated texts side by side: a word diff would only be noise

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.detail.setMaximumHeight(16777215)
        self.review_btn = self.add_button("Review…", self.open_review, "Prompt and response side by side, with "
                                          "the example that fits better (J/K: next/previous)")
        self.reject_btn = self.add_button("Reject", self.reject_current_finding,
                                          "Reject this example (its response does not answer its prompt)")
        self.edit_btn = self.add_button("Edit", self.edit_current, "Open it in the Example panel to fix the answer")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        a = self.session.analysis
        sec = a.summary.get("mismatches", {}) or {}
        out = []
        for it in sec.get("mismatches", []) or []:
            r = a.row(it.get("example"))
            if r < 0:
                continue
            rows = [r] + [a.row((it.get(k) or {}).get("example")) for k in ("better_response", "better_prompt")
                          if it.get(k)]
            rows = [x for x in dict.fromkeys(rows) if x >= 0]
            out.append(Finding(str(it.get("reason", "mismatch")), np.asarray(rows, np.int64), dict(it)))
        return out

    def summary_text(self):
        sec = self.session.analysis.summary.get("mismatches", {}) or {}
        if sec.get("skipped"):
            return f"<span style='color:gray'>Not computed: {html.escape(str(sec['skipped']))}</span>"
        return (f"<b>{len(self.findings):,} examples</b> whose response may not answer their prompt "
                f"({int(sec.get('n_rows', 0)):,} checked). Prompt and response are shown side by side.")

    def display_title(self, f):
        text = " ".join(str(self.session.ws.prompt[int(f.rows[0])]).split())
        return text if len(text) <= 90 else text[:89] + "…"

    def cells(self, f):
        sc = float(f.data.get("score", 0) or 0)
        return [self.display_title(f), (f"{sc:.2f}", sc)]

    def member_role(self, f, row):
        if row == int(f.rows[0]):
            return "flagged"
        br = self.session.analysis.row((f.data.get("better_response") or {}).get("example"))
        return "its response fits this prompt better" if row == br else "its prompt fits this response better"

    def detail_html(self, f):
        ws = self.session.ws
        r = int(f.rows[0])

        def cell(title, text):
            t = html.escape(str(text or ""))[:1500].replace("\n", "<br>")
            return f"<td valign='top' width='50%'><b>{title}</b><br>{t}</td>"

        out = (f"<p>{self.link(r)}</p><p>{html.escape(f.title)}</p><table cellspacing=6 width='100%'><tr>"
               f"{cell('Prompt', ws.prompt[r])}{cell('Response', ws.response[r])}</tr></table>")
        br = self.session.analysis.row((f.data.get("better_response") or {}).get("example"))
        if br >= 0:
            out += (f"<p>A response that fits this prompt better: {self.link(br)}<br>"
                    f"<i>{html.escape(' '.join(str(ws.response[br]).split())[:300])}</i></p>")
        return out

    def reject_current_finding(self):
        for f in self.selected()[:1]:
            self.review_act(f, "reject", int(f.rows[0]))

    def edit_current(self):
        for f in self.selected()[:1]:
            self.review_act(f, "edit", int(f.rows[0]))

    def update_buttons(self):
        if not hasattr(self, "edit_btn"):
            return
        chosen = self.selected() if self.session.ws is not None else []
        self.reject_btn.setEnabled(bool(chosen) and not self.session.ws.rejected[int(chosen[0].rows[0])])
        self.edit_btn.setEnabled(bool(chosen))
        self.review_btn.setEnabled(bool(self.findings))


PANELS = [ClustersPanel, DuplicatesPanel, ConflictsPanel, MismatchPanel, GapsPanel, QueuePanel, LeakagePanel,
          FlagsPanel]


def make_panels(session, win) -> list[FindingPanel]:
    panels = []
    for cls in PANELS:
        p = cls(session)
        p.setObjectName(cls.__name__[0].lower() + cls.__name__[1:])
        p.sig_zoom.connect(win.map.zoom_to)
        if hasattr(p, "sig_colour"):
            p.sig_colour.connect(win.set_colour_by)
        p.sig_review.connect(win.show_review)
        p.sig_open_review.connect(win.open_review)
        p.sig_edit.connect(win.edit_example)
        panels.append(p)
    return panels
