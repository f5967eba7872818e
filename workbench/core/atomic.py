"""The one way this program replaces a file: write a temporary file beside it, fsync, rename.

Every writer that must never leave a half-written file under its final name goes through here
(export files, analysis results, the embedding cache, model manifests, project creation):

* :func:`atomic_write` — a context manager giving an open file; on success the data is flushed
  and fsynced, the temporary file renamed onto ``path`` in one step and the folder fsynced (so
  the rename itself survives a power cut); on any exception the temporary file is removed and
  ``path`` is exactly as it was. ``exclusive=True`` refuses to replace an existing ``path``
  (hard link instead of rename; never clobbers a file that appeared meanwhile).
* :func:`write_bytes` / :func:`write_text` / :func:`write_json` — the same for ready data.
* :func:`fsync_file`, :func:`fsync_dir` — the two durability steps, for callers that build a
  file or folder another way (SQLite, a memory map) and then rename it themselves.

Temporary files are named ``.NAME.<random>.part`` (:data:`TMP_SUFFIX`), so a process killed mid-write
leaves at most one such file, never mistaken for data. ``OSError`` propagates unchanged: each
caller turns it into its own typed error (export, project, model).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

TMP_SUFFIX = ".part"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def fsync_file(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make renames and new entries in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, encoding: str = "utf-8",
                 exclusive: bool = False) -> Iterator[Any]:
    """Open a temporary file beside ``path`` (``mode`` "w" or "wb"); see the module doc."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_write mode must be 'w' or 'wb'")
    path = Path(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=folder)
    try:
        f = os.fdopen(fd, "w", encoding=encoding, newline="") if mode == "w" else os.fdopen(fd, "wb")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            old = os.stat(path).st_mode & 0o7777
        except OSError:
            old = 0o666 & ~_UMASK
        with contextlib.suppress(OSError):
            os.chmod(tmp, old)
        if exclusive:
            os.link(tmp, path)  # FileExistsError when path exists: never replaced
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def write_bytes(path: str | os.PathLike, data: bytes, *, exclusive: bool = False) -> None:
    with atomic_write(path, "wb", exclusive=exclusive) as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


__all__ = ["TMP_SUFFIX", "atomic_write", "fsync_dir", "fsync_file", "write_bytes", "write_json", "write_text"]
