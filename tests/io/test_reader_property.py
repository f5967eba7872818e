"""Property: for any mix of good, bad and blank lines, every non-blank line is either loaded (with
its exact text as ``raw``, in order) or reported with its line number: never both, never neither.
Small blocks make lines straddle block boundaries."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.errors import InputError
from workbench.io import readers
from workbench.io.readers import read_source

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
good_chat = st.builds(
    lambda s, u, a, sys_first: json.dumps(
        {"messages": ([{"role": "system", "content": s}] if sys_first else [])
         + [{"role": "user", "content": u}, {"role": "assistant", "content": a}]},
        ensure_ascii=bool(len(u) % 2)),
    text, text, text, st.booleans())
odd_chat = st.builds(
    lambda u, extra: json.dumps({"messages": [{"role": "user", "content": u, "name": "x"}], "id": extra}),
    text, st.integers())
bad = st.sampled_from([
    "{oops", "[1, 2]", '"str"', "42", '{"messages": []}', '{"messages": [{"role": "robot", "content": "x"}]}',
    '{"instruction": "i", "output": "o"}', '{"messages": [{"role": "user", "content": "x"}]', "null",
])
blank = st.sampled_from(["", "   ", "\t"])
line = st.one_of(good_chat, good_chat, odd_chat, bad, blank)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, min_size=1, max_size=40), crlf=st.booleans(), block=st.sampled_from([64, 257, 4096]))
def test_every_line_loaded_or_reported(tmp_path, monkeypatch, lines, crlf, block):
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    path = tmp_path / "p.jsonl"
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode("utf-8"))
    try:
        src = read_source(path, schema="chat")
    except InputError as exc:
        loaded, raws, reported = [], [], {e.line for e in getattr(exc, "errors", [])}
    else:
        loaded, raws, reported = list(src.lines), src.raw, {e.line for e in src.errors}
        assert len(src.prompt) == len(src.raw) == len(src.n_turns)
    non_blank = [i + 1 for i, s in enumerate(lines) if s.strip()]
    assert sorted(set(loaded) | reported) == non_blank
    assert not set(loaded) & reported
    assert loaded == sorted(loaded)
    assert raws == [lines[i - 1] for i in loaded]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(good_chat, odd_chat, good_chat.map(lambda s: s.replace(", ", ","))),
                      min_size=1, max_size=60))
def test_fast_chat_path_matches_the_parser(tmp_path, monkeypatch, lines):
    """Past the detection sample, plain chat lines skip the JSON parser; their columns must equal
    what normalise() gives for the parsed record (escapes, Unicode, compact separators)."""
    from workbench.io import collect
    from workbench.io.formats import normalise
    from workbench.io.schemas import DETECT_SAMPLE

    monkeypatch.setattr(readers, "BLOCK_BYTES", 2048)  # detection ends in an early block
    fast = []
    batch_chat = collect.Collector._batch_chat

    def spy(self, nums, raws, objs):
        fast.extend(type(o) is tuple for o in objs)
        return batch_chat(self, nums, raws, objs)

    monkeypatch.setattr(collect.Collector, "_batch_chat", spy)

    prefix = [json.dumps({"messages": [{"role": "user", "content": f"u{i}"}, {"role": "assistant", "content": "a"}]})
              for i in range(DETECT_SAMPLE + 60)]  # detection is over blocks before the lines under test
    path = tmp_path / "fast.jsonl"
    path.write_text("\n".join(prefix + lines) + "\n", encoding="utf-8")
    src = read_source(path)
    assert not src.errors and len(src) == len(prefix) + len(lines)
    for i in range(len(prefix), len(src)):
        n = normalise(json.loads(src.raw[i]), "chat")
        assert (src.system[i], src.prompt[i], src.response[i]) == (n.system, n.prompt, n.response)
        assert src.n_turns[i] == len(n.turns)
    assert any(fast)  # the fast path was exercised


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(text, min_size=1, max_size=20), indent=st.sampled_from([None, 1, 2, 4]),
       ascii_=st.booleans())
def test_json_array_elements_keep_text_and_start_line(tmp_path, texts, indent, ascii_):
    records = [{"text": t, "i": i} for i, t in enumerate(texts)]
    body = json.dumps(records, indent=indent, ensure_ascii=ascii_)
    path = tmp_path / "arr.json"
    path.write_text(body, encoding="utf-8")
    src = read_source(path)
    assert src.container == "json" and not src.errors
    assert [json.loads(r) for r in src.raw] == records
    assert src.prompt == texts
    for raw, line in zip(src.raw, src.lines):
        start = body.index(raw)
        assert body.count("\n", 0, start) + 1 == line
