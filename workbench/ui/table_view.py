"""The table: every example as a row (virtualised: only visible cells are ever computed).

The model maps view positions to workspace rows through one ``int64`` array, so sorting and
filtering a million rows is an ``argsort`` and a mask, never a million Python objects. Columns
come from the workspace (source, line, role, prompt, response, state, tags, weight, extra
fields such as ``label``) and, once analysed, from the analysis (cluster, flags, duplicate
group, nearest-train similarity, inconsistency). A "find similar" search adds a similarity
column and shows the closest examples first.

Selection is the shared :class:`~workbench.ui.selection.SelectionModel`: rows selected here
select on the map and in the panels; rows selected elsewhere are highlighted here (and mirrored
into Qt's own selection when there are not too many to mirror cheaply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

# Qt's item selection costs O(rows x columns) Python calls to set or clear (16 s for 1M rows), so
# only selections up to this size are mirrored into it; bigger ones are shown by row colour only
MIRROR_LIMIT = 5_000
SYNC_FILTER_LIMIT = 50_000  # filter on the GUI thread below this many rows, else in a worker
PREVIEW = 240


def _one_line(text: str, n: int = PREVIEW) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


@dataclass
class Column:
    key: str
    title: str
    text: Callable[[int], str]
    sort_key: Callable[[], np.ndarray]
    numeric: bool = False
    width: int = 90
    tip: str = ""


def _str_key(values, n=48) -> np.ndarray:
    return np.array([str(v or "")[:n].lower() for v in values], dtype=f"<U{n}")


def build_columns(session, similarity: np.ndarray | None = None) -> list[Column]:
    ws, a = session.ws, session.analysis
    if ws is None:
        return []
    cols: list[Column] = []
    if similarity is not None:
        cols.append(Column("similarity", "Similarity", lambda i: f"{similarity[i]:.3f}" if np.isfinite(similarity[i]) else "",
                           lambda: np.nan_to_num(-similarity, nan=np.inf), True, 80,
                           "Cosine similarity to the search query"))
    cols += [
        Column("source", "Source", lambda i: str(ws.source_names[i]), lambda: _str_key(ws.source_names), width=150),
        Column("line", "Line", lambda i: str(int(ws.line[i])), lambda: np.asarray(ws.line), True, 60),
        Column("role", "Role", lambda i: str(ws.role[i]), lambda: _str_key(ws.role), width=80),
        Column("prompt", "Prompt", lambda i: _one_line(ws.prompt[i]), lambda: _str_key(ws.prompt), width=380),
        Column("response", "Response", lambda i: _one_line(ws.response[i]), lambda: _str_key(ws.response), width=260),
    ]
    if a is not None:
        labels = a.cluster_labels
        cols += [
            Column("cluster", "Cluster", lambda i: (labels.get(int(a.cluster[i]), str(int(a.cluster[i])))
                                                     if a.cluster[i] >= 0 else "noise"),
                   lambda: np.asarray(a.cluster), width=170),
            Column("flags", "Flags", lambda i: ", ".join(a.flags[i]), lambda: _str_key([",".join(f) for f in a.flags]),
                   width=150),
            Column("dup", "Dup. group", lambda i: str(int(a.dup_group[i])) if a.dup_group[i] >= 0 else "",
                   lambda: np.where(a.dup_group >= 0, a.dup_group, np.iinfo(np.int64).max), True, 70),
            Column("nts", "Nearest train", lambda i: _f(a.nearest_train_sim[i]),
                   lambda: np.nan_to_num(a.nearest_train_sim, nan=np.inf), True, 90,
                   "Cosine similarity of this input to the closest training example (low = coverage gap)"),
            Column("incons", "Inconsistency", lambda i: _f(a.inconsistency[i]),
                   lambda: np.nan_to_num(-a.inconsistency, nan=np.inf), True, 90,
                   "How much this example's response disagrees with similar prompts' responses"),
        ]
    cols += [
        Column("state", "State", lambda i: _state_text(ws, i),
               lambda: np.asarray(ws.rejected, np.int8) * 2 + np.asarray(ws.edited, np.int8), width=120),
        Column("tags", "Tags", lambda i: ", ".join(sorted(ws.tags[i])), lambda: _str_key([",".join(sorted(t)) for t in ws.tags]),
               width=100),
        Column("weight", "Weight", lambda i: f"{ws.weight[i]:g}", lambda: np.asarray(ws.weight), True, 60),
    ]
    for name in sorted(ws.extra):
        values = ws.extra[name]
        cols.append(Column(f"extra:{name}", name, lambda i, v=values: "" if v[i] is None else _one_line(str(v[i]), 80),
                           lambda v=values: _str_key(v), width=120))
    return cols


def _f(v) -> str:
    return f"{v:.3f}" if np.isfinite(v) else ""


def _state_text(ws, i: int) -> str:
    parts = []
    if ws.rejected[i]:
        reason = ws.reject_reason(i) if hasattr(ws, "reject_reason") else None
        parts.append(f"rejected: {reason}" if reason else "rejected")
    if ws.edited[i]:
        parts.append("edited")
    if int(ws.source_id[i]) == 0:
        parts.append("added")
    return ", ".join(parts)


def filter_mask(texts_a: list[str], texts_b: list[str], pattern: str, regex: bool) -> np.ndarray:
    """Rows whose prompt or response contains ``pattern`` (case-insensitive; regex optional)."""
    n = len(texts_a)
    if not pattern:
        return np.ones(n, bool)
    if regex:
        rx = re.compile(pattern, re.IGNORECASE)
        return np.fromiter(((rx.search(a or "") is not None) or (rx.search(b or "") is not None)
                            for a, b in zip(texts_a, texts_b)), bool, count=n)
    p = pattern.casefold()
    return np.fromiter(((p in (a or "").casefold()) or (p in (b or "").casefold())
                        for a, b in zip(texts_a, texts_b)), bool, count=n)


def _filter_job(prompts, responses, pattern, regex, *, progress=None, cancel=None):
    return filter_mask(prompts, responses, pattern, regex)


class ExamplesModel(QtCore.QAbstractTableModel):
    """View positions -> workspace rows; cells computed on demand."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.columns: list[Column] = []
        self.rows = np.zeros(0, np.int64)  # view position -> workspace row
        self._pos: np.ndarray | None = None  # workspace row -> view position (-1 hidden)
        self.similarity: np.ndarray | None = None
        self._sort: tuple[int, QtCore.Qt.SortOrder] | None = None
        self._muted = QtGui.QColor(QtWidgets.QApplication.palette().color(QtGui.QPalette.PlaceholderText))
        self._sel_brush = QtGui.QColor(QtWidgets.QApplication.palette().color(QtGui.QPalette.Highlight))
        self._sel_brush.setAlpha(70)

    # -- content -------------------------------------------------------------------------------
    def rebuild(self, rows: np.ndarray | None = None) -> None:
        self.beginResetModel()
        self.columns = build_columns(self.session, self.similarity)
        n = self.session.ws.n if self.session.ws is not None else 0
        self.rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        self._pos = None
        if self._sort is not None:
            self._apply_sort(*self._sort)
        self.endResetModel()

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.rows = np.asarray(rows, np.int64)
        self._pos = None
        if self._sort is not None:
            self._apply_sort(*self._sort)
        self.endResetModel()

    def refresh_all(self) -> None:
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def position_of(self) -> np.ndarray:
        """Workspace row -> view position (-1 when filtered out)."""
        if self._pos is None:
            n = self.session.ws.n if self.session.ws is not None else 0
            pos = np.full(n, -1, np.int64)
            valid = self.rows[self.rows < n]
            pos[valid] = np.flatnonzero(self.rows < n)
            self._pos = pos
        return self._pos

    def column_index(self, key: str) -> int:
        for i, c in enumerate(self.columns):
            if c.key == key:
                return i
        return -1

    # -- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=QtCore.Qt.DisplayRole):
        if orientation == QtCore.Qt.Horizontal and 0 <= section < len(self.columns):
            if role == QtCore.Qt.DisplayRole:
                return self.columns[section].title
            if role == QtCore.Qt.ToolTipRole:
                return self.columns[section].tip or None
        return None

    _ROLES = frozenset({QtCore.Qt.DisplayRole, QtCore.Qt.ToolTipRole, QtCore.Qt.ForegroundRole,
                        QtCore.Qt.FontRole, QtCore.Qt.BackgroundRole, QtCore.Qt.TextAlignmentRole})

    def data(self, index, role=QtCore.Qt.DisplayRole):
        if role not in self._ROLES or not index.isValid():  # called for every cell and role: be quick
            return None
        ws = self.session.ws
        row = int(self.rows[index.row()])
        if ws is None or row >= ws.n:
            return None
        if role == QtCore.Qt.DisplayRole:
            return self.columns[index.column()].text(row)
        if role == QtCore.Qt.BackgroundRole:
            sel = self.session.selection
            return self._sel_brush if len(sel) and sel.mask()[row] else None
        if role == QtCore.Qt.ForegroundRole:
            return self._muted if ws.rejected[row] else None
        col = self.columns[index.column()]
        if role == QtCore.Qt.TextAlignmentRole:
            return int(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter) if col.numeric else None
        if role == QtCore.Qt.FontRole:
            if ws.rejected[row] and col.key == "prompt":
                f = QtGui.QFont()
                f.setStrikeOut(True)
                return f
            return None
        if role == QtCore.Qt.ToolTipRole and col.key in ("prompt", "response"):
            text = ws.prompt[row] if col.key == "prompt" else ws.response[row]
            return (text or "")[:1500]
        return None

    def sort(self, column: int, order=QtCore.Qt.AscendingOrder) -> None:
        if not (0 <= column < len(self.columns)):
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (self.columns[column].key, order)
        self._apply_sort(*self._sort)
        self.layoutChanged.emit()

    def _apply_sort(self, key: str, order) -> None:
        idx = self.column_index(key)
        if idx < 0 or not len(self.rows):
            return
        keys = self.columns[idx].sort_key()[self.rows]
        perm = np.argsort(keys, kind="stable")
        if order == QtCore.Qt.DescendingOrder:
            perm = perm[::-1]
        self.rows = self.rows[perm]
        self._pos = None


STATES = (("kept", "Kept (not rejected)"), ("rejected", "Rejected"), ("edited", "Edited"),
          ("added", "Added (promoted or new)"))
ROLES = ("train", "production", "eval", "reference")


def filter_rows_mask(ws, analysis, chosen: dict[str, set], selection_mask: np.ndarray | None = None) -> np.ndarray:
    """Rows that pass the chosen filters: within a kind any choice (or), across kinds all (and).

    ``chosen`` maps "role", "state", "tag", "flag", "cluster" to sets of values (empty = no
    filter of that kind); ``selection_mask`` (when given) keeps only the selected rows.
    """
    n = ws.n
    mask = np.ones(n, bool)
    if chosen.get("role"):
        mask &= np.isin(np.asarray(ws.role, dtype=object), list(chosen["role"]))
    if chosen.get("state"):
        rejected = np.asarray(ws.rejected, bool)
        edited = np.asarray(ws.edited, bool)
        added = np.asarray(ws.source_id) == 0
        m = np.zeros(n, bool)
        for st, v in (("kept", ~rejected), ("rejected", rejected), ("edited", edited), ("added", added)):
            if st in chosen["state"]:
                m |= v
        mask &= m
    if chosen.get("tag"):
        want = set(chosen["tag"])
        mask &= np.fromiter((bool(want & set(t)) for t in ws.tags), bool, count=n)
    if analysis is not None and chosen.get("flag"):
        want = set(chosen["flag"])
        flags = analysis.flags
        mask &= np.fromiter((bool(want & set(flags[i])) if i < len(flags) else False for i in range(n)),
                            bool, count=n)
    if analysis is not None and chosen.get("cluster"):
        cl = np.asarray(analysis.cluster)
        m = np.zeros(n, bool)
        m[: len(cl)] = np.isin(cl[:n], list(chosen["cluster"]))
        mask &= m
    if selection_mask is not None and len(selection_mask) == n:
        mask &= selection_mask
    return mask


class FilterMenu(QtWidgets.QMenu):
    """The table's filters as one menu of checkable choices (stays open while you tick)."""

    sig_changed = QtCore.Signal()
    KINDS = ("role", "state", "tag", "flag", "cluster")

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("tableFilterMenu")
        self.session = session
        self.chosen: dict[str, set] = {k: set() for k in self.KINDS}
        self.only_selected = False
        self.aboutToShow.connect(self._build)

    def set_choice(self, kind: str, value, on: bool = True) -> None:
        (self.chosen[kind].add if on else self.chosen[kind].discard)(value)
        self.sig_changed.emit()

    def set_only_selected(self, on: bool) -> None:
        self.only_selected = bool(on)
        self.sig_changed.emit()

    def clear_all(self) -> None:
        for v in self.chosen.values():
            v.clear()
        self.only_selected = False
        self.sig_changed.emit()

    def mask(self) -> np.ndarray:
        ws = self.session.ws
        if ws is None:
            return np.zeros(0, bool)
        sel = self.session.selection.mask() if self.only_selected else None
        return filter_rows_mask(ws, self.session.analysis, self.chosen, sel)

    def active_text(self) -> str:
        a = self.session.analysis
        parts = []
        for kind in self.KINDS:
            vals = self.chosen[kind]
            if not vals:
                continue
            if kind == "cluster" and a is not None:
                names = [a.cluster_labels.get(int(c), str(c)) for c in sorted(vals)]
            else:
                names = sorted(str(v) for v in vals)
            parts.append(" or ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else ""))
        if self.only_selected:
            parts.append("selected")
        return " · ".join(parts)

    def _add(self, menu, kind: str, value, text: str) -> None:
        act = menu.addAction(text)
        act.setCheckable(True)
        act.setChecked(value in self.chosen[kind])
        act.toggled.connect(lambda on, k=kind, v=value: self.set_choice(k, v, on))

    def _build(self) -> None:
        self.clear()
        ws, a = self.session.ws, self.session.analysis
        clear = self.addAction("Clear all filters")
        clear.triggered.connect(self.clear_all)
        sel = self.addAction("Only the selected examples")
        sel.setCheckable(True)
        sel.setChecked(self.only_selected)
        sel.toggled.connect(self.set_only_selected)
        if ws is None:
            return
        self.addSection("Role")
        for r in ROLES:
            self._add(self, "role", r, r)
        self.addSection("State")
        for key, text in STATES:
            self._add(self, "state", key, text)
        tags = sorted({t for ts in ws.tags for t in ts})
        m = self.addMenu(f"Tag ({len(tags)})")
        m.setEnabled(bool(tags))
        for t in tags:
            self._add(m, "tag", t, t)
        if a is not None:
            m = self.addMenu(f"Flag ({len(a.flag_counts)})")
            m.setEnabled(bool(a.flag_counts))
            for name, count in sorted(a.flag_counts.items(), key=lambda kv: -kv[1]):
                self._add(m, "flag", name, f"{name}  ({count:,})")
            m = self.addMenu(f"Cluster ({len(a.clusters)})")
            for f in sorted(a.clusters, key=lambda f: -len(f.rows)):
                cid = int(f.data.get("id", f.data.get("cluster", -1)))
                self._add(m, "cluster", cid, f"{f.title}  ({len(f.rows):,})")
            self._add(m, "cluster", -1, "no cluster (noise)")


class ExamplesView(QtWidgets.QTableView):
    """The table view; Select All goes to the shared selection (fast at any size), not Qt's."""

    sig_select_all = QtCore.Signal()

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        if ev.matches(QtGui.QKeySequence.SelectAll):
            ev.accept()
            self.sig_select_all.emit()
            return
        super().keyPressEvent(ev)


class ExamplesTable(QtWidgets.QWidget):
    """Search bar + table of examples, linked to the shared selection."""

    sig_activate = QtCore.Signal(int)  # a row was double-clicked / Enter: open it

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("examplesTable")
        self.session = session
        self.model = ExamplesModel(session, self)
        self._filter_mask: np.ndarray | None = None
        self._syncing = False
        self._build()
        session.sig_workspace.connect(self._on_workspace)
        session.sig_analysis.connect(self._on_analysis)
        session.sig_changed.connect(self._on_changed)
        session.selection.sig_changed.connect(self._on_selection)
        session.selection.sig_current_changed.connect(self._on_current)
        session.jobs["filter"].sig_finished.connect(self._on_filtered)

    def _build(self) -> None:
        self.search = QtWidgets.QLineEdit()
        self.search.setObjectName("tableSearch")
        self.search.setPlaceholderText("Filter by keyword…   (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(120)
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(["Keyword", "Regex", "Meaning"])
        self.mode.setToolTip("Keyword/Regex: filter prompts and responses. Meaning: press Enter to "
                             "find the examples closest in meaning to what you typed.")
        self.filters = FilterMenu(self.session, self)
        self.filters.sig_changed.connect(self._apply_filters)
        self.filter_btn = QtWidgets.QToolButton()
        self.filter_btn.setObjectName("tableFilters")
        self.filter_btn.setText("Filter")
        self.filter_btn.setPopupMode(QtWidgets.QToolButton.InstantPopup)
        self.filter_btn.setMenu(self.filters)
        self.filter_btn.setToolTip("Show only some examples: by role, state, tag, flag or cluster, and the "
                                   "selection. Filters of different kinds combine (and) with each other and "
                                   "with the search; several choices of one kind add up (or).")
        self.similar_btn = QtWidgets.QPushButton("Similar")
        self.similar_btn.setToolTip("Show the examples closest in meaning to the example you are looking at")
        self.count = QtWidgets.QLabel()
        self.count.setMinimumWidth(60)
        self.count.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.count.setAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 4, 4, 2)
        bar.addWidget(self.search, 3)
        bar.addWidget(self.mode)
        bar.addWidget(self.filter_btn)
        bar.addWidget(self.similar_btn)
        bar.addWidget(self.count, 1)
        self.view = ExamplesView()
        self.view.sig_select_all.connect(self.select_all_shown)
        self.view.setObjectName("examplesView")
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicator(-1, QtCore.Qt.AscendingOrder)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.setHorizontalScrollMode(QtWidgets.QAbstractItemView.ScrollPerPixel)
        vh = self.view.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QtWidgets.QHeaderView.Fixed)  # uniform rows: 1M rows scroll smoothly
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.view.horizontalHeader().setHighlightSections(False)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection)
        self.view.doubleClicked.connect(lambda idx: self.sig_activate.emit(int(self.model.rows[idx.row()])))
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.view)
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self._run_filter)
        self.search.textChanged.connect(self._on_text)
        self.search.returnPressed.connect(self._on_return)
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.similar_btn.clicked.connect(self.similar_to_current)
        self._update_count()

    # -- session events ------------------------------------------------------------------------
    def _on_workspace(self) -> None:
        queried = self.model.similarity is not None
        self.model.similarity = None
        self._filter_mask = None
        self.model.rebuild()
        self._size_columns()
        self._search_again(queried)

    def _search_again(self, queried: bool) -> None:
        """The rows changed: what the search box says applies to the new rows (a keyword/regex
        filter runs again, a meaning query that was shown is asked again) instead of the list
        silently showing everything under the old text."""
        text = self.search.text().strip()
        if text and self.mode.currentIndex() < 2:
            self._run_filter()
            return
        self.model.similarity = None
        self._apply_filters()
        if text and queried and self.mode.currentIndex() == 2 and self.session.ws is not None:
            self.similar_to_text(text)

    def _on_analysis(self) -> None:
        keep = self.model.rows.copy()
        self.model.rebuild(keep)
        self._size_columns()

    def _on_changed(self, change) -> None:
        if change.structural:
            queried = self.model.similarity is not None
            self._filter_mask = None
            self.model.rebuild()
            self._search_again(queried)
        else:
            self.model.refresh_all()
        self._update_count()

    def _size_columns(self) -> None:
        for i, c in enumerate(self.model.columns):
            self.view.setColumnWidth(i, c.width)

    # -- filtering -----------------------------------------------------------------------------
    def _on_text(self, _text: str) -> None:
        if self.mode.currentIndex() < 2:
            self._debounce.start()

    def _on_return(self) -> None:
        if self.mode.currentIndex() == 2:
            self.similar_to_text(self.search.text())
        else:
            self._debounce.stop()
            self._run_filter()

    def _on_mode(self, i: int) -> None:
        self.search.setPlaceholderText(
            ["Filter by keyword…   (Ctrl+F)", "Filter by regular expression…", "Describe what you look for, then Enter…"][i])
        if i < 2:
            self.model.similarity = None
            self._run_filter()
        else:  # the text is now a query, not a filter: a keyword mask typed before must not hide its hits
            self._debounce.stop()
            self._filter_mask = None
            self._apply_filters()
            if self.search.text().strip():
                self.similar_to_text(self.search.text())

    def _run_filter(self) -> None:
        ws = self.session.ws
        if ws is None:
            return
        text = self.search.text().strip()
        regex = self.mode.currentIndex() == 1
        if regex and text:
            try:
                re.compile(text)
            except re.error as exc:
                self.count.setText(f"bad pattern: {exc.msg}")
                return
        if not text:
            self._filter_mask = None
            self._apply_filters()
        elif ws.n <= SYNC_FILTER_LIMIT:
            self._filter_mask = filter_mask(ws.prompt, ws.response, text, regex)
            self._apply_filters()
        else:
            self.count.setText("filtering…")
            self.session.jobs["filter"].submit(_filter_job, list(ws.prompt), list(ws.response), text, regex,
                                               tag=ws.n, label="Filtering")

    def _on_filtered(self, mask, tag) -> None:
        if self.session.ws is not None and tag == self.session.ws.n:
            self._filter_mask = mask
            self._apply_filters()

    def _apply_filters(self) -> None:
        ws = self.session.ws
        if ws is None:
            self.model.set_rows(np.zeros(0, np.int64))
            self._update_count()
            return
        n = ws.n
        mask = np.ones(n, bool) if self._filter_mask is None or len(self._filter_mask) != n else self._filter_mask.copy()
        mask &= self.filters.mask()
        active = self.filters.active_text()
        self.filter_btn.setText(f"Filter: {active}" if active else "Filter")
        self.filter_btn.setToolTip(self.filter_btn.toolTip().split("\n\nNow: ")[0]
                                   + (f"\n\nNow: {active}" if active else ""))
        sim = self.model.similarity
        if sim is not None and len(sim) == n:
            mask &= np.isfinite(sim)
            rows = np.flatnonzero(mask)
            rows = rows[np.argsort(-sim[rows], kind="stable")]
            self.model._sort = None
            self.view.horizontalHeader().setSortIndicator(-1, QtCore.Qt.AscendingOrder)
        else:
            rows = np.flatnonzero(mask)
        self.model.set_rows(rows)
        self._sync_from_selection()
        self._update_count()

    def _update_count(self) -> None:
        ws = self.session.ws
        total = ws.n if ws is not None else 0
        shown = self.model.rowCount()
        self.count.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,} examples")
        self.count.setToolTip(self.count.text())

    # -- find similar --------------------------------------------------------------------------
    def show_similarity(self, sims: np.ndarray, top: int = 500) -> None:
        """Show the ``top`` most similar examples, closest first, with a similarity column."""
        sims = np.asarray(sims, np.float32)
        keep = np.full(len(sims), np.nan, np.float32)
        if len(sims):
            k = min(top, len(sims))
            best = np.argpartition(-sims, k - 1)[:k]
            keep[best] = sims[best]
        self.model.similarity = keep
        self.model.rebuild()
        self._size_columns()
        self._apply_filters()
        self.view.scrollToTop()

    def similar_to_current(self) -> None:
        row = self.session.selection.current
        if row < 0:
            self.count.setText("select an example first")
            return
        self.session.find_similar(row=row, callback=self.show_similarity)

    def similar_to_text(self, text: str) -> None:
        if text.strip():
            self.count.setText("searching…")
            self.session.find_similar(text=text.strip(), callback=self.show_similarity)

    # -- selection -----------------------------------------------------------------------------
    def _on_view_selection(self, *_):
        if self._syncing:
            return
        # read the selection as ranges (Ctrl+A on a million rows is one range, not 1M indexes)
        ranges = self.view.selectionModel().selection()
        parts = [np.arange(r.top(), r.bottom() + 1) for r in ranges]
        pos = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        rows = self.model.rows[pos[pos < len(self.model.rows)]]
        cur = self.view.currentIndex()
        current = int(self.model.rows[cur.row()]) if cur.isValid() and cur.row() < len(self.model.rows) else None
        if current is not None and not np.isin(current, rows):
            current = None
        self.session.selection.set(rows, origin="table", current=current)

    def _on_selection(self, origin: str) -> None:
        if self.filters.only_selected and origin != "table":
            self._apply_filters()
            return
        if origin != "table":
            self._sync_from_selection()
        self.model.refresh_all()

    def _sync_from_selection(self) -> None:
        """Mirror the shared selection into the view's item selection (when affordable)."""
        sel_rows = self.session.selection.rows
        sm = self.view.selectionModel()
        self._syncing = True
        try:
            if not len(sel_rows) or len(sel_rows) > MIRROR_LIMIT:
                sm.clearSelection()
                return
            pos = self.model.position_of()
            p = np.sort(pos[sel_rows[sel_rows < len(pos)]])
            p = p[p >= 0]
            selection = QtCore.QItemSelection()
            if len(p):
                breaks = np.flatnonzero(np.diff(p) != 1)
                starts = np.concatenate([[p[0]], p[breaks + 1]])
                ends = np.concatenate([p[breaks], [p[-1]]])
                last_col = max(0, self.model.columnCount() - 1)
                for s, e in zip(starts, ends):
                    selection.select(self.model.index(int(s), 0), self.model.index(int(e), last_col))
            sm.select(selection, QtCore.QItemSelectionModel.ClearAndSelect | QtCore.QItemSelectionModel.Rows)
        finally:
            self._syncing = False

    def _on_current(self, row: int, origin: str) -> None:
        if origin == "table" or row < 0:
            return
        pos = self.model.position_of()
        if row < len(pos) and pos[row] >= 0:
            idx = self.model.index(int(pos[row]), 0)
            self._syncing = True
            try:
                self.view.selectionModel().setCurrentIndex(idx, QtCore.QItemSelectionModel.NoUpdate)
            finally:
                self._syncing = False
            self.view.scrollTo(idx, QtWidgets.QAbstractItemView.PositionAtCenter)

    def select_all_shown(self) -> None:
        """Select every row the table shows (after filters), in the shared selection."""
        self.session.selection.set(self.model.rows, origin="table-all")

    def step(self, delta: int) -> None:
        """Open the next (+1) / previous (-1) row of the table after the open example."""
        rows = self.model.rows
        if not len(rows):
            return
        cur = self.session.selection.current
        pos = np.flatnonzero(rows == cur)
        i = int(pos[0]) + delta if len(pos) else (0 if delta > 0 else len(rows) - 1)
        i = max(0, min(len(rows) - 1, i))
        row = int(rows[i])
        self.session.selection.set([row], origin="table", current=row)
        self.view.scrollTo(self.model.index(i, 0))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()
