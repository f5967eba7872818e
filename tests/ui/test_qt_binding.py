"""The Qt binding itself must not corrupt Python's reference counts.

PySide6 6.12.0 returns ``None`` from every void method without taking a reference to it. On
Python 3.12+ ``None`` is immortal and nothing happens; on 3.10/3.11 every call of ``save()``,
``setPen()``, ``fill()`` ... removes one reference, and after a few thousand calls (a few seconds
of map drawing) the interpreter aborts with "Fatal Python error: none_dealloc". pyproject.toml
excludes that release; this test catches any other release with the same fault.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui


def test_void_qt_calls_keep_the_reference_count_of_none(qapp):
    from PySide6 import QtCore, QtGui

    img = QtGui.QImage(8, 8, QtGui.QImage.Format_ARGB32_Premultiplied)
    painter = QtGui.QPainter(img)
    rect = QtCore.QRectF(0, 0, 4, 4)
    before = sys.getrefcount(None)
    for _ in range(200):
        painter.save()
        painter.setPen(QtGui.QColor(10, 20, 30))
        painter.drawImage(rect, img, rect)
        painter.restore()
        img.fill(0)
    after = sys.getrefcount(None)
    painter.end()
    # other threads may take or drop a few references meanwhile; 1,000 lost ones is the bug
    assert after - before > -100, f"{before - after} references to None lost in 1,000 void Qt calls"
