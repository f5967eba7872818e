"""The Review tab: one finding's members side by side at full width, differences highlighted.

Selecting a duplicate group, a conflict or a leak in its panel shows its members here as
columns: where each comes from, its prompt and its response, with the words that differ from the
reference member (the keeper of a duplicate group, the flagged example of a conflict) marked by a
word-level :mod:`difflib` diff. Each column carries the actions a curator takes on that member
("Keep this one", "Canonical answer", Reject / Restore, Edit); J / K step through the findings.
The view redraws after every action, so what it shows is never stale.
"""

from __future__ import annotations

import difflib
import html
import re

from PySide6 import QtCore, QtWidgets

from workbench.ui import theme

_WORD = re.compile(r"\s+|[^\s\w]|\w+")
MAX_COLUMNS = 12
MAX_CHARS = 4000


def diff_html(reference: str, text: str) -> str:
    """``text`` as HTML with the words not in ``reference`` highlighted and the ones missing from it
    struck through (word-level difflib)."""
    a, b = _WORD.findall(reference or ""), _WORD.findall(text or "")
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    add = "background:#fde68a;color:#000" if not theme.is_dark() else "background:#7c5e10;color:#fff"
    out = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(html.escape("".join(b[j1:j2])))
            continue
        if op in ("delete", "replace") and "".join(a[i1:i2]).strip():
            out.append(f"<s style='color:#b91c1c'>{html.escape(''.join(a[i1:i2]))}</s>")
        if op in ("insert", "replace"):
            out.append(f"<span style='{add}'>{html.escape(''.join(b[j1:j2]))}</span>")
    return "".join(out).replace("\n", "<br>")


def plain_html(text: str) -> str:
    return html.escape(text or "").replace("\n", "<br>")


class _Column(QtWidgets.QFrame):
    """One member: header, prompt, response, actions."""

    def __init__(self, view: "ReviewView", row: int, ref_row: int, role_in_finding: str):
        super().__init__()
        self.setObjectName("reviewColumn")
        self.setFrameShape(QtWidgets.QFrame.StyledPanel)
        self.view, self.row = view, row
        s = view.session
        ws = s.ws
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        head = QtWidgets.QLabel()
        head.setTextFormat(QtCore.Qt.RichText)
        head.setWordWrap(True)
        badges = []
        if role_in_finding:
            badges.append(f"<b style='color:#2563eb'>{html.escape(role_in_finding)}</b>")
        if ws.rejected[row]:
            reason = ws.reject_reason(row)
            badges.append("<b style='color:#d62728'>rejected</b>" + (f": {html.escape(reason)}" if reason else ""))
        if ws.edited[row]:
            badges.append("<b>edited</b>")
        head.setText(f"<b>{html.escape(str(ws.source_names[row]))}:{int(ws.line[row])}</b> · "
                     f"{html.escape(str(ws.role[row]))}" + ("<br>" + " · ".join(badges) if badges else ""))
        lay.addWidget(head)
        bar = QtWidgets.QHBoxLayout()
        bar.setSpacing(4)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for key, text, tip in view.column_actions(row):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, k=key: view.act(k, self.row))
            bar.addWidget(b)
            self.buttons[key] = b
        bar.addStretch(1)
        lay.addLayout(bar)
        same_prompt = row == ref_row
        for title, text, ref in (("Prompt", ws.prompt[row], ws.prompt[ref_row]),
                                 ("Response", ws.response[row], ws.response[ref_row])):
            lab = QtWidgets.QLabel(f"<b>{title}</b>")
            lay.addWidget(lab)
            box = QtWidgets.QTextBrowser()
            box.setObjectName(f"review{title}")
            body = str(text or "")[:MAX_CHARS]
            plain = same_prompt or not getattr(view.panel, "review_diff", True)
            box.setHtml(plain_html(body) if plain else diff_html(str(ref or "")[:MAX_CHARS], body))
            if title == "Prompt":  # as tall as the prompt needs (up to a third), the rest for the response
                per_line = max(20, (view.column_width - 30) // max(6, box.fontMetrics().averageCharWidth()))
                lines = sum(1 + len(part) // per_line for part in body.split("\n"))
                box.setMaximumHeight(int(min(180, max(36, lines * box.fontMetrics().lineSpacing() + 14))))
            lay.addWidget(box, 0 if title == "Prompt" else 1)


class ReviewView(QtWidgets.QWidget):
    """Full-width view of the finding selected in a panel (see module docstring)."""

    sig_step = QtCore.Signal(int)  # next (+1) / previous (-1) finding
    sig_wide = QtCore.Signal(bool)  # hide / show the side panels

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("reviewView")
        self.session = session
        self.panel = None
        self.finding = None
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        top = QtWidgets.QHBoxLayout()
        self.title = QtWidgets.QLabel()
        self.title.setTextFormat(QtCore.Qt.RichText)
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        top.addWidget(self.title, 1)
        self.prev_btn = QtWidgets.QPushButton("◀ Previous")
        self.prev_btn.setToolTip("Previous finding (K)")
        self.next_btn = QtWidgets.QPushButton("Next ▶")
        self.next_btn.setToolTip("Next finding (J)")
        self.prev_btn.clicked.connect(lambda: self.sig_step.emit(-1))
        self.next_btn.clicked.connect(lambda: self.sig_step.emit(+1))
        self.wide_btn = QtWidgets.QPushButton("Wide")
        self.wide_btn.setCheckable(True)
        self.wide_btn.setToolTip("Hide the side panels to give the members the whole window width (again to "
                                 "bring them back)")
        self.wide_btn.toggled.connect(self.sig_wide.emit)
        top.addWidget(self.prev_btn)
        top.addWidget(self.next_btn)
        top.addWidget(self.wide_btn)
        lay.addLayout(top)
        self.reason = QtWidgets.QLabel()
        self.reason.setWordWrap(True)
        self.reason.setTextFormat(QtCore.Qt.RichText)
        self.reason.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        lay.addWidget(self.reason)
        self.group_bar = QtWidgets.QHBoxLayout()
        lay.addLayout(self.group_bar)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.holder = QtWidgets.QWidget()
        self.cols = QtWidgets.QHBoxLayout(self.holder)
        self.cols.setContentsMargins(0, 0, 0, 0)
        self.scroll.setWidget(self.holder)
        lay.addWidget(self.scroll, 1)
        self.empty = QtWidgets.QLabel("Select a duplicate group, a conflict or a leak in its panel (on the left) to "
                                      "review its members side by side here.\nJ / K: next / previous finding.")
        self.empty.setAlignment(QtCore.Qt.AlignCenter)
        self.empty.setWordWrap(True)
        lay.addWidget(self.empty)
        self.columns: list[_Column] = []
        self.column_width = 300
        session.sig_changed.connect(lambda _c: self.refresh())
        session.sig_analysis.connect(self.clear)
        self.clear()

    # -- content ---------------------------------------------------------------------------------
    def clear(self) -> None:
        self.panel = self.finding = None
        self._fill()

    def show_finding(self, panel, finding) -> None:
        self.panel, self.finding = panel, finding
        self._fill()

    def refresh(self) -> None:
        if self.session.ws is None:
            self.clear()
            return
        self._fill()

    @property
    def kind(self) -> str:
        return getattr(self.panel, "review_kind", "") if self.panel is not None else ""

    def reference_row(self) -> int:
        f = self.finding
        if f is None or not len(f.rows):
            return -1
        return int(f.keeper) if f.keeper is not None and f.keeper >= 0 else int(f.rows[0])

    def _fill(self) -> None:
        for c in self.columns:
            c.hide()
            c.deleteLater()
        self.columns = []
        while self.cols.count():
            self.cols.takeAt(0)
        while self.group_bar.count():
            w = self.group_bar.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.deleteLater()
        f, ws = self.finding, self.session.ws
        has = f is not None and ws is not None and len(f.rows) > 0
        self.scroll.setVisible(has)
        self.empty.setVisible(not has)
        self.prev_btn.setEnabled(has)
        self.next_btn.setEnabled(has)
        if not has:
            self.title.setText("<b>Review</b>")
            self.reason.setText("")
            return
        rows = [int(r) for r in f.rows if 0 <= int(r) < ws.n]
        ref = self.reference_row()
        self.title.setText(f"<b>{html.escape(self.panel.display_title(f))}</b> — {len(rows):,} examples"
                           + (f" (showing {MAX_COLUMNS})" if len(rows) > MAX_COLUMNS else ""))
        legend = (" <span style='color:gray'>Highlighted: words that differ from the first column; struck "
                  "through: words it has and this one lacks.</span>" if getattr(self.panel, "review_diff", True) else "")
        self.reason.setText(html.escape(self.panel.review_reason(f)) + legend)
        for key, text, tip in self.panel.review_group_actions(f):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, k=key: self._group_act(k))
            self.group_bar.addWidget(b)
        self.group_bar.addStretch(1)
        order = [ref] + [r for r in rows if r != ref]
        width = max(280, (self.scroll.viewport().width() - 8) // max(1, min(3, len(order))) - 6)
        self.column_width = width
        for r in order[:MAX_COLUMNS]:
            col = _Column(self, r, ref, self.panel.member_role(f, r))
            col.setMinimumWidth(width)
            self.cols.addWidget(col, 1)
            self.columns.append(col)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self.columns:
            width = max(280, (self.scroll.viewport().width() - 8) // max(1, min(3, len(self.columns))) - 6)
            for c in self.columns:
                c.setMinimumWidth(width)

    # -- actions ---------------------------------------------------------------------------------
    def column_actions(self, row: int) -> list[tuple[str, str, str]]:
        return self.panel.review_member_actions(self.finding, row) if self.panel is not None else []

    def act(self, key: str, row: int) -> None:
        if self.panel is not None and self.finding is not None:
            self.panel.review_act(self.finding, key, row)

    def _group_act(self, key: str) -> None:
        if self.panel is not None and self.finding is not None:
            self.panel.review_act(self.finding, key, -1)

