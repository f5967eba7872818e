"""The analysis pipeline: one function, :func:`run_analysis`, used by the CLI and the GUI alike.

    graph (prompt vectors, every source) ─┬─ layout (UMAP 2-D) ── clusters (HDBSCAN) ── labels
                                          ├─ quality flags ── duplicates (keeper = fewest flags)
                                          ├─ conflicts + inconsistency (train; response vectors)
                                          ├─ coverage (production vs train) ── review queue
                                          └─ leakage (eval vs train)

The neighbour graph is computed once and shared by every step and by UMAP. Results carry the
data *revision* (a hash of every input text and vector) and every parameter used; a re-run with
the same revision and parameters reuses stored results (:func:`analyze`), and a re-run with the
same revision but other thresholds reuses the graph, the map and the clusters.

Results on disk (``AnalysisResult.write(dir)``)
------------------------------------------------
``examples.parquet`` — one row per input row, in input order (row i = workspace row i). An
example's identity is ``(source_id, line)`` (see :mod:`workbench.analysis.aligned`); ``source`` is
for people:

==================== ========= ==================================================================
column               type      meaning
==================== ========= ==================================================================
source               string    the source's label: its file name, or as much of its path as tells
                               it apart from another source with the same file name ("a/train.jsonl")
source_id            int32     the source's stable id in the project (0 = examples added in the app;
                               data files analysed without a project: 1, 2, ... in the order given)
role                 string    train / production / eval / reference
line                 int64     1-based line (JSONL) / row number (CSV header = 1, Parquet) in source
x, y                 float32   position on the map (UMAP 2-D over all sources together)
cluster              int32     cluster id; -1 = noise (in no cluster). A fresh map numbers clusters
                               by size (0 = largest); a re-analysis keeps earlier ids and gives new
                               clusters ids never used before (see ``map_continuity``)
cluster_label        string    the cluster's label, e.g. "card · arrive · delivery" (null for noise)
cluster_strength     float32   HDBSCAN membership strength in [0, 1] (0 for noise and for rows
                               that joined their cluster from noise, see clusters.join_noise)
noise                bool      in no cluster (cluster == -1)
dup_group            int32?    duplicate group id (0 = top-ranked group); null when none
dup_keeper           bool      the row is its duplicate group's suggested keeper
flags                list<str> quality flags (see ``workbench.analysis.flags.FLAG_DEFINITIONS``)
nearest_train_sim    float32   non-train rows: cosine to the most similar train prompt (NaN: train
                               rows, or no train data)
nearest_train_line   int64?    that train row's line (with nearest_train_source_id); null for train
nearest_train_source string?   that train row's source label
nearest_train_source_id int32? that train row's source id
gap                  bool      production gap input: gap_score >= gap_threshold (see ``coverage``)
gap_score            float32   production rows: 0.5 x production stay probability of the row's
                               neighbourhood + 0.5 x (1 - nearest_train_sim) (NaN otherwise)
gap_group            int32?    rank of the coverage gap (summary ``gaps``) the row belongs to;
                               null when none (under-represented clusters: see ``cluster``)
inconsistency        float32   train rows: weighted mean divergence of near neighbours' responses
                               (NaN: non-train or no evidence)
conflict             float32   train rows: conflict score (0 = none), see ``conflicts``; for label
                               answers and answer families 1 - label_quality
label_quality        float32   train rows whose answer is a label (short answer shared by 2+ rows)
                               or in an answer family: leave-one-out probability of the given
                               answer from the prompt (confident learning, ``label_quality``;
                               low = likely wrong answer); NaN otherwise
mismatch             float32   train/eval/reference rows with a response: how much better other
                               prompts fit the response and other responses fit the prompt than
                               the pair as given (higher = answers its own prompt worse; > 0:
                               another pairing fits better), see ``mismatch``; NaN otherwise
prompt_hash          int64     hash of the prompt text: with (source_id, line) it tells a later
                               analysis which rows persist unchanged (``map_continuity``)
map_placed           bool      the row's map position was placed beside its neighbours into a kept
                               map, not laid out by UMAP (``map_continuity``)
queue_rank           int32?    position in the review queue (0 = label first); null when not queued
review_priority      float32   production rows: gap x local production density (NaN otherwise)
leaked               bool      eval row duplicated (exactly or nearly) in train
leak_sim             float32   eval rows: prompt cosine to the nearest train prompt (NaN otherwise)
leak_kind            string?   leaked rows: how the copy matched (exact / reordered / filler /
                               added_word / confirmed / near / ngram, see ``leakage``); null otherwise
==================== ========= ==================================================================

``summary.json`` — findings, each example referred to as
``{"source": label, "source_id": id, "line": n}``
(lists are ranked, most important first; long lists are capped, counts are not):

* ``version``, ``revision``, ``cache_key``, ``created``, ``encoder``, ``params`` (every parameter
  of :class:`AnalysisParams`), ``timings`` (seconds per phase);
* ``counts``: examples, by_role, clusters, noise (rows in no cluster), noise_joined (rows HDBSCAN
  left out that joined a cluster), duplicate_groups, duplicate_removable,
  conflicts, gap_inputs, gaps, leaked, flagged;
* ``sources``: [{source, source_id, role, rows}];
* ``clusters``: [{id, label, terms, size, roles {role: n}, train_share, production_share, n_gap,
  inconsistency, inconsistency_reason, examples [{source, line, text}], coherent, cohesion,
  relative_cohesion, term_coverage}] (largest first; ``coherent`` false = a catch-all,
  labelled "mixed: ...", see :mod:`workbench.analysis.cluster_quality`);
* ``duplicates``: threshold, verifier {candidate_sim, min_probability, min_word_overlap,
  reworded_sim} (null without verification), n_groups, n_removable, by_scope, by_kind, groups
  [{group, kind, scope, size, roles, min_sim, same_response, keeper, members, removable, reason,
  links [{a, b, cosine, p_duplicate, why}]}];
* ``conflicts``: n_conflicts, conflicts [{example, score, kind (neighbours / label / family),
  against [{example, prompt_sim, response_sim, divergence, differs_in}], reason; label and family
  conflicts also given, suggested, label_quality, p_suggested}], by_cluster [{cluster, cluster_label,
  inconsistency, reason}] (or ``skipped`` with the reason when there were no response vectors);
* ``gaps``: n_gap_inputs, gaps [{rank, kind, cluster, cluster_label, region, n_affected,
  suggested_add, production_share, train_share, examples [{example, text, nearest_train_sim}],
  reason}], unreached [{cluster, cluster_label, n_train, reason}];
* ``leakage``: n_leaked, n_eval, leaks [{example, train_match, kinds, reason, ...}];
* ``queue``: queue [{rank, example, priority, gap, density, reason, ...}];
* ``flags``: counts [{flag, count, definition}], length_stats.
* ``map``: how the map came about (:mod:`workbench.analysis.map_continuity`): mode (kept /
  aligned / fresh), text ("kept: 2,340 rows kept, 12 placed"), reason, rows, kept, placed,
  placed_unclustered, removed, persisting_share, laid_out_share, procrustes {rows, residual,
  unaligned_residual}, clusters {kept, new, ended}, next_cluster_id, basis (earlier revision).
* ``mismatches``: params, n_rows, n_mismatches, n_flagged, mismatches [{example, score, fit,
  prompt, response, better_prompt {example, fit, prompt}, better_response {example, fit,
  response}, reason}] (rows with mismatch > 0, worst first, 200 at most; better_* only when that
  one fits better than the own pair; or ``skipped`` when there were no response vectors).

Field details: the modules :mod:`duplicates`, :mod:`conflicts`, :mod:`coverage`, :mod:`queue`,
:mod:`leakage` and :mod:`flags`, whose docstrings define each finding and threshold.

``graph.npz`` — the neighbour graph (``indices``, ``sims``), reused by a re-run of the same
revision; ``cache.json`` — cache key, revision and stage keys, written last so a crash never
leaves a key that points at partial results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from workbench.analysis import conflicts as _conflicts
from workbench.analysis import coverage as _coverage
from workbench.analysis import duplicates as _duplicates
from workbench.analysis import leakage as _leakage
from workbench.analysis import review_queue as _queue
from workbench.analysis.clusters import DEFAULT_MIN_SAMPLES
from workbench.analysis.graph import EXACT_LIMIT, NeighbourGraph
from workbench.analysis.layout import FIT_LIMIT
from workbench.core.errors import AnalysisError
from workbench.core.progress import CancelToken, ProgressFn, ensure

SCHEMA_VERSION = 2  # 2: example identity is (source_id, line)
EXAMPLES_FILE = "examples.parquet"
SUMMARY_FILE = "summary.json"
GRAPH_FILE = "graph.npz"
CACHE_FILE = "cache.json"
N_CLUSTER_EXAMPLES = 5


# --------------------------------------------------------------------------------------------
# inputs and parameters
# --------------------------------------------------------------------------------------------
@dataclass
class AnalysisInput:
    """Everything the analysis reads, row-aligned (row i of every field is one example).

    ``prompt_vecs`` / ``response_vecs``: float32 (N, d), L2-normalised; ``response_vecs`` may be
    None (no conflicts then) and holds any values (e.g. zeros) for rows without a response.
    ``turns[i]`` (optional) is row i's turns (``Turn`` objects, ``(role, content)`` pairs or dicts)
    for the turn-structure flags. ``encoder``: the encoder fingerprint (recorded, and part of the
    revision). ``source`` holds each row's source label (for people) and ``source_id`` its stable
    source id (the identity; when not given, 1, 2, ... by first appearance of each label).
    """

    source: np.ndarray
    line: np.ndarray
    role: np.ndarray
    prompt: Sequence[str]
    response: Sequence[str]
    prompt_vecs: np.ndarray
    response_vecs: np.ndarray | None = None
    system: Sequence[str] | None = None
    turns: Sequence[Any] | None = None
    extra: dict[str, list[Any]] = field(default_factory=dict)
    encoder: str = ""
    source_id: np.ndarray | None = None
    _revision: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.source = np.asarray(self.source, dtype=object)
        self.line = np.asarray(self.line, dtype=np.int64)
        self.role = np.asarray(self.role, dtype=object)
        n = len(self.source)
        if self.source_id is None:
            first: dict[str, int] = {}
            self.source_id = np.asarray([first.setdefault(str(s), len(first) + 1) for s in self.source],
                                        dtype=np.int32)
        self.source_id = np.asarray(self.source_id, dtype=np.int32)
        self.prompt_vecs = np.asarray(self.prompt_vecs, dtype=np.float32)
        sizes = {"source_id": len(self.source_id), "line": len(self.line), "role": len(self.role), "prompt": len(self.prompt),
                 "response": len(self.response), "prompt_vecs": len(self.prompt_vecs)}
        if self.response_vecs is not None:
            self.response_vecs = np.asarray(self.response_vecs, dtype=np.float32)
            sizes["response_vecs"] = len(self.response_vecs)
        if self.system is not None:
            sizes["system"] = len(self.system)
        if self.turns is not None:
            sizes["turns"] = len(self.turns)
        bad = {k: v for k, v in sizes.items() if v != n}
        if bad:
            raise AnalysisError(f"analysis input: {n} sources but " +
                                ", ".join(f"{v} {k}" for k, v in bad.items()))
        from workbench.analysis.inputs import all_finite

        if self.prompt_vecs.ndim != 2 or (n and not all_finite(self.prompt_vecs)):
            raise AnalysisError("analysis input: prompt vectors must be a finite (N, d) array")

    @property
    def n(self) -> int:
        return len(self.source)

    @classmethod
    def from_workspace(cls, ws: Any, prompt_vecs: np.ndarray, response_vecs: np.ndarray | None = None,
                       *, encoder: str = "") -> "AnalysisInput":
        """Build from a :class:`workbench.project.Workspace` (all rows, edits applied), through
        the same snapshot as :mod:`workbench.analysis.project_analysis`."""
        from workbench.analysis.project_analysis import AnalysisData

        return AnalysisData.capture(ws).to_input(prompt_vecs, response_vecs, encoder=encoder)

    @classmethod
    def from_sources(cls, sources: Sequence[tuple[Any, str]], prompt_vecs: np.ndarray,
                     response_vecs: np.ndarray | None = None, *, encoder: str = "") -> "AnalysisInput":
        """Build from ``[(SourceData, role), ...]`` (the CLI's path, without a project)."""
        from workbench.analysis.inputs import columns_from_sources

        cols = columns_from_sources(sources)
        return cls(prompt_vecs=prompt_vecs, response_vecs=response_vecs, encoder=encoder, **cols)

    def revision(self) -> str:
        """Hash of every input text, role, position and vector (hex, 32 chars). Cached."""
        if self._revision is None:
            from workbench.analysis.inputs import input_revision

            self._revision = input_revision(self)
        return self._revision


@dataclass(frozen=True)
class AnalysisParams:
    """Every parameter of an analysis (JSON-able). Defaults are the documented, measured ones."""

    seed: int | None = 42
    # neighbour graph
    k: int = 15
    exact_limit: int = EXACT_LIMIT
    # map
    umap_neighbors: int = 15
    min_dist: float = 0.1
    layout_fit_limit: int = FIT_LIMIT
    umap_epochs: int | None = None
    # clusters
    cluster_dims: int = 2  # 2 = cluster the map itself; 5 (BERTopic style) = a separate 5-D UMAP
    min_cluster_size: int | None = None  # None = clusters.auto_min_cluster_size(N)
    min_samples: int | None = DEFAULT_MIN_SAMPLES  # None = HDBSCAN's default (= min_cluster_size)
    cluster_selection: str = "eom"
    assign_noise: bool = False
    cluster_join: bool = True  # noise rows close enough to a cluster join it (clusters.join_noise)
    label_terms: int = 3
    # duplicates
    near_dup_threshold: float = _duplicates.DEFAULT_NEAR_THRESHOLD  # cosine-only rule (dup_verify False)
    dup_verify: bool = True  # cosine >= 0.90 confirmed by analysis.pair_verifier (see duplicates.py)
    # conflicts
    conflict_prompt_sim: float = _conflicts.DEFAULT_PROMPT_SIM
    conflict_response_sim: float = _conflicts.DEFAULT_RESPONSE_SIM
    inconsistency_neighbour_sim: float = _conflicts.DEFAULT_NEIGHBOUR_SIM
    # coverage and review queue
    gap_threshold: float = _coverage.DEFAULT_GAP_THRESHOLD
    gap_sim: float = _coverage.DEFAULT_GAP_SIM
    region_sim: float = _coverage.DEFAULT_REGION_SIM
    min_gap: int = 3
    queue_size: int = _queue.DEFAULT_SIZE
    queue_lambda: float = _queue.DEFAULT_LAMBDA
    # leakage
    leak_sim: float | None = None  # None = near_dup_threshold
    leak_ngram: int = _leakage.DEFAULT_NGRAM
    leak_ngram_overlap: float = _leakage.DEFAULT_NGRAM_MIN_OVERLAP

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AnalysisParams":
        """Tolerates unknown keys (from newer versions) and missing ones (defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes: Any) -> "AnalysisParams":
        return dataclasses.replace(self, **changes)

    # which parameters each reusable stage depends on
    def stage_params(self, stage: str) -> dict[str, Any]:
        d = self.to_dict()
        keys = {"graph": ["k", "exact_limit", "seed"],
                "layout": ["umap_neighbors", "min_dist", "layout_fit_limit", "umap_epochs"],
                "clusters": ["cluster_dims", "min_cluster_size", "min_samples", "cluster_selection",
                             "assign_noise", "cluster_join", "label_terms"]}[stage]
        return {k: d[k] for k in keys}


def _digest(obj: Any) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def stage_keys(revision: str, params: AnalysisParams) -> dict[str, str]:
    """Keys of the reusable stages: a stage is reused when its key (and all before it) match."""
    g = _digest([SCHEMA_VERSION, revision, params.stage_params("graph")])
    lay = _digest([g, params.stage_params("layout")])
    c = _digest([lay, params.stage_params("clusters")])
    return {"graph": g, "layout": lay, "clusters": c}


def cache_key(revision: str, params: AnalysisParams) -> str:
    """The key of a result: its input revision and every parameter."""
    return _digest([SCHEMA_VERSION, revision, params.to_dict()])


def is_current(meta: dict[str, Any] | None, inp: "AnalysisInput", params: AnalysisParams) -> bool:
    """Whether stored results (their ``cache.json`` metadata, None when absent) are those of
    ``inp`` with ``params``: the one staleness check (the app, the CLI and the export use it)."""
    return meta is not None and meta.get("cache_key") == cache_key(inp.revision(), params)


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class AnalysisResult:
    """One analysis: the per-example table, the summary, and (in memory) the raw findings."""

    examples: Any  # pandas.DataFrame
    summary: dict[str, Any]
    revision: str
    params: AnalysisParams
    cache_key: str
    stage_keys: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    graph: NeighbourGraph | None = None
    findings: dict[str, Any] = field(default_factory=dict)  # in memory only: Duplicates, Conflicts, ...
    reused: bool = False  # True when read back from disk instead of computed

    def ref(self, i: int) -> dict[str, Any]:
        """How the summary refers to row i: ``{"source": label, "source_id": id, "line": n}``."""
        ex = self.examples
        return {"source": str(ex["source"].iat[i]), "source_id": int(ex["source_id"].iat[i]),
                "line": int(ex["line"].iat[i])}

    def write(self, out_dir: str | os.PathLike) -> Path:
        """Write examples.parquet, summary.json, graph.npz and (last) cache.json into ``out_dir``."""
        from workbench.analysis.results_store import write_result

        return write_result(self, Path(out_dir))

    @classmethod
    def read(cls, out_dir: str | os.PathLike, *, with_graph: bool = True) -> "AnalysisResult":
        """Read results written by :meth:`write` (raises AnalysisError when absent or foreign)."""
        from workbench.analysis.results_store import read_result

        return read_result(cls, Path(out_dir), with_graph=with_graph)


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
class _Phases:
    """Times each phase and forwards progress; a phase starts with a first progress call."""

    def __init__(self, progress: ProgressFn, cancel: CancelToken):
        self.progress, self.cancel = progress, cancel
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any], announce: str | None = None) -> Any:
        """Run phase ``name`` (its timing key); ``announce`` = the phase text the step itself
        reports first, so a front end does not show the phase twice."""
        self.cancel.check()
        self.progress(0, 0, announce or name)
        t0 = time.perf_counter()
        out = fn()
        self.timings[name] = round(time.perf_counter() - t0, 3)
        return out


def run_analysis(
    inp: AnalysisInput,
    params: AnalysisParams | None = None,
    *,
    previous: AnalysisResult | None = None,
    relayout: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AnalysisResult:
    """Analyse ``inp``: graph, map, clusters, labels, flags, duplicates, conflicts, coverage,
    review queue, leakage. ``previous`` (the stored result, e.g. read from disk): of the same
    revision it lends its graph, map and clusters when their parameters are unchanged; of any
    revision its map and cluster ids are continued (:mod:`workbench.analysis.map_continuity`:
    persisting rows keep their place and cluster, new rows are placed), unless ``relayout``
    asks for a fresh layout (aligned to the previous map, cluster ids matched).

    UMAP and HDBSCAN cannot be interrupted; every other phase checks ``cancel``.
    """
    from workbench.analysis.stages import run_steps

    params = params or AnalysisParams()
    progress, cancel = ensure(progress, cancel)
    ph = _Phases(progress, cancel)
    revision = ph.run("fingerprint", inp.revision)
    keys = stage_keys(revision, params)
    basis = previous
    if previous is not None and previous.revision != revision:
        previous = None
    examples, summary, graph, findings = run_steps(inp, params, keys, previous, ph, cancel, basis=basis,
                                                   relayout=relayout)
    key = cache_key(revision, params)
    summary.update({"version": SCHEMA_VERSION, "revision": revision, "cache_key": key,
                    "params": params.to_dict(), "timings": dict(ph.timings), "encoder": inp.encoder,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return AnalysisResult(examples=examples, summary=summary, revision=revision, params=params,
                          cache_key=key, stage_keys=keys, timings=dict(ph.timings), graph=graph,
                          findings=findings)


def analyze(
    inp: AnalysisInput,
    params: AnalysisParams | None,
    out_dir: str | os.PathLike,
    *,
    relayout: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AnalysisResult:
    """Run or reuse: return the stored result in ``out_dir`` when its cache key matches (same
    revision, same parameters) and no fresh layout is asked for (``relayout``); otherwise run
    (reusing stored stages of the same revision, continuing the stored map of any revision: see
    :func:`run_analysis`) and write the result there."""
    from workbench.analysis.results_store import read_cache_meta

    params = params or AnalysisParams()
    progress, cancel = ensure(progress, cancel)
    out = Path(out_dir)
    meta = read_cache_meta(out)
    previous = None
    if meta is not None:
        progress(0, 0, "fingerprint")
        same = meta.get("revision") == inp.revision()
        try:
            if same and not relayout and is_current(meta, inp, params):
                result = AnalysisResult.read(out)
                result.reused = True
                return result
            previous = AnalysisResult.read(out, with_graph=same)  # other data: its map only
        except AnalysisError:
            previous = None
    result = run_analysis(inp, params, previous=previous, relayout=relayout, progress=progress,
                          cancel=cancel)
    result.write(out)
    return result
