"""Schema detection, normalisation, analysis units, and chat conversion of single records."""

from __future__ import annotations

import json

import pytest

from workbench.io.formats import (
    RecordError,
    detect,
    detect_schema,
    dumps_record,
    from_chat,
    normalise,
    to_chat,
)
from workbench.io.source_data import Turn

CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "id": "a1",
}
SHAREGPT = {
    "conversations": [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "Name a prime."},
        {"from": "gpt", "value": "7"},
    ],
    "system": "You are kind.",
}
ALPACA = {"instruction": "Translate to French.", "input": "cat", "output": "chat", "label": "translation"}
DOLLY = {"instruction": "Who wrote Hamlet?", "context": "", "response": "Shakespeare", "category": "open_qa"}
PC = {"prompt": "Capital of Peru?", "completion": "Lima"}
TEXT = {"text": "my card is lost", "label": "lost_or_stolen_card", "timestamp": "2024-01-01T10:00:00Z"}


@pytest.mark.parametrize(
    "record, schema",
    [(CHAT, "chat"), (SHAREGPT, "sharegpt"), (ALPACA, "alpaca"), (DOLLY, "alpaca"), (PC, "prompt_completion"),
     (TEXT, "text"), ({"question": "q", "answer": "a"}, "prompt_completion"), ({"query": "q"}, "text")],
)
def test_detect_schema(record, schema):
    assert detect_schema([record]) == schema


def test_lmsys_conversation_is_chat():
    rec = {"conversation_id": "x", "conversation": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    d = detect([rec])
    assert (d.schema, d.fields["messages"]) == ("chat", "conversation")
    n = normalise(rec, "chat", mapping=d.fields)
    assert (n.prompt, n.response, n.extra) == ("hi", "yo", {"conversation_id": "x"})
    assert to_chat(rec, "chat", d.fields) == {"messages": rec["conversation"]}


def test_detect_majority_and_aliases():
    d = detect([DOLLY, DOLLY, PC])
    assert d.schema == "alpaca"
    assert d.fields["input"] == "context" and d.fields["response"] == "response"


def test_detect_guesses_text_field_and_says_so():
    d = detect([{"id": 1, "sentence1": "a long sentence here", "sentence2": "short", "label": 0}])
    assert (d.schema, d.fields["prompt"], d.guessed) == ("text", "sentence1", True)
    assert "guessed" in d.note


def test_detect_nothing_known_raises():
    with pytest.raises(RecordError, match="no known format"):
        detect([{"a": 1, "b": [1, 2]}])


def test_detect_with_mapping_and_schema_override():
    d = detect([{"q": "x", "a": "y"}], mapping={"prompt": "q", "response": "a"})
    assert d.schema == "prompt_completion" and d.fields["prompt"] == "q"
    d = detect([PC], schema="text")
    assert d.schema == "text" and d.fields["prompt"] == "prompt"
    with pytest.raises(RecordError, match="unknown schema"):
        detect([PC], schema="dpo")
    with pytest.raises(RecordError, match="unknown mapping key"):
        detect([PC], mapping={"answer": "completion"})


def test_normalise_chat():
    n = normalise(CHAT, "chat")
    assert (n.system, n.prompt, n.response) == ("Be brief.", "What is 2+2?", "4")
    assert n.turns[1] == Turn("user", "What is 2+2?")
    assert n.extra == {"id": "a1"}


def test_units_on_multi_turn():
    last = normalise(SHAREGPT, "sharegpt", "last_user")
    allu = normalise(SHAREGPT, "sharegpt", "all_user")
    conv = normalise(SHAREGPT, "sharegpt", "conversation")
    assert last.prompt == "Name a prime."
    assert allu.prompt == "Hi\n\nName a prime."
    assert conv.prompt == "user: Hi\nassistant: Hello!\nuser: Name a prime."
    assert last.response == allu.response == conv.response == "7"  # the final answer
    assert last.system == "You are kind." and len(last.turns) == 5


def test_normalise_alpaca_and_dolly():
    n = normalise(ALPACA, "alpaca")
    assert n.prompt == "Translate to French.\n\ncat" and n.response == "chat"
    assert n.extra == {"label": "translation"}
    d = normalise(DOLLY, "alpaca")
    assert d.prompt == "Who wrote Hamlet?" and d.response == "Shakespeare" and d.extra == {"category": "open_qa"}


def test_alpaca_history():
    rec = {"instruction": "And 3+3?", "input": "", "output": "6", "history": [["2+2?", "4"]]}
    n = normalise(rec, "alpaca", "all_user")
    assert [t.role for t in n.turns] == ["user", "assistant", "user", "assistant"]
    assert n.prompt == "2+2?\n\nAnd 3+3?" and n.response == "6"


def test_text_has_no_response_and_keeps_extras():
    n = normalise(TEXT, "text")
    assert n.prompt == "my card is lost" and n.response == ""
    assert n.extra == {"label": "lost_or_stolen_card", "timestamp": "2024-01-01T10:00:00Z"}


def test_tool_calls_and_parts():
    rec = {"messages": [
        {"role": "developer", "content": "Use tools."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        {"role": "assistant", "content": "Rain."},
    ], "tools": [{"type": "function", "function": {"name": "weather"}}]}
    n = normalise(rec, "chat")
    assert n.system == "Use tools."
    assert n.prompt == "Weather in Oslo?\n[image_url]"
    assert n.response == '[tool call] weather({"city":"Oslo"})\n\nRain.'
    assert n.extra == {}  # tools belongs to the chat schema
    assert to_chat(rec, "chat") == rec
    # untouched turns come back verbatim, tool_calls and tool_call_id included
    back = from_chat([{"role": t.role, "content": t.content} for t in n.turns], "chat", rec)
    assert json.dumps(back) == json.dumps(rec)


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"messages": []}, "empty conversation"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "unknown role 'bot'"),
        ({"messages": [{"content": "x"}]}, "missing field 'role'"),
        ({"messages": [{"role": "user"}]}, "missing field 'content'"),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "no user turn"),
        ({"messages": "hi"}, "must be an array"),
        ({"messages": ["hi"]}, "must be an object"),
        ({"conversations": [{"from": "alien", "value": "x"}]}, "unknown role 'alien'"),
        ({"conversations": []}, "empty conversation"),
    ],
)
def test_bad_chat_records(record, reason):
    schema = "chat" if "messages" in record else "sharegpt"
    with pytest.raises(RecordError, match=reason):
        normalise(record, schema)


@pytest.mark.parametrize(
    "record, schema, reason",
    [
        ({"instruction": "x"}, "alpaca", "missing field 'output'"),
        ({"instruction": "x", "output": 3}, "alpaca", "field 'output' must be a string .got number"),
        ({"instruction": "x", "output": "y", "history": [["a"]]}, "alpaca", "pair"),
        ({"prompt": "x"}, "prompt_completion", "missing field 'completion'"),
        ({"text": None}, "text", "field 'text' must be a string .got null"),
        ([1, 2], "chat", "wrong type: expected a JSON object, got array"),
        ("just text", "text", "wrong type: expected a JSON object, got string"),
    ],
)
def test_bad_records(record, schema, reason):
    with pytest.raises(RecordError, match=reason):
        normalise(record, schema)


@pytest.mark.parametrize("record, schema", [(CHAT, "chat"), (SHAREGPT, "sharegpt"), (ALPACA, "alpaca"),
                                            (DOLLY, "alpaca"), (PC, "prompt_completion"), (TEXT, "text")])
def test_to_chat_then_from_chat_with_template_is_identity(record, schema):
    chat = to_chat(record, schema)
    assert set(chat) == {"messages"}  # extra fields are left out
    back = from_chat(chat["messages"], schema, template_record=record)
    assert json.dumps(back) == json.dumps(record)  # same value and key order


def test_to_chat_content():
    assert to_chat(ALPACA, "alpaca") == {"messages": [
        {"role": "user", "content": "Translate to French.\n\ncat"}, {"role": "assistant", "content": "chat"}]}
    assert to_chat(SHAREGPT, "sharegpt")["messages"][0] == {"role": "system", "content": "You are kind."}


def test_from_chat_edit_keeps_other_fields_and_split():
    msgs = to_chat(ALPACA, "alpaca")["messages"]
    msgs[-1]["content"] = "le chat"
    assert from_chat(msgs, "alpaca", ALPACA) == {"instruction": "Translate to French.", "input": "cat",
                                                 "output": "le chat", "label": "translation"}
    msgs[0]["content"] = "Translate to French.\n\ndog"
    assert from_chat(msgs, "alpaca", ALPACA)["input"] == "dog"
    edited = from_chat([Turn("system", "Be brief."), Turn("user", "What is 3+3?"), Turn("assistant", "6")], "chat", CHAT)
    assert edited["id"] == "a1" and edited["messages"][0] is CHAT["messages"][0]
    assert edited["messages"][1] == {"role": "user", "content": "What is 3+3?"}


def test_from_chat_without_template():
    turns = [("user", "Q"), ("assistant", "A")]
    assert from_chat(turns, "prompt_completion") == {"prompt": "Q", "completion": "A"}
    assert from_chat(turns, "alpaca") == {"instruction": "Q", "input": "", "output": "A"}
    assert from_chat(turns, "sharegpt") == {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}
    assert from_chat(turns, "chat") == {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    assert from_chat([("user", "Q")], "text") == {"text": "Q"}


@pytest.mark.parametrize(
    "turns, schema, reason",
    [
        ([("user", "Q"), ("assistant", "A")], "text", "no response"),
        ([("user", "Q"), ("assistant", "A"), ("user", "Q2"), ("assistant", "A2")], "prompt_completion", "one turn"),
        ([("user", "Q"), ("tool", "x")], "alpaca", "tool turns"),
        ([("assistant", "A")], "alpaca", "alternating"),
        ([], "chat", "empty conversation"),
        ([("robot", "x")], "chat", "unknown role"),
    ],
)
def test_from_chat_refuses_what_a_schema_cannot_hold(turns, schema, reason):
    with pytest.raises(RecordError, match=reason):
        from_chat(turns, schema)


def test_dumps_record_keeps_unicode_and_escapes_lone_surrogates():
    assert dumps_record({"a": "café ✓"}) == '{"a": "café ✓"}'
    line = dumps_record({"a": "x\ud800"})
    line.encode("utf-8")  # valid UTF-8
    assert json.loads(line) == {"a": "x\ud800"}


def test_to_chat_validates_unless_told_the_record_was_loaded():
    bad = {"messages": [{"role": "bot", "content": "x"}]}
    with pytest.raises(RecordError, match="unknown role"):
        to_chat(bad, "chat")
    assert to_chat(bad, "chat", validate=False) == bad  # a reader already checked loaded records
    with pytest.raises(RecordError, match="missing field 'messages'"):
        to_chat({"text": "x"}, "chat", validate=False)
