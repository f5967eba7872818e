"""Colours, palettes and the application style.

One place decides how things look so the map, the legend, the table and the panels agree:

* the application uses Qt's Fusion style, whose palette follows the system's light or dark
  colour scheme (Qt >= 6.5 reports it through ``QStyleHints.colorScheme``);
* the data's colours (categories, neutral grey, roles, alert) come from
  :mod:`workbench.core.palette`, which the HTML report uses too, so both look the same.

Colours for the map are packed ``0xAARRGGBB`` ``uint32`` values (QImage ``Format_ARGB32``).
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from workbench.core.palette import ALERT, BASE_PALETTE, NEUTRAL, ROLE_COLOURS, category_hex  # noqa: F401

SELECTION_OUTLINE_LIGHT = "#111111"
SELECTION_OUTLINE_DARK = "#ffffff"


def category_colour(i: int) -> QtGui.QColor:
    """The i-th categorical colour (stable: category i always gets the same colour)."""
    return QtGui.QColor(category_hex(i))


def pack(colour: QtGui.QColor | str) -> int:
    """``0xAARRGGBB`` of an opaque colour."""
    c = QtGui.QColor(colour)
    return (0xFF << 24) | (c.red() << 16) | (c.green() << 8) | c.blue()


def unpack(value: int) -> QtGui.QColor:
    return QtGui.QColor((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF, (value >> 24) & 0xFF)


def mix_packed(colours: np.ndarray, towards: QtGui.QColor, amount: float) -> np.ndarray:
    """Blend packed opaque colours ``amount`` (0..1) of the way towards ``towards``; stays opaque.

    Used to dim rejected (and unselected) points while keeping them visible for context.
    """
    c = colours.astype(np.uint32)
    out = np.full_like(c, 0xFF000000)
    for shift, target in ((16, towards.red()), (8, towards.green()), (0, towards.blue())):
        ch = ((c >> shift) & 0xFF).astype(np.float32)
        ch = ch + (target - ch) * amount
        out |= (np.clip(ch, 0, 255).astype(np.uint32) << shift)
    return out


def is_dark(palette: QtGui.QPalette | None = None) -> bool:
    """Whether the current palette is dark (window text lighter than the window)."""
    pal = palette or QtWidgets.QApplication.palette()
    return pal.color(QtGui.QPalette.Window).lightness() < pal.color(QtGui.QPalette.WindowText).lightness()


def map_background() -> QtGui.QColor:
    return QtGui.QColor("#1e1f22") if is_dark() else QtGui.QColor("#fbfbfa")


def map_foreground() -> QtGui.QColor:
    return QtGui.QColor("#d8d8d8") if is_dark() else QtGui.QColor("#333333")


def selection_outline() -> QtGui.QColor:
    return QtGui.QColor(SELECTION_OUTLINE_DARK if is_dark() else SELECTION_OUTLINE_LIGHT)


def muted_text_colour() -> QtGui.QColor:
    pal = QtWidgets.QApplication.palette()
    c = pal.color(QtGui.QPalette.WindowText)
    c.setAlphaF(0.65)
    return c


def swatch_icon(colour: QtGui.QColor | str, size: int = 12) -> QtGui.QIcon:
    """A small round colour swatch for legends and lists."""
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtCore.Qt.transparent)
    p = QtGui.QPainter(pm)
    p.setRenderHint(QtGui.QPainter.Antialiasing)
    p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 90), 1))
    p.setBrush(QtGui.QColor(colour))
    p.drawEllipse(QtCore.QRectF(1, 1, size - 2, size - 2))
    p.end()
    return QtGui.QIcon(pm)


def apply_style(app: QtWidgets.QApplication) -> None:
    """Fusion style (its palette follows the system light/dark scheme) and calm defaults."""
    app.setStyle("Fusion")
    font = app.font()
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
        app.setFont(font)
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background=map_background(), foreground=map_foreground())


def continuous_colours(values: np.ndarray) -> np.ndarray:
    """Packed colours of a numeric column on a perceptual (viridis-like) ramp; NaN -> neutral."""
    stops = np.array([
        [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
    ], dtype=np.float32)
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    out = np.full(len(v), pack(NEUTRAL), dtype=np.uint32)
    if not finite.any():
        return out
    lo, hi = np.nanpercentile(v[finite], [2, 98])
    t = np.clip((v[finite] - lo) / (hi - lo if hi > lo else 1.0), 0, 1) * (len(stops) - 1)
    i0 = np.minimum(t.astype(np.int64), len(stops) - 2)
    f = (t - i0)[:, None].astype(np.float32)
    rgb = stops[i0] * (1 - f) + stops[i0 + 1] * f
    rgb = rgb.astype(np.uint32)
    out[finite] = 0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return out
