"""The project file: one SQLite database, its schema, version check, migrations and lock.

Tables (schema version 2)::

    header   (key, value)            app id, schema_version, project_id, created_at, created_by
    sources  (id, path, rel_path, name, role, schema, container, mapping, unit, sha256, rows,
              errors, size, added_at)
    settings (key, value)            value = JSON
    journal  (id, ts, kind, target, label, payload, undone, checksum)

The journal is append-only: ``kind`` is ``op`` (payload = the resolved op as JSON), ``undo`` /
``redo`` (``target`` = the op's journal id) or ``source`` (a source was added, relinked or
accepted as changed; payload says which). ``undone`` mirrors, for ``op`` rows, whether the op is
currently not in effect; it is derived (the undo/redo rows are the truth) and kept for people
inspecting the file with the ``sqlite3`` shell. ``checksum`` (version 2) protects each entry:
see :mod:`workbench.project.journal` (entries of a version-1 file are kept as legacy entries; the
header key ``journal_checksums_from`` is the first id that must carry one).

Durability: WAL journal with ``synchronous=FULL`` — a commit is on disk (WAL fsynced) before
``commit`` returns; a process killed at any moment leaves a project that opens with every
committed entry. A foreign file (not SQLite, or SQLite without our ``application_id`` and
header) raises :class:`ProjectError` before anything is written to it.

Locking: a writer holds an exclusive ``flock`` on ``PROJECT.lock`` beside the file for as long as
the project is open. The kernel drops it when the process dies (even by SIGKILL), so a crash never
leaves a stale lock. Read-only openers take no lock and read a consistent snapshot (WAL). The lock
file is opened without following symbolic links and must be a plain file of its own (a symlink,
hard link, FIFO or device there is refused, never truncated or written).

Damaged content inside a sound SQLite file (a setting or source mapping that is not JSON, a
journal entry that fails its checksum) raises
:class:`~workbench.project.journal.DamagedProjectError` naming what is damaged.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from workbench import __version__
from workbench.core.errors import ProjectError, ProjectLockedError
from workbench.project.journal import JournalRow, damaged, entry_checksum

APP_NAME = "Curation Workbench project"
APPLICATION_ID = 0x43574250  # "CWBP" in the SQLite header (offset 68)
SCHEMA_VERSION = 2
SQLITE_MAGIC = b"SQLite format 3\x00"
EXTENSION = ".wbproj"

_SCHEMA_V1 = """
CREATE TABLE header (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    path      TEXT NOT NULL,
    rel_path  TEXT,
    name      TEXT NOT NULL,
    role      TEXT NOT NULL,
    schema    TEXT NOT NULL,
    container TEXT NOT NULL,
    mapping   TEXT,
    unit      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    rows      INTEGER NOT NULL,
    errors    INTEGER NOT NULL DEFAULT 0,
    size      INTEGER,
    added_at  REAL NOT NULL
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      REAL NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('op', 'undo', 'redo', 'source')),
    target  INTEGER,
    label   TEXT NOT NULL,
    payload TEXT,
    undone  INTEGER NOT NULL DEFAULT 0
);
"""

# version -> SQL that migrates from version-1 to version. Add entries, never edit old ones.
MIGRATIONS: dict[int, str] = {
    # journal entries get checksums; the entries already there are legacy (accepted unverified)
    2: """
ALTER TABLE journal ADD COLUMN checksum TEXT;
INSERT OR REPLACE INTO header VALUES
    ('journal_checksums_from', CAST((SELECT COALESCE(MAX(id), 0) + 1 FROM journal) AS TEXT));
""",
}
CHECKSUMS_FROM_KEY = "journal_checksums_from"


@dataclass(frozen=True)
class SourceInfo:
    """One data file in the project. ``rows`` = records loaded when it was added."""

    id: int
    name: str
    path: str  # absolute path when added (or last relinked)
    role: str
    schema: str
    container: str
    sha256: str
    rows: int
    rel_path: str | None = None  # relative to the project's folder, so a moved folder still works
    mapping: dict[str, str] | None = None
    unit: str = "last_user"
    errors: int = 0  # lines reported as bad when added
    size: int | None = None
    added_at: float = 0.0


def _describe(path: Path) -> str:
    return f"'{path.name}' ({path})"


def sniff(path: Path) -> None:
    """Raise ProjectError unless ``path`` looks like a project file. Reads bytes only."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        raise ProjectError(f"Project {_describe(path)} does not exist.") from None
    except IsADirectoryError:
        raise ProjectError(f"{_describe(path)} is a folder, not a Curation Workbench project.") from None
    except OSError as exc:
        raise ProjectError(f"Cannot read project {_describe(path)}: {exc.strerror or exc}.") from exc
    if not head:
        raise ProjectError(f"{_describe(path)} is an empty file, not a Curation Workbench project.")
    if not head.startswith(SQLITE_MAGIC):
        raise ProjectError(
            f"{_describe(path)} is not a Curation Workbench project (not an SQLite database). "
            "It was left untouched."
        )
    if len(head) < 100:
        raise ProjectError(f"{_describe(path)} is damaged (truncated SQLite header). It was left untouched.")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        raise ProjectError(
            f"{_describe(path)} is an SQLite database but not a Curation Workbench project. It was left untouched."
        )


class _Lock:
    """Exclusive advisory lock on ``<project>.lock`` that dies with the process."""

    def __init__(self, project: Path) -> None:
        self.path = Path(str(project) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
            | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if self.path.is_symlink():
                raise ProjectError(
                    f"The lock file {self.path} is a symbolic link; it was left alone. Remove it and "
                    "open the project again (or open it read-only)."
                ) from exc
            raise ProjectError(
                f"Cannot create the lock file {self.path} ({exc.strerror or exc}); open the project read-only instead."
            ) from exc
        try:
            st = os.fstat(fd)
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            what = "is not a plain file" if st is None or not stat.S_ISREG(st.st_mode) else "is a hard link to another file"
            raise ProjectError(
                f"The lock file {self.path} {what}; it was left alone. Remove it and open the project "
                "again (or open it read-only)."
            )
        try:
            _lock_fd(fd)
        except OSError:
            holder = ""
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() if hasattr(os, "pread") else ""
            except OSError:
                pass
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise ProjectLockedError(
                f"Project '{self.path.name[:-5]}' is open in another Curation Workbench{who}. "
                "Close it there, or open this one read-only."
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} on {_hostname()}".encode(), 0) if hasattr(os, "pwrite") else None
        except OSError:
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            _unlock_fd(self._fd)
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, shared: bool = False, timeout: float = 300.0) -> Iterator[None]:
    """Hold an advisory lock on ``FOLDER/.lock`` while writing (exclusive) or reading (``shared``)
    a results folder that several processes may use at once (the app and ``workbench analyze``
    on one project's analysis folder): a second writer waits until the first is done, so the
    folder always holds one complete result. Waits up to ``timeout`` seconds, then raises
    :class:`ProjectLockedError`. The lock file is hardened like the project lock (no symlinks)."""
    path = Path(folder) / ".lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise ProjectError(f"Cannot lock {folder} ({path}: {exc.strerror or exc}).") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise ProjectError(f"The lock file {path} is not a plain file of its own; it was left alone.")
        deadline = time.monotonic() + timeout
        while True:
            try:
                _lock_fd(fd, shared=shared)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ProjectLockedError(f"{folder} is in use by another Curation Workbench process "
                                             f"(waited {timeout:.0f} s); try again when it is done.") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            _unlock_fd(fd)
    finally:
        os.close(fd)


def _hostname() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # Windows
        return os.environ.get("COMPUTERNAME", "this computer")


if sys.platform == "win32":  # pragma: no cover - not exercised on Linux CI
    import msvcrt

    def _lock_fd(fd: int, shared: bool = False) -> None:  # no shared mode: readers exclude too
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_fd(fd: int) -> None:
        try:
            os.lseek(fd, 0, 0)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass

else:
    import fcntl

    def _lock_fd(fd: int, shared: bool = False) -> None:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)

    def _unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class Store:
    """Low-level access to one project file. :class:`~workbench.project.Project` is the API."""

    def __init__(self, path: Path, conn: sqlite3.Connection, read_only: bool, lock: _Lock | None):
        self.path = path
        self.conn = conn
        self.read_only = read_only
        self._lock = lock
        self.version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        # The connection is used from the GUI thread and from loader threads (SQLite is built
        # serialized); writes hold this lock for their whole transaction.
        self._mutex = threading.RLock()

    # --- opening ------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path) -> "Store":
        path = Path(path).expanduser().absolute()
        if path.exists() or path.is_symlink():
            raise ProjectError(f"{_describe(path)} exists already; a new project never overwrites a file.")
        if not path.parent.is_dir():
            raise ProjectError(f"Folder {path.parent} does not exist.")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.creating")
        try:
            conn = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=DELETE")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute("BEGIN")
                for stmt in _SCHEMA_V1.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                for version in range(2, SCHEMA_VERSION + 1):
                    for stmt in MIGRATIONS[version].split(";"):
                        if stmt.strip():
                            conn.execute(stmt)
                header = {
                    "app": APP_NAME,
                    "schema_version": str(SCHEMA_VERSION),
                    "project_id": uuid.uuid4().hex,
                    "created_at": repr(time.time()),
                    "created_by": f"curation-workbench {__version__}",
                }
                conn.executemany("INSERT INTO header VALUES (?, ?)", header.items())
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode=WAL")  # recorded in the file header once, here
            finally:
                conn.close()
            _fsync_file(tmp)
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: never clobber
                os.unlink(tmp)
            except FileExistsError:
                raise ProjectError(f"{_describe(path)} exists already; a new project never overwrites a file.") from None
            except OSError:  # file systems without hard links
                if path.exists():
                    raise ProjectError(f"{_describe(path)} exists already.") from None
                os.replace(tmp, path)
            _fsync_dir(path.parent)
        except sqlite3.Error as exc:
            raise ProjectError(f"Cannot create project {_describe(path)}: {exc}") from exc
        except OSError as exc:
            raise ProjectError(f"Cannot create project {_describe(path)}: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                tmp.unlink()
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> "Store":
        path = Path(path).expanduser().absolute()
        sniff(path)
        lock = None
        if not read_only:
            if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
                raise ProjectError(
                    f"Project {_describe(path)} is not writable here; open it read-only."
                )
            lock = _Lock(path)
            lock.acquire()
        try:
            conn = cls._connect(path, read_only)
        except BaseException:
            if lock:
                lock.release()
            raise
        return cls(path, conn, read_only, lock)

    @staticmethod
    def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
        try:
            if read_only:
                conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ProjectError(f"Cannot open project {_describe(path)}: {exc}") from exc
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            _check_header(conn, path)
            # Check the whole file before anything could write to it: a damaged project is
            # reported and left exactly as it is.
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ProjectError(
                    f"Project {_describe(path)} was made by a newer Curation Workbench (file version "
                    f"{version}, this version reads up to {SCHEMA_VERSION}). Update the app."
                )
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA fullfsync=ON")  # macOS: really flush the disk cache
                conn.execute("PRAGMA checkpoint_fullfsync=ON")
                # an older file is upgraded by upgrade(), once its content has been verified
            if version < 1:
                raise ProjectError(
                    f"Project {_describe(path)} has no file version: it is not a complete Curation "
                    "Workbench project. It was left untouched."
                )
            # (version 1: read as it is; its journal entries are all legacy)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ProjectError(
                f"Project {_describe(path)} is damaged and cannot be read ({exc}). It was left untouched."
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def upgrade(self) -> None:
        """Migrate an older file to the current version (writers only; the caller has read and
        verified its content first, so a damaged file is never modified)."""
        if self.read_only or self.version >= SCHEMA_VERSION:
            return
        with self._mutex:
            try:
                _migrate(self.conn, self.version)
            except sqlite3.Error as exc:
                raise ProjectError(f"Cannot upgrade project {_describe(self.path)}: {exc}") from exc
            self.version = SCHEMA_VERSION

    def close(self) -> None:
        with self._mutex:
            self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                if not self.read_only:
                    try:
                        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    except sqlite3.Error:
                        pass  # a reader still holds a snapshot; SQLite checkpoints later
                self.conn.close()
            finally:
                self.conn = None  # type: ignore[assignment]
                if self._lock:
                    self._lock.release()
                    self._lock = None

    # --- transactions -------------------------------------------------------------------------
    def _write(self):
        if self.read_only:
            raise ProjectError(f"Project '{self.path.name}' is open read-only; changes are not possible.")
        if self.conn is None:
            raise ProjectError("The project is closed.")
        return _Txn(self.conn, self._mutex)

    # --- header and settings ------------------------------------------------------------------
    def header(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM header"))

    def checksums_from(self) -> float:
        """The first journal id that must carry a checksum (older entries are legacy)."""
        if self.version < 2:
            return float("inf")
        value = self.header().get(CHECKSUMS_FROM_KEY)
        try:
            return int(value) if value is not None else 1
        except (TypeError, ValueError):
            raise damaged(self.path.name, f"the header value {CHECKSUMS_FROM_KEY!r}", f"is not a number ({value!r})") from None

    def get_setting(self, key: str) -> Any:
        row = self.conn.execute("SELECT CAST(value AS BLOB) FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._setting_value(key, row[0])

    def _setting_value(self, key: str, raw: Any) -> Any:
        try:
            return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (TypeError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise damaged(self.path.name, f"setting {key!r}", f"is not valid JSON ({exc})") from exc

    def has_setting(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM settings WHERE key = ?", (key,)).fetchone() is not None

    def set_setting(self, key: str, value: Any) -> None:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"Setting {key!r} must be a JSON value: {exc}") from exc
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, text))

    def delete_setting(self, key: str) -> None:
        with self._write() as c:
            c.execute("DELETE FROM settings WHERE key = ?", (key,))

    def settings_items(self) -> dict[str, Any]:
        rows = self.conn.execute("SELECT key, CAST(value AS BLOB) FROM settings ORDER BY key").fetchall()
        return {k: self._setting_value(k, v) for k, v in rows}

    # --- sources ------------------------------------------------------------------------------
    def sources(self) -> list[SourceInfo]:
        rows = self.conn.execute(
            "SELECT id, name, path, role, schema, container, sha256, rows, rel_path, mapping, unit, "
            "errors, size, added_at FROM sources ORDER BY id"
        ).fetchall()
        out = []
        for r in rows:
            r = list(r)
            what = f"source {r[0]} ({r[1]!r})"
            try:
                r[9] = json.loads(r[9]) if r[9] else None
            except (TypeError, ValueError) as exc:
                raise damaged(self.path.name, what, f"has a column mapping that is not valid JSON ({exc})") from exc
            if r[9] is not None and not (isinstance(r[9], dict) and all(isinstance(v, str) for v in r[9].values())):
                raise damaged(self.path.name, what, "has a column mapping that is not a map of names")
            bad = [name for name, v, t in (("path", r[2], str), ("role", r[3], str), ("schema", r[4], str),
                                            ("sha256", r[6], str), ("rows", r[7], int)) if not isinstance(v, t)]
            if bad:
                raise damaged(self.path.name, what, f"has damaged fields: {', '.join(bad)}")
            out.append(SourceInfo(*r))
        return out

    def insert_source(self, info: SourceInfo, entry_label: str) -> tuple[int, int]:
        """Insert a source (its ``id`` is ignored); return (source id, journal entry id)."""
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO sources (path, rel_path, name, role, schema, container, mapping, unit, "
                "sha256, rows, errors, size, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    info.path, info.rel_path, info.name, info.role, info.schema, info.container,
                    json.dumps(info.mapping) if info.mapping else None, info.unit, info.sha256,
                    info.rows, info.errors, info.size, info.added_at,
                ),
            )
            sid = int(cur.lastrowid)
            entry = _append(c, "source", entry_label, {"action": "add", "source_id": sid, "sha256": info.sha256})
        return sid, entry

    def update_source(self, sid: int, fields: dict[str, Any], entry_label: str | None) -> int | None:
        """Update source columns; with ``entry_label`` also journal it. Returns the entry id."""
        if "mapping" in fields and fields["mapping"] is not None:
            fields = dict(fields, mapping=json.dumps(fields["mapping"]))
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as c:
            c.execute(f"UPDATE sources SET {sets} WHERE id = ?", (*fields.values(), sid))
            if entry_label is None:
                return None
            payload = {"action": "update", "source_id": sid, **{k: v for k, v in fields.items() if k != "mapping"}}
            return _append(c, "source", entry_label, payload)

    def delete_source(self, sid: int, entry_label: str, payload: dict[str, Any]) -> int:
        """Remove a source from the project and journal it (one transaction); the journal's
        entries on it stay. Source ids are never reused (AUTOINCREMENT)."""
        with self._write() as c:
            c.execute("DELETE FROM sources WHERE id = ?", (sid,))
            return _append(c, "source", entry_label, {"action": "remove", "source_id": sid, **payload})

    # --- journal ------------------------------------------------------------------------------
    def journal(self) -> Iterator[JournalRow]:
        """Every journal row, oldest first, as stored (text read as bytes and decoded here, so
        damaged text is reported by entry instead of failing inside SQLite)."""
        checksum = "checksum" if self.version >= 2 else "NULL"
        cur = self.conn.execute(
            "SELECT id, ts, CAST(kind AS BLOB), target, CAST(label AS BLOB), CAST(payload AS BLOB), "
            f"CAST({checksum} AS BLOB) FROM journal ORDER BY id"
        )
        name = self.path.name
        while batch := cur.fetchmany(4096):
            for entry_id, ts, kind, target, label, payload, check in batch:
                try:
                    yield JournalRow(entry_id, ts, _text(kind), target, _text(label), _text(payload), _text(check))
                except (UnicodeDecodeError, TypeError) as exc:
                    raise damaged(name, f"journal entry {entry_id}", f"holds damaged text ({exc})") from exc

    def last_entry_id(self) -> int:
        row = self.conn.execute("SELECT MAX(id) FROM journal").fetchone()
        return int(row[0] or 0)

    def append_op(self, label: str, payload: str) -> int:
        """Journal a new op (durable on return)."""
        with self._write() as c:
            return _append(c, "op", label, payload)

    def append_undo(self, kind: str, target: int, label: str) -> int:
        """Journal an undo or redo of op ``target`` (durable on return)."""
        with self._write() as c:
            entry = _append(c, kind, label, None, target)
            c.execute("UPDATE journal SET undone = ? WHERE id = ?", (1 if kind == "undo" else 0, target))
            return entry

    def integrity_problem(self) -> str | None:
        row = self.conn.execute("PRAGMA quick_check").fetchone()
        return None if row and row[0] == "ok" else (row[0] if row else "unknown")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"expected text, found {type(value).__name__}")


def _append(c: sqlite3.Connection, kind: str, label: str, payload: Any, target: int | None = None) -> int:
    """Append one journal row with its checksum (inside the caller's transaction)."""
    if payload is not None and not isinstance(payload, str):
        payload = json.dumps(payload, ensure_ascii=False)
    ts = time.time()
    cur = c.execute(
        "INSERT INTO journal (ts, kind, target, label, payload) VALUES (?, ?, ?, ?, ?)",
        (ts, kind, target, label, payload),
    )
    entry = int(cur.lastrowid)
    c.execute("UPDATE journal SET checksum = ? WHERE id = ?",
              (entry_checksum(entry, ts, kind, target, label, payload), entry))
    return entry


class _Txn:
    """``with`` block = one IMMEDIATE transaction, committed (durably) on normal exit."""

    def __init__(self, conn: sqlite3.Connection, mutex: threading.RLock):
        self.conn = conn
        self.mutex = mutex

    def __enter__(self) -> sqlite3.Connection:
        self.mutex.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.mutex.release()
            raise ProjectError(f"Cannot write to the project: {exc}") from exc
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._finish(exc_type, exc)
        finally:
            self.mutex.release()

    def _finish(self, exc_type, exc) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as err:
                if self.conn.in_transaction:
                    try:
                        self.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise ProjectError(f"Cannot save to the project (disk full or read-only?): {err}") from err
        else:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise ProjectError(f"Cannot save to the project: {exc}") from exc


def _check_header(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    try:
        header = dict(conn.execute("SELECT key, value FROM header"))
    except sqlite3.OperationalError:
        header = {}
    if app_id != APPLICATION_ID or header.get("app") != APP_NAME:
        raise ProjectError(
            f"{_describe(path)} is an SQLite database but not a Curation Workbench project. It was left untouched."
        )


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    for target in range(version + 1, SCHEMA_VERSION + 1):
        sql = MIGRATIONS.get(target)
        if sql is None:
            raise ProjectError(f"No migration from project file version {target - 1} to {target}.")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in sql.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute("UPDATE header SET value = ? WHERE key = 'schema_version'", (str(target),))
            conn.execute(f"PRAGMA user_version={target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


from workbench.core.atomic import fsync_dir as _fsync_dir, fsync_file as _fsync_file  # noqa: E402  the one helper
