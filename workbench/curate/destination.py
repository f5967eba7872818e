"""Where an export goes: one folder that the export owns, replaced as a whole in one step.

**Layout.** ``--out DIR`` names the export folder. After an export, ``DIR`` holds exactly that
export: the data files (``train.jsonl`` / ``<source>.train.jsonl`` …, see
:mod:`workbench.curate.export`), ``manifest.json`` and, if asked for, ``report.html``, and
nothing else. ``manifest.json`` records every other file with its size and sha256 (``files``).

**What may be replaced** (checked before anything is written; else :class:`ExportError`, exit 2,
nothing touched): ``DIR`` absent, an empty folder, or a folder holding exactly a previous export of
this tool: every entry a plain file listed in its ``manifest.json`` ``files`` with the same sha256.
A source of the project, a file a person put there or edited afterwards, a sub-folder, a link, a
foreign ``manifest.json``: the export refuses and names them. A name found in a folder is never
proof; only this tool's own record (the hashes it wrote) is.

**All or nothing.** The new export is written into a fresh hidden sibling folder
``.DIR.wb-export-<id>`` (made by this process, with a marker file naming the process); every file
is fsynced, the marker removed, the folder fsynced; then the two folders are swapped in one atomic
step (Linux ``renameat2(RENAME_EXCHANGE)``, macOS ``renamex_np(RENAME_SWAP)``; a plain rename when
``DIR`` does not exist) and the parent folder fsynced. Until that step ``DIR`` is the previous
export, complete; from that step on it is the new one, complete. A kill, a full disk, a read-only
target or a cancel at any earlier point leaves ``DIR`` as it was.

**Clean-up** deletes only what this tool's records prove it wrote: after the swap the previous
export (now in the sibling folder) loses exactly the files its manifest lists with matching
sha256, then the folder if empty; a sibling folder left by a killed export (its marker names
this target and a process that is gone) is removed at the next export.

Without an atomic swap (Windows, a file system that refuses it), ``DIR`` is first renamed aside
to ``.DIR.wb-previous-<id>`` and the new folder renamed in: a kill between the two leaves the
previous export complete under that name, and the next export puts it back first.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import hashlib
import json
import os
import shutil
import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from workbench.core.atomic import fsync_dir, fsync_file
from workbench.core.errors import ExportError

MANIFEST = "manifest.json"
STAGING_MARK = ".workbench-export-staging"
TOOL_NAME = "curation-workbench"
DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".pq", ".csv", ".tsv", ".html", ".txt")
CHUNK = 1 << 20


@dataclass
class Destination:
    """The checked target folder of one export, and the staging folder being written."""

    target: Path
    previous: dict[str, str] = field(default_factory=dict)  # file -> sha256 of the export there now
    staging: Path | None = None
    warnings: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------------------- writing
    def begin(self) -> Path:
        """Make the fresh staging folder (beside the target, same file system) and return it."""
        parent = self.target.parent
        self.staging = parent / f".{self.target.name}.wb-export-{uuid.uuid4().hex[:12]}"
        try:
            os.mkdir(self.staging)
            mark = {"tool": TOOL_NAME, "target": str(self.target), "pid": os.getpid(), "host": socket.gethostname()}
            with open(self.staging / STAGING_MARK, "xb") as f:
                f.write(json.dumps(mark).encode("utf-8"))  # one write: the marker is empty or whole
        except OSError as exc:
            self.abort()
            raise ExportError(f"Cannot write in {parent}: {exc.strerror or exc}. Nothing was exported.") from None
        return self.staging

    def open(self, name: str):
        """A new file in the staging folder, opened for binary writing."""
        assert self.staging is not None and "/" not in name and not name.startswith(".")
        try:
            return open(self.staging / name, "xb")
        except OSError as exc:
            raise ExportError(f"Cannot write {name} in {self.staging.parent}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        """fsync everything, then switch the staging folder in as the target (one step)."""
        staging = self.staging
        assert staging is not None
        try:
            for p in staging.iterdir():
                fsync_file(p)
            (staging / STAGING_MARK).unlink()
            fsync_dir(staging)
            if self.target.exists():
                _swap(staging, self.target)
            else:
                os.rename(staging, self.target)
            fsync_dir(self.target.parent)
        except OSError as exc:
            self.abort()
            raise ExportError(f"Cannot put the export in place at {self.target}: {exc.strerror or exc}. "
                              "The previous export (if any) is unchanged.") from None
        old, self.staging = staging, None
        if old.exists():  # the previous export, now beside the new one
            left = remove_export(old, self.previous)
            if left:
                self.warnings.append(f"the previous export's folder {old} kept files this tool did not write: "
                                     + ", ".join(left[:5]))

    def abort(self) -> None:
        """Remove the staging folder (made by this process: everything in it is ours)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


# ------------------------------------------------------------------------------- checking


def prepare(out: Path, *, protected: Iterable[str | Path] = ()) -> Destination:
    """Check ``out`` (see the module doc) and return its :class:`Destination`, or raise ExportError.
    ``protected``: files that must never be replaced (the project and its sources), named in the
    message when the target holds one."""
    out = Path(out).expanduser()
    target = Path(os.path.abspath(out))
    if target.parent == target:
        raise ExportError(f"Cannot export to {out}: name a folder for the export.")
    if target.is_symlink():
        raise ExportError(f"Cannot export to {out}: it is a symbolic link; name the folder itself.")
    if target.exists() and not target.is_dir():
        raise ExportError(f"Cannot export to {out}: it is a file, and an export never replaces a file it did "
                          "not create. The export goes to a folder (it gets train.jsonl, manifest.json, ...).")
    if not target.exists() and target.suffix.lower() in DATA_SUFFIXES:
        raise ExportError(f"{out.name} looks like a file name, but an export names its folder (--out DIR), which "
                          f"gets the data files, manifest.json and report.html together (e.g. {out.with_suffix('')}).")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create the folder {target.parent}: {exc.strerror or exc}") from None
    _restore_aside(target)
    _clean_leftovers(target)
    dest = Destination(target)
    if target.exists():
        dest.previous = _owned_export(target, out, {Path(os.path.abspath(p)) for p in protected})
    return dest


def _owned_export(target: Path, out: Path, protected: set[Path]) -> dict[str, str]:
    """{file: sha256} of the previous export in ``target``; ExportError unless every entry is proven ours."""
    try:
        entries = sorted(os.scandir(target), key=lambda e: e.name)
    except OSError as exc:
        raise ExportError(f"Cannot read the folder {out}: {exc.strerror or exc}") from None
    if not entries:
        return {}
    names = [e.name for e in entries]
    hint = (f"An export only replaces a folder that is empty or holds exactly a previous export of this tool "
            f"(checked against the sha256 in its {MANIFEST}). Choose a new or empty folder, e.g. {out / 'export'}")
    ours = [e.name for e in entries if Path(e.path) in protected]
    if ours:
        raise ExportError(f"Refusing to export into {out}: it holds {', '.join(ours[:3])}, a file of this project "
                          f"(source or project file), which an export never replaces. {hint}")
    record = read_record(target)
    if record is None:
        why = (f"its {MANIFEST} was not written by this tool" if MANIFEST in names
               else f"it holds {_some(names)} and no {MANIFEST} of this tool")
        raise ExportError(f"Refusing to export into {out}: {why}. {hint}")
    foreign = []
    for e in entries:
        if e.name == MANIFEST:
            continue
        want = record.get(e.name)
        if want is None or not e.is_file(follow_symlinks=False) or file_sha256(Path(e.path)) != want:
            foreign.append(e.name)
    if foreign:
        raise ExportError(f"Refusing to export into {out}: {_some(foreign)} "
                          f"{'is' if len(foreign) == 1 else 'are'} not (or no longer) what the previous export "
                          f"wrote there. {hint}")
    return record


def read_record(folder: Path) -> dict[str, str] | None:
    """{file: sha256} from ``folder/manifest.json`` when it is this tool's manifest, else None."""
    try:
        m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if m.get("tool", {}).get("name") != TOOL_NAME:
            return None
        files = {f["file"]: f["sha256"] for f in m["files"]}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) and _plain_name(k) and k != MANIFEST
               for k, v in files.items()):
        return None
    return files


def remove_export(folder: Path, record: dict[str, str] | None = None) -> list[str]:
    """Delete an export folder: the files its manifest lists with matching sha256, the manifest, and the
    folder when nothing else is left. Returns the names kept (not proven ours)."""
    record = read_record(folder) if record is None else record
    if record is None:
        return sorted(p.name for p in folder.iterdir())
    kept = []
    for e in os.scandir(folder):
        if e.name == MANIFEST:
            continue
        if e.name in record and e.is_file(follow_symlinks=False) and file_sha256(Path(e.path)) == record[e.name]:
            with contextlib.suppress(OSError):
                os.unlink(e.path)
        else:
            kept.append(e.name)
    if kept:
        return sorted(kept)
    with contextlib.suppress(OSError):
        os.unlink(folder / MANIFEST)
        os.rmdir(folder)
    return []


def _clean_leftovers(target: Path) -> None:
    """Remove sibling folders of earlier exports to ``target``: a killed export's staging folder
    (marker naming this target and a process that is gone) or a previous export moved aside
    (proven by its manifest). Runs after :func:`_restore_aside`, so ``target`` exists if it can."""
    name = glob.escape(target.name)
    for p in [*target.parent.glob(f".{name}.wb-export-*"), *target.parent.glob(f".{name}.wb-previous-*")]:
        if not p.is_dir() or p.is_symlink():
            continue
        mark = _read_mark(p)
        if mark is not None:
            if mark.get("target") == str(target) and not _alive(mark):
                shutil.rmtree(p, ignore_errors=True)  # made by this tool, in a folder of its own
        elif read_record(p) is not None:
            remove_export(p)
        else:  # killed between making the folder and writing its marker: only an empty marker, if any
            with contextlib.suppress(OSError):
                mark_file = p / STAGING_MARK
                if mark_file.is_file() and not mark_file.is_symlink() and mark_file.stat().st_size == 0:
                    mark_file.unlink()
                p.rmdir()  # fails unless empty: nothing else is ever removed here


def _restore_aside(target: Path) -> None:
    """Without an atomic swap a kill can leave the previous export renamed aside: put it back."""
    if target.exists():
        return
    for p in sorted(target.parent.glob(f".{glob.escape(target.name)}.wb-previous-*")):
        if p.is_dir() and read_record(p) is not None:
            with contextlib.suppress(OSError):
                os.rename(p, target)
                return


def _read_mark(folder: Path) -> dict | None:
    try:
        mark = json.loads((folder / STAGING_MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return mark if isinstance(mark, dict) and mark.get("tool") == TOOL_NAME else None


def _alive(mark: dict) -> bool:
    if mark.get("host") != socket.gethostname():
        return True  # another machine's export (shared folder): leave it
    try:
        os.kill(int(mark.get("pid", 0)), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return int(mark.get("pid", 0)) > 0


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------ the swap

_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 0x2  # macOS stdio.h


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


def _swap(a: Path, b: Path) -> None:
    """Exchange two folders atomically (b becomes a's content and a b's), or the fallback."""
    libc = _libc()
    fn = None
    if sys.platform.startswith("linux") and libc is not None and hasattr(libc, "renameat2"):
        fn = lambda x, y: libc.renameat2(-100, x, -100, y, _RENAME_EXCHANGE)  # noqa: E731  AT_FDCWD
    elif sys.platform == "darwin" and libc is not None and hasattr(libc, "renamex_np"):
        fn = lambda x, y: libc.renamex_np(x, y, _RENAME_SWAP)  # noqa: E731
    if fn is not None:
        if fn(os.fsencode(a), os.fsencode(b)) == 0:
            return
        err = ctypes.get_errno()
        if err not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: no atomic swap here -> fallback
            raise OSError(err, os.strerror(err))
    aside = b.parent / f".{b.name}.wb-previous-{uuid.uuid4().hex[:12]}"
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


__all__ = ["Destination", "MANIFEST", "prepare", "read_record", "remove_export"]
