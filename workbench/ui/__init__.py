"""The desktop app (PySide6 + pyqtgraph): thin views over the Qt-free core.

:mod:`window_model` holds the open project, its workspace, the analysis and the selection
(``WindowModel``; views hold it as ``session``); :mod:`background_jobs` are plain functions over the
core that :mod:`executors` run off the GUI thread. Views: :mod:`main_window`, :mod:`map_view` with
:mod:`point_cloud`, :mod:`table_view`, :mod:`example_panel`, :mod:`finding_panels`,
:mod:`finding_review`, and the dialogs. Nothing below this package imports Qt.
"""
