"""The map: every example as a point on the shared 2-D layout.

Mouse: wheel zooms, drag pans (or draws a box / lasso in those modes), click selects the point
under the cursor and opens it, Shift adds to the selection, Alt removes. Keys: P pan, B box,
L lasso, F fit all, Esc clear the selection. Hovering a point shows its prompt.

The widget is generic (arrays in, row indices out); :mod:`workbench.ui.colouring` decides the
colours and the main window wires it to the selection model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from workbench.analysis.cluster_quality import is_mixed_label
from workbench.ui import theme
from workbench.ui.point_cloud import GridIndex, PointCloudItem, points_in_polygon

HOVER_RADIUS_PX = 7.0
MODES = ("pan", "box", "lasso")


@dataclass
class LegendEntry:
    label: str
    colour: str  # "#rrggbb"
    count: int
    key: object = None  # what the colouring uses to find the rows of this entry


def _modifier_mode(mods) -> str:
    if mods & (QtCore.Qt.ShiftModifier | QtCore.Qt.ControlModifier):
        return "add"
    if mods & QtCore.Qt.AltModifier:
        return "remove"
    return "replace"


MAX_LABELS = 60  # cluster names placed at most (the biggest clusters first)


class MapLabel(QtWidgets.QGraphicsSimpleTextItem):
    """A cluster's name on the map: screen-sized text (ignores zoom), centred on its position,
    on a translucent background; cheap to create (a pyqtgraph TextItem costs ~4 ms each)."""

    def __init__(self, text: str, fg: QtGui.QColor, bg: QtGui.QColor, bold: bool, point_size: float,
                 italic: bool = False):
        super().__init__(text)
        f = self.font()
        f.setPointSizeF(point_size)
        f.setBold(bold)
        f.setItalic(italic)
        self.setFont(f)
        self.setBrush(fg)
        self._bg = bg
        self.setFlag(QtWidgets.QGraphicsItem.ItemIgnoresTransformations, True)
        r = super().boundingRect()
        self.setTransform(QtGui.QTransform.fromTranslate(-r.width() / 2, -r.height() / 2))
        self.setZValue(5e4)
        self.setAcceptedMouseButtons(QtCore.Qt.NoButton)
        self.setAcceptHoverEvents(False)

    def paint(self, p, option, widget=None):
        p.setPen(QtCore.Qt.NoPen)
        p.setBrush(self._bg)
        p.drawRoundedRect(super().boundingRect().adjusted(-2, -1, 2, 1), 3, 3)
        super().paint(p, option, widget)


class HoverRing(pg.ScatterPlotItem):
    """The ring around the point under the cursor. It only shows: clicks go through it to the
    map (a plain ScatterPlotItem accepts the click on its own point, so the map never saw it)."""

    def mouseClickEvent(self, ev):
        ev.ignore()

    def mouseDragEvent(self, ev):
        ev.ignore()


class MapViewBox(pg.ViewBox):
    """A ViewBox whose left-drag pans, draws a box or a lasso depending on the mode."""

    sig_region = QtCore.Signal(object, object, str)  # kind ("box"|"lasso"), data (rect or (m,2) poly), mode
    sig_click = QtCore.Signal(float, float, object)  # data x, y, modifiers
    sig_hover = QtCore.Signal(float, float)  # data x, y (nan, nan when leaving)

    def __init__(self):
        super().__init__(enableMenu=False)
        self.setAspectLocked(True)
        self.mode = "pan"
        self._lasso: list[QtCore.QPointF] = []
        pen = QtGui.QPen(theme.selection_outline(), 1.2, QtCore.Qt.DashLine)
        pen.setCosmetic(True)
        self._outline = QtWidgets.QGraphicsPathItem()
        self._outline.setPen(pen)
        self._outline.setBrush(QtGui.QColor(120, 150, 200, 40))
        self._outline.setZValue(1e6)
        self._outline.hide()
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):
        if self.mode == "pan" or ev.button() != QtCore.Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        start = self.mapToView(ev.buttonDownPos())
        here = self.mapToView(ev.pos())
        path = QtGui.QPainterPath()
        if self.mode == "box":
            rect = QtCore.QRectF(start, here).normalized()
            path.addRect(rect)
        else:
            if ev.isStart() or not self._lasso:
                self._lasso = [start]
            self._lasso.append(here)
            path.addPolygon(QtGui.QPolygonF(self._lasso))
            path.closeSubpath()
        self._outline.setPath(path)
        self._outline.show()
        if ev.isFinish():
            self._outline.hide()
            mode = _modifier_mode(ev.modifiers())
            if self.mode == "box":
                self.sig_region.emit("box", QtCore.QRectF(start, here).normalized(), mode)
            else:
                poly = np.array([(p.x(), p.y()) for p in self._lasso], dtype=np.float64)
                self._lasso = []
                self.sig_region.emit("lasso", poly, mode)

    def mouseClickEvent(self, ev):
        if ev.button() == QtCore.Qt.LeftButton:
            ev.accept()
            p = self.mapToView(ev.pos())
            self.sig_click.emit(p.x(), p.y(), ev.modifiers())
        else:
            super().mouseClickEvent(ev)

    def hoverEvent(self, ev):
        if ev.isExit():
            self.sig_hover.emit(float("nan"), float("nan"))
            return
        p = self.mapToView(ev.pos())
        self.sig_hover.emit(p.x(), p.y())


class LegendWidget(QtWidgets.QListWidget):
    """Colour key in the map's corner; clicking an entry selects its examples."""

    sig_activated = QtCore.Signal(object, object)  # LegendEntry, modifiers
    sig_folded = QtCore.Signal()  # folded or unfolded: the map makes room again
    AUTO_FOLD = 12  # more entries than this: folded until the curator unfolds it (names are on the map)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("mapLegend")
        self.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.setFocusPolicy(QtCore.Qt.NoFocus)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAsNeeded)
        self.setUniformItemSizes(True)
        self.setToolTip("Click an entry to select its examples (Shift adds, Alt removes)")
        self._entries: list[LegendEntry] = []
        self.collapsed = False
        self._user_folded: bool | None = None  # the curator's own choice, kept once made
        self._title = ""
        self.itemClicked.connect(self._on_clicked)
        self.restyle()

    def restyle(self) -> None:
        bg = theme.map_background()
        fg = theme.map_foreground()
        self.setStyleSheet(
            f"QListWidget#mapLegend {{ background: rgba({bg.red()},{bg.green()},{bg.blue()},215);"
            f" color: {fg.name()}; border: 1px solid rgba(128,128,128,90); border-radius: 4px; }}"
            "QListWidget#mapLegend::item { padding: 1px 4px; }"
            "QListWidget#mapLegend QScrollBar:vertical { width: 8px; background: transparent; }"
            "QListWidget#mapLegend QScrollBar::handle:vertical { background: rgba(128,128,128,120);"
            " border-radius: 4px; min-height: 24px; }"
            "QListWidget#mapLegend QScrollBar::add-line, QListWidget#mapLegend QScrollBar::sub-line"
            " { height: 0; }")

    def set_entries(self, title: str, entries: list[LegendEntry]) -> None:
        if self._user_folded is None:
            self.collapsed = len(entries) > self.AUTO_FOLD
        self.clear()
        self._entries = list(entries)
        count = f"  ({len(entries)})" if self.collapsed else ""
        head = QtWidgets.QListWidgetItem(("▸ " if self.collapsed else "▾ ") + title + count)
        head.setToolTip("Click to fold or unfold the legend")
        f = head.font()
        f.setBold(True)
        head.setFont(f)
        head.setFlags(QtCore.Qt.ItemIsEnabled)
        head.setForeground(theme.map_foreground())
        self.addItem(head)
        self._title = title
        for e in self._entries:
            it = QtWidgets.QListWidgetItem(theme.swatch_icon(e.colour), f"{e.label}  ({e.count:,})")
            it.setForeground(theme.map_foreground())
            it.setToolTip(f"{e.label}: {e.count:,} examples — click to select them")
            self.addItem(it)
            it.setHidden(self.collapsed)
        self._fit()

    def _fit(self) -> None:
        fm = self.fontMetrics()
        rows = 1 if self.collapsed else self.count()
        shown = range(1) if self.collapsed else range(self.count())
        width = max([fm.horizontalAdvance(self.item(i).text()) for i in shown] + [80]) + 44
        parent_h = self.parentWidget().height() if self.parentWidget() else 600
        height = min(rows * (fm.height() + 4) + 8, max(120, int(parent_h * 0.38)))
        self.setFixedSize(min(width, 300), height)

    def _on_clicked(self, item) -> None:
        if self.row(item) == 0:
            self.collapsed = not self.collapsed
            self._user_folded = self.collapsed
            self.set_entries(self._title, self._entries)
            self.parentWidget() and self.move(self.parentWidget().width() - self.width() - 10, 10)
            self.sig_folded.emit()
            return
        i = self.row(item) - 1
        if 0 <= i < len(self._entries):
            self.sig_activated.emit(self._entries[i], QtWidgets.QApplication.keyboardModifiers())


class MapView(QtWidgets.QWidget):
    """Scatter map of the examples with selection tools, hover preview, legend and overlay."""

    sig_select = QtCore.Signal(object, str)  # rows (int64 array), mode: replace/add/remove
    sig_activate = QtCore.Signal(int)  # a point was clicked: open it
    sig_legend = QtCore.Signal(object, str)  # LegendEntry, mode

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("mapView")
        self.gv = pg.GraphicsView(background=theme.map_background())
        self.vb = MapViewBox()
        self.gv.setCentralItem(self.vb)
        self.points = PointCloudItem()
        self.vb.addItem(self.points)
        self.density = pg.ImageItem()
        self.density.setZValue(-10)
        self.density.hide()
        self.vb.addItem(self.density, ignoreBounds=True)
        self.hover_marker = HoverRing(size=14, pen=pg.mkPen(theme.selection_outline(), width=2),
                                               brush=None, pxMode=True)
        self.hover_marker.setZValue(1e5)
        self.hover_marker.setAcceptedMouseButtons(QtCore.Qt.NoButton)
        self.vb.addItem(self.hover_marker, ignoreBounds=True)
        self.legend = LegendWidget(self.gv)
        self._labels: list[tuple[float, float, str, int]] = []  # (x, y, text, size) of cluster centres
        self._label_items: list[pg.TextItem] = []
        self.labels_on = True
        self._fitting = False  # True while the view follows "fit everything" (until the user pans/zooms)
        self.vb.sigRangeChanged.connect(lambda *_: self._layout_labels())
        self.vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.empty_label = QtWidgets.QLabel(
            "No map yet.\nRun the analysis (Ctrl+R) to place every example on the map.", self.gv)
        self.empty_label.setAlignment(QtCore.Qt.AlignCenter)
        self.empty_label.setStyleSheet(f"color: {theme.map_foreground().name()}; font-size: 13pt;")
        self.busy = QtWidgets.QFrame(self.gv)  # "computing the map": phase and progress
        self.busy.setObjectName("mapBusy")
        self.busy.setStyleSheet("QFrame#mapBusy { background: rgba(128,128,128,40); border-radius: 6px; }")
        bl = QtWidgets.QVBoxLayout(self.busy)
        self.busy_label = QtWidgets.QLabel()
        self.busy_label.setAlignment(QtCore.Qt.AlignCenter)
        self.busy_label.setWordWrap(True)
        self.busy_label.setStyleSheet(f"color: {theme.map_foreground().name()}; font-size: 11pt;")
        self.busy_bar = QtWidgets.QProgressBar()
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(8)
        bl.addWidget(self.busy_label)
        bl.addWidget(self.busy_bar)
        self.busy.hide()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.gv)
        self._x = np.zeros(0, np.float32)
        self._y = np.zeros(0, np.float32)
        self._grid: GridIndex | None = None
        self._hover_text: Callable[[int], str] | None = None
        self._hover_row = -1
        self._density_wanted = False
        self.vb.sig_region.connect(self._on_region)
        self.vb.sig_click.connect(self._on_click)
        self.vb.sig_hover.connect(self._on_hover)
        self.legend.sig_activated.connect(lambda e, mods: self.sig_legend.emit(e, _modifier_mode(mods)))
        self.legend.sig_folded.connect(self._on_legend_folded)
        self._make_actions()
        self._place_overlays()

    # -- actions -------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.mode_group = QtGui.QActionGroup(self)
        self.mode_actions: dict[str, QtGui.QAction] = {}
        for mode, text, key, tip in (
            ("pan", "&Pan and zoom", "P", "Drag to pan, wheel to zoom"),
            ("box", "&Box select", "B", "Drag a rectangle to select (Shift adds, Alt removes)"),
            ("lasso", "&Lasso select", "L", "Draw around points to select them (Shift adds, Alt removes)"),
        ):
            act = QtGui.QAction(text, self, checkable=True)
            act.setShortcut(QtGui.QKeySequence(key))
            act.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
            act.setToolTip(f"{text.replace('&', '')} ({key}) — {tip}")
            act.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            self.mode_group.addAction(act)
            self.addAction(act)
            self.mode_actions[mode] = act
        self.mode_actions["pan"].setChecked(True)
        self.fit_action = QtGui.QAction("&Fit map", self)
        self.fit_action.setShortcut(QtGui.QKeySequence("F"))
        self.fit_action.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
        self.fit_action.triggered.connect(self.fit)
        self.addAction(self.fit_action)

    def set_mode(self, mode: str) -> None:
        assert mode in MODES
        self.vb.mode = mode
        self.mode_actions[mode].setChecked(True)
        self.gv.setCursor(QtCore.Qt.OpenHandCursor if mode == "pan" else QtCore.Qt.CrossCursor)

    # -- data ----------------------------------------------------------------------------------
    def set_points(self, x: np.ndarray | None, y: np.ndarray | None, keep_view: bool = False) -> None:
        """Place the points (``None`` = no layout yet: shows a hint instead). ``keep_view`` keeps
        the curator's pan and zoom (rows were added; the layout itself did not change)."""
        old_range = self.vb.viewRange() if keep_view and len(self._x) and not self._fitting else None
        if x is None or y is None or not len(x):
            self._x = np.zeros(0, np.float32)
            self._y = np.zeros(0, np.float32)
        else:
            self._x = np.asarray(x, np.float32)
            self._y = np.asarray(y, np.float32)
        self._grid = None
        self.points.set_data(self._x, self._y)
        self.empty_label.setVisible(not len(self._x) and not self.busy.isVisible())
        self.legend.setVisible(bool(len(self._x)) and self.legend.count() > 0)
        self.hover_marker.setData([], [])
        self._hover_row = -1
        if old_range is not None:
            self.vb.setRange(xRange=old_range[0], yRange=old_range[1], padding=0)
        else:
            self.fit()
        self._place_overlays()

    def show_progress(self, phase: str | None, fraction: float | None = None) -> None:
        """Say that the map is being computed (``phase``; ``fraction`` done or None = unknown);
        ``None`` hides it. Over an empty map it sits in the middle, over a map at the bottom."""
        if phase is None:
            self.busy.hide()
            self.empty_label.setVisible(not len(self._x))
            return
        self.busy_label.setText(("Computing the map — " if not len(self._x) else "Updating — ") + phase)
        if fraction is None:
            self.busy_bar.setRange(0, 0)
        else:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.empty_label.hide()
        self.busy.show()
        self.busy.raise_()
        self._place_overlays()

    @property
    def n_points(self) -> int:
        return len(self._x)

    def set_colours(self, colours: np.ndarray, title: str = "", legend: list[LegendEntry] | None = None) -> None:
        self.points.set_style(colours=colours)
        self.legend.set_entries(title, legend or [])
        self.legend.setVisible(bool(legend) and bool(len(self._x)))
        self._place_overlays()
        if self._fitting:
            self.fit()

    def set_dimmed(self, mask: np.ndarray | None) -> None:
        self.points.set_style(dimmed=mask if mask is not None else np.zeros(0, bool))

    def set_selected(self, mask: np.ndarray | None) -> None:
        self.points.set_style(selected=mask if mask is not None else np.zeros(0, bool))

    def set_hover_text(self, fn: Callable[[int], str] | None) -> None:
        self._hover_text = fn

    def set_density(self, x: np.ndarray | None, y: np.ndarray | None, bins: int = 200) -> None:
        """Production-density overlay: a blurred 2-D histogram of the given points."""
        if x is not None:
            x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
            ok = np.isfinite(x) & np.isfinite(y)  # rows added after the analysis have no place yet
            x, y = x[ok], y[ok]
        fin = np.isfinite(self._x) & np.isfinite(self._y)
        if x is None or not len(x) or not fin.any():
            self.density.clear()
            self.density.hide()
            return
        x0, x1 = float(self._x[fin].min()), float(self._x[fin].max())
        y0, y1 = float(self._y[fin].min()), float(self._y[fin].max())
        pad_x, pad_y = (x1 - x0) * 0.05 + 1e-6, (y1 - y0) * 0.05 + 1e-6
        x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
        hist, _, _ = np.histogram2d(x, y, bins=bins, range=[[x0, x1], [y0, y1]])
        k = np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
        k /= k.sum()
        hist = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 0, hist)
        hist = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, hist)
        top = np.percentile(hist[hist > 0], 99) if (hist > 0).any() else 1.0
        level = np.clip(hist / max(top, 1e-12), 0, 1)
        rgba = np.zeros(hist.shape + (4,), np.uint8)
        rgba[..., 0], rgba[..., 1], rgba[..., 2] = 242, 142, 43  # production orange
        rgba[..., 3] = (np.sqrt(level) * 150).astype(np.uint8)
        self.density.setImage(rgba, levels=None, autoLevels=False)
        self.density.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        self.density.setVisible(self._density_wanted)

    def show_density(self, on: bool) -> None:
        self._density_wanted = bool(on)
        self.density.setVisible(self._density_wanted and self.density.image is not None)

    # -- view ----------------------------------------------------------------------------------
    def fit(self) -> None:
        """Show every point, clear of the legend; keeps doing so (as the view resizes) until the
        user pans or zooms."""
        fin = np.isfinite(self._x) & np.isfinite(self._y)
        if not fin.any():
            return
        x0, x1 = float(self._x[fin].min()), float(self._x[fin].max())
        y0, y1 = float(self._y[fin].min()), float(self._y[fin].max())
        pad_x, pad_y = (x1 - x0) * 0.04 + 1e-6, (y1 - y0) * 0.04 + 1e-6
        x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
        W, H = max(1, self.gv.width()), max(1, self.gv.height())
        lw = self.legend.width() + 20 if self.legend.isVisible() else 0
        lh = self.legend.height() + 20 if self.legend.isVisible() else 0
        # the legend sits in the top-right corner: keep the points out of its rectangle by
        # widening the range to the right (or up, whichever costs less room)
        if lw and W - lw > 100 and H - lh > 100 and min(lw / W, lh / H) <= 0.25:
            if lw / W <= lh / H:
                x1 = x0 + (x1 - x0) * W / (W - lw)
            else:
                y1 = y0 + (y1 - y0) * H / (H - lh)
        self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self._fitting = True

    def _on_legend_folded(self) -> None:
        self._place_overlays()
        if self._fitting:
            self.fit()
        self._layout_labels()

    def _on_manual_range(self, *_):
        self._fitting = False

    # -- cluster labels ----------------------------------------------------------------------------
    def set_labels(self, labels: list[tuple[float, float, str, int]]) -> None:
        """Names drawn on the map at cluster centres: (x, y, text, size). Bigger clusters win
        when labels would overlap; zooming in shows more of them."""
        for it in self._label_items:
            self.vb.removeItem(it)
        self._label_items = []
        self._labels = sorted([lb for lb in labels if np.isfinite(lb[0]) and np.isfinite(lb[1])], key=lambda t: -t[3])
        fg = theme.map_foreground()
        bg = theme.map_background()
        for x, y, text, size in self._labels[:MAX_LABELS]:
            mixed = is_mixed_label(text)  # a catch-all, not a topic: faded italic, never bold
            it = MapLabel(text, QtGui.QColor(fg.red(), fg.green(), fg.blue(), 150) if mixed else fg,
                          QtGui.QColor(bg.red(), bg.green(), bg.blue(), 170), bold=size >= 100 and not mixed,
                          point_size=8.5 if size < 50 else 9.5, italic=mixed)
            it.setPos(x, y)
            self.vb.addItem(it, ignoreBounds=True)
            self._label_items.append(it)
        self._layout_labels()

    def show_labels(self, on: bool) -> None:
        self.labels_on = bool(on)
        self._layout_labels()

    def _layout_labels(self) -> None:
        """Hide labels that would overlap a bigger cluster's label or lie off the view."""
        if not self._label_items:
            return
        taken: list[QtCore.QRectF] = []
        view = self.gv.viewport().rect()
        legend = self.legend.geometry() if self.legend.isVisible() else QtCore.QRect()
        for it, (x, y, _t, _s) in zip(self._label_items, self._labels[:MAX_LABELS]):
            if not self.labels_on:
                it.hide()
                continue
            p = self.gv.mapFromScene(self.vb.mapViewToScene(QtCore.QPointF(x, y)))
            br = it.boundingRect()
            r = QtCore.QRectF(p.x() - br.width() / 2 - 2, p.y() - br.height() / 2 - 1, br.width() + 4, br.height() + 2)
            ok = (view.contains(r.toRect()) and not legend.intersects(r.toRect())
                  and not any(r.intersects(t) for t in taken) and len(taken) < 40)
            it.setVisible(ok)
            if ok:
                taken.append(r)

    def zoom_to(self, rows: np.ndarray, pad: float = 0.35) -> None:
        """Frame the given rows (robust to a few far-away members)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows) or not len(self._x):
            return
        xs, ys = self._x[rows], self._y[rows]
        ok = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = xs[ok], ys[ok]
        if not len(xs):
            return
        if len(xs) >= 20:
            x0, x1 = np.percentile(xs, [2, 98])
            y0, y1 = np.percentile(ys, [2, 98])
        else:
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        full = float(np.nanmax(self._x) - np.nanmin(self._x))
        span = max(float(x1 - x0), float(y1 - y0), full * 0.15, 1e-6)  # keep some context
        cx, cy = float(x0 + x1) / 2, float(y0 + y1) / 2
        half = span * (0.5 + pad)
        self.vb.setRange(xRange=(cx - half, cx + half), yRange=(cy - half, cy + half), padding=0)
        self._fitting = False

    def restyle(self) -> None:
        """The system palette changed (light/dark)."""
        self.gv.setBackground(theme.map_background())
        self.legend.restyle()
        self.points._invalidate()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._place_overlays()
        if self._fitting:
            QtCore.QTimer.singleShot(0, self, self.fit)

    def _place_overlays(self) -> None:
        if self.legend.count():
            self.legend._fit()
        self.legend.move(max(4, self.gv.width() - self.legend.width() - 10), 10)
        self.empty_label.setGeometry(0, 0, self.gv.width(), self.gv.height())
        w = min(420, max(200, self.gv.width() - 40))
        if len(self._x):
            self.busy.setGeometry(10, self.gv.height() - 70, w, 60)
        else:
            self.busy.setGeometry((self.gv.width() - w) // 2, self.gv.height() // 2 - 40, w, 70)

    # -- interaction ---------------------------------------------------------------------------
    def rows_in_rect(self, rect: QtCore.QRectF) -> np.ndarray:
        m = ((self._x >= rect.left()) & (self._x <= rect.right())
             & (self._y >= rect.top()) & (self._y <= rect.bottom()))
        return np.flatnonzero(m)

    def rows_in_polygon(self, poly: np.ndarray) -> np.ndarray:
        return np.flatnonzero(points_in_polygon(self._x, self._y, poly))

    def _on_region(self, kind: str, shape, mode: str) -> None:
        if not len(self._x):
            return
        rows = self.rows_in_rect(shape) if kind == "box" else self.rows_in_polygon(shape)
        self.sig_select.emit(rows, mode)

    def row_at(self, x: float, y: float) -> int:
        """The point under data position (x, y) within the hover radius, or -1."""
        if not len(self._x) or not np.isfinite(x):
            return -1
        if self._grid is None:
            self._grid = GridIndex(self._x, self._y)
        px, py = self.vb.viewPixelSize()
        return self._grid.nearest(x, y, abs(px) * HOVER_RADIUS_PX, abs(py) * HOVER_RADIUS_PX)

    def _on_click(self, x: float, y: float, mods) -> None:
        row = self.row_at(x, y)
        mode = _modifier_mode(mods)
        if row < 0:
            if mode == "replace":
                self.sig_select.emit(np.zeros(0, np.int64), "replace")
            return
        self.sig_select.emit(np.array([row], np.int64), "toggle" if mode == "add" else mode)
        if mode == "replace":
            self.sig_activate.emit(row)

    def _on_hover(self, x: float, y: float) -> None:
        row = self.row_at(x, y)
        if row == self._hover_row:
            return
        self._hover_row = row
        if row < 0:
            self.hover_marker.setData([], [])
            QtWidgets.QToolTip.hideText()
            return
        self.hover_marker.setData([float(self._x[row])], [float(self._y[row])])
        if self._hover_text is not None:
            text = self._hover_text(row)
            QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self.gv)
