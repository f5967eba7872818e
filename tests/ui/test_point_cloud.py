"""The map's drawing and geometry: lasso selection, point lookup, rasterisation."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _exact_inside(x, y, poly):
    """Even-odd ray casting, vectorised over points (the reference for the raster lasso)."""
    inside = np.zeros(len(x), bool)
    px, py = poly[:, 0], poly[:, 1]
    for i in range(len(poly)):
        x1, y1, x2, y2 = px[i], py[i], px[i - 1], py[i - 1]
        cond = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (x2 - x1) * (y - y1) / (y2 - y1) + x1
        inside ^= cond & (x < xint)
    return inside


def _edge_distance(x, y, poly):
    d = np.full(len(x), np.inf)
    for i in range(len(poly)):
        a, b = poly[i - 1], poly[i]
        ab = b - a
        t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / max((ab ** 2).sum(), 1e-12), 0, 1)
        cx, cy = a[0] + t * ab[0], a[1] + t * ab[1]
        d = np.minimum(d, np.hypot(x - cx, y - cy))
    return d


def test_lasso_matches_exact_point_in_polygon(qapp):
    from workbench.ui.point_cloud import points_in_polygon

    rng = np.random.default_rng(1)
    x = rng.normal(size=50_000).astype(np.float32)
    y = rng.normal(size=50_000).astype(np.float32)
    # a concave, self-touching-free star as a hand-drawn lasso would be
    t = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    r = 1.2 + 0.6 * np.sin(5 * t)
    poly = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    got = points_in_polygon(x, y, poly)
    want = _exact_inside(x.astype(np.float64), y.astype(np.float64), poly)
    far = _edge_distance(x, y, poly) > 0.01  # raster cell is ~0.002 here
    assert want.sum() > 1000
    assert np.array_equal(got[far], want[far])


def test_lasso_degenerate_inputs(qapp):
    from workbench.ui.point_cloud import points_in_polygon

    x = np.array([0.0, 1.0], np.float32)
    y = np.array([0.0, 1.0], np.float32)
    assert not points_in_polygon(x, y, np.zeros((2, 2))).any()  # not a polygon
    assert not points_in_polygon(x, y, np.array([[5, 5], [6, 5], [6, 6]])).any()  # elsewhere
    assert not points_in_polygon(np.zeros(0), np.zeros(0), np.array([[0, 0], [1, 0], [1, 1]])).any()


def test_grid_index_finds_nearest_within_radius():
    from workbench.ui.point_cloud import GridIndex

    rng = np.random.default_rng(2)
    x = rng.random(20_000).astype(np.float32) * 100
    y = rng.random(20_000).astype(np.float32) * 50
    g = GridIndex(x, y)
    for qx, qy in [(10.0, 10.0), (55.5, 20.2), (99.0, 49.0)]:
        d = (x - qx) ** 2 + (y - qy) ** 2
        best = int(np.argmin(d))
        r = float(np.sqrt(d[best])) + 1e-3
        assert g.nearest(qx, qy, r, r) == best
        assert g.nearest(qx, qy, r * 0.5, r * 0.5) == -1  # nothing that close
    assert g.nearest(500.0, 500.0, 1.0, 1.0) == -1


def test_render_draws_each_visible_point_in_its_colour(qapp):
    from PySide6 import QtGui

    from workbench.ui.point_cloud import PointCloudItem

    item = PointCloudItem()
    x = np.array([0.0, 10.0, 10.0, 5.0], np.float32)
    y = np.array([0.0, 0.0, 10.0, 5.0], np.float32)
    colours = np.array([0xFFFF0000, 0xFF00FF00, 0xFF0000FF, 0xFF123456], np.uint32)
    item.set_data(x, y)
    item.set_style(colours=colours)
    tr = QtGui.QTransform.fromTranslate(20, 20).scale(10, 10)  # data -> pixels, point i at (20+10x, 20+10y)
    img = item.render(tr, 200, 200)
    assert item.last_visible == 4
    for xi, yi, c in zip(x, y, colours):
        pix = img.pixelColor(int(20 + 10 * xi), int(20 + 10 * yi))
        assert (pix.red(), pix.green(), pix.blue()) == ((int(c) >> 16) & 255, (int(c) >> 8) & 255, int(c) & 255)
    assert img.pixelColor(150, 150).alpha() == 0  # empty space stays transparent


def test_render_many_points_selected_on_top_and_dimmed(qapp):
    from PySide6 import QtGui

    from workbench.ui import theme
    from workbench.ui.point_cloud import PointCloudItem

    n = 300_000  # 1-pixel level of detail
    x = np.zeros(n, np.float32)
    y = np.zeros(n, np.float32)
    x[-1] = 1.0  # one point elsewhere
    item = PointCloudItem()
    item.set_data(x, y)
    red, blue = theme.pack("#ff0000"), theme.pack("#0000ff")
    colours = np.full(n, red, np.uint32)
    colours[7] = blue
    sel = np.zeros(n, bool)
    sel[7] = True  # one selected point among many at the same place: drawn last
    item.set_style(colours=colours, selected=sel)
    tr = QtGui.QTransform.fromTranslate(10, 10).scale(50, 50)
    img = item.render(tr, 100, 100)
    assert item.last_visible == n
    c = img.pixelColor(10, 10)
    assert (c.red(), c.green(), c.blue()) == (0, 0, 255)
    # unselected points are faded towards the background, not hidden
    other = img.pixelColor(60, 10)
    assert other.alpha() == 255 and other.red() > 200 and other.green() > 100


def test_nan_coordinates_are_not_drawn(qapp):
    from PySide6 import QtGui

    from workbench.ui.point_cloud import PointCloudItem

    item = PointCloudItem()
    x = np.array([0.0, np.nan, 1.0], np.float32)
    y = np.array([0.0, 0.0, np.nan], np.float32)
    item.set_data(x, y)
    img = item.render(QtGui.QTransform.fromTranslate(5, 5).scale(10, 10), 50, 50)
    assert item.last_visible == 1
    assert img.pixelColor(5, 5).alpha() == 255
