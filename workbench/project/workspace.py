"""Workspace: every source loaded, concatenated, with the current curation state applied.

Rows are all sources in project order (source id), each in file order, then the added examples
(source 0, "added") in order of addition. Row indices of source examples never move while the
workspace lives; only the added tail changes length (a :class:`Change` with ``structural``).

Column-wise and cheap: texts are the readers' own string lists (edited rows get their
re-normalised texts), numbers are numpy arrays, per-row tags share one empty frozenset. The
owning :class:`~workbench.project.Project` calls :meth:`Workspace.refresh` after every
apply/undo/redo, so views only redraw the rows in the change.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from workbench.io.source_data import SourceData, Turn
from workbench.project.journal import ADDED_SOURCE_ID, ADDED_SOURCE_NAME, ExampleId
from workbench.project.curation_state import Change
from workbench.project.project_file import SourceInfo

_EMPTY: frozenset[str] = frozenset()


class Workspace:
    """Loaded rows + state arrays. Build with :meth:`Project.load`."""

    def __init__(self, project, infos: Sequence[SourceInfo], datas: Sequence[SourceData], unit: str) -> None:
        self._project = project
        self.unit = unit
        self.sources: list[SourceInfo] = list(infos)
        self._data: dict[int, SourceData] = {i.id: d for i, d in zip(infos, datas)}
        self._info: dict[int, SourceInfo] = {i.id: i for i in infos}
        self._start: dict[int, int] = {}
        sizes = [len(d) for d in datas]
        self.n_source_rows = int(sum(sizes))
        n = self.n_source_rows
        self.source_id = np.zeros(n, dtype=np.int32)
        self.line = np.zeros(n, dtype=np.int64)
        self.role = np.empty(n, dtype=object)
        self.source_names = np.empty(n, dtype=object)
        self.n_turns = np.zeros(n, dtype=np.int32)
        self.system: list[str] = []
        self.prompt: list[str] = []
        self.response: list[str] = []
        keys: dict[str, None] = {}
        for d in datas:
            keys.update(dict.fromkeys(d.extra))
        self.extra: dict[str, list[Any]] = {k: [] for k in keys}
        pos = 0
        for info, d in zip(infos, datas):
            m = len(d)
            self._start[info.id] = pos
            sl = slice(pos, pos + m)
            self.source_id[sl] = info.id
            self.line[sl] = d.lines
            self.role[sl] = info.role
            self.source_names[sl] = info.name
            self.n_turns[sl] = d.n_turns
            self.system.extend(d.system)
            self.prompt.extend(d.prompt)
            self.response.extend(d.response)
            for k, col in self.extra.items():
                col.extend(d.extra[k] if k in d.extra else [None] * m)
            pos += m
        self.rejected = np.zeros(n, dtype=bool)
        self.edited = np.zeros(n, dtype=bool)
        self.weight = np.ones(n, dtype=np.float32)
        self.tags: list[frozenset[str]] = [_EMPTY] * n
        self._added_index: dict[int, int] = {}
        self._added_lines: list[int] = []
        self.revision = project.revision
        self._append_added()
        state = project.state
        touched = set(state.rejected) | set(state.edits) | set(state.tags) | set(state.weights)
        self._refresh_ids(touched)

    # --- size and identity --------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.prompt)

    def __len__(self) -> int:
        return self.n

    def index_of(self, example_id: ExampleId) -> int:
        """Row index of an example id; KeyError when it is not in the workspace."""
        s, line = int(example_id[0]), int(example_id[1])
        if s == ADDED_SOURCE_ID:
            return self._added_index[line]
        start = self._start.get(s)
        if start is None:
            raise KeyError(example_id)
        lines = self._data[s].lines
        j = int(np.searchsorted(lines, line))
        if j >= len(lines) or lines[j] != line:
            raise KeyError(example_id)
        return start + j

    def has(self, example_id: ExampleId) -> bool:
        try:
            self.index_of(example_id)
            return True
        except KeyError:
            return False

    def covers_source(self, source_id: int) -> bool:
        """Whether the workspace holds this source's rows (sources added after it was loaded
        do not appear until the next :meth:`Project.load`)."""
        return source_id == ADDED_SOURCE_ID or source_id in self._start

    def indices_of(self, ids: Iterable[ExampleId]) -> np.ndarray:
        """Row indices of the ids present in the workspace (unknown ids are skipped)."""
        out = []
        for eid in ids:
            try:
                out.append(self.index_of(eid))
            except KeyError:
                pass
        return np.asarray(out, dtype=np.int64)

    def example_id(self, i: int) -> ExampleId:
        return (int(self.source_id[i]), int(self.line[i]))

    def example_ids(self, rows: Iterable[int]) -> list[ExampleId]:
        return [(int(self.source_id[i]), int(self.line[i])) for i in rows]

    def source_name(self, i: int) -> str:
        return self.source_names[i]

    def rows_of_source(self, source_id: int) -> slice:
        if source_id == ADDED_SOURCE_ID:
            return slice(self.n_source_rows, self.n)
        start = self._start[source_id]
        return slice(start, start + len(self._data[source_id]))

    def source_data(self, source_id: int) -> SourceData:
        return self._data[source_id]

    def source_info(self, source_id: int) -> SourceInfo | None:
        return self._info.get(source_id)

    @property
    def errors(self) -> list:
        """Every bad line reported while loading (``LoadError``: path, line, reason)."""
        return [e for d in self._data.values() for e in d.errors]

    # --- per-row content ----------------------------------------------------------------------
    def _locate(self, i: int) -> tuple[int, int]:
        s = int(self.source_id[i])
        return s, (i - self._start[s]) if s != ADDED_SOURCE_ID else int(self.line[i])

    def is_added(self, i: int) -> bool:
        return int(self.source_id[i]) == ADDED_SOURCE_ID

    def schema_of(self, i: int) -> str:
        s, j = self._locate(i)
        if s == ADDED_SOURCE_ID:
            return self._project.state.added[j].schema
        return self._data[s].schema

    def mapping_of(self, i: int) -> dict[str, str] | None:
        s, _ = self._locate(i)
        return None if s == ADDED_SOURCE_ID else self._data[s].mapping

    def raw(self, i: int) -> str | None:
        """The verbatim original text of a source record (None for added examples)."""
        s, j = self._locate(i)
        return None if s == ADDED_SOURCE_ID else self._data[s].raw[j]

    def original_record(self, i: int) -> dict[str, Any]:
        """The record as it is in its file (added examples: as added)."""
        s, j = self._locate(i)
        if s == ADDED_SOURCE_ID:
            return dict(self._project.state.added[j].record)
        return self._data[s].record(j)

    def record(self, i: int) -> dict[str, Any]:
        """The current record: edits applied."""
        edit = self._project.state.edits.get(self.example_id(i))
        if edit is not None:
            return _copy(edit)
        return self.original_record(i)

    def normalised(self, i: int):
        from workbench.io.formats import normalise

        return normalise(self.record(i), self.schema_of(i), self.unit, mapping=self.mapping_of(i))

    def turns(self, i: int) -> tuple[Turn, ...]:
        """The conversation turn by turn (system / user / assistant / tool), edits applied."""
        return self.normalised(i).turns

    def note(self, i: int) -> str:
        return self._project.state.notes.get(self.example_id(i), "")

    def reject_reason(self, i: int) -> str | None:
        return self._project.state.rejected.get(self.example_id(i))

    def provenance(self, i: int) -> dict[str, Any] | None:
        """Where an added example came from (None for source rows)."""
        s, j = self._locate(i)
        return dict(self._project.state.added[j].provenance) if s == ADDED_SOURCE_ID else None

    @property
    def notes(self) -> dict[int, str]:
        """Row index -> note, for rows that have one."""
        out = {}
        for eid, text in self._project.state.notes.items():
            try:
                out[self.index_of(eid)] = text
            except KeyError:
                pass
        return out

    # --- updates ------------------------------------------------------------------------------
    def refresh(self, change: Change) -> None:
        """Bring rows named by ``change`` up to date with the project state. Idempotent (the
        project calls it after each apply/undo/redo; calling it again changes nothing)."""
        if change.structural or len(self._added_lines) != len(self._project.state.added):
            self._truncate_added()
            self._append_added()
        self._refresh_ids(change.ids)
        self.revision = self._project.revision

    def _truncate_added(self) -> None:
        n = self.n_source_rows
        for name in ("source_id", "line", "role", "source_names", "n_turns", "rejected", "edited", "weight"):
            setattr(self, name, getattr(self, name)[:n].copy())
        for lst in (self.system, self.prompt, self.response, self.tags, *self.extra.values()):
            del lst[n:]
        self._added_index.clear()
        self._added_lines.clear()

    def _append_added(self) -> None:
        from workbench.io.formats import normalise

        added = [a for _, a in sorted(self._project.state.added.items())]
        if not added:
            return
        m = len(added)
        norms = [normalise(a.record, a.schema, self.unit) for a in added]
        base = self.n
        self.source_id = np.concatenate([self.source_id, np.zeros(m, np.int32)])
        self.line = np.concatenate([self.line, np.array([a.line for a in added], np.int64)])
        self.role = np.concatenate([self.role, np.array([a.role for a in added], dtype=object)])
        self.source_names = np.concatenate([self.source_names, np.array([ADDED_SOURCE_NAME] * m, dtype=object)])
        self.n_turns = np.concatenate([self.n_turns, np.array([len(x.turns) for x in norms], np.int32)])
        self.rejected = np.concatenate([self.rejected, np.zeros(m, bool)])
        self.edited = np.concatenate([self.edited, np.zeros(m, bool)])
        self.weight = np.concatenate([self.weight, np.ones(m, np.float32)])
        self.tags.extend([_EMPTY] * m)
        for k, (a, x) in enumerate(zip(added, norms)):
            self._added_index[a.line] = base + k
            self._added_lines.append(a.line)
            self.system.append(x.system)
            self.prompt.append(x.prompt)
            self.response.append(x.response)
        self._set_extras(range(base, base + m), [x.extra for x in norms])
        state = self._project.state
        ids = [(ADDED_SOURCE_ID, a.line) for a in added]
        self._refresh_ids([e for e in ids if e in state.edits or e in state.rejected or e in state.tags
                           or e in state.weights])

    def _set_extras(self, rows: Iterable[int], extras: list[dict[str, Any]]) -> None:
        rows = list(rows)
        n = self.n
        for k in {k for e in extras for k in e}:
            if k not in self.extra:
                self.extra[k] = [None] * n
        for col in self.extra.values():
            if len(col) < n:
                col.extend([None] * (n - len(col)))
        for i, e in zip(rows, extras):
            for k, col in self.extra.items():
                col[i] = e.get(k)

    def _refresh_ids(self, ids: Iterable[ExampleId]) -> None:
        from workbench.io.formats import normalise

        state = self._project.state
        for eid in ids:
            try:
                i = self.index_of(eid)
            except KeyError:
                continue
            self.rejected[i] = eid in state.rejected
            self.weight[i] = state.weights.get(eid, 1.0)
            self.tags[i] = state.tags.get(eid, _EMPTY)
            edit = state.edits.get(eid)
            was_edited = bool(self.edited[i])
            self.edited[i] = edit is not None
            if edit is not None:
                x = normalise(edit, self.schema_of(i), self.unit, mapping=self.mapping_of(i))
                self._set_text(i, x.system, x.prompt, x.response, len(x.turns), x.extra)
            elif was_edited:
                s, j = self._locate(i)
                if s == ADDED_SOURCE_ID:
                    x = normalise(state.added[j].record, state.added[j].schema, self.unit)
                    self._set_text(i, x.system, x.prompt, x.response, len(x.turns), x.extra)
                else:
                    d = self._data[s]
                    extra = {k: col[j] for k, col in d.extra.items()}
                    self._set_text(i, d.system[j], d.prompt[j], d.response[j], int(d.n_turns[j]), extra)

    def _set_text(self, i: int, system: str, prompt: str, response: str, n_turns: int, extra: dict) -> None:
        self.system[i] = system
        self.prompt[i] = prompt
        self.response[i] = response
        self.n_turns[i] = n_turns
        self._set_extras([i], [extra])

    # --- summaries ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Loaded / rejected / edited / added counts (for the status bar and the CLI)."""
        return {
            "loaded": self.n,
            "rejected": int(self.rejected.sum()),
            "edited": int(self.edited.sum()),
            "added": self.n - self.n_source_rows,
        }


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(record)
