"""Curation Workbench: see, fix and export LLM fine-tuning datasets.

Layers run one way (checked by tests/test_layers.py):
    core  <-  io  <-  embed  <-  project  <-  analysis  <-  curate  <-  cli / ui
Only ``workbench.ui`` imports Qt (PySide6, pyqtgraph).
"""

__version__ = "0.1.0"
