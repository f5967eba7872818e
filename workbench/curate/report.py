"""The readiness report: one self-contained HTML file a curator can send to whoever pays for the run.

It holds the map (PNG images embedded as data URLs, drawn by :mod:`workbench.curate.mapimage`),
the cluster table, summaries of duplicates, conflicts, coverage gaps, leakage and quality flags,
and what changed (every curation step, removals by reason, edits, added examples, weights,
rebalance, replay mix, split). With two or more production snapshots it has a **drift** section:
the table of ``workbench drift`` (computed by the same
:func:`workbench.analysis.drift.drift_of_stored`; see :func:`drift_section`); with one snapshot, a
one-line note saying why there is none. No scripts, no external resources.

**Every piece of text that comes from data or from a curator is HTML-escaped** (``esc``); only
the fixed markup of this module is written unescaped.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Iterable

import numpy as np

from workbench.curate import mapimage
from workbench.curate.findings_file import edits_html, flagged_html, more_html, verdict_html

MAX_ROWS = 30  # rows per list section
SNIP = 160

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border-bottom:1px solid #eee;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;min-width:9em}
.card b{display:block;font-size:1.4em}.muted{color:#777}.warn{background:#fff6e0;border-left:4px solid #e69f00;padding:.4em .8em}
.ok{color:#007a52}.bad{color:#b34700}.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.3em;vertical-align:-.1em}
.maps{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:.9em;color:#555}
img{border:1px solid #eee}code{background:#f3f3f3;padding:0 .2em;border-radius:3px}q{color:#333}
"""


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too), for text and attribute values alike."""
    return html.escape("" if value is None else str(value), quote=True)


def _snip(text: Any, n: int = SNIP) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _num(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else str(x)


def _table(headers: list[str], rows: Iterable[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="n">{esc(h)}</th>' if k in numeric else f"<th>{esc(h)}</th>"
                   for k, h in enumerate(headers))
    body = []
    for r in rows:
        body.append("<tr>" + "".join(
            f'<td class="n">{esc(v)}</td>' if k in numeric else f"<td>{v if isinstance(v, _Html) else esc(v)}</td>"
            for k, v in enumerate(r)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


class _Html(str):
    """Markup built by this module from escaped parts (passes through ``_table`` unescaped)."""


def _swatch(rgb) -> _Html:
    return _Html(f'<span class="sw" style="background:{mapimage.hex_colour(rgb)}"></span>')


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}" width="540">'


def _maps(snap, exported: np.ndarray, validation: np.ndarray) -> str:
    view = snap.analysis
    if view is None or not view.has_map:
        return '<p class="muted">No map: the project has no analysis. Run <code>workbench analyze</code>.</p>'
    ok = np.isfinite(view.x) & np.isfinite(view.y)
    role = snap.role
    # by role: rejected training examples underneath (grey), then train, reference, eval, and
    # production on top, so production inputs with no training example nearby stand out
    layers = [("rejected", (role == "train") & snap.rejected), ("train", (role == "train") & ~snap.rejected),
              ("reference", role == "reference"), ("eval", role == "eval"), ("production", role == "production")]
    order = np.concatenate([np.flatnonzero(m & ok) for _, m in layers])
    rgb = np.zeros((snap.n, 3), dtype=np.uint8)
    for name, m in layers:
        rgb[m] = mapimage.ROLE_RGB[name]
    by_role = mapimage.render_png(view.x[order], view.y[order], rgb[order], width=540, height=420, size=2)
    legend_role = " ".join(f"{_swatch(mapimage.ROLE_RGB[name])}{esc(name)} ({int((m & ok).sum())})"
                           for name, m in reversed(layers) if m.any())
    # by cluster: exported training examples
    rows = np.concatenate([exported, validation]).astype(np.int64)
    rows = rows[ok[rows]]
    crgb = mapimage.cluster_colours(view.cluster[rows])
    by_cluster = mapimage.render_png(view.x[rows], view.y[rows], crgb, width=540, height=420, size=2)
    cl, cnt = np.unique(view.cluster[rows], return_counts=True)
    top = [(int(c), int(k)) for c, k in sorted(zip(cl, cnt), key=lambda t: -t[1]) if c >= 0][:12]
    legend_cluster = " ".join(
        f"{_swatch(mapimage.cluster_colours(np.array([c]))[0])}{esc(c)} {esc(_snip(view.labels.get(c, ''), 40))} ({k})"
        for c, k in top)
    return (f'<div class="maps"><figure>{_img(by_role, "map by role")}<figcaption>By role: {legend_role}'
            f'</figcaption></figure><figure>{_img(by_cluster, "map of exported examples by cluster")}'
            f"<figcaption>Exported examples by cluster (largest: {legend_cluster}; grey = noise)"
            "</figcaption></figure></div>")


def _text_of(snap, ref: dict[str, Any] | None) -> str:
    if not isinstance(ref, dict):
        return ""
    if ref.get("source_id") is None or ref.get("line") is None:
        return ""
    i = snap.index_of((int(ref["source_id"]), int(ref["line"])))  # identity, not the file name
    return _snip(snap.prompt[i]) if i is not None else ""


def _where(ref: Any) -> str:
    if isinstance(ref, dict):
        return f"{ref.get('source')}:{ref.get('line')}"
    if isinstance(ref, (list, tuple)) and len(ref) >= 2:
        return f"{ref[0]}:{ref[1]}"
    return ""


def _findings(snap) -> str:
    view = snap.analysis
    if view is None:
        return '<p class="muted">No analysis: duplicates, conflicts, gaps and flags were not computed.</p>'
    s = view.summary
    parts = []
    d = s.get("duplicates") or {}
    parts.append(f"<h3>Duplicates</h3><p>{esc(d.get('n_groups', 0))} groups holding "
                 f"{esc(d.get('n_rows_in_groups', 0))} examples; {esc(d.get('n_removable', 0))} removable "
                 f"(all but the suggested keeper). Near-duplicate threshold: cosine ≥ {esc(d.get('threshold'))}.</p>")
    groups = (d.get("groups") or [])[:MAX_ROWS]
    if groups:
        parts.append(_table(["group", "kind", "scope", "size", "keeper", "keeper text"],
                            [[g.get("group"), g.get("kind"), g.get("scope"), g.get("size"), _where(g.get("keeper")),
                              _text_of(snap, g.get("keeper"))] for g in groups], {0, 3}))
        parts.append(more_html(len(groups), len(view.duplicates), "duplicates"))
    c = s.get("conflicts") or {}
    parts.append(f"<h3>Conflicts</h3><p>{esc(c.get('n_conflicts', 0))} training examples whose near-identical "
                 "prompts got diverging responses.</p>")
    items = (c.get("conflicts") or [])[:MAX_ROWS]
    if items:
        parts.append(_table(["example", "score", "reason"],
                            [[_where(it.get("example")), it.get("score"), it.get("reason")] for it in items], {1}))
        parts.append(more_html(len(items), int(c.get("n_conflicts", 0) or 0), "conflicts"))
    g = s.get("gaps") or {}
    gaps = g.get("gaps", []) if isinstance(g, dict) else g
    n_gap = g.get("n_gap_inputs") if isinstance(g, dict) else None
    parts.append(f"<h3>Coverage gaps</h3><p>{esc(n_gap if n_gap is not None else '?')} production inputs "
                 f"far from every training example; {esc(len(gaps))} ranked gaps.</p>")
    if gaps:
        parts.append(_table(["rank", "where", "kind", "production inputs", "suggested to add", "examples"],
                            [[x.get("rank", k), x.get("region"), x.get("kind"), x.get("n_affected"), x.get("suggested_add"),
                              " | ".join(_snip(e.get("text"), 70) for e in (x.get("examples") or [])[:3])]
                             for k, x in enumerate(gaps[:MAX_ROWS])], {0, 3, 4}))
        parts.append(more_html(min(len(gaps), MAX_ROWS), len(gaps), "gaps"))
    un = g.get("unreached", []) if isinstance(g, dict) else []
    if un:
        parts.append(f"<p>Training clusters production never reaches: "
                     f"{esc(', '.join(str(u.get('cluster')) for u in un[:20]))}.</p>")
    f = s.get("flags") or {}
    counts = f.get("counts") if isinstance(f, dict) else None
    if isinstance(counts, list) and counts:
        parts.append("<h3>Quality flags</h3>" + _table(
            ["flag", "examples", "definition"],
            [[x.get("flag"), x.get("count"), x.get("definition")] for x in counts if isinstance(x, dict)], {1}))
        parts.append(flagged_html(snap))
    return "".join(parts)


def _leakage(leak: dict[str, Any] | None) -> str:
    if not leak:
        return '<p class="muted">Not checked.</p>'
    if leak.get("eval_examples", 0) == 0:
        return f'<p class="muted">{esc(leak.get("note", "No eval source."))}</p>'
    n = leak.get("leaked_eval_examples", 0)
    cls = "ok" if n == 0 else "bad"
    out = [f'<p class="{cls}">{esc(n)} of {esc(leak["eval_examples"])} eval examples leak into the export '
           "(the analysis' leak rule, run on the exported examples).</p>"]
    side = leak.get("by_side") or {}
    kinds = leak.get("by_kind") or {}
    if n:  # each leaked eval example once, by the first test that holds: the rows add up to the headline
        rows = [[k, sum(1 for e in leak.get("examples", []) if e["kind"] == k and e["side"] == "train"),
                 sum(1 for e in leak.get("examples", []) if e["kind"] == k and e["side"] == "validation"), v]
                for k, v in kinds.items()]
        rows.append([_Html("<b>total</b>"), side.get("train", 0), side.get("validation", 0), n])
        out.append(_table(["kind (first test that holds)", "in train", "in validation", "eval examples"], rows, {1, 2, 3}))
    if leak.get("note"):
        out.append(f'<p class="muted">{esc(leak["note"])}</p>')
    ex = leak.get("examples") or []
    if ex:
        out.append(_table(["eval example", "matches", "side", "kind", "what matched"],
                          [[_where(e["eval"]), _where(e["match"]), e["side"], e["kind"], e.get("reason", "")]
                           for e in ex[:MAX_ROWS]]))
        out.append(more_html(min(len(ex), MAX_ROWS), n, "leakage"))
    return "".join(out)


def _gap_example(gap: dict[str, Any] | None) -> str:
    examples = (gap or {}).get("examples") or []
    return _snip(examples[0].get("text"), 80) if examples and isinstance(examples[0], dict) else ""


def _changes(m: dict[str, Any], snap) -> str:
    out = []
    journal = m.get("journal") or []
    out.append(f"<p>{esc(len(journal))} curation steps in effect.</p>")
    if journal:
        out.append(_table(["op", "time", "step"], [[j["op_id"], j["time"], j["label"]] for j in journal[-MAX_ROWS:]], {0}))
        if len(journal) > MAX_ROWS:
            out.append(f'<p class="muted">Last <b>{MAX_ROWS} of {len(journal):,}</b> shown; manifest.json lists all.</p>')
    rem = m.get("removals") or []
    if rem:
        out.append("<h3>Removals by reason</h3>" + _table(
            ["op", "reason", "examples"], [[r["op_id"], r["reason"] or "(no reason)", r["count"]] for r in rem[:MAX_ROWS]], {0, 2})
            + more_html(min(len(rem), MAX_ROWS), len(rem), "removals")
            + f'<p class="muted">{sum(r["count"] for r in rem):,} examples rejected; each one is in section '
              '<code>removals</code> of <a href="findings.jsonl">findings.jsonl</a>.</p>')
    if m.get("edits"):
        out.append(edits_html(snap, m))
    if m.get("added"):
        out.append("<h3>Added examples</h3>" + _table(
            ["#", "op", "role", "from", "exported as", "prompt"],
            [[a["added"], a["op_id"], a["role"], _where(a.get("provenance")) or a.get("provenance", {}).get("source", ""),
              a["exported_as"], _text_of(snap, {"source_id": 0, "line": a["added"]})]
             for a in m["added"][:MAX_ROWS]], {0, 1}) + more_html(min(len(m["added"]), MAX_ROWS), len(m["added"]), "added", None))
    if m.get("weights"):
        out.append("<h3>Weights</h3>" + _table(["op", "weight", "examples"],
                                              [[w["op_id"], w["weight"], w["count"]] for w in m["weights"][:MAX_ROWS]], {0, 1, 2}))
    rb = m.get("rebalance")
    if rb:
        out.append(f"<h3>Rebalance</h3><p>{esc(rb.get('label'))}: {esc(rb.get('rejected'))} capped, "
                   f"{esc(rb.get('reweighted'))} reweighted; distance to target {esc(_num(rb.get('distance_before')))} → "
                   f"{esc(_num(rb.get('distance_after')))} (total variation).</p>")
        needs = rb.get("needs_new_data") or []
        if needs:
            out.append("<p>Clusters that need new data:</p>" + _table(
                ["cluster", "label", "target", "reachable", "short by", "why", "e.g. production input"],
                [[n["cluster"], n["label"], round(n["target"], 1), round(n["reachable"], 1), round(n["shortfall"], 1),
                  n["reason"], _gap_example(n.get("gap"))] for n in needs[:MAX_ROWS]], {0, 2, 3, 4}))
    for p in m.get("mix") or []:
        out.append(f"<p>Replay mix: {esc(p['selected'])} examples from {esc(p['source'])} "
                   f"({esc(round(p['ratio'] * 100, 2))}% of training lines asked: {esc(p['requested'])}; "
                   f"sampling: {esc(p['method'])}).</p>")
    sp = m.get("split")
    if sp:
        out.append(f"<p>Split: {esc(sp['train'])} train / {esc(sp['validation'])} validation "
                   f"(train fraction {esc(sp['fraction'])}, seed {esc(sp['seed'])}); "
                   f"{esc(sp['duplicate_groups_kept_together'])} duplicate groups kept on one side.</p>")
    return "".join(out)


def drift_section(snap, *, progress=None, cancel=None) -> dict[str, Any]:
    """The export report's drift: ``{"drift": Drift}`` (the latest production snapshot against the
    one before, by :func:`workbench.analysis.drift.drift_of_stored`, the function behind
    ``workbench drift`` and the app's Drift dialog, on the snapshot's analysis with the curator's
    cluster names) or ``{"note": why there is none}`` (fewer than two snapshots, no analysis, no
    embeddings at hand). Prompt vectors come from the snapshot's ``embed`` (the cache)."""
    from workbench.analysis import drift

    dates = drift.snapshot_dates(snap)
    snaps = drift.row_snapshots(snap.source_id, snap.role, dates)
    labels = sorted({str(x) for x in snaps.tolist() if x}, key=lambda x: (x != drift.INITIAL, x))
    if not labels:
        return {"note": "No production log: nothing to compare."}
    if len(labels) < 2:
        return {"note": f"One production snapshot ({labels[0]}): drift compares the latest log with the one before. "
                        "Add the next log with `workbench add PROJECT FILE --role production --snapshot YYYY-MM-DD`."}
    if snap.analysis is None:
        return {"note": f"Production snapshots {', '.join(labels)}; drift needs the analysis (run `workbench analyze`)."}
    if snap.embed is None:
        return {"note": "Drift not computed: no embedding model at hand for this export (run `workbench drift PROJECT`)."}
    vecs = np.asarray(snap.embed(list(snap.prompt), progress=progress, cancel=cancel), np.float32)
    try:
        d = drift.drift_of_stored(snap.analysis.result, snap, vecs, dates, cluster_edits=snap.analysis.cluster_edits,
                                  progress=progress, cancel=cancel)
    except drift.DriftError as exc:
        return {"note": exc.user_message}
    return {"drift": d}


def _drift(section: dict[str, Any] | None) -> str:
    if not section:
        return '<p class="muted">Not computed.</p>'
    d = section.get("drift")
    if d is None:
        return f'<p class="muted">{esc(section.get("note", ""))}</p>'
    out = [f"<p>Production snapshot <b>{esc(d.after)}</b> ({d.n_after:,} inputs) against <b>{esc(d.before)}</b> "
           f"({d.n_before:,} inputs), on the analysis' map and clusters (new inputs placed by their nearest "
           "neighbours; the same table as <code>workbench drift</code>).</p>"]
    moved = [r for r in d.clusters if r["status"] != "same"]
    out.append(f"<h3>Clusters that grew or shrank</h3><p>{len(moved)} of {len(d.clusters)} clusters changed their "
               f"share by at least {esc(round(d.params.get('min_change', 0) * 100, 2))} points.</p>")
    if moved:
        out.append(_table(["cluster", "label", "inputs before", "inputs after", "share before", "share after",
                           "change", "status"],
                          [[r["cluster"], r["label"], r["n_before"], r["n_after"], f"{r['share_before']:.1%}",
                            f"{r['share_after']:.1%}", f"{r['change'] * 100:+.1f}p", r["status"]]
                           for r in moved[:MAX_ROWS]], {0, 2, 3, 4, 5, 6}))
        out.append(more_html(min(len(moved), MAX_ROWS), len(moved), "clusters", None))
    out.append(f"<h3>New regions not seen before</h3><p>{len(d.new_regions)} regions and {d.scattered_new:,} "
               f"scattered inputs ({len(d.novel):,} inputs whose nearest earlier row has cosine < "
               f"{d.novelty_threshold:.2f}).</p>")
    if d.new_regions:
        out.append(_table(["label", "inputs", "share after", "examples"],
                          [[r["label"], r["n"], f"{r['share_after']:.1%}",
                            " | ".join(_snip(e, 70) for e in r["examples"][:3])] for r in d.new_regions[:MAX_ROWS]],
                          {1, 2}))
        out.append(more_html(min(len(d.new_regions), MAX_ROWS), len(d.new_regions), "new regions", None))
    u = d.uncovered
    out.append(f"<h3>Inputs training still does not cover</h3><p>{u['n']:,} of {esc(d.after)}'s inputs "
               f"({u['share']:.1%}) have no training prompt with cosine ≥ {esc(u.get('gap_sim', ''))}.</p>")
    if u.get("by_cluster"):
        out.append(_table(["cluster", "label", "inputs"], [[r["cluster"], r["label"], r["n"]] for r in u["by_cluster"]],
                          {0, 2}))
    out.append("<h3>Earlier gaps now covered</h3>")
    if d.gaps_now_covered:
        out.append(_table(["gap", "label", "inputs", "now covered"],
                          [[r["gap"], r["label"], r["n"], r["now_covered"]] for r in d.gaps_now_covered[:MAX_ROWS]],
                          {0, 2, 3}))
    else:
        out.append('<p class="muted">No coverage gaps in the earlier snapshot, or no training to compare.</p>')
    return "".join(out)


def build_report(manifest: dict[str, Any], snap, *, exported: np.ndarray, validation: np.ndarray, picks=(),
                 drift: dict[str, Any] | None = None) -> str:
    """The report HTML for an export (see the module doc)."""
    m = manifest
    c = m["counts"]
    title = f"Readiness report: {snap.project_path.name}"
    cards = [("training examples", c["train_examples"]), ("rejected", c["rejected"]),
             ("exported (train)", c["exported_train"]), ("validation", c["validation"]),
             ("train lines", c["train_lines"]), ("replay mix", c["mix"]),
             ("edited", len(m.get("edits") or [])), ("added", c["added_train_examples"])]
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1><p class=\"muted\">Exported {esc(m['created'])} by Curation Workbench "
        f"{esc(m['tool']['version'])} from project revision {esc(m['project']['revision'])}.</p>",
        verdict_html(m.get("readiness")),
        '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in cards) + "</div>",
    ]
    if m.get("warnings"):
        parts.append('<div class="warn"><b>Warnings</b><ul>' + "".join(f"<li>{esc(w)}</li>" for w in m["warnings"]) + "</ul></div>")
    parts.append("<h2>Map</h2>" + _maps(snap, exported, validation))
    cl = m.get("clusters")
    parts.append("<h2>Clusters</h2>")
    if cl:
        db, da = cl.get("distance_to_production_before"), cl.get("distance_to_production_after")
        if db is not None:
            parts.append(f"<p>Distance of the training cluster shares to production: {esc(_num(db))} before → "
                         f"{esc(_num(da))} after (total variation, 0 = same shares, 1 = disjoint).</p>")
        table = sorted(cl["table"], key=lambda r: -r["before"])
        parts.append(_table(["cluster", "label", "before", "rejected", "after (lines)", "validation", "production"],
                            [[r["cluster"], r["label"], r["before"], r["rejected"], r["after"], r["validation"],
                              r["production"]] for r in table], {0, 2, 3, 4, 5, 6}))
    else:
        parts.append('<p class="muted">No analysis: no clusters.</p>')
    parts.append("<h2>Findings</h2>" + _findings(snap))
    parts.append("<h2>Leakage against eval</h2>" + _leakage(m.get("leakage")))
    parts.append("<h2>Drift of the latest production log</h2>" + _drift(drift))
    parts.append("<h2>What changed</h2>" + _changes(m, snap))
    parts.append("<h2>Files</h2>" + _table(
        ["file", "split", "lines", "sha256"], [[o["file"], o["split"], o["lines"], o["sha256"]] for o in m["outputs"]], {2}))
    parts.append(_table(["input", "role", "rows", "sha256"],
                        [[i["name"], i["role"], i["rows"], i["sha256"]] for i in m["inputs"]], {2}))
    parts.append("</body></html>\n")
    return "".join(parts)
