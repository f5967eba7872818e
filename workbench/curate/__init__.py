"""Curation plans over analysis results: rebalance, replay mix, split, export, manifest, report.

Qt-free; the Rebalance and Export dialogs and ``workbench export`` are front ends over this::

    from workbench.analysis.project_analysis import load_stored
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.rebalance import plan_project_rebalance
    from workbench.curate.export import ExportOptions, run_export
    from workbench.curate.mix import MixSpec

    snap = CurationSnapshot.capture(project, load_stored(project), embed=embed)  # caller's thread
    plan = plan_project_rebalance(snap, "production")        # preview: plan.clusters (before/after)
    project.apply(plan.to_batch(project.workspace.example_id))  # ONE undoable step
    result = run_export(CurationSnapshot.capture(project, analysis, embed=embed),
                        ExportOptions(out, format="chat", split=0.9, mix=[MixSpec("general.jsonl", 0.1)],
                                      report=True),
                        progress=progress, cancel=cancel)     # a runner: worker thread is fine

Modules: :mod:`snapshot` (what a plan or export reads, captured once), :mod:`actions` (curation
actions, each one journal op) and :mod:`resolve` (a conflict's canonical answer), :mod:`readiness`
(the verdict), :mod:`sampling` (representative-and-diverse order), :mod:`rebalance`, :mod:`mix`,
:mod:`split` (and eval leakage of an export), :mod:`export` (the runner), :mod:`destination` (the
folder an export owns), :mod:`export_files` and :mod:`export_records` (files and lines),
:mod:`manifest`, :mod:`report` with :mod:`mapimage`, :mod:`findings_file`, :mod:`eval_set`.
"""
