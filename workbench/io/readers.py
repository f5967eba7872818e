"""Streaming readers: one file -> :class:`~workbench.io.source_data.SourceData`, every line loaded or reported.

Containers, chosen by content and extension:

* **JSONL** (any extension but .csv/.tsv/.parquet): read in binary blocks of
  :data:`BLOCK_BYTES`, split on ``\\n`` here, one JSON value per line (orjson, with the standard
  library's parser as the judge of what is invalid and for its error message). A UTF-8 BOM at the
  start and ``\\r\\n`` line ends are accepted; blank lines are not records. ``raw`` keeps each line
  verbatim (decoded, without its terminator and without the BOM).
* **JSON array** (``[{...}, {...}]``, whatever the extension): loaded element by element; an
  element's line is the line where it starts and its ``raw`` is its exact text.
* **CSV / TSV** and **Parquet**: see :mod:`workbench.io.tabular`.

The schema is detected from the first records (see :mod:`workbench.io.schemas`), then *every*
record is validated against it. **Two formats mixed in one file** (e.g. Alpaca lines appended to a
chat file): the records of the minority format are reported, each with its line and a reason
naming both formats, rather than loaded: such a file would also fail in a fine-tuning trainer, and
a curator fixes it by loading each part as its own source (or forcing ``schema``).

Per-line problems become :class:`~workbench.io.source_data.LoadError` (file, 1-based line, reason):
invalid JSON, invalid UTF-8, wrong type (not an object), missing field, unknown role, empty
conversation, no user turn, a record of another schema than the file's, line too large (more than
``max_line_bytes``, default :data:`MAX_LINE_BYTES` = 16 MiB), a value no later step can hold
(NaN, Infinity, 1e400, a lone surrogate escape, nesting deeper than 100 levels: see
:mod:`workbench.io.values`). Only regular files are read (a FIFO, socket or device is refused at
once), through one open file whose bytes are hashed as they are parsed (``SourceData.sha256``,
see :mod:`workbench.io.source_file`). ``strict=True`` raises
:class:`~workbench.core.errors.StrictModeError` at the first one instead. Whole-file problems (missing,
unreadable, a folder, empty, binary, UTF-16, no record loaded) raise
:class:`~workbench.core.errors.InputError`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import orjson

from workbench.core.errors import InputError
from workbench.core.progress import CancelToken, ProgressFn, ensure, throttled
from workbench.io.collect import Collector
from workbench.io.source_data import DEFAULT_UNIT, SourceData
from workbench.io.source_file import SourceFile, opened
from workbench.io.values import MAX_DEPTH, needs_check, value_problem

MAX_LINE_BYTES = 16 << 20  # a longer line is reported as "line too large" (raise it if you need)
BLOCK_BYTES = 8 << 20
SNIFF_BYTES = 1 << 16
BOM = b"\xef\xbb\xbf"

_loads = orjson.loads
_JSONDecodeError = json.JSONDecodeError
_SURROGATE = re.compile("[\udc80-\udcff]")

# Fast path for the commonest JSONL line of all: an OpenAI chat record of exactly
# {"messages": [[system,] user, assistant]} with "role" before "content" in each message. These
# patterns accept only valid JSON of that exact shape (strict JSON strings: no raw control
# characters, only legal escapes), so a match means the same value orjson would build; any other
# line takes the full parser. About 2.5x faster than parsing, on typical chat lines.
_JSTR = r'"([^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*)"'
_W = r"[ \t]*"


def _msg_re(role: str) -> str:
    return rf'\{{{_W}"role"{_W}:{_W}"{role}"{_W},{_W}"content"{_W}:{_W}{_JSTR}{_W}\}}'


_CHAT3 = re.compile(rf'{_W}\{{{_W}"messages"{_W}:{_W}\[{_W}{_msg_re("system")}{_W},{_W}{_msg_re("user")}{_W},'
                    rf'{_W}{_msg_re("assistant")}{_W}\]{_W}\}}{_W}').fullmatch
_CHAT2 = re.compile(rf'{_W}\{{{_W}"messages"{_W}:{_W}\[{_W}{_msg_re("user")}{_W},{_W}{_msg_re("assistant")}{_W}'
                    rf'\]{_W}\}}{_W}').fullmatch


def _unescape(s: str) -> str:
    return json.loads(f'"{s}"') if "\\" in s else s


def read_source(
    path: str | os.PathLike,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> SourceData:
    """Load one data file. ``schema`` overrides detection; ``mapping`` names the fields/columns
    (keys: prompt, response, system, input, history, messages, conversations)."""
    path = Path(path).expanduser()
    progress, cancel = ensure(progress, cancel)
    progress = throttled(progress)
    with SourceFile(path) as sf:
        head = sf.head(SNIFF_BYTES)
        if not head:
            raise InputError(f"{path.name}: empty file (0 bytes)")
        suffix = "".join(path.suffixes[-2:]).lower() if path.suffixes else ""
        kw: dict[str, Any] = dict(schema=schema, unit=unit, mapping=mapping, strict=strict, sf=sf)
        if head.startswith(b"PAR1") or path.suffix.lower() in (".parquet", ".pq"):
            from workbench.io.tabular import read_parquet

            return read_parquet(path, progress=progress, cancel=cancel, **kw)
        _check_text(path, head)
        if path.suffix.lower() in (".csv", ".tsv") or suffix.endswith((".csv", ".tsv")):
            from workbench.io.tabular import read_csv

            return read_csv(path, progress=progress, cancel=cancel, **kw)
        body = head[3:] if head.startswith(BOM) else head
        if body.lstrip()[:1] == b"[" and _is_json_array(body):
            return read_json_array(path, progress=progress, cancel=cancel, **kw)
        try:
            return read_jsonl(path, progress=progress, cancel=cancel, max_line_bytes=max_line_bytes, **kw)
        except InputError as exc:
            if body.lstrip()[:1] == b"{" and not strict:
                _explain_single_object(path, exc)
            raise


def _explain_single_object(path: Path, exc: InputError) -> None:
    """A pretty-printed JSON object (not JSONL) fails on every line; say what it is instead."""
    errors = getattr(exc, "errors", None)
    if not errors or errors[0].line != 1 or not errors[0].reason.startswith("invalid JSON"):
        return
    if path.stat().st_size > 1 << 30:
        return
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return
    if not isinstance(obj, dict):
        return
    lists = [f"{k!r} ({len(v):,} items)" for k, v in obj.items() if isinstance(v, list)]
    hint = f"; its list field(s): {', '.join(lists)} - save that list as JSONL or a JSON array" if lists else ""
    new = InputError(f"{path.name}: one JSON object spread over several lines, not JSONL (one record per line) "
                     f"or a JSON array of records{hint}", exc.detail)
    new.errors = getattr(exc, "errors", [])  # type: ignore[attr-defined]
    raise new from None


# ------------------------------------------------------------------------------- whole-file checks


def _check_text(path: Path, head: bytes) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path.name}: UTF-16 text; save it as UTF-8 and load it again")
    if head.startswith(b"\x1f\x8b"):
        raise InputError(f"{path.name}: gzip-compressed; decompress it (gunzip) and load the result")
    if head.startswith(b"PK\x03\x04"):
        raise InputError(f"{path.name}: a ZIP archive (or an Excel file); extract or export it as JSONL/CSV first")
    if b"\x00" in head:
        raise InputError(f"{path.name}: binary file (contains NUL bytes), not JSONL, JSON, CSV or Parquet")


def _is_json_array(body: bytes) -> bool:
    """True when a file starting with ``[`` is one JSON array rather than JSONL of arrays: its first
    line is not a complete JSON value, or it is the only line."""
    first, _, rest = body.lstrip().partition(b"\n")
    try:
        json.loads(first)
    except ValueError:
        return True
    return not rest.strip()


# ---------------------------------------------------------------------------------------------- JSONL


def read_jsonl(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    sf: SourceFile | None = None,
) -> SourceData:
    progress, cancel = ensure(progress, cancel)
    col = Collector(path, "jsonl", schema=schema, unit=unit, mapping=mapping, strict=strict)
    reader = _JsonlBlocks(col, max_line_bytes)
    phase = f"reading {path.name}"
    done = 0
    with opened(path, sf) as f:
        total = f.stat.st_size
        progress(0, total, phase)
        chunk = f.read(BLOCK_BYTES)
        if chunk.startswith(BOM):
            chunk = chunk[3:]
            col.notes.append("UTF-8 byte order mark at the start (ignored)")
        while chunk:
            done += len(chunk)
            reader.feed(chunk)
            cancel.check()
            progress(done, total, phase)
            chunk = f.read(BLOCK_BYTES)
        reader.close()
        if reader.crlf:
            col.notes.append("Windows (CRLF) line ends")
        if reader.blank:
            col.notes.append(f"{reader.blank} blank line(s) skipped (not records)")
        col.stats["blank_lines"] = reader.blank
        return col.finish(reader.line_no, sha256=f.digest())


def _too_large_reason(size: int, limit: int) -> str:
    return f"line too large: {size:,} bytes (limit {limit:,}; raise max_line_bytes to load it)"


class _JsonlBlocks:
    """Splits a byte stream into lines and feeds them to a :class:`Collector`."""

    def __init__(self, col: Collector, max_line_bytes: int):
        self.col = col
        self.limit = max_line_bytes
        self.line_no = 0  # lines completed so far
        self.carry = b""  # the incomplete last line of the previous block
        self.skipping = 0  # > 0: bytes seen so far of an over-long line being skipped
        self.blank = 0
        self.crlf = False

    def feed(self, chunk: bytes) -> None:
        if self.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                self.skipping += len(chunk)
                return
            self._too_large(self.skipping + nl)
            chunk = chunk[nl + 1:]
        data = self.carry + chunk if self.carry else chunk
        last = data.rfind(b"\n")
        if last < 0:
            self._keep(data)
            return
        self._lines(data[:last])
        self._keep(data[last + 1:])

    def _keep(self, rest: bytes) -> None:
        if len(rest) > self.limit:
            self.carry, self.skipping = b"", len(rest)
        else:
            self.carry = rest

    def close(self) -> None:
        if self.skipping:
            self._too_large(self.skipping)
        elif self.carry:
            self._lines(self.carry)
            self.carry = b""

    def _too_large(self, size: int) -> None:
        self.line_no += 1
        self.skipping = 0
        self.col.error(self.line_no, _too_large_reason(size, self.limit))

    def _lines(self, block: bytes) -> None:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            self._lines_slow(block)
            return
        if "\r" in text:
            if "\r\n" in text:
                self.crlf = True
                text = text.replace("\r\n", "\n")
            if text.endswith("\r"):  # the block's last line, cut before its "\n"
                self.crlf = True
                text = text[:-1]
        limit, quarter = self.limit, self.limit // 4
        line_no = self.line_no
        col = self.col
        loads = _loads
        fast = col.fast_chat
        chat3, chat2, unescape = _CHAT3, _CHAT2, _unescape
        nums: list[int] = []
        raws: list[str] = []
        objs: list = []
        for line in text.split("\n"):
            line_no += 1
            reason = None
            if len(line) > quarter and len(line.encode("utf-8", "surrogatepass")) > limit:
                reason = _too_large_reason(len(line.encode("utf-8", "surrogatepass")), limit)
            else:
                if fast and "\\ud" not in line and "\\uD" not in line:  # surrogate escapes: the full parser
                    m = chat3(line)
                    if m is not None:
                        nums.append(line_no)
                        raws.append(line)
                        objs.append((unescape(m[1]), unescape(m[2]), unescape(m[3]), 3))
                        continue
                    m = chat2(line)
                    if m is not None:
                        nums.append(line_no)
                        raws.append(line)
                        objs.append(("", unescape(m[1]), unescape(m[2]), 2))
                        continue
                try:
                    obj = loads(line)
                    if needs_check(line):
                        reason = value_problem(obj)
                except (orjson.JSONDecodeError, _JSONDecodeError):
                    if not line or line.isspace():
                        self.blank += 1
                        continue
                    try:
                        obj = json.loads(line)  # what orjson refuses but JSON allows (huge ints, lone surrogates)
                        reason = value_problem(obj)  # ... and what no later step can hold (io.values)
                    except _JSONDecodeError as exc:
                        reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
                    except RecursionError:
                        reason = f"nested more than {MAX_DEPTH} levels deep (the limit for a record)"
            if reason is None:
                nums.append(line_no)
                raws.append(line)
                objs.append(obj)
                continue
            if raws:  # records before the bad line first: errors stay in line order
                col.add_batch(nums, raws, objs)
                nums, raws, objs = [], [], []
            col.error(line_no, reason)
        if raws:
            col.add_batch(nums, raws, objs)
        self.line_no = line_no

    def _lines_slow(self, block: bytes) -> None:
        """A block with invalid UTF-8: decode line by line so only the bad lines are reported."""
        for bline in block.split(b"\n"):
            if bline.endswith(b"\r"):
                bline = bline[:-1]
                self.crlf = True
            try:
                bline.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.line_no += 1
                self.col.error(self.line_no, f"invalid UTF-8 at byte {exc.start + 1} of the line "
                                             f"(byte 0x{bline[exc.start]:02x}); the file must be UTF-8")
                continue
            self._lines(bline)


# ---------------------------------------------------------------------------------------- JSON array


_WS = re.compile(r"[ \t\n\r]*")


def read_json_array(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sf: SourceFile | None = None,
) -> SourceData:
    """A file holding one JSON array of records (read whole: arrays cannot be streamed by line)."""
    progress, cancel = ensure(progress, cancel)
    col = Collector(path, "json", schema=schema, unit=unit, mapping=mapping, strict=strict)
    with opened(path, sf) as f:
        data = f.read_rest()
        sha = f.digest()
    if data.startswith(BOM):
        data = data[3:]
        col.notes.append("UTF-8 byte order mark at the start (ignored)")
    text = data.decode("utf-8", "surrogateescape")
    del data
    col.notes.append("a JSON array, not JSONL: each element is a record, its line is where it starts")
    decoder = json.JSONDecoder()
    total = len(text)
    pos = _WS.match(text, 0).end() + 1  # after "["
    line = 1 + text.count("\n", 0, pos)
    counted = pos
    phase = f"reading {path.name}"
    n = 0
    while True:
        pos = _WS.match(text, pos).end()
        if pos >= total:
            line += text.count("\n", counted, pos)
            col.error(line, "invalid JSON: the array is not closed with ']' (file truncated?)")
            break
        if text[pos] == "]" and n == 0:
            break
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except _JSONDecodeError as exc:
            col.error(exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno} "
                                  "(in a JSON array nothing after this point can be read)")
            break
        except RecursionError:
            col.error(line, "invalid JSON: nested too deeply (in a JSON array nothing after this point can be read)")
            break
        raw = text[pos:end]
        bad = _SURROGATE.search(raw)
        if bad:
            col.error(line, "invalid UTF-8 in this element; the file must be UTF-8")
        else:
            problem = value_problem(obj)
            if problem:
                col.error(line, problem)
            else:
                col.add(line, raw, obj)
        n += 1
        pos = _WS.match(text, end).end()
        if pos < total and text[pos] == ",":
            pos += 1
            if n % 10000 == 0:
                cancel.check()
                progress(pos, total, phase)
            continue
        if pos < total and text[pos] == "]":
            after = _WS.match(text, pos + 1).end()
            if after < total:  # something follows the array: report it rather than drop it
                line += text.count("\n", counted, after)
                col.error(line, "invalid JSON: text after the end of the JSON array (not read)")
            break
        line += text.count("\n", counted, pos)
        counted = pos
        col.error(line, "invalid JSON: expected ',' or ']' after an array element "
                        "(in a JSON array nothing after this point can be read)")
        break
    progress(total, total, phase)
    return col.finish(n, sha256=sha)
