"""Writes the bad-input corpus (every file in this folder) and ``expected.json``.

Run from the repository root: ``python tests/data/bad_input/make_corpus.py``. The expectations
below are written by hand (what a curator must see), never read back from the reader. Each case:
``fatal`` (the whole file is refused with an InputError matching ``match``) or ``loaded`` (these
line numbers load, ``errors`` {line: regex} are reported, ``blank`` lines are neither, and every
other line of the file belongs to a loaded multi-line record). ``make`` marks cases created at
test time (a FIFO, a socket, a device, a missing path, a folder), which git cannot hold.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAT = '{"messages": [{"role": "user", "content": "question %d"}, {"role": "assistant", "content": "answer %d"}]}'
ALPACA = '{"instruction": "say %d", "input": "", "output": "ok %d"}'
CASES: dict[str, dict] = {}


def chat(i: int) -> str:
    return CHAT % (i, i)


def case(name: str, data: bytes | str | None, what: str, **expect) -> None:
    if data is not None:
        (HERE / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    CASES[name] = {"what": what, **expect}


def fatal(name, data, what, match, **kw):
    case(name, data, what, outcome="fatal", match=match, **kw)


def loaded(name, data, what, lines, errors=None, blank=()):
    case(name, data, what, outcome="loaded", loaded=list(lines), errors={str(k): v for k, v in (errors or {}).items()},
         blank=list(blank))


def deep(k: int) -> str:
    return "[" * k + "]" * k


# ------------------------------------------------------------------------------ whole file
fatal("empty.jsonl", b"", "0 bytes", "empty file")
fatal("blank_only.jsonl", "\n  \n\r\n", "only blank lines", "no records")
fatal("binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "a PNG image", "binary file")
fatal("data.jsonl.gz", gzip.compress((chat(1) + "\n").encode(), mtime=0), "gzip-compressed JSONL", "gzip")
fatal("utf16.jsonl", (chat(1) + "\n").encode("utf-16"), "UTF-16 text", "UTF-16")
fatal("archive.jsonl", b"PK\x03\x04" + b"\x00" * 60, "a ZIP archive", "ZIP archive")
fatal("all_lines_bad.jsonl", 'not json\n{"messages": []}\n[1]\n', "no line is a record", "no record could be loaded")
fatal("jsonl_of_arrays.jsonl", "[1, 2]\n[3, 4]\n", "JSONL whose lines are arrays", "no record could be loaded")
fatal("pretty_object.json", json.dumps({"version": 1, "data": [{"text": "a"}, {"text": "b"}]}, indent=2),
      "one pretty-printed JSON object", "one JSON object spread over several lines")
fatal("fifo.jsonl", None, "a named pipe (FIFO): used to hang inspect/add forever", "named pipe", make="fifo")
fatal("socket.jsonl", None, "a Unix socket", "a socket, not a regular file", make="socket")
fatal("/dev/zero", None, "a character device (endless)", "character device", make="device")
fatal("missing.jsonl", None, "a path that does not exist", "file not found", make="missing")
fatal("folder.jsonl", None, "a folder named like a data file", "is a folder", make="folder")

# ------------------------------------------------------------------------------ JSONL lines
loaded("bom_crlf.jsonl", b"\xef\xbb\xbf" + "\r\n".join(chat(i) for i in range(1, 4)).encode() + b"\r\n",
       "UTF-8 BOM and CRLF line ends", [1, 2, 3])
loaded("invalid_utf8_line.jsonl", (chat(1) + "\n").encode() + chat(2).encode().replace(b"question", b"qu\xe9stion")
       + b"\n" + (chat(3) + "\n").encode(), "one Latin-1 line", [1, 3], {2: "invalid UTF-8"})
kinds = [chat(1), chat(2),
         '{"messages": [{"role": "user", "content": "x"}',
         '["a", "list"]',
         '"a string"',
         '{"messages": []}',
         '{"messages": [{"role": "bot", "content": "x"}]}',
         '{"msgs": [{"role": "user", "content": "x"}]}',
         '{"messages": [{"role": "assistant", "content": "x"}]}',
         "",
         chat(11)]
loaded("kinds_of_bad_lines.jsonl", "\n".join(kinds) + "\n", "every kind of bad record", [1, 2, 11],
       {3: "^invalid JSON", 4: "wrong type: expected a JSON object, got array", 5: "got string",
        6: "^empty conversation$", 7: "unknown role 'bot'", 8: "missing field 'messages'", 9: "^no user turn$"},
       blank=[10])
loaded("alpaca_missing_field.jsonl", "\n".join([ALPACA % (i, i) for i in range(5)] + ['{"instruction": "no output"}']),
       "an Alpaca record without output", [1, 2, 3, 4, 5], {6: "missing field 'output'"})
loaded("truncated_last_line.jsonl", "\n".join([chat(1), chat(2)]) + '\n{"messages": [{"role"',
       "the file ends inside a record", [1, 2], {3: "^invalid JSON"})
loaded("mixed_formats.jsonl", "\n".join([chat(i) for i in range(1, 7)] + [ALPACA % (7, 7), ALPACA % (8, 8)]
                                        + [chat(9), chat(10)]),
       "Alpaca lines appended to a chat file", [1, 2, 3, 4, 5, 6, 9, 10],
       {7: "Alpaca record in a file of OpenAI chat records", 8: "Alpaca record"})
loaded("nonfinite.jsonl", "\n".join([
    '{"text": "a", "score": 1.5}', '{"text": "b", "score": NaN}', '{"text": "c", "score": Infinity}',
    '{"text": "d", "score": -Infinity}', '{"text": "e", "score": 1e400}', '{"text": "f", "score": -1e400}',
    '{"text": "g", "score": 1e308}', '{"text": "h", "n": 123456789012345678901234567890}']) + "\n",
    "NaN, Infinity and 1e400 (issue 11.4): values JSON cannot hold", [1, 7, 8],
    {2: "NaN is not a JSON value", 3: "Infinity", 4: "Infinity", 5: "1e400", 6: "1e400"})
loaded("lone_surrogate.jsonl", "\n".join([
    '{"text": "ok"}', '{"text": "a\\ud800b"}', '{"text": "a pair \\ud83d\\ude00 is one character"}',
    '{"text": "x", "meta": {"k\\udfff": 1}}', '{"text": "low \\udc00 half"}']) + "\n",
    "lone surrogate escapes (issue 11.8: loaded, then crashed the tokenizer)", [1, 3],
    {2: "lone surrogate \\\\ud800", 4: "lone surrogate", 5: "lone surrogate"})
loaded("lone_surrogate_chat.jsonl", "\n".join([
    chat(1), '{"messages": [{"role": "user", "content": "hi \\ud800"}, {"role": "assistant", "content": "x"}]}',
    chat(3)]) + "\n", "a lone surrogate inside the common chat shape (the reader's fast path)", [1, 3],
    {2: "lone surrogate"})
loaded("deep_nesting.jsonl", "\n".join([
    '{"text": "flat"}', '{"text": "99 levels", "extra": %s}' % deep(99), '{"text": "100 levels", "extra": %s}' % deep(100),
    '{"text": "1000 levels", "extra": %s}' % deep(1000), '{"text": "5000 levels", "extra": %s}' % deep(5000)]) + "\n",
    "deeply nested extra field (issue 11.8: 1,000 levels crashed inspect and analyze)", [1, 2],
    {3: "nested more than 100 levels", 4: "nested more than 100 levels", 5: "nested more than 100 levels"})

# ------------------------------------------------------------------------------ JSON array
loaded("nonfinite.json", '[\n{"text": "a"},\n{"text": "b", "s": NaN},\n{"text": "c", "s": [1, Infinity]},\n'
       '{"text": "d"}\n]\n', "a JSON array with NaN / Infinity elements", [2, 5], {3: "NaN", 4: "Infinity"})
loaded("bad_element.json", '[\n{"text": "a"},\n{"text": "b"},\n{"text": oops}\n]', "an invalid element",
       [2, 3], {4: "nothing after this point can be read"})
loaded("text_after_array.json", '[\n{"text": "a"}\n]\n\n{"text": "b"}\n', "a record after the closing bracket",
       [2], {5: "text after the end of the JSON array"})
loaded("unclosed_array.json", '[\n{"text": "a"},\n{"text": "b"},\n', "the array is never closed", [2, 3],
       {4: "not closed"})

# ------------------------------------------------------------------------------ CSV / TSV
rows = ["prompt,response"] + [f"question {i},answer {i}" for i in range(2, 12)]
rows[3] = '"question 4 with an open quote,answer 4'
loaded("unbalanced_quote.csv", "\n".join(rows) + "\n",
       "one unbalanced quote (issue 11.6: every later row was lost silently)", [2, 3] + list(range(5, 12)),
       {4: "quote opened on this line"})
loaded("quote_at_eof.csv", 'prompt,response\nq1,a1\nq2,a2\n"q3 never closed,a3\n', "an open quote on the last line",
       [2, 3], {4: "quote opened|unreadable CSV row|fields"})
loaded("multiline_cell_crlf.csv", b'\xef\xbb\xbfquestion,answer,label\r\n"What is 2+2?",4,math\r\n'
       b'"A ""quoted"" and\r\nmultiline question",yes,misc\r\nonly,two\r\n\r\nlast,row,x\r\n',
       "a quoted cell over two lines, a short row, a blank line (CSV lines are physical lines)", [2, 3, 7],
       {5: "row has 2 fields, the header has 3"}, blank=[6])
loaded("wrong_width.tsv", "prompt\tresponse\nq1\ta1\nq2\na3\tb3\tc3\nq4\ta4\n", "rows with too few / many fields",
       [2, 5], {3: "row has 1 fields", 4: "row has 3 fields"})
loaded("invalid_utf8.csv", b"prompt,response\nq1,a1\nq\xe92,a2\nq3,a3\n", "one Latin-1 row", [2, 4],
       {3: "invalid UTF-8"})
msgs_ok = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
msgs_nan = '[{"role": "user", "content": "hi", "score": NaN}, {"role": "assistant", "content": "yo"}]'
buf = io.StringIO()
import csv  # noqa: E402

w = csv.writer(buf, lineterminator="\n")
w.writerows([["messages", "split"], [msgs_ok, "train"], [msgs_nan, "train"], [msgs_ok, "eval"]])
loaded("nan_in_chat_cell.csv", buf.getvalue(), "NaN inside the JSON of a messages cell", [2, 4], {3: "NaN"})
fatal("duplicate_header.csv", "prompt,prompt\na,b\n", "a duplicate column name", "duplicate column")
fatal("header_open_quote.csv", '"prompt,response\nq1,a1\n', "a quote left open in the header", "header spans")


# ------------------------------------------------------------------------------ Parquet
def _parquet():
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"text": ["a", "b", "c", "d"], "score": [1.0, float("nan"), float("inf"), 2.0]})
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink)
    return sink.getvalue().to_pybytes()


pq_bytes = _parquet()
loaded("nonfinite.parquet", pq_bytes, "a float column holding NaN and inf (same policy as JSON)", [1, 4],
       {2: "NaN", 3: "Infinity"})
fatal("truncated.parquet", pq_bytes[: len(pq_bytes) // 2], "a Parquet file cut in half", "not a readable Parquet")

if __name__ == "__main__":
    (HERE / "expected.json").write_text(json.dumps({"cases": CASES}, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    print(f"{len(CASES)} cases written to {HERE}")
