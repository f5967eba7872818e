"""The full findings file written beside the report, and the report parts that point into it.

``findings.jsonl`` (one JSON object per line) lists **every** finding the report and the
readiness verdict count, each with ``section``, ``source``, ``line``, ``role`` and ``reason``
(plus a few section-specific keys), so a table the report cuts at 30 rows hides nothing:

=================== =====================================================================
section             one line per
=================== =====================================================================
``readiness:KEY``   finding of readiness check KEY (``leakage``, ``duplicates``, ...)
``duplicates``      member of a duplicate group (``n_rows_in_groups`` of the summary)
``conflicts``       conflict (``n_conflicts``), its example, the ones it disagrees with
``gaps``            production input far from every training example (``n_gap_inputs``)
``flags``           (example, flag) pair (the sum of the flag counts)
``leakage``         leaked eval example of the export (``leaked_eval_examples``)
``removals``        rejected example (the sum of ``removals[].count``)
``edits``           edited example, with its text before and after
=================== =====================================================================

The HTML helpers here (:func:`verdict_html`, :func:`more_html`, :func:`flagged_html`,
:func:`edits_html`) escape every piece of data text, as :mod:`workbench.curate.report` does.
"""

from __future__ import annotations

import difflib
import html
import json
from typing import Any

import numpy as np

FINDINGS = "findings.jsonl"
MAX_ROWS = 30
SNIP = 160


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _snip(text: Any, n: int = SNIP) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _line(section: str, snap, i: int, reason: str, **extra: Any) -> dict[str, Any]:
    d = {"section": section, "source": str(snap.source_names[int(i)]), "line": int(snap.line[int(i)]),
         "role": str(snap.role[int(i)]), "reason": reason}
    d.update(extra)
    return d


def _ref_text(ref: Any) -> str:
    if isinstance(ref, dict):
        return f"{ref.get('source')}:{ref.get('line')}"
    return str(ref)


# --------------------------------------------------------------------------------------------
def collect(manifest: dict[str, Any], snap) -> list[dict[str, Any]]:
    """Every finding (see the module doc), in section order."""
    out: list[dict[str, Any]] = []
    for c in (manifest.get("readiness") or {}).get("checks", []):
        for it in c.get("items", []):
            out.append(dict(it, section=f"readiness:{c['key']}", check=c["title"]))
    a = snap.analysis
    if a is not None:
        out.extend(_duplicates(snap, a))
        out.extend(_conflicts(snap, a))
        out.extend(_gaps(snap, a))
        out.extend(_flags(snap, a))
    leak = manifest.get("leakage") or {}
    for e in leak.get("examples", []) or []:
        out.append({"section": "leakage", "source": e["eval"]["source"], "line": e["eval"]["line"], "role": "eval",
                    "reason": f"leaks into {e['side']} as {_ref_text(e['match'])}: {e.get('reason', e.get('kind'))}",
                    "kind": e.get("kind"), "match": e["match"], "side": e["side"]})
    for r in manifest.get("removals", []) or []:
        for ex in r.get("examples", []):
            out.append({"section": "removals", "source": ex[0], "line": ex[1], "role": ex[2] if len(ex) > 2 else "",
                        "reason": r.get("reason") or "(no reason)", "op_id": r.get("op_id")})
    for i in np.flatnonzero(snap.edited).tolist():
        before, after = _before_after(snap, i)
        out.append(_line("edits", snap, i, "edited", before=before, after=after))
    return out


def _duplicates(snap, a) -> list[dict[str, Any]]:
    out = []
    for g in a.duplicates:
        keeper = int(g.keeper)
        kref = f"{snap.source_names[keeper]}:{int(snap.line[keeper])}" if keeper >= 0 else "?"
        kind = g.data.get("kind", "")
        for r in g.rows.tolist():
            what = "keeper" if r == keeper else f"duplicate of {kref}"
            out.append(_line("duplicates", snap, r, f"{g.title} ({kind}, {len(g.rows)} members): {what}".replace(" ()", ""),
                             group=g.data.get("group")))
    return out


def _conflicts(snap, a) -> list[dict[str, Any]]:
    out = []
    listed = set()
    for k, f in enumerate(a.conflicts, 1):
        if not len(f.rows):
            continue
        r = int(f.rows[0])
        listed.add(r)
        against = [f"{snap.source_names[int(x)]}:{int(snap.line[int(x)])}" for x in f.rows[1:]]
        out.append(_line("conflicts", snap, r, f.title, conflict=k, disagrees_with=against))
    n = int((a.summary.get("conflicts") or {}).get("n_conflicts", 0) or 0)
    score = a.extra_columns.get("conflict")
    if n > len(listed) and score is not None:  # beyond the summary's listing: the per-example column
        rest = [int(i) for i in np.argsort(-np.nan_to_num(score, nan=-1.0)) if int(i) not in listed]
        for i in rest[: n - len(listed)]:
            out.append(_line("conflicts", snap, i, f"conflict score {score[i]:.2f} (beyond the summary's listing)"))
    return out


def _gaps(snap, a) -> list[dict[str, Any]]:
    where: dict[int, str] = {}
    for g in a.gaps:
        for r in g.rows.tolist():
            where.setdefault(int(r), g.title)
    out = []
    for r in np.flatnonzero(a.is_gap).tolist():
        out.append(_line("gaps", snap, r, where.get(r, "far from every training example (in no ranked gap)"),
                         nearest_train_sim=None if not np.isfinite(a.nearest_train_sim[r])
                         else round(float(a.nearest_train_sim[r]), 4)))
    return out


def _flags(snap, a) -> list[dict[str, Any]]:
    defs = a.flag_definitions
    out = []
    names = sorted(a.flag_rows, key=lambda k: (not k.startswith("pii_"), k))
    for name in names:
        for r in a.flag_rows[name].tolist():
            out.append(_line("flags", snap, r, f"{name}: {defs.get(name, '')}".rstrip(": "), flag=name))
    return out


def _before_after(snap, i: int) -> tuple[dict[str, str], dict[str, str]]:
    """Prompt and response of example ``i`` as loaded and as exported (edits applied)."""
    from workbench.io.formats import normalise

    def texts(record, schema, mapping) -> dict[str, str]:
        try:
            ex = normalise(record, schema, mapping=mapping)
            return {"prompt": ex.prompt or "", "response": ex.response or ""}
        except Exception:  # an odd record: show it as JSON rather than fail the report
            return {"record": json.dumps(record, ensure_ascii=False)}

    schema, mapping = snap.schema_of(i), snap.mapping_of(i)
    if snap.is_added(i):
        original = snap.added[int(snap.line[i])].record
    else:
        s, j = snap._local(i)
        original = snap.datas[s].record(j)
    return texts(original, schema, mapping), texts(snap.record(i), schema, mapping)


def write(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode("utf-8")


def section_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["section"]] = out.get(r["section"], 0) + 1
    return out


# --------------------------------------------------------------------------------------------
# report parts
# --------------------------------------------------------------------------------------------
def more_html(shown: int, total: int, section: str, findings: str | None = FINDINGS) -> str:
    """Under a cut table: "30 of 83 shown" and where the rest is (nothing when all are shown)."""
    if total <= shown:
        return f'<p class="muted">All {total:,} shown.</p>' if total > MAX_ROWS // 2 else ""
    where = (f' Every one is in <a href="{esc(findings)}">{esc(findings)}</a> (section <code>{esc(section)}</code>).'
             if findings else "")
    return f'<p class="muted"><b>{shown:,} of {total:,}</b> shown.{where}</p>'


def verdict_html(readiness: dict[str, Any] | None, findings: str | None = FINDINGS) -> str:
    """The verdict box of the report's first screen."""
    if not readiness:
        return ""
    ready = readiness.get("ready")
    cls = "ok" if ready else "bad"
    rows = []
    for c in readiness.get("checks", []):
        mark = {"pass": "✓", "warn": "✗", "skip": "–"}.get(c["status"], "?")
        fix = f"<code>{esc(c['fix'])}</code>" + (f"<br><span class=\"muted\">app: {esc(c['app'])}</span>" if c.get("app") else "") \
            if c["status"] == "warn" else ""
        why = esc(c["why"]) if c["status"] == "warn" else ""
        rows.append(f'<tr><td class="{"ok" if c["status"] == "pass" else ("bad" if c["status"] == "warn" else "muted")}">'
                    f"{mark} {esc(c['title'])}</td><td class=\"n\">{esc(c['count'])}</td><td>{esc(c['summary'])}</td>"
                    f"<td>{why}</td><td>{fix}</td></tr>")
    link = (f' Every finding is listed in <a href="{esc(findings)}">{esc(findings)}</a>.' if findings else "")
    return (f'<div class="warn" id="readiness"><p class="{cls}" style="font-size:1.25em;margin:.2em 0"><b>'
            f"{esc(readiness.get('headline'))}</b></p>"
            "<table><tr><th>check</th><th class=\"n\">count</th><th>found</th><th>why it matters</th>"
            f"<th>fix</th></tr>{''.join(rows)}</table><p class=\"muted\">Thresholds are project settings "
            f"<code>readiness.*</code>.{link}</p></div>")


def flagged_html(snap, findings: str | None = FINDINGS) -> str:
    """Which examples carry a flag (PII first), not only how many."""
    a = snap.analysis
    if a is None or not a.flag_rows:
        return ""
    rows = _flags(snap, a)
    body = "".join(
        f"<tr><td>{esc(r['flag'])}</td><td>{esc(r['source'])}:{esc(r['line'])}</td><td>{esc(r['role'])}</td>"
        f"<td>{'rejected' if snap.rejected[_row(snap, r)] else ''}</td><td>{esc(_snip(snap.prompt[_row(snap, r)], 90))}</td></tr>"
        for r in rows[:MAX_ROWS])
    return ("<h4>Flagged examples</h4><table><tr><th>flag</th><th>example</th><th>role</th><th>state</th>"
            f"<th>prompt</th></tr>{body}</table>" + more_html(min(len(rows), MAX_ROWS), len(rows), "flags", findings))


def _row(snap, r: dict[str, Any]) -> int:
    sid = {str(n): int(s) for n, s in zip(snap.source_names, snap.source_id)}.get(r["source"])
    i = snap.index_of((sid, int(r["line"]))) if sid is not None else None
    return int(i) if i is not None else 0


def _diff(a: str, b: str) -> str:
    """Word-level before/after: removed words struck through, added words underlined."""
    wa, wb = a.split(), b.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(esc(" ".join(wa[i1:i2])))
        else:
            if i2 > i1:
                out.append(f'<del style="background:#fdd">{esc(" ".join(wa[i1:i2]))}</del>')
            if j2 > j1:
                out.append(f'<ins style="background:#dfd">{esc(" ".join(wb[j1:j2]))}</ins>')
    return " ".join(out)


def edits_html(snap, manifest: dict[str, Any], findings: str | None = FINDINGS) -> str:
    """Each edit as a before/after diff of prompt and response (first 30; every one in the findings file)."""
    rows = np.flatnonzero(snap.edited).tolist()
    if not rows:
        return ""
    op_of = {(e["source"], e["line"]): (e.get("op_id"), e.get("exported_as")) for e in manifest.get("edits") or []}
    body = []
    for i in rows[:MAX_ROWS]:
        before, after = _before_after(snap, i)
        key = (str(snap.source_names[i]), int(snap.line[i]))
        op, where = op_of.get(key, (None, ""))
        cells = "".join(f"<div><b>{esc(k)}:</b> {_diff(before.get(k, ''), after.get(k, ''))}</div>"
                        for k in ("prompt", "response", "record") if k in before or k in after
                        if before.get(k, "") != after.get(k, ""))
        body.append(f"<tr><td>{esc(key[0])}:{esc(key[1])}</td><td class=\"n\">{esc(op)}</td><td>{esc(where)}</td>"
                    f"<td>{cells or '<span class=muted>no text change (other fields)</span>'}</td></tr>")
    return (f"<h3>Edits ({len(rows):,})</h3><table><tr><th>example</th><th class=\"n\">op</th><th>exported as</th>"
            f"<th>before → after (<del style=\"background:#fdd\">removed</del> <ins style=\"background:#dfd\">added</ins>)"
            f"</th></tr>{''.join(body)}</table>" + more_html(min(len(rows), MAX_ROWS), len(rows), "edits", findings))
