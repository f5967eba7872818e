"""What the analysis knows about one example, as HTML for the example panel.

Links ``row:N`` open example N (the panel turns them into a selection). Every piece of dataset
text is HTML-escaped.
"""

from __future__ import annotations

import html

import numpy as np

PREVIEW = 110


def _short(text: str, n: int = PREVIEW) -> str:
    t = " ".join(str(text or "").split())
    return html.escape(t if len(t) <= n else t[: n - 1] + "…")


def _link(session, row: int, extra: str = "") -> str:
    ws = session.ws
    state = " <span style='color:#d62728'>(rejected)</span>" if ws.rejected[row] else ""
    return (f"<a href='row:{row}'>{html.escape(str(ws.source_names[row]))}:{int(ws.line[row])}</a> "
            f"<span style='color:gray'>{html.escape(str(ws.role[row]))}</span>{extra}{state} — "
            f"{_short(ws.prompt[row])}")


def info_html(session, row: int) -> str:
    ws, a = session.ws, session.analysis
    parts: list[str] = []
    prov = ws.provenance(row) if ws.is_added(row) else None
    if prov:
        src = prov.get("source", "?")
        line = prov.get("line", "?")
        parts.append(f"<p><b>Origin:</b> added from {html.escape(str(src))}:{html.escape(str(line))}"
                     + (f" — {html.escape(str(prov.get('note')))}" if prov.get("note") else "") + "</p>")
    for name, values in sorted(ws.extra.items()):
        v = values[row] if row < len(values) else None
        if v is not None:
            parts.append(f"<b>{html.escape(name)}:</b> {_short(str(v), 80)}<br>")
    if a is None:
        parts.append("<p style='color:gray'>Run the analysis (Ctrl+R) to see this example's cluster, "
                     "duplicates, conflicts and neighbours.</p>")
        return "".join(parts)
    if row >= a.n or not np.isfinite(a.x[row]):
        parts.append("<p style='color:gray'>Not analysed yet (added after the analysis ran).</p>")
        return "".join(parts)
    c = int(a.cluster[row])
    label = a.cluster_labels.get(c, f"cluster {c}") if c >= 0 else "noise (no cluster)"
    facts = [f"<b>Cluster:</b> {html.escape(label)}"]
    if np.isfinite(a.nearest_train_sim[row]):
        sim = float(a.nearest_train_sim[row])
        facts.append(f"<b>Nearest training example:</b> similarity {sim:.2f}"
                     + (" <b style='color:#d62728'>(coverage gap)</b>" if sim < _gap_threshold(a) else ""))
    if np.isfinite(a.inconsistency[row]):
        facts.append(f"<b>Inconsistency:</b> {float(a.inconsistency[row]):.2f}")
    flags = a.flags[row]
    facts.append("<b>Flags:</b> " + (", ".join(f"<span style='color:#b35900'>{html.escape(f)}</span>" for f in flags)
                                     if flags else "none"))
    parts.append("<p>" + "<br>".join(facts) + "</p>")
    g = int(a.dup_group[row])
    if g >= 0:
        group = next((d for d in a.duplicates if int(d.data.get("group", -2)) == g), None)
        members = group.rows if group is not None else np.flatnonzero(a.dup_group == g)
        keeper = group.keeper if group is not None else -1
        kind = html.escape(str(group.data.get("kind", ""))) if group is not None else ""
        items = []
        for m in members[:12]:
            if m == row:
                continue
            items.append("<li>" + _link(session, int(m), " <b>keeper</b>" if m == keeper else "") + "</li>")
        me = " — <b>this one is the suggested keeper</b>" if keeper == row else ""
        n_other = len(members) - 1
        parts.append(f"<p><b>{n_other} duplicate{'s' if n_other != 1 else ''} of this prompt</b>"
                     f"{' (' + kind + ')' if kind else ''}{me}</p>"
                     f"<ul>{''.join(items)}</ul>")
    conflicts = [f for f in a.conflicts if row in set(f.rows.tolist())][:5]
    if conflicts:
        items = []
        for f in conflicts:
            others = [int(r) for r in f.rows if r != row]
            reason = html.escape(f.title)
            for o in others[:3]:
                items.append(f"<li>{reason}: {_link(session, o)}<br><span style='color:gray'>their response:</span> "
                             f"{_short(ws.response[o])}</li>")
        parts.append(f"<p><b>Conflicts</b></p><ul>{''.join(items)}</ul>")
    rows, sims = session.neighbours(row, 6)
    if len(rows):
        items = "".join(f"<li>{s:.2f} {_link(session, int(r))}</li>" for r, s in zip(rows, sims))
        parts.append(f"<p><b>Nearest neighbours</b></p><ul>{items}</ul>")
    elif session.vectors is None:
        parts.append("<p style='color:gray'>Neighbours appear once the vectors are loaded.</p>")
    return "".join(parts)


def _gap_threshold(a) -> float:
    params = getattr(a.result, "params", None)
    for name in ("gap_sim", "gap_threshold"):
        v = (params.get(name) if isinstance(params, dict) else getattr(params, name, None)) if params is not None else None
        if v is not None:
            return float(v)
    return 0.6
