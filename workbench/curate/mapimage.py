"""The map as a PNG image, drawn with numpy and encoded with zlib (no plotting library needed).

Used by the readiness report, which must be one self-contained HTML file: the image is embedded
as a ``data:image/png;base64`` URL. Points are drawn as small squares in the given order (later
points on top); the legend lives in the HTML, so no font rendering is needed here.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from workbench.core import palette

# the app's colours (workbench.core.palette), so the report's map looks like the app's
NOISE_RGB = palette.rgb(palette.NEUTRAL)
ROLE_RGB = {**{role: palette.rgb(c) for role, c in palette.ROLE_COLOURS.items()},
            "rejected": palette.rgb(palette.DIMMED)}  # dimmed, not hidden
BACKGROUND = (255, 255, 255)


def cluster_colours(cluster: np.ndarray) -> np.ndarray:
    """RGB per point: the app's colour of each cluster id (id 0 = largest), grey for noise (-1)."""
    return palette.category_rgb(cluster)


def hex_colour(rgb) -> str:
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an (h, w, 3) uint8 image as PNG (8-bit truecolour, no filtering)."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("encode_png needs an (h, w, 3) uint8 array")
    h, w, _ = img.shape
    raw = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    raw[:, 0] = 0  # filter type "none" for every scanline
    raw[:, 1:] = img.reshape(h, 3 * w)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def render_points(
    x: np.ndarray,
    y: np.ndarray,
    rgb: np.ndarray,
    *,
    width: int = 880,
    height: int = 560,
    size: int = 3,
    margin: int = 10,
) -> np.ndarray:
    """Rasterise points (drawn in array order) into an (height, width, 3) uint8 image."""
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return img
    x, y, rgb = x[ok], y[ok], np.asarray(rgb, dtype=np.uint8)[ok]
    span_x = max(x.max() - x.min(), 1e-9)
    span_y = max(y.max() - y.min(), 1e-9)
    inner_w, inner_h = width - 2 * margin - size, height - 2 * margin - size
    scale = min(inner_w / span_x, inner_h / span_y)  # keep the aspect ratio of the map
    off_x = margin + (inner_w - span_x * scale) / 2
    off_y = margin + (inner_h - span_y * scale) / 2
    px = (off_x + (x - x.min()) * scale).astype(np.int64)
    py = (off_y + (y.max() - y) * scale).astype(np.int64)  # y grows upwards on the map
    # z-buffer: each pixel shows the last point (in array order) that covers it
    top = np.full(height * width, -1, dtype=np.int64)
    order = np.arange(len(px))
    for dy in range(size):
        for dx in range(size):
            np.maximum.at(top, (py + dy) * width + (px + dx), order)
    hit = top >= 0
    img.reshape(-1, 3)[hit] = rgb[top[hit]]
    return img


def render_png(x, y, rgb, **kw) -> bytes:
    """:func:`render_points` then :func:`encode_png`."""
    return encode_png(render_points(x, y, rgb, **kw))
