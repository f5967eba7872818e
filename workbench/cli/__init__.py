"""The headless front end: ``workbench <command>``, one ``cmd_*.py`` module per command, dispatched
by :mod:`main`; :mod:`argtypes` (argument types that fail in one line), :mod:`launcher` (the command a
hint prints), :mod:`progressbar`. Every command calls the same core functions as the app. Never
imports Qt.
"""
