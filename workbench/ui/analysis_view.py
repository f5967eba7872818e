"""The analysis result, aligned to workspace rows, in the shapes the views need.

``AnalysisResult.examples`` has one row per analysed example (in workspace order when the input
was built with ``AnalysisInput.from_workspace``); its ``summary`` refers to examples by
``source`` and ``line``. This adapter turns both into numpy arrays indexed by workspace row and
lists of findings whose members are workspace rows, so the map, the table and the panels can
select, colour and act on them directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Finding:
    """One item of a finding list (a cluster, duplicate group, conflict, gap, ...)."""

    title: str
    rows: np.ndarray  # workspace rows it concerns (for selection / zoom)
    data: dict[str, Any] = field(default_factory=dict)  # the raw summary item, refs resolved
    keeper: int = -1  # duplicates: the suggested keeper row


def _col(df, name, default, dtype=None):
    if name in df.columns:
        values = df[name].to_numpy()
        if dtype is not None:
            try:
                return values.astype(dtype)
            except (TypeError, ValueError):
                pass
        return values
    return np.full(len(df), default, dtype=dtype or object)


def _float(df, name) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan, np.float32)
    return np.asarray(df[name].to_numpy(dtype="float64", na_value=np.nan), dtype=np.float32)


def _int(df, name, missing=-1) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), missing, np.int64)
    s = df[name]
    return np.asarray(s.fillna(missing).to_numpy(dtype="float64"), dtype=np.int64)


class AnalysisView:
    """Per-row arrays and resolved finding lists of one analysis result."""

    def __init__(self, result, ws):
        self.result = result
        df = result.examples
        self.n = ws.n
        self.summary: dict = dict(getattr(result, "summary", {}) or {})
        self._key_to_row: dict[tuple[str, int], int] = {}
        names = np.asarray(ws.source_names, dtype=object)
        lines = np.asarray(ws.line)
        for i in range(ws.n):
            self._key_to_row[(str(names[i]), int(lines[i]))] = i
        self._roles = np.asarray(ws.role, dtype=object)
        self.row_of_result = self._align(df, names, lines)
        m = len(df)
        take = self.row_of_result

        def spread(values, fill):
            if values.dtype == object:
                out = np.empty(self.n, dtype=object)
                for i in range(self.n):
                    out[i] = fill
            else:
                out = np.full(self.n, fill, dtype=values.dtype)
            ok = take >= 0
            out[take[ok]] = values[ok]
            return out

        self.x = spread(_float(df, "x"), np.float32(np.nan))
        self.y = spread(_float(df, "y"), np.float32(np.nan))
        self.cluster = spread(_int(df, "cluster"), -1)
        self.dup_group = spread(_int(df, "dup_group"), -1)
        self.nearest_train_sim = spread(_float(df, "nearest_train_sim"), np.float32(np.nan))
        self.inconsistency = spread(_float(df, "inconsistency"), np.float32(np.nan))
        flags = _col(df, "flags", None)
        fl = np.empty(m, dtype=object)
        for i, f in enumerate(flags):
            fl[i] = tuple(f) if f is not None and not (isinstance(f, float) and math.isnan(f)) else ()
        self.flags = spread(fl, ())
        self.extra_columns: dict[str, np.ndarray] = {}
        for name in ("conflict", "review_priority", "leak_sim", "cluster_strength"):
            if name in df.columns:
                self.extra_columns[name] = spread(np.asarray(df[name].to_numpy(dtype="float64", na_value=np.nan)),
                                                  np.nan)
        self._build_findings()

    # -- alignment -----------------------------------------------------------------------------
    def _align(self, df, names, lines) -> np.ndarray:
        m = len(df)
        if "source" in df.columns and "line" in df.columns:
            src = df["source"].astype(str).to_numpy()
            ln = df["line"].to_numpy()
            if m == self.n and np.array_equal(src, names.astype(str)) and np.array_equal(ln.astype(np.int64), lines.astype(np.int64)):
                return np.arange(m, dtype=np.int64)
            return np.array([self._key_to_row.get((str(s), int(l)), -1) for s, l in zip(src, ln)], np.int64)
        return np.arange(m, dtype=np.int64) if m == self.n else np.full(m, -1, np.int64)

    def row(self, ref) -> int:
        """Workspace row of a summary reference ({"source", "line"} or {"row"}), or -1."""
        if isinstance(ref, dict):
            if "source" in ref and "line" in ref:
                return self._key_to_row.get((str(ref["source"]), int(ref["line"])), -1)
            if "row" in ref:
                r = int(ref["row"])
                return int(self.row_of_result[r]) if 0 <= r < len(self.row_of_result) else -1
        if isinstance(ref, (list, tuple)) and len(ref) == 2:
            return self._key_to_row.get((str(ref[0]), int(ref[1])), -1)
        if isinstance(ref, (int, np.integer)):
            return int(ref)
        return -1

    def rows(self, refs) -> np.ndarray:
        out = [self.row(r) for r in (refs or [])]
        return np.asarray([r for r in out if r >= 0], dtype=np.int64)

    def resized(self, ws) -> "AnalysisView":
        """The workspace grew or shrank at its end (added examples): pad with "not analysed"."""
        n = ws.n
        self._roles = np.asarray(ws.role, dtype=object)
        if n == self.n:
            return self
        for name in ("is_gap", "is_keeper", "leaked"):
            setattr(self, name, _fit(getattr(self, name), n, False))
        for name in ("x", "y", "nearest_train_sim", "inconsistency"):
            setattr(self, name, _fit(getattr(self, name), n, np.nan))
        for name in ("cluster", "dup_group"):
            setattr(self, name, _fit(getattr(self, name), n, -1))
        self.flags = _fit(self.flags, n, ())
        for k, v in list(self.extra_columns.items()):
            self.extra_columns[k] = _fit(v, n, np.nan)
        self.n = n
        return self

    # -- findings ----------------------------------------------------------------------------
    def _section(self, key) -> Any:
        return self.summary.get(key) or {}

    def _bool(self, df, name) -> np.ndarray:
        if name not in df.columns:
            return np.zeros(self.n, bool)
        v = np.asarray(df[name].fillna(False).to_numpy(dtype=bool), dtype=bool)
        out = np.zeros(self.n, bool)
        ok = self.row_of_result >= 0
        out[self.row_of_result[ok]] = v[ok]
        return out

    def _build_findings(self) -> None:
        df = self.result.examples
        self.is_gap = self._bool(df, "gap")
        self.is_keeper = self._bool(df, "dup_keeper")
        self.leaked = self._bool(df, "leaked")
        # clusters: summary list (id, label, size, roles, shares, inconsistency, examples)
        self.cluster_labels: dict[int, str] = {}
        self.clusters: list[Finding] = []
        for item in self.summary.get("clusters", []) or []:
            if not isinstance(item, dict):
                continue
            cid = int(item.get("id", item.get("cluster", -1)))
            label = str(item.get("label") or f"cluster {cid}")
            self.cluster_labels[cid] = label
            self.clusters.append(Finding(label, np.flatnonzero(self.cluster == cid), dict(item)))
        if not self.clusters:
            for cid in sorted(set(self.cluster.tolist()) - {-1}):
                rows = np.flatnonzero(self.cluster == cid)
                self.cluster_labels[cid] = f"cluster {cid}"
                self.clusters.append(Finding(f"cluster {cid}", rows, {"id": cid, "size": len(rows)}))
        self.duplicates = self._groups()
        # conflicts: {"conflicts": [{"example", "score", "against": [{"example", ...}], "reason"}]}
        self.conflicts: list[Finding] = []
        for it in (self._section("conflicts").get("conflicts", []) or []):
            rows = [self.row(it.get("example"))] + [self.row(a.get("example")) for a in it.get("against", [])]
            rows = [r for r in dict.fromkeys(rows) if r >= 0]
            self.conflicts.append(Finding(str(it.get("reason", "conflict")), np.asarray(rows, np.int64), dict(it)))
        # gaps: ranked; rows from the in-memory findings when fresh, else rebuilt from the table
        gsec = self._section("gaps")
        mem = getattr(getattr(self.result, "findings", {}).get("coverage") if isinstance(
            getattr(self.result, "findings", None), dict) else None, "gaps", None)
        prod = np.asarray(self._roles, dtype=object) == "production"
        self.gaps: list[Finding] = []
        for k, g in enumerate(gsec.get("gaps", []) or []):
            rows = None
            if mem is not None and k < len(mem) and "rows" in mem[k]:
                rr = np.asarray(mem[k]["rows"], np.int64)
                rows = self.row_of_result[rr[(rr >= 0) & (rr < len(self.row_of_result))]]
            elif g.get("cluster") is not None:
                in_c = self.cluster == int(g["cluster"])
                rows = np.flatnonzero(in_c & (self.is_gap if g.get("kind") == "far from training" else prod))
            if rows is None or not len(rows):
                rows = self.rows([e.get("example") for e in g.get("examples", [])])
            c = g.get("cluster")
            where = self.cluster_labels.get(int(c), str(g.get("region", ""))) if c is not None else str(g.get("region", ""))
            title = f"{g.get('kind', 'gap')}: {where}"
            self.gaps.append(Finding(title, np.asarray(rows, np.int64), dict(g)))
        self.unreached: list[Finding] = []
        for u in gsec.get("unreached", []) or []:
            c = int(u.get("cluster", -1))
            self.unreached.append(Finding(str(u.get("cluster_label") or self.cluster_labels.get(c, f"cluster {c}")),
                                          np.flatnonzero(self.cluster == c), dict(u)))
        # review queue: [{"rank", "example", "priority", "reason", ...}]
        self.queue: list[Finding] = []
        for it in (self._section("queue").get("queue", []) or []):
            r = self.row(it.get("example"))
            if r >= 0:
                self.queue.append(Finding(str(it.get("reason", "")), np.asarray([r], np.int64), dict(it)))
        # leakage: [{"example" (eval), "train_match", "kinds", "prompt_sim", "reason"}]
        self.leakage: list[Finding] = []
        for it in (self._section("leakage").get("leaks", []) or []):
            rows = [self.row(it.get("example")), self.row(it.get("train_match"))]
            rows = [r for r in rows if r >= 0]
            self.leakage.append(Finding(str(it.get("reason", "leak")), np.asarray(rows, np.int64), dict(it)))
        # flags: counts with definitions
        self.flag_definitions: dict[str, str] = {}
        for it in (self._section("flags").get("counts", []) or []):
            if isinstance(it, dict) and "flag" in it:
                self.flag_definitions[str(it["flag"])] = str(it.get("definition", ""))
        rows_by_flag: dict[str, list[int]] = {}
        for i, f in enumerate(self.flags):
            for name in f:
                rows_by_flag.setdefault(name, []).append(i)
        self.flag_rows = {k: np.asarray(v, np.int64) for k, v in rows_by_flag.items()}
        self.flag_counts = {k: len(v) for k, v in self.flag_rows.items()}

    def _groups(self) -> list[Finding]:
        sec = self._section("duplicates")
        out: list[Finding] = []
        listed = set()
        for g in sec.get("groups", []) or []:
            members = self.rows(g.get("members", []))
            keeper = self.row(g.get("keeper")) if g.get("keeper") is not None else -1
            if keeper < 0 and len(members):
                keeper = int(members[0])
            gid = int(g.get("group", len(out)))
            listed.add(gid)
            data = dict(g)
            data["removable_rows"] = self.rows(g.get("removable", []))
            out.append(Finding(f"group {gid}", members, data, keeper=keeper))
        # groups beyond the summary's listing limit: rebuilt from the per-example columns
        if len(listed) < int(sec.get("n_groups", 0) or 0):
            roles = np.asarray(self._roles, dtype=object)
            removable_role = np.isin(roles, ["train", "reference"])
            order = np.argsort(self.dup_group, kind="stable")
            gids = self.dup_group[order]
            start = np.searchsorted(gids, 0)
            order, gids = order[start:], gids[start:]
            bounds = np.flatnonzero(np.diff(gids)) + 1
            for members in np.split(order, bounds):
                if not len(members):
                    continue
                gid = int(self.dup_group[members[0]])
                if gid in listed:
                    continue
                keepers = members[self.is_keeper[members]]
                keeper = int(keepers[0]) if len(keepers) else int(members[0])
                removable = members[(members != keeper) & removable_role[members]]
                out.append(Finding(f"group {gid}", members,
                                   {"group": gid, "size": len(members), "removable_rows": removable},
                                   keeper=keeper))
        return out


def _fit(arr: np.ndarray, n: int, fill) -> np.ndarray:
    if len(arr) >= n:
        return arr[:n]
    pad = np.empty(n - len(arr), dtype=arr.dtype)
    if arr.dtype == object:
        for i in range(len(pad)):
            pad[i] = fill
    else:
        pad[:] = fill
    return np.concatenate([arr, pad])
