"""Reading datasets: every line of a file loaded or reported with file, line and reason.

- :mod:`~workbench.io.source_data`: one loaded file, column-wise (``SourceData``, ``Normalised``, ``LoadError``).
- :mod:`~workbench.io.source_file`: a file opened once, regular files only, hashed as parsed.
- :mod:`~workbench.io.readers`: ``read_source`` for JSONL and JSON arrays; :mod:`~workbench.io.tabular`
  for CSV/TSV and Parquet; both fill columns through :mod:`~workbench.io.collect`.
- :mod:`~workbench.io.formats` (public face) and :mod:`~workbench.io.schemas`: detect a schema,
  normalise a record, convert to and from chat; :mod:`~workbench.io.values`: what a value may hold.
- :mod:`~workbench.io.writers`: ``atomic_writer`` and ``write_parquet`` for the analysis store
  (the export's own files are written by :mod:`workbench.curate.export_files`).
"""
