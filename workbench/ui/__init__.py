"""The desktop app (PySide6 + pyqtgraph): thin views over the Qt-free core."""
