"""The colours of the data, in one place: the app's map and legends and the HTML report use these.

* categorical colours come from a fixed list chosen for distinctness (Tableau 10 first, then
  Kelly's maximum-contrast colours), extended by golden-angle hues when there are more
  categories; category *i* always gets the same colour (:func:`category_hex`), so cluster 0 (the
  largest) looks the same in the app and in the report;
* "none" / noise / "other" is always the neutral grey so it recedes;
* the data roles have fixed colours everywhere (train blue, production orange, eval green,
  reference purple) so a curator learns them once.

Qt-free: colours are ``#rrggbb`` strings; :func:`rgb` turns them into integer triples.
"""

from __future__ import annotations

import colorsys

import numpy as np

# Tableau 10 (minus its grey) followed by Kelly's colours of maximum contrast (minus white,
# black, greys and those too close to an earlier entry).
BASE_PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#875692", "#008856", "#a1caf1", "#be0032", "#c2b280", "#0067a5", "#f99379",
    "#604e97", "#8db600", "#882d17", "#e68fac", "#2b3d26", "#dcd300",
]
NEUTRAL = "#a0a0a0"  # noise, "none", "other", covered/unflagged
DIMMED = "#d0d0d0"  # rejected examples drawn underneath for context (report)
ROLE_COLOURS = {
    "train": "#4e79a7",
    "production": "#f28e2b",
    "eval": "#59a14f",
    "reference": "#b07aa1",
}
ALERT = "#d62728"  # gaps, rejected, conflicts


def category_hex(i: int) -> str:
    """The i-th categorical colour as ``#rrggbb`` (stable: category i always gets the same)."""
    if i < len(BASE_PALETTE):
        return BASE_PALETTE[i]
    # golden-angle hues, alternating lightness/saturation so neighbours differ
    j = i - len(BASE_PALETTE)
    hue = (j * 0.618033988749895 + 0.13) % 1.0
    light = (0.42, 0.58, 0.50)[j % 3]
    sat = (0.75, 0.60, 0.90)[(j // 3) % 3]
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return "#{:02x}{:02x}{:02x}".format(*(int(round(255 * c)) for c in (r, g, b)))


def rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def category_rgb(ids: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 colours of category ids; negative ids (noise) get the neutral grey."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.empty((len(ids), 3), dtype=np.uint8)
    for value in np.unique(ids).tolist():
        out[ids == value] = rgb(NEUTRAL) if value < 0 else rgb(category_hex(value))
    return out
