"""Analysis: from prompt/response vectors to findings, Qt-free, the same for the app and the CLI.

:mod:`project_analysis` decides how a project is analysed (what is embedded, parameters, results
folder, staleness) and :mod:`aligned` maps results onto rows by example identity. The pipeline
(:mod:`pipeline`, its stages in :mod:`stages`, inputs in :mod:`inputs`, files in
:mod:`results_store`) builds the neighbour graph (:mod:`graph`, :mod:`graph_kernels`, :mod:`jit`),
the map (:mod:`layout`), clusters (:mod:`clusters`, :mod:`labels`) and one module per finding:
:mod:`duplicates` (+ :mod:`pair_verifier`), :mod:`conflicts` (+ :mod:`label_quality`),
:mod:`mismatch`, :mod:`coverage`, :mod:`review_queue`, :mod:`leakage`, :mod:`flags`; shared text
rules in :mod:`textnorm`, row references in :mod:`row_refs`. :mod:`drift` compares production
snapshots on a stored analysis.
"""
