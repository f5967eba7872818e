"""Reading and writing datasets: format detection, normalisation, streaming readers, atomic writers.

- :mod:`~workbench.io.model`: the shared data model (``SourceData``, ``Normalised``, ``LoadError``).
- :mod:`~workbench.io.formats`: ``detect_schema``, ``normalise``, ``to_chat``, ``from_chat``
  (the schemas themselves are documented in :mod:`~workbench.io.schemas`).
- :mod:`~workbench.io.readers`: ``read_source`` for JSONL, JSON arrays, CSV/TSV and Parquet
  (:mod:`~workbench.io.tabular`), filling columns through :mod:`~workbench.io.collect`.
- :mod:`~workbench.io.writers`: ``atomic_writer``, ``write_parquet`` (the export's own files are
  written by :mod:`workbench.curate.outputs`).
"""
