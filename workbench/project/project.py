"""The project: sources + settings + the durable journal of curator ops.

Typical use::

    with Project.create("bank.wbproj") as p:          # or Project.open(path, read_only=False)
        p.add_source("train.jsonl", "train")
        ws = p.load()                                   # Workspace: rows, texts, state arrays
        change = p.apply(Reject([(1, 12)], "duplicate"))  # durable when it returns
        p.undo(); p.redo()

Every mutation (``apply``, ``undo``, ``redo``) is one SQLite transaction, fsynced before the call
returns, and bumps :attr:`Project.revision` (the id of the newest journal entry, so it is stable
across reopening). The current state is rebuilt on open by folding the ops in effect (see
:mod:`workbench.project.curation_state`); the loaded :class:`~workbench.project.workspace.Workspace` is
updated in place after each mutation.

Undo/redo: the journal keeps ``undo``/``redo`` entries naming an op; replay computes the stack of
ops in effect and the redo stack (a new op clears it, as in any editor), so both survive closing.
"""

from __future__ import annotations

import functools
import gc
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError, ProjectError, SourceChangedError
from workbench.core.hashing import file_sha256
from workbench.io.source_data import DEFAULT_UNIT, ROLES, SCHEMAS, UNITS
from workbench.project import journal as _journal
from workbench.project.journal import Op
from workbench.project.curation_state import Change, CurationState
from workbench.project.settings import Settings
from workbench.project.sources import (
    SourceMissingError,
    SourceStatus,
    candidates as _candidates,
    default_project_path,  # noqa: F401  (re-exported: the CLI commands use it)
    relpath as _relpath,
    same_file as _same_file,
)
from workbench.project.project_file import SourceInfo, Store


def _locked(method):
    """Run a Project method under the project's lock: the GUI thread applies ops while a loader
    thread may be building a Workspace from the same state."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry as the curator sees it (``workbench history``, a History panel).

    ``kind``: ``op`` (a curator action), ``undo`` / ``redo`` (of op ``target``) or ``source`` (a
    source added, relinked or accepted as changed). For ops, ``status`` is ``in effect``,
    ``undone`` (redo brings it back) or ``discarded`` (undone, then a newer action replaced the
    redo stack); ``op`` is the parsed op for ops in effect or undone.
    """

    entry_id: int
    ts: float
    kind: str
    label: str
    target: int | None = None
    status: str = ""
    op: Op | None = None

    @property
    def in_effect(self) -> bool:
        return self.status == "in effect"


class Project:
    """An open project file. Create with :meth:`create`, open with :meth:`open`; use as a context
    manager or call :meth:`close`."""

    def __init__(self, store: Store) -> None:
        self._store: Store | None = store
        self._mutex = threading.RLock()
        self.path: Path = store.path
        self.read_only: bool = store.read_only
        header = store.header()
        self.project_id: str = header.get("project_id", "")
        self.settings = Settings(self)
        store.settings_items()  # every setting must be JSON: damage is reported on open, by key
        self._sources: list[SourceInfo] = store.sources()
        self._done: list[tuple[int, Op]] = []  # ops in effect, oldest first: (journal id, resolved op)
        self._redo: list[tuple[int, Op]] = []  # undone ops that redo re-applies, next last
        self.state = CurationState()
        self.revision = 0
        self.workspace = None  # the last Workspace from load(), kept current by apply/undo/redo
        self._data_cache: dict[int, tuple[str, str, Any]] = {}  # source id -> (sha, unit, SourceData)
        self._hash_cache: dict[tuple, str] = {}
        self._replay()
        store.upgrade()  # an older file version, verified by the replay: migrate it now

    # --- opening and closing ------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path) -> "Project":
        """Create a new, empty project file. Never overwrites: an existing path is an error."""
        return cls(Store.create(path))

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> "Project":
        """Open a project. A second writer gets :class:`ProjectLockedError`; ``read_only=True``
        always works (a snapshot; no changes possible). Foreign/corrupt files raise
        :class:`ProjectError` and are left untouched."""
        store = Store.open(path, read_only=read_only)
        try:
            return cls(store)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise ProjectError(
                f"Project '{store.path.name}' ({store.path}) is damaged and cannot be read ({exc})."
            ) from exc
        except BaseException:
            store.close()
            raise

    @_locked
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self.workspace = None

    @property
    def closed(self) -> bool:
        return self._store is None

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self.closed else ("read-only" if self.read_only else "open")
        return f"<Project {self.path.name} {mode} rev {self.revision}>"

    def _store_open(self) -> Store:
        if self._store is None:
            raise ProjectError(f"Project '{self.path.name}' is closed.")
        return self._store

    @property
    def data_dir(self) -> Path:
        """A folder beside the project file for its results (analysis tables, exports' temp
        files): ``NAME.wbproj-data/``. Created on first use; travels with the project."""
        d = Path(str(self.path) + "-data")
        try:
            d.mkdir(exist_ok=True)
        except OSError:
            if not self.read_only:
                raise
        return d

    # --- replay -------------------------------------------------------------------------------
    def _replay(self) -> None:
        """Rebuild stacks and state from the journal (the journal is the truth)."""
        was_enabled = gc.isenabled()
        gc.disable()  # replay allocates many small objects and frees none: the cyclic GC only
        try:  # re-scans them (over half the time for 100k ops)
            self._replay_journal()
        finally:
            if was_enabled:
                gc.enable()

    def _replay_journal(self) -> None:
        store = self._store_open()
        self.state = CurationState({s.id: s.sha256 for s in self._sources})
        result = _journal.replay(store.journal(), self.state, checksums_from=store.checksums_from(),
                                 project_name=self.path.name)
        self._done = result.done
        self._redo = result.redo
        self.revision = result.last_entry

    # --- sources ------------------------------------------------------------------------------
    @property
    def sources(self) -> list[SourceInfo]:
        return list(self._sources)

    def source(self, source_id: int) -> SourceInfo:
        for s in self._sources:
            if s.id == source_id:
                return s
        raise ProjectError(f"There is no source with id {source_id} in project '{self.path.name}'.")

    def find_source(self, ref: str | int | Path) -> SourceInfo:
        """The source named by ``ref``: its id, its file name (when no other source shares it),
        or the path where it was (recorded or relative to the project). ProjectError otherwise."""
        text = str(ref)
        if text.isdigit():
            return self.source(int(text))
        by_name = [s for s in self._sources if s.name == text]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            ids = ", ".join(f"{s.id} ({s.path})" for s in by_name)
            raise ProjectError(f"Several sources are named '{text}': {ids}. Name one by its id.")
        path = Path(text).expanduser().absolute()
        for s in self._sources:
            if path in (Path(p) for p in _candidates(s, self.path.parent)):
                return s
        found = self.source_for_path(path) if path.exists() else None
        if found is not None:
            return found
        have = "; ".join(f"{s.id}: {s.name}" for s in self._sources) or "none"
        raise ProjectError(f"No source '{text}' in project '{self.path.name}' (sources: {have}).")

    def source_for_path(self, path: str | Path) -> SourceInfo | None:
        """The source whose file is ``path`` (same path or same file), if any."""
        path = Path(path).expanduser().absolute()
        for s in self._sources:
            if Path(s.path) == path or _same_file(Path(s.path), path):
                return s
        return None

    @property
    def unit(self) -> str:
        unit = self.settings.get("unit", DEFAULT_UNIT)
        return unit if unit in UNITS else DEFAULT_UNIT

    def add_source(
        self,
        path: str | Path,
        role: str,
        schema: str | None = None,
        mapping: dict[str, str] | None = None,
        *,
        data: Any = None,
        progress=None,
        cancel=None,
    ) -> SourceInfo:
        """Add a data file with a role. Reads it once (or takes ``data``, the ``SourceData`` the
        caller already read from this file) to detect its format and count rows; records its
        sha256. The loaded workspace (if any) does not include it until the next :meth:`load`
        (which reuses the data read here)."""
        if role not in ROLES:
            raise ProjectError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
        if schema is not None and schema not in SCHEMAS:
            raise ProjectError(f"Unknown format {schema!r}; choose one of {', '.join(SCHEMAS)}.")
        path = Path(path).expanduser().absolute()
        if not path.is_file():
            raise InputError(f"Data file {path} does not exist." if not path.exists() else f"{path} is not a file.")
        existing = self.source_for_path(path)
        if existing is not None:
            raise ProjectError(f"'{path.name}' is already in the project (as {existing.role} source {existing.id}).")
        self._check_writable()
        if data is None:
            from workbench.io.readers import read_source

            data = read_source(path, schema=schema, unit=self.unit, mapping=mapping, progress=progress, cancel=cancel)
        if len(data) == 0:
            raise InputError(
                f"No records could be loaded from '{path.name}' ({len(data.errors)} bad lines); nothing was added."
            )
        sha = data.sha256 or self._hash(path)  # of exactly the bytes parsed (io.source_file)
        info = SourceInfo(
            id=0,
            name=path.name,
            path=str(path),
            role=role,
            schema=data.schema,
            container=data.container,
            sha256=sha,
            rows=len(data),
            rel_path=_relpath(path, self.path.parent),
            mapping=mapping,  # as the user gave it (the reader re-resolves defaults and aliases)
            unit=data.unit,
            errors=len(data.errors),
            size=path.stat().st_size,
            added_at=time.time(),
        )
        with self._mutex:
            sid, entry = self._store_open().insert_source(info, f"Add {role} source {path.name}")
        info = replace(info, id=sid)
        self._sources.append(info)
        self.state.source_shas[sid] = sha
        self._data_cache[sid] = (sha, data.unit, data)
        self.revision = entry
        return info

    def check_sources(self) -> list[SourceStatus]:
        """Where every source's file is now, without raising (for a "sources" dialog)."""
        return [self._locate(s) for s in self._sources]

    def _locate(self, info: SourceInfo) -> SourceStatus:
        first_changed: SourceStatus | None = None
        tried = tuple(_candidates(info, self.path.parent))
        for cand in tried:
            if not cand.is_file():
                continue
            sha = self._hash(cand)
            if sha == info.sha256:
                return SourceStatus(info, "ok", cand, sha, tried)
            if first_changed is None:
                first_changed = SourceStatus(info, "changed", cand, sha, tried)
        return first_changed or SourceStatus(info, "missing", None, None, tried)

    def _hash(self, path: Path) -> str:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
        sha = self._hash_cache.get(key)
        if sha is None:
            try:
                sha = file_sha256(path)
            except OSError as exc:
                raise InputError(f"Cannot read '{path.name}' ({path}): {exc.strerror or exc}") from exc
            self._hash_cache[key] = sha
        return sha

    @_locked
    def relink(self, source_id: int, new_path: str | Path) -> SourceInfo:
        """Point a source at its file's new location. The file must have the recorded content
        (same sha256); otherwise :class:`SourceChangedError` (use :meth:`accept_changed`)."""
        info = self.source(source_id)
        new_path = Path(new_path).expanduser().absolute()
        if not new_path.is_file():
            raise InputError(f"Data file {new_path} does not exist.")
        sha = self._hash(new_path)
        if sha != info.sha256:
            raise SourceChangedError(
                f"'{new_path.name}' does not have the content of source '{info.name}' (sha256 differs). "
                "Relink to the original file, or accept the changed file explicitly."
            )
        return self._update_source(info, {"path": str(new_path), "rel_path": _relpath(new_path, self.path.parent)},
                                   f"Relink source {info.name} to {new_path}")

    def accept_changed(self, source_id: int, path: str | Path | None = None, *, progress=None, cancel=None) -> SourceInfo:
        """The curator's explicit choice to use a source file whose content changed.

        The file is read again (format, rows) and its new sha256 recorded. Journal entries made
        on the old content are **set aside, not applied**: rejections, edits, tags, weights and
        notes on that source no longer show (line numbers may now name other records); they stay
        in the journal. Call :meth:`load` afterwards.
        """
        info = self.source(source_id)
        if path is None:
            status = self._locate(info)
            if status.state == "missing":
                raise SourceMissingError(status.message)
            path = status.path
        path = Path(path).expanduser().absolute()
        from workbench.io.readers import read_source

        data = read_source(path, schema=info.schema, unit=self.unit, mapping=info.mapping, progress=progress, cancel=cancel)
        sha = data.sha256 or self._hash(path)  # of exactly the bytes parsed (io.source_file)
        fields = {
            "path": str(path), "rel_path": _relpath(path, self.path.parent), "sha256": sha, "rows": len(data),
            "errors": len(data.errors), "size": path.stat().st_size, "schema": data.schema,
            "container": data.container,
        }
        with self._mutex:
            info = self._update_source(info, fields, f"Accept changed source {info.name} (was sha256 {info.sha256[:12]})")
            self._data_cache[source_id] = (sha, data.unit, data)
            self._replay()
            self.workspace = None
        return info

    @_locked
    def set_role(self, source_id: int, role: str) -> SourceInfo:
        """Change a source's role (journalled as a source entry; the curation on it is kept).
        Call :meth:`load` afterwards (roles are per row in the workspace)."""
        info = self.source(source_id)
        if role not in ROLES:
            raise ProjectError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
        if role == info.role:
            return info
        new = self._update_source(info, {"role": role}, f"Set role of source {info.name} to {role} (was {info.role})")
        self.workspace = None
        return new

    @_locked
    def remove_source(self, source_id: int) -> SourceInfo:
        """Remove a wrongly added source from the project (journalled as a source entry). Its
        file is not touched. The curation made on the other sources (and on added examples) is
        kept; the journal's entries on this source stay in the journal, set aside (not applied).
        Adding the file again later gives it a new source id, so they stay set aside. Call
        :meth:`load` afterwards."""
        info = self.source(source_id)
        if self.read_only:
            raise ProjectError(f"Project '{self.path.name}' is open read-only; changes are not possible.")
        touched = sum(1 for eid in set(self.state.rejected) | set(self.state.edits) | set(self.state.tags)
                      | set(self.state.weights) | set(self.state.notes) if eid[0] == source_id)
        with self._mutex:
            entry = self._store_open().delete_source(
                source_id, f"Remove {info.role} source {info.name}",
                {"sha256": info.sha256, "name": info.name, "role": info.role, "curated": touched})
            self._sources = [s for s in self._sources if s.id != source_id]
            self._data_cache.pop(source_id, None)
            self._replay()
            self.workspace = None
            self.revision = entry
        return info

    @_locked
    def _update_source(self, info: SourceInfo, fields: dict[str, Any], label: str) -> SourceInfo:
        if self.read_only:
            raise ProjectError(f"Project '{self.path.name}' is open read-only; changes are not possible.")
        entry = self._store_open().update_source(info.id, fields, label)
        new = replace(info, **fields)
        self._sources = [new if s.id == info.id else s for s in self._sources]
        self.revision = entry or self.revision
        return new

    # --- loading ------------------------------------------------------------------------------
    def load(self, progress=None, cancel=None):
        """Read every source (checking each one's sha256) and build the Workspace.

        Raises :class:`SourceMissingError` / :class:`SourceChangedError` naming the files (all of
        them in one message); nothing is applied to a file whose content changed."""
        from workbench.core.progress import ensure
        from workbench.project.workspace import Workspace

        progress, cancel = ensure(progress, cancel)
        statuses = self.check_sources()
        missing = [s for s in statuses if s.state == "missing"]
        changed = [s for s in statuses if s.state == "changed"]
        if missing or changed:
            lines = [s.message for s in missing + changed]
            if changed:
                lines.append("Relink a moved file, or accept a changed file explicitly (its curation is set aside).")
            else:
                lines.append("Relink it to where the file is now.")
            err_cls = SourceChangedError if changed else SourceMissingError
            err = err_cls(" ".join(lines))
            err.problems = missing + changed  # type: ignore[attr-defined]
            raise err
        datas = []
        unit = self.unit
        for k, st in enumerate(statuses):
            cancel.check()
            cached = self._data_cache.get(st.info.id)
            if cached and cached[0] == st.info.sha256 and cached[1] == unit:
                datas.append(cached[2])
                continue
            from workbench.io.readers import read_source

            def sub(done, total, phase, _k=k, _name=st.info.name):
                progress(done, total, f"Loading {_name} ({_k + 1}/{len(statuses)})")

            data = read_source(st.path, schema=st.info.schema, unit=unit, mapping=st.info.mapping,
                               progress=sub, cancel=cancel)
            if data.sha256 and data.sha256 != st.info.sha256:  # replaced between the check and the read
                raise SourceChangedError(f"'{st.info.name}' changed while it was being loaded (its sha256 no longer "
                                         "matches the project's record); open the project again.")
            self._data_cache[st.info.id] = (st.info.sha256, unit, data)
            datas.append(data)
        progress(0, 0, "Applying curation")
        with self._mutex:  # a consistent state; ops applied after this refresh the new workspace
            self.workspace = Workspace(self, [s.info for s in statuses], datas, unit=unit)
            return self.workspace

    # --- ops ----------------------------------------------------------------------------------
    def _check_writable(self) -> Store:
        store = self._store_open()
        if self.read_only:
            raise ProjectError(f"Project '{self.path.name}' is open read-only; changes are not possible.")
        return store

    @_locked
    def apply(self, op: Op) -> Change:
        """Apply one op (a :class:`Batch` is one step); durable in the project file on return."""
        store = self._check_writable()
        if not isinstance(op, Op):
            raise ProjectError(f"Not an op: {op!r}")
        ws = self.workspace
        # sources added after the last load() are not in the workspace: only their id is checked
        exists = (lambda eid: ws.has(eid) if ws.covers_source(eid[0]) else True) if ws else None
        self.state.check(op, exists, schema_of=lambda sid: (self.source(sid).schema, self.source(sid).mapping),
                         unit=self.unit)
        resolved, changed = self.state.apply(op)
        try:
            entry = store.append_op(resolved.label, resolved.to_json())
        except BaseException:
            self.state.apply(resolved.inverse())  # journal write failed: take it back in memory
            raise
        self._done.append((entry, resolved))
        self._redo.clear()
        self.revision = entry
        return self._changed(Change("apply", resolved.label, changed, entry, entry, entry))

    @_locked
    def undo(self) -> Change | None:
        """Undo the newest op in effect (journalled durably); None when there is nothing to undo."""
        store = self._check_writable()
        if not self._done:
            return None
        op_id, op = self._done[-1]
        _, changed = self.state.apply(op.inverse())
        try:
            entry = store.append_undo("undo", op_id, op.label)
        except BaseException:
            self.state.apply(op)
            raise
        self._done.pop()
        self._redo.append((op_id, op))
        self.revision = entry
        return self._changed(Change("undo", op.label, changed, entry, entry, op_id))

    @_locked
    def redo(self) -> Change | None:
        """Re-apply the newest undone op; None when there is nothing to redo."""
        store = self._check_writable()
        if not self._redo:
            return None
        op_id, op = self._redo[-1]
        resolved, changed = self.state.apply(op)
        try:
            entry = store.append_undo("redo", op_id, op.label)
        except BaseException:
            self.state.apply(resolved.inverse())
            raise
        self._redo.pop()
        self._done.append((op_id, resolved))
        self.revision = entry
        return self._changed(Change("redo", op.label, changed, entry, entry, op_id))

    def _changed(self, change: Change) -> Change:
        if self.workspace is not None:
            self.workspace.refresh(change)
        return change

    @property
    def can_undo(self) -> bool:
        return bool(self._done) and not self.read_only

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self.read_only

    @property
    def undo_count(self) -> int:
        """How many steps undo can take back (ops in effect)."""
        return len(self._done)

    @property
    def redo_count(self) -> int:
        return len(self._redo)

    @property
    def undo_label(self) -> str | None:
        """Label of the op undo would take back (the UI shows "Undo " + label)."""
        return self._done[-1][1].label if self._done else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1][1].label if self._redo else None

    # --- history ------------------------------------------------------------------------------
    def effective_ops(self) -> list[tuple[int, Op]]:
        """The ops in effect, oldest first, as (journal id, resolved op): what the export
        manifest lists (each removal and edit with its reason and op id)."""
        return list(self._done)

    def journal_times(self) -> dict[int, float]:
        """Journal id -> timestamp (seconds since the epoch) of every entry."""
        return {r.id: r.ts for r in self._store_open().journal()}

    def history(self) -> list[HistoryEntry]:
        """Every journal entry, oldest first (``workbench history`` shows it newest first)."""
        in_effect = dict(self._done)
        redo = dict(self._redo)
        out = []
        for row in self._store_open().journal():
            status, op = "", None
            if row.kind == "op":
                op = in_effect.get(row.id) or redo.get(row.id)
                status = "in effect" if row.id in in_effect else "undone" if row.id in redo else "discarded"
            out.append(HistoryEntry(row.id, row.ts, row.kind, row.label, row.target, status, op))
        return out
