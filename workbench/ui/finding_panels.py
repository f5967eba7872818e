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
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
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
        session.sig_changed.connect(lambda _c: self.on_state_changed())
        self.fill()

    # -- content -------------------------------------------------------------------------------
    def items(self) -> list[Finding]:
        return []

    def cells(self, f: Finding) -> list:
        return [f.title]

    def fill(self) -> None:
        a = self.session.analysis
        self.tree.clear()
        self.detail.clear()
        self.findings = self.items() if a is not None else []
        if a is None:
            self.summary.setText(f"<span style='color:gray'>{EMPTY_HINT.format(what=self.what)}</span>")
        else:
            self.summary.setText(self.summary_text())
        self.tree.setSortingEnabled(False)
        items = []
        for k, f in enumerate(self.findings):
            it = _SortItem([str(v) if not isinstance(v, tuple) else v[0] for v in self.cells(f)])
            for col, v in enumerate(self.cells(f)):
                if isinstance(v, tuple):  # (text, sort value)
                    it.setText(col, v[0])
                    it.setData(col, QtCore.Qt.UserRole, v[1])
                    it.setTextAlignment(col, QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
            it.setData(0, QtCore.Qt.UserRole + 1, k)
            it.setToolTip(0, f.title)
            items.append(it)
        self.tree.addTopLevelItems(items)
        self.tree.setSortingEnabled(True)
        for c in range(len(self.columns)):
            self.tree.resizeColumnToContents(c)
        if self.columns:
            self.tree.setColumnWidth(0, min(self.tree.columnWidth(0), 320))
        self.update_buttons()

    def summary_text(self) -> str:
        return f"{len(self.findings):,} {self.what}"

    def on_state_changed(self) -> None:
        self.update_buttons()

    def update_buttons(self) -> None:
        pass

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
    columns = ["Group", "Size", "Kind", "Scope", "Removable", "Keeper"]

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.reject_one = self.add_button("Reject all but keeper", self.reject_selected_groups,
                                          "Reject the removable members of the selected groups (train/reference "
                                          "copies; eval and production rows are never rejected here)")
        self.reject_all = self.add_button("… in every group", self.reject_every_group,
                                          "Reject all but the keeper in every duplicate group, as one undoable step")
        self.buttons.addStretch(1)
        self.update_buttons()

    def items(self):
        return list(self.session.analysis.duplicates)

    def summary_text(self):
        sec = self.session.analysis.summary.get("duplicates", {}) or {}
        n_rem = sum(len(self.removable(f)) for f in self.findings)
        return (f"<b>{len(self.findings):,} groups</b> of duplicate prompts (cosine ≥ {sec.get('threshold', '?')}); "
                f"{n_rem:,} copies could go. The keeper is the most complete, least flagged member.")

    def cells(self, f):
        d = f.data
        ws = self.session.ws
        keeper = f"{ws.source_names[f.keeper]}:{int(ws.line[f.keeper])}" if f.keeper >= 0 else ""
        rem = len(self.removable(f))
        return [(f.title, int(d.get("group", 0))), (f"{len(f.rows):,}", len(f.rows)), str(d.get("kind", "")),
                str(d.get("scope", "")), (f"{rem:,}", rem), keeper]

    def removable(self, f: Finding) -> np.ndarray:
        """Members that may go (the one rule: workbench.curate.actions.removable_rows)."""
        from workbench.curate.actions import removable_rows

        return removable_rows(self.session.ws, f.rows, f.keeper)

    def current_row(self, f):
        return f.keeper if f.keeper >= 0 else super().current_row(f)

    def detail_html(self, f):
        items = []
        for r in f.rows[:30]:
            mark = " <b>keeper</b>" if r == f.keeper else ""
            items.append(f"<li>{self.link(int(r))}{mark}</li>")
        more = f"<li>… {len(f.rows) - 30:,} more</li>" if len(f.rows) > 30 else ""
        return f"{html.escape(str(f.data.get('reason', '')))}<ul>{''.join(items)}{more}</ul>"

    def update_buttons(self):
        if not hasattr(self, "reject_one"):
            return
        chosen = self.selected() if self.session.ws is not None else []
        self.reject_one.setEnabled(any(len(self.removable(f)) for f in chosen))
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
    columns = ["Example", "Score", "Against", "Reason"]

    def __init__(self, session, parent=None):
        super().__init__(session, parent)
        self.detail.setMaximumHeight(16777215)

    def items(self):
        return list(self.session.analysis.conflicts)

    def summary_text(self):
        return (f"<b>{len(self.findings):,} conflicts</b>: training examples whose near-identical prompts get "
                "diverging responses. The responses are shown side by side below.")

    def cells(self, f):
        ws = self.session.ws
        r = int(f.rows[0]) if len(f.rows) else -1
        ex = " ".join(str(ws.prompt[r]).split())[:80] if r >= 0 else ""
        score = float(f.data.get("score", 0) or 0)
        return [ex, (f"{score:.2f}", score), (str(len(f.rows) - 1), len(f.rows) - 1), f.title]

    def detail_html(self, f):
        ws = self.session.ws
        cells = []
        for r in f.rows[:4]:
            resp = html.escape(str(ws.response[int(r)] or ""))[:1500].replace("\n", "<br>")
            cells.append(f"<td valign='top' width='{100 // min(4, len(f.rows))}%'>{self.link(int(r))}"
                         f"<hr><div>{resp}</div></td>")
        return (f"<p>{html.escape(f.title)}</p><table cellspacing=6 width='100%'><tr>{''.join(cells)}</tr></table>")


class GapsPanel(FindingPanel):
    title = "Coverage gaps"
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
        thr = (sec.get("params") or {}).get("gap_sim", "?")
        return (f"<b>{len(self.findings):,} gaps</b>: production inputs with no training example at cosine ≥ {thr}, "
                f"ranked by how many inputs they affect ({int(sec.get('n_gap_inputs', 0)):,} uncovered inputs). "
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
    title = "Review queue"
    what = "the review queue"
    columns = ["#", "Production input", "Priority", "Gap", "Density"]

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


PANELS = [ClustersPanel, DuplicatesPanel, ConflictsPanel, GapsPanel, QueuePanel, LeakagePanel, FlagsPanel]


def make_panels(session, win) -> list[FindingPanel]:
    panels = []
    for cls in PANELS:
        p = cls(session)
        p.setObjectName(cls.__name__[0].lower() + cls.__name__[1:])
        p.sig_zoom.connect(win.map.zoom_to)
        if hasattr(p, "sig_colour"):
            p.sig_colour.connect(win.set_colour_by)
        panels.append(p)
    return panels
