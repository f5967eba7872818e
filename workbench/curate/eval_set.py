"""An eval set drawn from production inputs (Qt-free core of ``workbench eval-set`` and the app).

Fine-tuning projects fail when the eval set comes from the same place as the training data. This
module draws it from the project's **production** inputs instead, with the project's analysis
(clusters, coverage gaps, duplicate groups, neighbour graph) and the one leak rule of
:mod:`workbench.analysis.leakage`. Definitions (all rows below are production rows):

- **Near-train input** (never drawn): a production input that *leaks* from training by THE leak
  rule (:func:`workbench.analysis.leakage.find_leakage`, run with the production inputs in the
  place of eval rows: exact after normalisation, reordered, filler words, embedding + surface
  evidence, near, 13-grams), or whose nearest training prompt has cosine >= the rule's similarity
  threshold (``sim_threshold``, default the near-duplicate threshold 0.95) whatever its words.
  Each is listed in the manifest with what matched.
- **Eligible**: production, prompt not empty, not rejected, not near-train, not excluded by the curator
  (:class:`~workbench.project.journal.EvalMark` ``"exclude"``).
- **Strata**: the production clusters of the analysis (cluster -1 = "unclustered" is a stratum
  too). Cluster c with ``n_c`` production inputs has share ``n_c / N_production``; its quota is
  ``floor_c = min(per_cluster, eligible_c)`` plus its share of the rest of ``size`` (largest
  remainders; a cluster that runs out of eligible inputs passes its surplus on to the others).
  When the floors alone exceed ``size``, the floors win (the manifest warns).
- **Coverage gaps** (``gap`` = the row is a gap input of the coverage analysis): every coverage
  gap (``gap_group``) is first given up to ``per_cluster`` of its eligible inputs, so each missing
  topic is in the eval set even when it is a small part of its cluster; these count toward their
  cluster's quota and are written with ``gap: true`` and the gap's label.
- **Near-copies**: two inputs are near-copies when they have the same normalised text
  (:func:`workbench.analysis.textnorm.text_hashes`) or prompt cosine >= ``sim_threshold`` (the
  near-duplicate threshold; the analysis' duplicate *groups* are not used: they are transitive
  components, on CLINC150 one held 69 different questions). The eval set never holds two
  near-copies of each other except inside one paraphrase group.
- **Paraphrase groups** (for behavioural-consistency tests): sets of 2..``group_size`` eligible
  inputs with *different* normalised texts whose prompt cosines are **all** pairwise >=
  ``paraphrase_sim`` (default :data:`DEFAULT_PARAPHRASE_SIM` = 0.80), found greedily from the
  neighbour graph in a seeded random order. About ``group_share`` of each cluster's quota is
  filled with whole groups; each group gets one ``group`` id (``g1``, ``g2``, ...) shared by its
  members, so a harness can check the model answers every member the same way.
- **Pins** (:class:`~workbench.project.journal.EvalMark` ``"pin"``): always drawn first (they
  count toward their cluster's quota), unless near-train (then left out and named in warnings).
- **Reference answers** (:class:`~workbench.project.journal.EvalAnswer`, keyed by the input's
  identity ``(source_id, line)``; recorded by :mod:`workbench.curate.eval_answers`): the curator's
  answer for an input that needs one. They do not
  change the draw; a drawn input with one is written with the assistant turn and
  ``reference: true``. Answers on inputs not drawn are counted (and named in warnings).

Everything random comes from ``numpy.random.default_rng(seed)`` over a fixed row order, so the same
project, analysis, marks and options give the same eval set, byte for byte.

Output (:func:`write_eval_set`): ``eval_set.jsonl`` (one OpenAI chat record per input: the
system turn when the input has one, the user turn, plus ``group``, ``cluster``,
``cluster_label``, ``gap``, ``gap_label``, ``pinned``, ``reference`` and ``source``/``line``
identity; the assistant turn is the curator's reference answer where there is one) and
``manifest.json`` (how it was drawn: options, counts per cluster, groups, near-train exclusions,
reference answers), written all or
nothing into a folder only ever replacing an earlier output of this tool
(:mod:`workbench.curate.destination`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from workbench.analysis.duplicates import DEFAULT_NEAR_THRESHOLD
from workbench.core.errors import WorkbenchError
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_SIZE = 500
DEFAULT_PER_CLUSTER = 3
DEFAULT_PARAPHRASE_SIM = 0.80
DEFAULT_GROUP_SHARE = 0.2
DEFAULT_GROUP_SIZE = 3
EVAL_FILE = "eval_set.jsonl"
UNCLUSTERED = "unclustered"
LIST_LIMIT = 2000  # near-train exclusions listed in the manifest (all are counted)


class EvalSetError(WorkbenchError):
    """An eval set cannot be drawn (no production inputs, bad options)."""


@dataclass
class EvalSetOptions:
    size: int = DEFAULT_SIZE
    per_cluster: int = DEFAULT_PER_CLUSTER
    seed: int = 0
    group_share: float = DEFAULT_GROUP_SHARE
    group_size: int = DEFAULT_GROUP_SIZE
    paraphrase_sim: float = DEFAULT_PARAPHRASE_SIM
    sim_threshold: float | None = None  # None: the analysis' leak threshold (near-dup threshold)

    def validate(self) -> None:
        if self.size < 1:
            raise EvalSetError(f"--size must be at least 1, not {self.size}.")
        if self.per_cluster < 0:
            raise EvalSetError(f"--per-cluster must be 0 or more, not {self.per_cluster}.")
        if not 0 <= self.group_share <= 1:
            raise EvalSetError(f"The paraphrase-group share must be between 0 and 1, not {self.group_share}.")
        if self.group_size < 2:
            raise EvalSetError(f"A paraphrase group has at least 2 members (group size {self.group_size}).")
        if not 0 < self.paraphrase_sim <= 1:
            raise EvalSetError(f"The paraphrase similarity must be in (0, 1], not {self.paraphrase_sim}.")


@dataclass
class EvalInputs:
    """What the draw reads, one entry per row of the project (all roles; only production rows
    are drawn). Build it with :func:`inputs_from_analysis` or directly from arrays."""

    prompt: Sequence[str]
    response: Sequence[str]
    role: np.ndarray
    vecs: np.ndarray  # L2-normalised prompt vectors
    cluster: np.ndarray  # int (-1: no cluster)
    cluster_labels: Mapping[int, str]
    gap: np.ndarray  # bool: coverage gap input
    gap_group: np.ndarray  # int: rank of the row's coverage gap (-1: none)
    gap_labels: Mapping[int, str] = field(default_factory=dict)
    dup_group: np.ndarray | None = None  # near-duplicate group of the analysis (-1: none)
    system: Sequence[str] | None = None
    rejected: np.ndarray | None = None
    marks: Mapping[int, str] = field(default_factory=dict)  # row -> "pin" | "exclude"
    answers: Mapping[int, str] = field(default_factory=dict)  # row -> the curator's reference answer
    graph: Any = None  # NeighbourGraph over all rows (None: built over the eligible inputs)
    ref: Callable[[int], dict[str, Any]] | None = None  # row -> {"source", "source_id", "line"}
    leak_params: Mapping[str, Any] = field(default_factory=dict)  # find_leakage keywords

    @property
    def n(self) -> int:
        return len(self.role)

    def ref_of(self, i: int) -> dict[str, Any]:
        return self.ref(int(i)) if self.ref is not None else {"row": int(i)}


@dataclass
class EvalSet:
    """A drawn eval set: rows, their groups, and how they were drawn."""

    rows: np.ndarray  # int64, output order
    group: np.ndarray  # int64 per drawn row: group number (1..), 0 = none
    near_train: np.ndarray  # bool (N,): production inputs left out as near-train
    near_train_why: dict[int, str]
    eligible: np.ndarray  # bool (N,)
    strata: list[dict[str, Any]]
    groups: list[list[int]]  # the drawn groups' rows (group k+1 = groups[k])
    warnings: list[str]
    counts: dict[str, int]
    options: EvalSetOptions
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.rows)


# --------------------------------------------------------------------------------------------
# near-train: the leak rule with production in the place of eval
# --------------------------------------------------------------------------------------------
def near_train(inp: EvalInputs, sim_threshold: float, *, progress: ProgressFn | None = None,
               cancel: CancelToken | None = None) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
    """(mask of near-train production inputs, why per such row, nearest-train cosine per row):
    THE leak rule with production rows as the eval side, plus nearest-train cosine >= threshold."""
    from workbench.analysis.leakage import find_leakage

    role = np.asarray(inp.role, dtype=object)
    as_eval = np.where(role == "production", "eval", np.where(role == "train", "train", "other")).astype(object)
    leak_kw = {k: v for k, v in dict(inp.leak_params).items() if v is not None}
    leak_kw["sim_threshold"] = sim_threshold
    leak = find_leakage(inp.prompt, inp.response, inp.vecs, as_eval, inp.graph, progress=progress,
                        cancel=cancel, **leak_kw)
    why = {int(it["example"]): f"leaks from training: {it['match']}" for it in leak.items}
    sim = leak.prompt_sim
    close = (role == "production") & (np.nan_to_num(sim, nan=-1.0) >= sim_threshold)
    for i in np.flatnonzero(close & ~leak.leaked).tolist():
        why[i] = f"nearest training prompt has cosine {float(sim[i]):.3f} (>= {sim_threshold:.2f})"
    return leak.leaked | close, why, sim


# --------------------------------------------------------------------------------------------
# paraphrase groups
# --------------------------------------------------------------------------------------------
def paraphrase_groups(vecs: np.ndarray, rows: np.ndarray, text_hash: np.ndarray, *, sim: float,
                      max_size: int, rng: np.random.Generator, graph: Any = None,
                      k: int = 15) -> list[list[int]]:
    """Candidate paraphrase groups among ``rows`` (see the module doc): greedy, in a random order,
    each group's members pairwise cosine >= ``sim`` and with different normalised texts."""
    rows = np.asarray(rows, np.int64)
    if len(rows) < 2:
        return []
    pos = np.full(len(vecs), -1, np.int64)
    pos[rows] = np.arange(len(rows))
    if graph is not None and len(graph) == len(vecs):
        nb_idx, nb_sim = graph.indices[rows], graph.sims[rows]
        nb_pos = np.where(nb_idx >= 0, pos[np.maximum(nb_idx, 0)], -1)
    else:
        from workbench.analysis.graph import build_graph

        g = build_graph(np.ascontiguousarray(vecs[rows]), min(k, len(rows) - 1))
        nb_pos, nb_sim = g.indices, g.sims
    taken = np.zeros(len(rows), bool)
    groups: list[list[int]] = []
    for a in rng.permutation(len(rows)).tolist():
        if taken[a]:
            continue
        members = [a]
        order = np.argsort(-nb_sim[a], kind="stable")
        for b in nb_pos[a][order].tolist():
            if len(members) >= max_size:
                break
            if b < 0 or b == a or taken[b] or b in members:
                continue
            rb = rows[b]
            if text_hash[rb] in {text_hash[rows[m]] for m in members}:
                continue
            if all(float(vecs[rb] @ vecs[rows[m]]) >= sim for m in members):
                members.append(b)
        if len(members) >= 2:
            taken[members] = True
            groups.append([int(rows[m]) for m in members])
    return groups


# --------------------------------------------------------------------------------------------
# the draw
# --------------------------------------------------------------------------------------------
def _allocate(share: np.ndarray, floor: np.ndarray, avail: np.ndarray, size: int) -> np.ndarray:
    """Quota per stratum: its floor plus its share of the rest (largest remainders), capped by
    what is available; surplus of capped strata goes to the others."""
    quota = floor.copy()
    rest = size - int(quota.sum())
    while rest > 0:
        open_ = quota < avail
        if not open_.any():
            break
        w = np.where(open_, share, 0.0)
        if w.sum() <= 0:
            w = open_.astype(float)
        want = w / w.sum() * rest
        add = np.minimum(np.floor(want).astype(np.int64), avail - quota)
        left = rest - int(add.sum())
        if left > 0:  # largest remainders, ties by stratum order
            frac = np.where(open_ & (quota + add < avail), want - np.floor(want), -1.0)
            for s in np.argsort(-frac, kind="stable")[:left]:
                if frac[s] >= 0:
                    add[s] += 1
        if add.sum() == 0:
            break
        quota += add
        rest = size - int(quota.sum())
    return quota


class _Picked:
    """The rows drawn so far, with the near-copy test against them."""

    def __init__(self, inp: EvalInputs, text_hash: np.ndarray, sim: float, capacity: int):
        self.inp, self.hash, self.sim = inp, text_hash, sim
        self.rows: list[int] = []
        self.group: list[int] = []
        self.mat = np.zeros((max(capacity, 16), inp.vecs.shape[1]), np.float32)
        self.hashes: set[int] = set()
        self.taken: set[int] = set()

    def fits(self, unit: Sequence[int]) -> bool:
        if any(r in self.taken for r in unit):
            return False
        for r in unit:
            h = int(self.hash[r])
            if h and h in self.hashes:
                return False
        if self.rows:
            block = self.mat[: len(self.rows)] @ self.inp.vecs[list(unit)].T
            if float(block.max()) >= self.sim:
                return False
        return True

    def add(self, unit: Sequence[int], group: int = 0) -> None:
        for r in unit:
            if len(self.rows) >= len(self.mat):
                self.mat = np.concatenate([self.mat, np.zeros_like(self.mat)])
            self.mat[len(self.rows)] = self.inp.vecs[r]
            self.rows.append(int(r))
            self.group.append(group)
            self.taken.add(int(r))
            h = int(self.hash[r])
            if h:
                self.hashes.add(h)


def draw_eval_set(inp: EvalInputs, options: EvalSetOptions | None = None, *,
                  progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> EvalSet:
    """Draw the eval set (see the module doc)."""
    from workbench.analysis.textnorm import text_hashes

    options = options or EvalSetOptions()
    options.validate()
    progress, cancel = ensure(progress, cancel)
    role = np.asarray(inp.role, dtype=object)
    prod = role == "production"
    n_prod = int(prod.sum())
    if not n_prod:
        raise EvalSetError("The project has no production inputs to draw an eval set from "
                           "(add a production log: `workbench add PROJECT FILE --role production`).")
    threshold = float(options.sim_threshold if options.sim_threshold is not None
                      else inp.leak_params.get("sim_threshold") or DEFAULT_NEAR_THRESHOLD)
    warnings: list[str] = []
    progress(0, 3, "Checking production inputs against training (leak rule)")
    near, why, _ = near_train(inp, threshold, cancel=cancel)
    near &= prod
    rejected = np.zeros(inp.n, bool) if inp.rejected is None else np.asarray(inp.rejected, bool)
    excluded = np.zeros(inp.n, bool)
    pins: list[int] = []
    for r, m in sorted(inp.marks.items()):
        if not (0 <= r < inp.n) or not prod[r]:
            continue
        if m == "exclude":
            excluded[r] = True
        elif m == "pin":
            if near[r]:
                warnings.append(f"pinned input {_ref_text(inp.ref_of(r))} is not drawn: {why.get(r, 'near training')}")
            elif rejected[r]:
                warnings.append(f"pinned input {_ref_text(inp.ref_of(r))} is not drawn: it is rejected")
            else:
                pins.append(r)
    empty = prod & np.array([not (p or "").strip() for p in inp.prompt], bool)
    eligible = prod & ~near & ~rejected & ~excluded & ~empty
    cancel.check()
    text_hash = text_hashes([inp.prompt[i] if prod[i] else "" for i in range(inp.n)])
    rng = np.random.default_rng(options.seed)

    # strata
    cluster = np.asarray(inp.cluster, np.int64)
    ids = np.unique(cluster[prod])
    n_c = np.array([int((prod & (cluster == c)).sum()) for c in ids], np.int64)
    el_rows = {int(c): np.flatnonzero(eligible & (cluster == c)) for c in ids}
    avail = np.array([len(el_rows[int(c)]) for c in ids], np.int64)
    floor = np.minimum(options.per_cluster, avail)
    pin_c = np.array([sum(1 for r in pins if cluster[r] == c) for c in ids], np.int64)
    floor = np.maximum(floor, pin_c)
    if int(floor.sum()) > options.size:
        warnings.append(f"the floors ({options.per_cluster} per cluster over {len(ids)} clusters, plus pins) "
                        f"need {int(floor.sum())} inputs, more than --size {options.size}: the eval set is larger")
    quota = _allocate(n_c / n_prod, floor, avail, options.size)

    progress(1, 3, "Finding paraphrase groups")
    cand_groups = paraphrase_groups(inp.vecs, np.flatnonzero(eligible), text_hash, sim=options.paraphrase_sim,
                                    max_size=options.group_size, rng=rng, graph=inp.graph)
    groups_in: dict[int, list[list[int]]] = {}
    for g in cand_groups:  # a group is drawn within one stratum: members of its first member's cluster
        g = [r for r in g if cluster[r] == cluster[g[0]]]
        if len(g) >= 2:
            groups_in.setdefault(int(cluster[g[0]]), []).append(g)
    cancel.check()

    progress(2, 3, "Drawing")
    picked = _Picked(inp, text_hash, threshold, int(quota.sum()) + len(pins) + 16)
    for r in pins:  # the curator's pins come first, whatever the near-copy test says
        if r not in picked.taken:
            picked.add([r])
    count = {int(c): pin_c[k] for k, c in enumerate(ids)}
    q_of = {int(c): int(quota[k]) for k, c in enumerate(ids)}
    gap_items = 0
    # every coverage gap gets up to per_cluster of its eligible inputs
    gg = np.asarray(inp.gap_group, np.int64)
    for rank in np.unique(gg[eligible & (gg >= 0)]).tolist():
        want = options.per_cluster - int(sum(1 for r in picked.rows if gg[r] == rank))
        for r in rng.permutation(np.flatnonzero(eligible & (gg == rank))).tolist():
            if want <= 0:
                break
            if picked.fits([r]):
                picked.add([r])
                count[int(cluster[r])] += 1
                want -= 1
                gap_items += 1
    # then each cluster: paraphrase groups for about group_share of its quota, then singles
    next_group = 1
    for c in ids.tolist():
        cancel.check()
        quota_c = q_of[c]
        g_want = int(round(options.group_share * quota_c))
        g_done = 0
        cands = groups_in.get(c, [])
        for k in rng.permutation(len(cands)).tolist():
            if g_done >= g_want or quota_c - count[c] < 2:
                break
            g = cands[k][: quota_c - count[c]]
            if len(g) >= 2 and picked.fits(g):
                picked.add(g, next_group)
                next_group += 1
                g_done += len(g)
                count[c] += len(g)
        for r in rng.permutation(el_rows[c]).tolist():
            if count[c] >= quota_c:
                break
            if picked.fits([r]):
                picked.add([r])
                count[c] += 1
    rows = np.asarray(picked.rows, np.int64)
    grp = np.asarray(picked.group, np.int64)
    # output order: cluster, then group, then row order (members of a group side by side)
    order = np.lexsort((rows, np.where(grp > 0, grp, 0), cluster[rows] if len(rows) else rows))
    rows, grp = rows[order], grp[order]
    # renumber groups in output order
    renum: dict[int, int] = {}
    for g in grp.tolist():
        if g and g not in renum:
            renum[g] = len(renum) + 1
    grp = np.asarray([renum.get(g, 0) for g in grp.tolist()], np.int64)
    groups = [rows[grp == k].tolist() for k in range(1, len(renum) + 1)]

    gap = np.asarray(inp.gap, bool)
    strata = []
    for k, c in enumerate(ids.tolist()):
        in_c = cluster[rows] == c
        strata.append({
            "cluster": int(c), "label": _cluster_label(inp, c), "production": int(n_c[k]),
            "share": round(float(n_c[k] / n_prod), 5), "eligible": int(avail[k]),
            "near_train": int((near & (cluster == c)).sum()), "floor": int(floor[k]), "quota": int(quota[k]),
            "drawn": int(in_c.sum()), "drawn_share": round(float(in_c.sum() / max(len(rows), 1)), 5),
            "gap_inputs": int(gap[rows][in_c].sum()),
            "in_groups": int((grp[in_c] > 0).sum()),
        })
        if avail[k] < options.per_cluster and n_c[k] >= options.per_cluster:
            warnings.append(f"cluster {c} ({strata[-1]['label']}) has only {int(avail[k])} eligible input(s) "
                            f"of {int(n_c[k])} (the rest are near training, rejected or excluded)")
    counts = {"production": n_prod, "eligible": int(eligible.sum()), "near_train": int(near.sum()),
              "rejected": int((prod & rejected).sum()), "excluded_by_curator": int((prod & excluded).sum()),
              "empty": int(empty.sum()),
              "pinned": len(pins), "drawn": int(len(rows)), "groups": len(groups),
              "in_groups": int((grp > 0).sum()), "gap_inputs": int(gap[rows].sum()) if len(rows) else 0,
              "gap_reserved": gap_items, "clusters": int(len(ids))}
    answered = [r for r in sorted(inp.answers) if prod[r]]
    drawn_set = set(rows.tolist())
    not_drawn = [r for r in answered if r not in drawn_set]
    counts["reference_answers"] = len(answered) - len(not_drawn)
    counts["reference_answers_not_drawn"] = len(not_drawn)
    if not_drawn:
        named = ", ".join(_ref_text(inp.ref_of(r)) for r in not_drawn[:5])
        warnings.append(f"{len(not_drawn)} input(s) with a reference answer are not drawn ({named}"
                        f"{', ...' if len(not_drawn) > 5 else ''}); pin them to draw them")
    progress(3, 3, "Drawing")
    return EvalSet(rows, grp, near, why, eligible, strata, groups, warnings, counts, options,
                   np.asarray(pins, np.int64))


def _cluster_label(inp: EvalInputs, c: int) -> str:
    if c < 0:
        return UNCLUSTERED
    return str(inp.cluster_labels.get(int(c)) or f"cluster {c}")


def _ref_text(ref: Mapping[str, Any]) -> str:
    if "line" in ref:
        return f"{ref.get('source', ref.get('source_id'))}:{ref['line']}"
    return f"row {ref.get('row')}"


# --------------------------------------------------------------------------------------------
# records, manifest, writing
# --------------------------------------------------------------------------------------------
def records(inp: EvalInputs, es: EvalSet) -> list[dict[str, Any]]:
    """The eval set's JSONL records (OpenAI chat with the user turn, plus the draw's fields)."""
    out = []
    gg = np.asarray(inp.gap_group, np.int64)
    for r, g in zip(es.rows.tolist(), es.group.tolist()):
        msgs = []
        system = inp.system[r] if inp.system is not None else ""
        if system and system.strip():
            msgs.append({"role": "system", "content": system})
        msgs.append({"role": "user", "content": inp.prompt[r]})
        answer = inp.answers.get(r)
        if answer:
            msgs.append({"role": "assistant", "content": answer})
        c = int(inp.cluster[r])
        ref = inp.ref_of(r)
        rec = {"messages": msgs, "group": f"g{g}" if g else None, "cluster": c,
               "cluster_label": _cluster_label(inp, c), "gap": bool(inp.gap[r]),
               "gap_label": inp.gap_labels.get(int(gg[r])) if inp.gap[r] and gg[r] >= 0 else None,
               "pinned": bool(inp.marks.get(r) == "pin"), "reference": bool(answer)}
        rec.update({k: ref[k] for k in ("source", "line") if k in ref})
        out.append(rec)
    return out


def build_manifest(inp: EvalInputs, es: EvalSet, *, project: str = "", analysis: Mapping[str, Any] | None = None,
                   data_sha: str = "", data_bytes: int = 0) -> dict[str, Any]:
    from workbench import __version__
    from workbench.curate.destination import TOOL_NAME

    near_rows = np.flatnonzero(es.near_train).tolist()
    return {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "kind": "eval-set",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "project": project,
        "analysis": dict(analysis or {}),
        "options": asdict(es.options),
        "how": ("production inputs stratified by production cluster (floor per cluster, the rest in "
                "proportion to production share); every coverage gap included and marked; inputs near a "
                "training prompt (the leak rule, or nearest-train cosine >= the threshold) left out; no two "
                "near-copies outside one paraphrase group; seeded (same seed, same data -> same file)"),
        "counts": es.counts,
        "clusters": es.strata,
        "groups": [{"group": f"g{k}", "cluster": int(inp.cluster[g[0]]),
                    "members": [dict(inp.ref_of(r), text=inp.prompt[r]) for r in g]}
                   for k, g in enumerate(es.groups, 1)],
        "excluded_near_train": {
            "count": len(near_rows),
            "listed": min(len(near_rows), LIST_LIMIT),
            "rows": [dict(inp.ref_of(r), why=es.near_train_why.get(r, "")) for r in near_rows[:LIST_LIMIT]],
        },
        "pinned": [inp.ref_of(r) for r in es.pinned.tolist()],
        "excluded_by_curator": [inp.ref_of(r) for r, m in sorted(inp.marks.items()) if m == "exclude"],
        "reference_answers": {
            "drawn": es.counts.get("reference_answers", 0),
            "not_drawn": [inp.ref_of(r) for r in sorted(set(inp.answers) - set(es.rows.tolist()))
                          if inp.role[r] == "production"],
            "note": "a drawn input with a reference answer has it as its assistant turn and \"reference\": true",
        },
        "warnings": list(es.warnings),
        "files": [{"file": EVAL_FILE, "bytes": data_bytes, "sha256": data_sha}],
    }


def jsonl_bytes(recs: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join((json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
                    for r in recs)


def write_eval_set(out: str | Path, inp: EvalInputs, es: EvalSet, *, project: str = "",
                   analysis: Mapping[str, Any] | None = None, protected: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Write ``eval_set.jsonl`` and ``manifest.json`` into folder ``out``, all or nothing, never
    over anything this tool did not write (:mod:`workbench.curate.destination`). Returns the
    manifest."""
    from workbench.curate.destination import MANIFEST, prepare

    dest = prepare(Path(out), protected=protected)
    data = jsonl_bytes(records(inp, es))
    manifest = build_manifest(inp, es, project=project, analysis=analysis,
                              data_sha=hashlib.sha256(data).hexdigest(), data_bytes=len(data))
    dest.begin()
    try:
        with dest.open(EVAL_FILE) as f:
            f.write(data)
        with dest.open(MANIFEST) as f:
            f.write((json.dumps(manifest, ensure_ascii=False, indent=1, default=_json_default) + "\n").encode("utf-8"))
        dest.commit()
    except BaseException:
        dest.abort()
        raise
    manifest["warnings"].extend(dest.warnings)
    return manifest


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON: {type(o).__name__}")


# --------------------------------------------------------------------------------------------
# from a project's analysis
# --------------------------------------------------------------------------------------------
def inputs_from_analysis(pa: Any, ws: Any = None, marks: Mapping[Any, str] | None = None,
                         answers: Mapping[Any, str] | None = None) -> EvalInputs:
    """:class:`EvalInputs` from a current :class:`~workbench.analysis.project_analysis.ProjectAnalysis`
    (its result rows are the snapshot's rows). ``ws`` gives rejections; ``marks`` maps example ids
    ``(source_id, line)`` to ``"pin"``/``"exclude"`` (the project state's ``eval_marks``),
    ``answers`` to reference answers (``eval_answers``)."""
    data = pa.data
    if pa.result is None:
        raise EvalSetError("The project has no analysis results; run `workbench analyze PROJECT` first.")
    rejected = None
    if ws is not None and getattr(ws, "n", -1) == data.n:
        rejected = np.asarray(ws.rejected, bool)
    return inputs_from_result(pa.result, data, pa.prompt_vecs, rejected=rejected, marks=marks, answers=answers)


def inputs_from_result(res: Any, data: Any, vecs: np.ndarray, *, rejected: np.ndarray | None = None,
                       marks: Mapping[Any, str] | None = None,
                       answers: Mapping[Any, str] | None = None) -> EvalInputs:
    """:class:`EvalInputs` from an :class:`~workbench.analysis.pipeline.AnalysisResult` and the rows
    it was computed from (``data``: prompt, response, role, system, source, source_id, line — an
    ``AnalysisData`` or ``AnalysisInput``) with their prompt vectors."""
    from workbench.analysis.aligned import row_keys

    ex = res.examples
    n = len(data.prompt)
    if len(ex) != n:
        raise EvalSetError("The analysis results are not those of the project's rows now; run `workbench analyze`.")
    summary = res.summary or {}
    labels = {int(c.get("id", -1)): str(c.get("label") or "") for c in summary.get("clusters", []) or []}
    gaps = (summary.get("gaps") or {}).get("gaps", []) or []
    gap_labels = {int(g["rank"]): str(g.get("label") or g.get("region") or g.get("kind") or "")
                  for g in gaps if isinstance(g, dict) and g.get("rank") is not None}

    def col(name, fill, dtype):
        if name not in ex.columns:
            return np.full(len(ex), fill, dtype)
        return np.asarray(ex[name].astype("float64").fillna(fill).to_numpy(), dtype=dtype)

    src, sid, line = np.asarray(data.source, dtype=object), np.asarray(data.source_id), np.asarray(data.line)
    where = {int(k): i for i, k in enumerate(row_keys(sid, line).tolist())} if (marks or answers) else {}

    def by_row(per_id: Mapping[Any, str] | None) -> dict[int, str]:
        out: dict[int, str] = {}
        for (s, ln), v in (per_id or {}).items():
            i = where.get(int(row_keys(np.array([s]), np.array([ln]))[0]))
            if i is not None and v:
                out[i] = v
        return out

    row_marks, row_answers = by_row(marks), by_row(answers)
    params = res.params
    leak_params = {"sim_threshold": params.leak_sim if params.leak_sim is not None else params.near_dup_threshold,
                   "ngram": params.leak_ngram, "ngram_min_overlap": params.leak_ngram_overlap}
    graph = getattr(res, "graph", None)
    return EvalInputs(
        prompt=list(data.prompt), response=list(data.response), role=np.asarray(data.role, dtype=object),
        vecs=np.asarray(vecs, np.float32), cluster=col("cluster", -1, np.int64), cluster_labels=labels,
        gap=col("gap", 0, np.float64) > 0, gap_group=col("gap_group", -1, np.int64), gap_labels=gap_labels,
        dup_group=col("dup_group", -1, np.int64), system=list(data.system) if data.system is not None else None,
        rejected=rejected, marks=row_marks, answers=row_answers, graph=graph if graph is not None and len(graph) == n else None,
        ref=lambda i: {"source": str(src[i]), "source_id": int(sid[i]), "line": int(line[i])},
        leak_params=leak_params)


def mark_op(ids: Sequence[tuple[int, int]], mark: str, reason: str = ""):
    """The journal op that pins (``"pin"``), excludes (``"exclude"``) or clears (``""``) the
    eval-set mark of production inputs."""
    from workbench.project.journal import EvalMark

    return EvalMark(tuple(ids), mark, reason)

