"""One input file, opened once, read once: what every reader reads through.

* **Only regular files.** The file is opened non-blocking and checked with ``fstat`` on the open
  descriptor (not the name, which may change meanwhile): a FIFO, socket, character or block
  device or folder is refused with :class:`InputError` at once, never waited on.
* **The hash is of the bytes parsed.** Every byte a reader takes goes through :meth:`readinto`
  and into a running sha256; :meth:`digest` hashes whatever was not read (a reader that stopped
  early) and returns it. A file replaced on disk while it is read does not matter (the descriptor
  keeps the file that was opened); a file *changed in place* meanwhile (size or mtime moved) is
  an :class:`InputError` ("changed while it was being read"), never a hash of other bytes.
* It reads at most the size the file had when opened, so a file that keeps growing (a log being
  written) ends, and is then reported as changed.
* Parquet needs random access: :meth:`hash_all` hashes the whole file through the same
  descriptor first, :meth:`reopen` gives pyarrow a seekable file over it, and the same in-place
  check runs at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Iterator

from workbench.core.errors import InputError

CHUNK = 1 << 20
_os_open = os.open  # (tests running as root inject the OS's refusal here)

_KINDS = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")]


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


class SourceFile(io.RawIOBase):
    """A regular file opened for reading, with a sha256 of exactly the bytes read (see module doc)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = _os_open(self.path, flags)
        except FileNotFoundError:
            raise InputError(f"file not found: {self.path}") from None
        except IsADirectoryError:
            raise InputError(f"{self.path} is a folder, not a data file") from None
        except PermissionError:
            raise InputError(f"no permission to read {self.path}") from None
        except OSError as exc:
            try:  # a socket cannot even be opened: say what it is
                mode = os.stat(self.path).st_mode
            except OSError:
                mode = stat.S_IFREG
            if not stat.S_ISREG(mode):
                raise self._not_regular(mode) from None
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise self._not_regular(st.st_mode)
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        super().__init__()
        self._fd = fd
        self.stat = st
        self._sha = hashlib.sha256()
        self.bytes_read = 0
        self._hashed_all: str | None = None

    def _not_regular(self, mode: int) -> InputError:
        if stat.S_ISDIR(mode):
            return InputError(f"{self.path} is a folder, not a data file")
        return InputError(f"{self.path} is {_kind(mode)}, not a regular file: save the data to a file and "
                          "load that (a pipe or device can block forever or change while it is read)")

    # -------------------------------------------------------------------------------- reading
    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer) -> int:
        # never past the size the file had when opened: a file that keeps growing is not read forever
        # (check_unchanged then reports it)
        want = min(len(buffer), self.stat.st_size - self.bytes_read)
        if want <= 0:
            return 0
        try:
            data = os.read(self._fd, want)
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        n = len(data)
        buffer[:n] = data
        self._sha.update(data)
        self.bytes_read += n
        return n

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes, without moving the read position or touching the hash."""
        try:
            return os.pread(self._fd, size, 0)
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def read_rest(self) -> bytes:
        """Everything from the current position to the end (through the hash)."""
        return self.readall()

    def digest(self) -> str:
        """sha256 of the whole file as read: the bytes parsed, then whatever a reader left unread."""
        if self._hashed_all is not None:
            self.check_unchanged()
            return self._hashed_all
        while self.read(CHUNK):
            pass
        self.check_unchanged()
        return self._sha.hexdigest()

    # ------------------------------------------------------------------------ random access
    def hash_all(self) -> str:
        """sha256 of the whole file through this descriptor (for readers that seek: Parquet)."""
        h = hashlib.sha256()
        pos = 0
        while pos < self.stat.st_size and (chunk := os.pread(self._fd, min(CHUNK, self.stat.st_size - pos), pos)):
            h.update(chunk)
            pos += len(chunk)
        self._hashed_all = h.hexdigest()
        self.bytes_read = pos
        return self._hashed_all

    def reopen(self):
        """A seekable binary file object over the same open file (closed by the caller)."""
        return os.fdopen(os.dup(self._fd), "rb")

    # ------------------------------------------------------------------------------ checks
    def check_unchanged(self) -> None:
        st = os.fstat(self._fd)
        if (st.st_size, st.st_mtime_ns) != (self.stat.st_size, self.stat.st_mtime_ns):
            raise InputError(f"{self.path.name} changed while it was being read (written to by another program); "
                             "load it again once it is complete")

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


__all__ = ["SourceFile"]


@contextlib.contextmanager
def opened(path: Path, sf: "SourceFile | None") -> Iterator["SourceFile"]:
    """``sf`` when the caller opened the file already (read_source), else the file opened here."""
    if sf is not None:
        yield sf
        return
    with SourceFile(path) as own:
        yield own
