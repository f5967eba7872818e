"""Duplicates: exact and near-duplicate groups of examples, within and across roles.

Definitions (what a curator sees):

- **Exact duplicates**: two rows whose *prompts* are equal after normalisation (Unicode NFKC,
  case-folded, every run of punctuation/whitespace collapsed to one space; see
  :mod:`workbench.analysis.textnorm`). Only the prompt (the embedded analysis unit) is compared,
  so "same question, different answer" is a duplicate too (and usually also a conflict); the
  group reports whether the responses are identical as well.
- **Near duplicates**: two rows whose prompt vectors have cosine similarity >= ``candidate_sim``
  (default 0.90), found over the shared neighbour graph (each row's k nearest neighbours, so a
  row with more than k near copies is still reached through the others), **confirmed by the pair
  verifier** (:mod:`workbench.analysis.pair_verifier`): for pairs that share most of their words,
  a logistic regression over word order, swapped words, moved phrases, numbers and names
  rejects "the same words, another meaning" ("from Paris to Rome" / "from Rome to Paris");
  pairs worded differently need cosine >= ``threshold`` (default 0.95). ``verify=False``
  restores the plain rule "cosine >= ``threshold``" for every pair.
- **Groups** are the connected components of the union of both kinds of edges, over all roles
  together: train↔train, train↔eval, train↔production, eval↔eval, ... Each group lists its
  ``scope`` (the roles present, e.g. ``train+eval``) and its ``kind``: ``exact`` (all members share
  one normalised prompt), ``near`` or ``mixed``.
- **Keeper** (the member to keep when rejecting the rest): the first member by, in order,
  (1) role: ``eval`` before ``train`` before ``reference`` before ``production`` — a train copy of
  an eval example is what should go, and production rows are never part of the export;
  (2) fewest quality flags; (3) most complete: has a response, then the longest prompt+response
  (characters, whitespace-trimmed); (4) earliest row.
  Removable members = the non-keeper members whose role is train or reference.
- **Ranking**: groups with the most removable members first, then larger groups.

Why a verifier (``benchmarks/study_duplicate_threshold.py``): on PAWS-Wiki (adversarial pairs
that share almost all their words; 44% paraphrases) cosine alone stays near the base rate at
every threshold: test precision 0.479 at 0.95 (recall 0.833), 0.560 at 0.98 (recall 0.479). The
verifier, fitted on the dev split, reaches 0.865 precision at recall 0.665 on the test split. On
5 cases (1,500 PAWS test pairs + ~290 normalised-exact copies of Banking77 / CLINC150 / Dolly /
Self-Instruct rows + background rows, one per seed), scored on the labelled pairs found in one
group: exact recall 1.000, paraphrase recall 0.690 ± 0.008, precision 0.895 ± 0.011, against
0.573 ± 0.009 (exact + cosine >= 0.95, the old rule) and 0.562 ± 0.012 (naive cosine >= 0.95).

Each group says why its members are duplicates: ``reason`` names the weakest link, e.g.
"cosine 0.97, same words, a phrase moved, same numbers and names, verifier 0.83", and ``links``
lists the confirmed pairs (cosine, P(duplicate), why; identical ones "identical after
normalisation").

int8 vectors: int8 cosines differ from fp32 by 0.008 on average (p99 0.024, max 0.056 on the
PAWS sentences); at t = 0.95 that flips 746 of 16,000 decisions (no fp32 re-check is wired in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.pair_verifier import (DEFAULT_CANDIDATE_SIM, DEFAULT_MIN_PROBABILITY,
                                              MIN_WORD_OVERLAP, PairVerifier, pair_reason)
from workbench.analysis.row_refs import RowRef, default_ref
from workbench.analysis.textnorm import text_hashes
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_NEAR_THRESHOLD = 0.95
MAX_LINKS = 20  # near links listed per group (weakest first)
# PAWS-Wiki test split at the default threshold (see the module docstring and the study script)
THRESHOLD_STUDY: dict[str, Any] = {
    "data": "PAWS-Wiki labelled pairs: threshold chosen on dev (8,000), reported on test (8,000); "
            "cosine-only rule (verify=False)",
    "rule": "max F0.5 on dev with dev recall >= 0.8, 0.01 grid",
    "int8": {"threshold": 0.95, "precision": 0.481, "recall": 0.839, "f1": 0.612},
    "fp32": {"threshold": 0.96, "precision": 0.483, "recall": 0.821, "f1": 0.608},
    "word_jaccard": {"threshold": 0.80, "precision": 0.453, "recall": 0.975, "f1": 0.618},
    "int8_vs_fp32_cosine": {"mean_abs_diff": 0.0077, "p99": 0.0238, "max": 0.0559},
}
ROLE_PRIORITY = {"eval": 0, "train": 1, "reference": 2, "production": 3}
REMOVABLE_ROLES = frozenset({"train", "reference"})

@dataclass
class DuplicateGroup:
    group_id: int
    members: list[int]  # row indices, keeper first, then by row
    keeper: int
    kind: str  # "exact" | "near" | "mixed"
    roles: dict[str, int]
    scope: str  # "+".join(sorted roles), e.g. "train+eval"
    min_sim: float  # lowest prompt cosine over the near edges that join the group (1.0 exact only)
    same_response: bool  # all members with a response have the same normalised response
    removable: list[int]
    reason: str
    # near links that join the group, weakest first: (row a, row b, cosine, P(duplicate), why)
    links: list[tuple[int, int, float, float, str]] = field(default_factory=list)

    def to_json(self, ref: RowRef = default_ref) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "kind": self.kind,
            "scope": self.scope,
            "size": len(self.members),
            "roles": self.roles,
            "min_sim": round(float(self.min_sim), 4),
            "same_response": self.same_response,
            "keeper": ref(self.keeper),
            "members": [ref(i) for i in self.members],
            "removable": [ref(i) for i in self.removable],
            "reason": self.reason,
            "links": [{"a": ref(a), "b": ref(b), "cosine": s, "p_duplicate": p, "why": why}
                      for a, b, s, p, why in self.links],
        }


@dataclass
class Duplicates:
    """Result of :func:`find_duplicates`. ``group[i]`` = group id of row i (-1 = none); group ids
    are ranks (0 = top group)."""

    group: np.ndarray  # int32 (N,)
    is_keeper: np.ndarray  # bool (N,)
    prompt_hash: np.ndarray  # uint64 (N,), 0 = empty prompt
    groups: list[DuplicateGroup]
    threshold: float
    near_pairs: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)  # (i, j, sim), i < j
    pair_scopes: dict[str, int] = field(default_factory=dict)  # "train↔eval": n near/exact pairs
    verifier: dict[str, float] | None = None  # the pair verifier's settings when it decided

    def summary(self, ref: RowRef = default_ref, limit: int | None = 200) -> dict[str, Any]:
        groups = self.groups if limit is None else self.groups[:limit]
        return {
            "threshold": self.threshold,
            "verifier": self.verifier,
            "n_groups": len(self.groups),
            "n_rows_in_groups": int((self.group >= 0).sum()),
            "n_removable": int(sum(len(g.removable) for g in self.groups)),
            "by_scope": _count_by(self.groups, "scope"),
            "by_kind": _count_by(self.groups, "kind"),
            "pair_scopes": self.pair_scopes,
            "groups": [g.to_json(ref) for g in groups],
        }


def _count_by(groups: list[DuplicateGroup], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in groups:
        key = getattr(g, attr)
        out[key] = out.get(key, 0) + 1
    return out


def _near_edges(graph: NeighbourGraph, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(len(graph), dtype=np.int64), graph.k)
    cols = graph.indices.reshape(-1).astype(np.int64)
    s = graph.sims.reshape(-1)
    m = (cols >= 0) & (s >= threshold)
    a, b, s = rows[m], cols[m], s[m]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * len(graph) + hi
    _, first = np.unique(key, return_index=True)
    return lo[first], hi[first], s[first].astype(np.float32)


def find_duplicates(
    prompts: Sequence[str],
    graph: NeighbourGraph,
    roles: Sequence[str] | np.ndarray,
    *,
    responses: Sequence[str] | None = None,
    n_flags: np.ndarray | None = None,
    threshold: float = DEFAULT_NEAR_THRESHOLD,
    verify: bool = True,
    candidate_sim: float = DEFAULT_CANDIDATE_SIM,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Duplicates:
    """Exact and near-duplicate groups over all rows (see the module docstring).

    ``graph`` is the shared prompt-vector neighbour graph over the same rows; ``n_flags[i]`` the
    number of quality flags of row i (keeper choice).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    progress, cancel = ensure(progress, cancel)
    n = len(prompts)
    roles = np.asarray(roles, dtype=object)
    progress(0, 3, "duplicates")
    hashes = text_hashes(prompts)
    cancel.check()
    # exact edges: each row to the first row with the same non-empty hash
    order = np.argsort(hashes, kind="stable")
    hs = hashes[order]
    same_prev = np.zeros(n, dtype=bool)
    if n > 1:
        same_prev[1:] = (hs[1:] == hs[:-1]) & (hs[1:] != 0)
    run_start = np.maximum.accumulate(np.where(~same_prev, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    ex_a, ex_b = order[same_prev], order[run_start[same_prev]]
    progress(1, 3, "duplicates")
    cut = candidate_sim if verify else threshold
    ni, nj, ns = _near_edges(graph, cut)
    cancel.check()
    # verification: identical normalised prompts need none; the rest must pass the verifier.
    # Candidates are decided from the most similar down, and a pair whose rows are already
    # joined (by exact copies or confirmed pairs) is skipped: it cannot change the groups.
    same = (hashes[ni] == hashes[nj]) & (hashes[ni] != 0) if len(ni) else np.zeros(0, bool)
    nprob = np.ones(len(ni), np.float32)
    feats: list[dict[str, float] | None] = [None] * len(ni)
    if verify and (~same).any():
        parent = np.arange(n, dtype=np.int64).tolist()

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for x, y in zip(np.concatenate([ex_a, ni[same]]).tolist(), np.concatenate([ex_b, nj[same]]).tolist()):
            rx, ry = find(x), find(y)
            if rx != ry:
                parent[rx] = ry
        verifier = PairVerifier(prompts, min_probability, reworded_sim=threshold)
        keep = same.copy()
        todo = np.flatnonzero(~same)
        todo = todo[np.argsort(-ns[todo], kind="stable")]
        for step, (k, x, y, sk) in enumerate(zip(todo.tolist(), ni[todo].tolist(), nj[todo].tolist(),
                                                  ns[todo].tolist())):
            if step % 2000 == 0:
                cancel.check()
            rx, ry = find(x), find(y)
            if rx == ry:
                continue
            ok, pk, fk = verifier.decide(x, y, sk)
            if ok:
                parent[rx] = ry
                keep[k], nprob[k], feats[k] = True, pk, fk
        ni, nj, ns, nprob = ni[keep], nj[keep], ns[keep], nprob[keep]
        feats = [fk for fk, kk in zip(feats, keep) if kk]
        same = same[keep]
    link_why = ["identical after normalisation" if sm else
                (pair_reason(fk) + (f", verifier {pk:.2f}" if pk == pk else "") if fk is not None
                 else f"cosine {sk:.2f}")
                for sm, fk, pk, sk in zip(same.tolist(), feats, nprob.tolist(), ns.tolist())]
    cancel.check()
    a = np.concatenate([ex_a, ni]).astype(np.int64)
    b = np.concatenate([ex_b, nj]).astype(np.int64)
    adj = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp, minlength=comp.max() + 1 if n else 0)
    in_group = sizes[comp] > 1 if n else np.zeros(0, bool)
    progress(2, 3, "duplicates")

    # lowest near-edge similarity per component; the near links of each component, weakest first
    min_sim = np.ones(len(sizes), dtype=np.float32)
    links_of: dict[int, list[int]] = {}
    if len(ni):
        np.minimum.at(min_sim, comp[ni], ns)
        for k in np.lexsort((ns, nprob)).tolist():
            links_of.setdefault(int(comp[ni[k]]), []).append(k)
    resp_hash = np.zeros(n, np.uint64)
    if responses is not None and in_group.any():
        member_rows = np.nonzero(in_group)[0]
        resp_hash[member_rows] = text_hashes([responses[i] for i in member_rows])
    resp_len = (np.fromiter((len((r or "").strip()) for r in responses), dtype=np.int64, count=n)
                if responses is not None else np.zeros(n, np.int64))
    prompt_len = np.fromiter((len((p or "").strip()) for p in prompts), dtype=np.int64, count=n)
    flags = np.zeros(n, np.int32) if n_flags is None else np.asarray(n_flags, dtype=np.int32)
    role_rank = np.fromiter((ROLE_PRIORITY.get(r, 4) for r in roles), dtype=np.int8, count=n)

    rows = np.nonzero(in_group)[0]
    rows = rows[np.argsort(comp[rows], kind="stable")]
    bounds = np.nonzero(np.diff(comp[rows]))[0] + 1
    groups: list[DuplicateGroup] = []
    for members in np.split(rows, bounds) if len(rows) else []:
        c = comp[members[0]]
        key = sorted(members.tolist(), key=lambda i: (role_rank[i], flags[i], resp_len[i] == 0,
                                                      -(resp_len[i] + prompt_len[i]), i))
        keeper = key[0]
        member_roles: dict[str, int] = {}
        for i in key:
            member_roles[roles[i]] = member_roles.get(roles[i], 0) + 1
        n_texts = len(set(hashes[key].tolist()))
        exact_all = n_texts == 1 and hashes[keeper] != 0
        kind = "exact" if exact_all else ("near" if n_texts == len(key) else "mixed")
        with_resp = [i for i in key if resp_len[i] > 0]
        same_resp = responses is not None and len({int(resp_hash[i]) for i in with_resp}) <= 1
        removable = [i for i in key[1:] if roles[i] in REMOVABLE_ROLES]
        links = [(int(ni[k]), int(nj[k]), round(float(ns[k]), 4), round(float(nprob[k]), 3), link_why[k])
                 for k in links_of.get(int(c), [])[:MAX_LINKS]]
        groups.append(DuplicateGroup(
            group_id=-1, members=key, keeper=keeper, kind=kind, roles=member_roles,
            scope="+".join(sorted(member_roles, key=lambda r: (ROLE_PRIORITY.get(r, 4), r))),
            min_sim=1.0 if exact_all else float(min_sim[c]), same_response=bool(same_resp),
            removable=removable,
            reason=_reason(key, kind, member_roles, links, same_resp, roles, flags, resp_len, role_rank),
            links=links,
        ))
    groups.sort(key=lambda g: (-len(g.removable), -len(g.members), g.members[0]))
    group_of = np.full(n, -1, dtype=np.int32)
    is_keeper = np.zeros(n, dtype=bool)
    for gid, g in enumerate(groups):
        g.group_id = gid
        group_of[g.members] = gid
        is_keeper[g.keeper] = True
    pair_scopes = _pair_scopes(roles, np.concatenate([ex_a, ni]), np.concatenate([ex_b, nj]))
    progress(3, 3, "duplicates")
    verifier = ({"candidate_sim": float(candidate_sim), "min_probability": float(min_probability),
                 "min_word_overlap": MIN_WORD_OVERLAP, "reworded_sim": float(threshold)} if verify else None)
    return Duplicates(group_of, is_keeper, hashes, groups, float(threshold), (ni, nj, ns), pair_scopes, verifier)


def _pair_scopes(roles: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, int]:
    out: dict[str, int] = {}
    if not len(a):
        return out
    ra, rb = roles[a.astype(np.int64)], roles[b.astype(np.int64)]
    for x, y in zip(ra, rb):
        x, y = sorted((x, y), key=lambda r: (ROLE_PRIORITY.get(r, 4), r))
        key = f"{x}↔{y}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _reason(key, kind, member_roles, links, same_resp, roles, flags, resp_len, role_rank) -> str:
    parts = " + ".join(f"{v} {k}" for k, v in member_roles.items())
    near = [why for _, _, _, _, why in links if why != "identical after normalisation"]
    if kind == "exact" or not near:
        what = "identical prompts after normalising case, spaces and punctuation"
    elif kind == "near":
        what = f"near-identical prompts ({near[0]}" + (" on the weakest link)" if len(links) > 1 else ")")
    else:
        what = f"identical or near-identical prompts ({near[0]}" + (" on the weakest link)" if len(links) > 1 else ")")
    resp = "; responses identical" if same_resp and any(resp_len[i] for i in key) else (
        "; responses differ" if sum(resp_len[i] > 0 for i in key) > 1 else "")
    k, rest = key[0], key[1:]
    if any(role_rank[i] > role_rank[k] for i in rest):
        why = f"the {roles[k]} copy (eval copies are kept and the train copies removed)" if roles[k] == "eval" \
            else f"the {roles[k]} copy"
    elif any(flags[i] > flags[k] for i in rest):
        why = f"fewest quality flags ({flags[k]})"
    elif any(resp_len[i] < resp_len[k] for i in rest):
        why = f"the most complete member (response {resp_len[k]} characters)"
    else:
        why = "the first member (all equally complete and flagged)"
    return f"{parts}: {what}{resp}. Keep {why}."
