"""Drawing a million points by drawing what the eye can see.

:class:`PointCloudItem` is one pyqtgraph ``GraphicsObject`` that rasterises every visible point
into one image per frame with numpy (no per-point Qt objects). Point size follows how many
points are visible, so cost per frame is bounded:

==================  ==========================================================
visible points      drawn as
==================  ==========================================================
> 250,000           1 pixel (the image is effectively a density picture)
> 60,000            2 x 2 squares
> 12,000            3 x 3 discs
> 1,500             5 x 5 discs
<= 1,500            antialiased circles (QPainter), crisp when zoomed in
==================  ==========================================================

Measured on this 2-core machine (``benchmarks/bench_map.py``): ~20-40 ms per frame at 1M points,
against seconds for pyqtgraph's ``ScatterPlotItem``. Draw order is layered so the important
thing is on top: dimmed (rejected, and unselected while a selection exists) first, neutral
colours (noise, "none") next, then coloured points, then the selection with an outline.

Also here: :func:`points_in_polygon` (lasso) and :class:`GridIndex` (nearest point under the
cursor), both numpy-only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from workbench.ui import theme

# (min visible points, offsets) from largest count to smallest; below the last: QPainter circles
_SQUARE2 = [(0, 0), (1, 0), (0, 1), (1, 1)]
_DISC3 = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
_DISC5 = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 5]
_DISC7 = [(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4) if dx * dx + dy * dy <= 10]
LOD = [(250_000, [(0, 0)]), (60_000, _SQUARE2), (12_000, _DISC3), (1_500, _DISC5)]
VECTOR_DIAMETER = 7.0  # device pixels, for the antialiased path


def _offsets_for(visible: int):
    for threshold, offsets in LOD:
        if visible > threshold:
            return offsets
    return None  # few points: antialiased QPainter circles


def _outline_for(offsets) -> list[tuple[int, int]]:
    """Offsets one pixel larger than ``offsets`` (the selection ring)."""
    if offsets is None or len(offsets) <= 4:
        return _DISC3
    if len(offsets) <= 9:
        return _DISC5
    return _DISC7


class PointCloudItem(pg.GraphicsObject):
    """All map points in one item. Colours are packed ``0xAARRGGBB`` (opaque) per point."""

    def __init__(self) -> None:
        super().__init__()
        self._x = np.zeros(0, np.float32)
        self._y = np.zeros(0, np.float32)
        self._colours = np.zeros(0, np.uint32)
        self._dimmed: np.ndarray | None = None
        self._selected: np.ndarray | None = None
        self._neutral = theme.pack(theme.NEUTRAL)
        self._bounds = QtCore.QRectF()
        self._layers: tuple | None = None  # (x, y, colours, n_selected_at_end)
        self._cache_key = None
        self._cache_img: QtGui.QImage | None = None
        self._spatial = np.zeros(0, np.int64)
        self._finite = np.zeros(0, bool)
        self._work: tuple | None = None
        self.last_visible = 0
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption, False)

    # -- data ----------------------------------------------------------------------------------
    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.prepareGeometryChange()
        self._x = np.ascontiguousarray(x, dtype=np.float32)
        self._y = np.ascontiguousarray(y, dtype=np.float32)
        self._finite = np.isfinite(self._x) & np.isfinite(self._y)  # not analysed yet: not drawn
        if self._finite.any():
            x0, x1 = float(np.nanmin(self._x)), float(np.nanmax(self._x))
            y0, y1 = float(np.nanmin(self._y)), float(np.nanmax(self._y))
            self._bounds = QtCore.QRectF(x0, y0, max(x1 - x0, 1e-6), max(y1 - y0, 1e-6))
            # spatial (row-major 512 x 512 cells) order: makes the per-frame scatter into the
            # image nearly sequential in memory, roughly halving the time per frame at 1M
            with np.errstate(invalid="ignore"):
                cx = np.nan_to_num((self._x - x0) * (511 / max(x1 - x0, 1e-9))).astype(np.int64)
                cy = np.nan_to_num((self._y - y0) * (511 / max(y1 - y0, 1e-9))).astype(np.int64)
            self._spatial = np.argsort(cy * 512 + cx, kind="stable")
        else:
            self._spatial = np.zeros(0, np.int64)
            self._bounds = QtCore.QRectF()
        if len(self._colours) != len(self._x):
            self._colours = np.full(len(self._x), theme.pack(theme.ROLE_COLOURS["train"]), np.uint32)
        self._dimmed = self._selected = None
        self._invalidate()
        self.informViewBoundsChanged()

    def set_style(self, colours: np.ndarray | None = None, dimmed: np.ndarray | None = None,
                  selected: np.ndarray | None = None, *, keep: bool = True) -> None:
        """Set colours and/or the dimmed and selected masks (``None`` keeps the old value when
        ``keep``; pass an all-False mask or an empty one to clear)."""
        if colours is not None:
            self._colours = np.ascontiguousarray(colours, dtype=np.uint32)
        if dimmed is not None or not keep:
            self._dimmed = dimmed if dimmed is not None and dimmed.any() else None
        if selected is not None or not keep:
            self._selected = selected if selected is not None and selected.any() else None
        self._invalidate()

    def _invalidate(self) -> None:
        self._layers = None
        self._cache_key = None
        self.update()

    def _prepare(self) -> tuple:
        """Draw order and final colours (recomputed on style changes, not on pan/zoom)."""
        n = len(self._x)
        bg = theme.map_background()
        colours = self._colours if len(self._colours) == n else np.full(n, self._neutral, np.uint32)
        sel = self._selected if self._selected is not None and len(self._selected) == n else None
        dim = self._dimmed if self._dimmed is not None and len(self._dimmed) == n else None
        neutral = colours == self._neutral
        final = colours.copy()
        faded = np.zeros(n, bool)
        if sel is not None:
            faded |= ~sel
        if dim is not None:
            faded |= dim
        if faded.any():
            amount = np.where(dim, 0.78, 0.55) if dim is not None else 0.55
            if np.isscalar(amount):
                final[faded] = theme.mix_packed(colours[faded], bg, amount)
            else:
                for a in (0.55, 0.78):
                    m = faded & (amount == a)
                    if m.any():
                        final[m] = theme.mix_packed(colours[m], bg, a)
        sel_mask = sel if sel is not None else np.zeros(n, bool)
        sp = self._spatial
        fin = self._finite
        layers = (faded & ~sel_mask & fin, ~faded & neutral & ~sel_mask & fin, ~faded & ~neutral & ~sel_mask & fin,
                  sel_mask & fin)
        order = np.concatenate([sp[m[sp]] for m in layers])
        n_sel = int((sel_mask & fin).sum())
        return self._x[order], self._y[order], final[order], n_sel

    # -- QGraphicsItem ---------------------------------------------------------------------------
    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # pyqtgraph auto-range protocol
        if self._bounds.isNull():
            return None, None
        if ax == 0:
            return self._bounds.left(), self._bounds.right()
        return self._bounds.top(), self._bounds.bottom()

    def pixelPadding(self) -> float:
        return 4.0

    def paint(self, p: QtGui.QPainter, option=None, widget=None) -> None:
        if not len(self._x):
            return
        # the painter's world transform maps data to the view widget's own coordinates; the
        # device transform would add the widget's offset inside its window (backing store,
        # grab()), which drawing with an identity world transform applies once more
        target = widget if widget is not None else p.device()
        if target is None:
            return
        dpr = target.devicePixelRatioF() if hasattr(target, "devicePixelRatioF") else 1.0
        w, h = int(target.width() * dpr), int(target.height() * dpr)
        if w <= 0 or h <= 0:
            return
        tr = p.transform() * QtGui.QTransform.fromScale(dpr, dpr)
        key = (tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy(), w, h)
        if self._cache_key != key or self._cache_img is None:
            self._cache_img = self.render(tr, w, h)
            self._cache_key = key
        p.save()
        p.setTransform(QtGui.QTransform())
        p.drawImage(QtCore.QRectF(0, 0, w / dpr, h / dpr), self._cache_img, QtCore.QRectF(0, 0, w, h))
        p.restore()

    def render(self, tr: QtGui.QTransform, w: int, h: int) -> QtGui.QImage:
        """Rasterise the points under device transform ``tr`` into a ``w`` x ``h`` image."""
        if self._layers is None:
            self._layers = self._prepare()
        xs, ys, cs, n_sel = self._layers
        n = len(xs)
        if self._work is None or len(self._work[0]) != n:
            self._work = (np.empty(n, np.float32), np.empty(n, np.float32),
                          np.empty(n, np.int32), np.empty(n, np.int32))
        px, py, ix, iy = self._work
        sx, sy = np.float32(tr.m11()), np.float32(tr.m22())
        tx, ty = np.float32(tr.dx()), np.float32(tr.dy())
        np.multiply(xs, sx, out=px)
        np.add(px, tx, out=px)
        np.multiply(ys, sy, out=py)
        np.add(py, ty, out=py)
        b = self._bounds
        bx = sorted((b.left() * sx + tx, b.right() * sx + tx))
        by = sorted((b.top() * sy + ty, b.bottom() * sy + ty))
        margin = 4.0
        all_inside = bx[0] >= margin and bx[1] < w - margin and by[0] >= margin and by[1] < h - margin
        if all_inside:
            idx = None
            visible = n
            ix[:] = px
            iy[:] = py
            vx, vy, col = ix, iy, cs
        else:
            vis = (px >= -margin) & (px < w + margin) & (py >= -margin) & (py < h + margin)
            idx = np.flatnonzero(vis)
            visible = len(idx)
            vx = px[idx].astype(np.int32)
            vy = py[idx].astype(np.int32)
            col = cs[idx]
        self.last_visible = visible
        img = QtGui.QImage(w, h, QtGui.QImage.Format_ARGB32_Premultiplied)
        img.fill(0)
        if not visible:
            return img
        first_sel = n - n_sel
        sel_start = first_sel if idx is None else int(np.searchsorted(idx, first_sel))
        offsets = _offsets_for(visible)
        if offsets is None:
            fx = px if idx is None else px[idx]
            fy = py if idx is None else py[idx]
            is_sel = np.zeros(visible, bool)
            is_sel[sel_start:] = True
            self._paint_vector(img, fx, fy, col, is_sel)
            return img
        arr = np.zeros(w * h, np.uint32)
        if all_inside and len(offsets) == 1:
            np.multiply(vy, w, out=vy)
            np.add(vy, vx, out=vy)
            arr[vy] = col  # later points (higher layers) win
        else:
            _splat(arr, w, h, vx[:sel_start], vy[:sel_start], col[:sel_start], offsets)
            if sel_start < visible:
                svx, svy = vx[sel_start:], vy[sel_start:]
                if visible <= LOD[-2][0]:  # outline the selection only where points are apart
                    ring = np.uint32(theme.pack(theme.selection_outline()))
                    _splat(arr, w, h, svx, svy, np.full(len(svx), ring, np.uint32), _outline_for(offsets))
                _splat(arr, w, h, svx, svy, col[sel_start:], offsets)
        return QtGui.QImage(arr.data, w, h, 4 * w, QtGui.QImage.Format_ARGB32_Premultiplied).copy()

    @staticmethod
    def _paint_vector(img: QtGui.QImage, px, py, cs, is_sel) -> None:
        """Few points: antialiased circles with a thin outline, grouped by colour."""
        p = QtGui.QPainter(img)
        p.setRenderHint(QtGui.QPainter.Antialiasing)
        outline = theme.selection_outline()
        faint = QtGui.QColor(0, 0, 0, 60) if not theme.is_dark() else QtGui.QColor(255, 255, 255, 50)
        for selected in (False, True):
            m = is_sel == selected
            if not m.any():
                continue
            d = VECTOR_DIAMETER + (2.0 if selected else 0.0)
            ring = QtGui.QPen(outline if selected else faint)
            ring.setWidthF(d + (2.5 if selected else 1.5))
            ring.setCapStyle(QtCore.Qt.RoundCap)
            p.setPen(ring)
            p.drawPoints(pg.functions.arrayToQPolygonF(px[m].astype(np.float64), py[m].astype(np.float64)))
            cm = cs[m]
            for c in np.unique(cm):
                mm = cm == c
                pen = QtGui.QPen(theme.unpack(int(c)))
                pen.setWidthF(d)
                pen.setCapStyle(QtCore.Qt.RoundCap)
                p.setPen(pen)
                p.drawPoints(pg.functions.arrayToQPolygonF(px[m][mm].astype(np.float64),
                                                           py[m][mm].astype(np.float64)))
        p.end()


def _splat(buf: np.ndarray, w: int, h: int, ix: np.ndarray, iy: np.ndarray, col: np.ndarray,
           offsets) -> None:
    """Write ``col`` at every (ix+dx, iy+dy) inside the image; later points win."""
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    for dx, dy in offsets:
        if dx == 0 and dy == 0:
            m = inside
            buf[iy[m] * w + ix[m]] = col[m]
            continue
        jx, jy = ix + dx, iy + dy
        m = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)
        buf[jy[m] * w + jx[m]] = col[m]


def points_in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray, resolution: int = 2048) -> np.ndarray:
    """Boolean mask of the points inside ``poly`` ((m, 2) vertices, closed implicitly).

    The polygon is rasterised once into a bitmap covering its bounding box (``resolution``
    pixels on the long side) and each candidate point looks up its pixel: O(n) however many
    vertices the lasso has. Points within half a raster cell of the outline may go either way,
    which is finer than a hand-drawn lasso (a few screen pixels).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    out = np.zeros(len(x), bool)
    poly = np.asarray(poly, dtype=np.float64)
    if len(poly) < 3 or not len(x):
        return out
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    if x1 <= x0 or y1 <= y0:
        return out
    cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if not len(cand):
        return out
    scale = (resolution - 1) / max(x1 - x0, y1 - y0)
    w = max(1, int(np.ceil((x1 - x0) * scale)) + 1)
    h = max(1, int(np.ceil((y1 - y0) * scale)) + 1)
    img = QtGui.QImage(w, h, QtGui.QImage.Format_Grayscale8)
    img.fill(0)
    painter = QtGui.QPainter(img)
    painter.setPen(QtCore.Qt.NoPen)
    painter.setBrush(QtGui.QColor(255, 255, 255))
    pts = (poly - (x0, y0)) * scale + 0.5
    painter.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(float(a), float(b)) for a, b in pts]),
                        QtCore.Qt.OddEvenFill)
    painter.end()
    stride = img.bytesPerLine()
    bits = np.frombuffer(img.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    cx = np.clip(((x[cand] - x0) * scale).astype(np.int64), 0, w - 1)
    cy = np.clip(((y[cand] - y0) * scale).astype(np.int64), 0, h - 1)
    out[cand] = bits[cy, cx] > 127
    return out


class GridIndex:
    """Uniform grid over the points for "which point is under the cursor" (built lazily, O(n))."""

    def __init__(self, x: np.ndarray, y: np.ndarray, cells: int = 512):
        self.x, self.y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        finite = np.flatnonzero(np.isfinite(self.x) & np.isfinite(self.y))
        fx, fy = self.x[finite], self.y[finite]
        self.x0 = float(fx.min()) if len(finite) else 0.0
        self.y0 = float(fy.min()) if len(finite) else 0.0
        span = max(float(fx.max()) - self.x0 if len(finite) else 1.0,
                   float(fy.max()) - self.y0 if len(finite) else 1.0, 1e-9)
        self.cells = cells
        self.size = span / (cells - 1)
        cx = ((fx - self.x0) / self.size).astype(np.int64)
        cy = ((fy - self.y0) / self.size).astype(np.int64)
        cell = cy * cells + cx
        order = np.argsort(cell, kind="stable")
        self.order = finite[order]
        self.starts = np.searchsorted(cell[order], np.arange(cells * cells + 1))

    def nearest(self, qx: float, qy: float, rx: float, ry: float, candidates_mask=None) -> int:
        """Index of the nearest point within the ellipse of radii (rx, ry) around (qx, qy), or -1.

        Distance is measured in units of the radii (i.e. screen pixels when the radii are one
        screen pixel-radius in data units), so it works with any aspect ratio.
        """
        c0x = max(0, int((qx - rx - self.x0) / self.size))
        c1x = min(self.cells - 1, int((qx + rx - self.x0) / self.size))
        c0y = max(0, int((qy - ry - self.y0) / self.size))
        c1y = min(self.cells - 1, int((qy + ry - self.y0) / self.size))
        if c1x < c0x or c1y < c0y:
            return -1
        parts = [self.order[self.starts[cy * self.cells + c0x]:self.starts[cy * self.cells + c1x + 1]]
                 for cy in range(c0y, c1y + 1)]
        cand = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        if candidates_mask is not None and len(cand):
            cand = cand[candidates_mask[cand]]
        if not len(cand):
            return -1
        d = ((self.x[cand] - qx) / rx) ** 2 + ((self.y[cand] - qy) / ry) ** 2
        j = int(np.argmin(d))
        return int(cand[j]) if d[j] <= 1.0 else -1
