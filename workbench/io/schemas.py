"""Record schemas: detection, validation and turn extraction (``formats`` is the public face).

A *schema* says what one record looks like, whatever file holds it (JSONL, a JSON array, CSV,
Parquet). Known schemas and the fields they own (aliases in brackets are recognised by detection
and recorded in the field mapping, so a file keeps its own names on export):

``chat`` (OpenAI)
    ``{"messages": [{"role", "content", ...}], "tools"?, "parallel_tool_calls"?}`` (LMSYS-style
    ``conversation`` for messages). Roles:
    system, user, assistant, tool (``developer`` counts as system, the legacy ``function`` as
    tool). ``content`` is a string, a list of parts (text parts are joined; other parts show as
    ``[image_url]`` etc.) or null when the assistant turn carries ``tool_calls``, which are shown as
    ``[tool call] name(arguments)``. Every other key of a message (``name``, ``tool_calls``,
    ``tool_call_id``, ``weight``) stays in the verbatim record.
``sharegpt``
    ``{"conversations": [{"from", "value"}], "system"?, "tools"?}``; ``from`` is human/user,
    gpt/assistant/model/chatgpt/bard/bing, system, function_call (an assistant tool call),
    observation/tool/function (a tool result); case does not matter.
``alpaca``
    ``{"instruction", "input"?, "output", "system"?, "history"?}`` (Dolly's ``context`` for input,
    ``response`` for output); ``history`` is a list of ``[user, assistant]`` pairs before the last
    turn. The user turn is ``instruction`` followed by a blank line and ``input`` when it is not empty.
``prompt_completion``
    ``{"prompt", "completion", "system"?}`` (also prompt/response, question/answer,
    question/response, query/response, input/output).
``text``
    inputs only, e.g. production logs: one text field (``text``, ``prompt``, ``query``,
    ``question``, ``input``, ``instruction``, ``content``, ``message``, ``utterance``,
    ``sentence``, ``user_input``), no response. When no known field name occurs in a file's first
    records, detection *guesses* the text field: the string field with the longest mean length in
    those records (the guess is reported; pass a mapping to choose).

Every field a schema does not own (``label``, ``timestamp``, ``feedback``, ``id`` ...) is kept as
an *extra* column.

**Analysis unit and response.** An example is "context -> final response": ``response`` is the
assistant turn(s) after the last user turn (joined by a blank line; a tool-using answer includes
its calls); ``prompt`` depends on the unit: ``last_user`` = the last user turn, ``all_user`` =
every user turn up to it, ``conversation`` = every non-system turn up to it, each line prefixed by
its role. ``system`` = the system turn(s). The normalised ``turns`` keep every turn.
A record with no user turn is an error ("no user turn").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from workbench.io.source_data import DEFAULT_UNIT, SCHEMAS, UNITS

SCHEMA_TITLES = {
    "chat": "OpenAI chat",
    "sharegpt": "ShareGPT",
    "alpaca": "Alpaca",
    "prompt_completion": "prompt/completion",
    "text": "plain text (inputs only)",
}

CHAT_ROLE_MAP = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
SHAREGPT_ROLE_MAP = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "function_call": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}
# ShareGPT ``from`` written for each chat role when no template says otherwise.
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}

# Keys a schema owns besides its mapped fields (never extra columns).
_OWNED = {
    "chat": ("tools", "parallel_tool_calls", "functions"),
    "sharegpt": ("tools",),
    "alpaca": (),
    "prompt_completion": (),
    "text": (),
}

DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "chat": {"messages": "messages"},
    "sharegpt": {"conversations": "conversations", "system": "system"},
    "alpaca": {"prompt": "instruction", "input": "input", "response": "output", "system": "system",
               "history": "history"},
    "prompt_completion": {"prompt": "prompt", "response": "completion", "system": "system"},
    "text": {"prompt": "text", "system": "system"},
}
MAPPING_KEYS = ("prompt", "response", "system", "input", "history", "messages", "conversations")

PC_PAIRS = (
    ("prompt", "completion"),
    ("prompt", "response"),
    ("question", "answer"),
    ("question", "response"),
    ("query", "response"),
    ("input", "output"),
)
TEXT_FIELDS = (
    "text", "prompt", "query", "question", "input", "instruction",
    "content", "message", "utterance", "sentence", "user_input",
)
DETECT_SAMPLE = 100  # records used to detect a file's schema


class RecordError(ValueError):
    """A record that cannot be read in the expected schema; ``reason`` says why, for a curator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Detection:
    """The schema of a file and the field names it uses (``fields``: mapping key -> field)."""

    schema: str
    fields: dict[str, str]
    guessed: bool = False  # the text field was guessed (no known field name present)
    note: str = ""


def _typename(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------------------- detection


def detect_record(record: Any) -> Detection | None:
    """The schema one record looks like, or ``None``. Priority: chat, sharegpt, alpaca,
    prompt/completion, text (a chat record that also has a ``text`` key is chat)."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("messages"), list):
        return Detection("chat", dict(DEFAULT_FIELDS["chat"]))
    conv = record.get("conversation")  # LMSYS-style: a list of {"role", "content"}
    if isinstance(conv, list) and conv and isinstance(conv[0], dict) and "role" in conv[0]:
        return Detection("chat", {"messages": "conversation"})
    if isinstance(record.get("conversations"), list):
        return Detection("sharegpt", dict(DEFAULT_FIELDS["sharegpt"]))
    if "instruction" in record and ("output" in record or "response" in record):
        fields = dict(DEFAULT_FIELDS["alpaca"])
        if "output" not in record:
            fields["response"] = "response"
        if "input" not in record and "context" in record:
            fields["input"] = "context"
        return Detection("alpaca", fields)
    for p, c in PC_PAIRS:
        if p in record and c in record:
            return Detection("prompt_completion", {"prompt": p, "response": c, "system": "system"})
    for f in TEXT_FIELDS:
        if isinstance(record.get(f), str):
            return Detection("text", {"prompt": f, "system": "system"})
    return None


def _guess_text_field(records: Sequence[dict]) -> str | None:
    totals: dict[str, list[int]] = {}
    for rec in records:
        for k, v in rec.items():
            if isinstance(v, str):
                t = totals.setdefault(k, [0, 0])
                t[0] += len(v)
                t[1] += 1
    if not totals:
        return None
    # Present in most records first, then longest mean length.
    return max(totals, key=lambda k: (totals[k][1] * 2 >= len(records), totals[k][0] / totals[k][1]))


def detect(records: Iterable[Any], schema: str | None = None, mapping: dict[str, str] | None = None) -> Detection:
    """Detect the schema (or resolve the fields of a given ``schema``) from a file's first records.

    The schema most of the sample records match wins (ties: the earlier record). ``mapping``
    (keys from :data:`MAPPING_KEYS`) overrides field names; with a mapping and no schema the
    schema follows from its keys. Raises :class:`RecordError` when nothing fits.
    """
    sample = [r for r in records if isinstance(r, dict)][:DETECT_SAMPLE]
    if mapping:
        bad = set(mapping) - set(MAPPING_KEYS)
        if bad:
            raise RecordError(f"unknown mapping key(s) {sorted(bad)}; use {', '.join(MAPPING_KEYS)}")
        if schema is None:
            schema = _schema_from_mapping(mapping)
    if schema is not None:
        if schema not in SCHEMAS:
            raise RecordError(f"unknown schema {schema!r}; use one of {', '.join(SCHEMAS)}")
        return _resolve(schema, sample, mapping)
    votes: dict[tuple, list] = {}
    for rec in sample:
        d = detect_record(rec)
        if d is not None:
            key = (d.schema, tuple(sorted(d.fields.items())))
            votes.setdefault(key, [0, d])[0] += 1
    if votes:
        best = max(votes.values(), key=lambda v: v[0])  # max keeps the first of equal counts
        return best[1]
    field = _guess_text_field(sample)
    if field is None:
        keys = sorted({k for r in sample for k in r})[:12]
        raise RecordError(
            f"no known format: the first records have fields {keys} and no text field; "
            "pass a schema or a field mapping"
        )
    return Detection(
        "text", {"prompt": field, "system": "system"}, guessed=True,
        note=f"no known field name; guessed {field!r} (longest text field) as the prompt",
    )


def detect_schema(records: list[dict]) -> str:
    """The schema name of :func:`detect` (pinned interface)."""
    return detect(records).schema


def _schema_from_mapping(mapping: dict[str, str]) -> str:
    if "messages" in mapping:
        return "chat"
    if "conversations" in mapping:
        return "sharegpt"
    if "input" in mapping or "history" in mapping:
        return "alpaca"
    if "response" in mapping:
        return "prompt_completion"
    if "prompt" in mapping:
        return "text"
    raise RecordError("a field mapping needs at least 'prompt' (or 'messages' / 'conversations')")


def _resolve(schema: str, sample: Sequence[dict], mapping: dict[str, str] | None) -> Detection:
    fields = dict(DEFAULT_FIELDS[schema])
    guessed, note = False, ""
    if not mapping:
        # Take the aliases the records use (e.g. Dolly's context/response, a query field).
        for rec in sample:
            d = detect_record(rec)
            if d is not None and d.schema == schema:
                fields = d.fields
                break
        else:
            if schema == "text":
                field = _guess_text_field(sample) if sample else None
                if field is not None:
                    fields["prompt"], guessed = field, True
                    note = f"guessed {field!r} (longest text field) as the prompt"
    else:
        fields.update(mapping)
    return Detection(schema, fields, guessed, note)


def resolve_fields(record: dict, schema: str, mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Field names for one record of ``schema`` (for callers that normalise a lone record)."""
    if mapping:
        fields = dict(DEFAULT_FIELDS[schema])
        fields.update(mapping)
        return fields
    return _resolve(schema, [record], mapping).fields


def owned_keys(schema: str, fields: dict[str, str]) -> frozenset[str]:
    """Top-level keys that belong to the schema; every other key is an extra column."""
    return frozenset(fields.values()) | frozenset(_OWNED[schema])


# --------------------------------------------------------------------------------------- extraction


def _render_tool_calls(msg: dict) -> str:
    calls = msg.get("tool_calls")
    parts = []
    if isinstance(calls, list):
        for call in calls:
            fn = call.get("function", call) if isinstance(call, dict) else {}
            if not isinstance(fn, dict):
                fn = {}
            args = fn.get("arguments", "")
            if not isinstance(args, str):
                args = json.dumps(args, ensure_ascii=False)
            parts.append(f"[tool call] {fn.get('name', '?')}({args})")
    fc = msg.get("function_call")
    if isinstance(fc, dict):
        args = fc.get("arguments", "")
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        parts.append(f"[tool call] {fc.get('name', '?')}({args})")
    return "\n".join(parts)


def _content_text(content: Any, msg: dict, where: str) -> str:
    """Text of a message whose content is not a plain string."""
    if content is None:
        calls = _render_tool_calls(msg)
        if calls or "content" in msg:
            return calls
        raise RecordError(f"{where}: missing field 'content'")
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:
                    texts.append(f"[{part.get('type', 'part')}]")
            else:
                raise RecordError(f"{where}: content part must be an object (got {_typename(part)})")
        text = "\n".join(texts)
    else:
        raise RecordError(f"{where}: content must be a string, a list of parts or null (got {_typename(content)})")
    calls = _render_tool_calls(msg)
    return f"{text}\n{calls}" if calls and text else (calls or text)


def chat_turns(messages: Any, key: str = "messages") -> list[tuple[str, str]]:
    """(role, text) per message of an OpenAI ``messages`` list; raises :class:`RecordError`."""
    if not isinstance(messages, list):
        raise RecordError(f"field '{key}' must be an array (got {_typename(messages)})")
    if not messages:
        raise RecordError("empty conversation")
    turns = []
    role_map = CHAT_ROLE_MAP
    for i, m in enumerate(messages):
        if type(m) is not dict:
            raise RecordError(f"{key}[{i}] must be an object (got {_typename(m)})")
        role = m.get("role")
        r = role_map.get(role) if type(role) is str else None
        if r is None:
            if role is None:
                raise RecordError(f"{key}[{i}]: missing field 'role'")
            raise RecordError(f"{key}[{i}]: unknown role {role!r} (expected {', '.join(role_map)})")
        c = m.get("content")
        if type(c) is not str or (r == "assistant" and "tool_calls" in m):
            c = _content_text(c, m, f"{key}[{i}]") if type(c) is not str else _content_text([c], m, f"{key}[{i}]")
        turns.append((r, c))
    return turns


def sharegpt_turns(record: dict, fields: dict[str, str]) -> list[tuple[str, str]]:
    key = fields.get("conversations", "conversations")
    if key not in record:
        raise RecordError(f"missing field '{key}'")
    conv = record[key]
    if not isinstance(conv, list):
        raise RecordError(f"field '{key}' must be an array (got {_typename(conv)})")
    if not conv:
        raise RecordError("empty conversation")
    turns = []
    sys_key = fields.get("system", "system")
    system = record.get(sys_key)
    if system is not None:
        if not isinstance(system, str):
            raise RecordError(f"field '{sys_key}' must be a string (got {_typename(system)})")
        if system:
            turns.append(("system", system))
    for i, m in enumerate(conv):
        if type(m) is not dict:
            raise RecordError(f"{key}[{i}] must be an object (got {_typename(m)})")
        src = m.get("from", m.get("role"))
        r = SHAREGPT_ROLE_MAP.get(src.lower()) if isinstance(src, str) else None
        if r is None:
            if src is None:
                raise RecordError(f"{key}[{i}]: missing field 'from'")
            raise RecordError(f"{key}[{i}]: unknown role {src!r} (expected human, gpt, system, tool ...)")
        v = m.get("value", m.get("content"))
        if not isinstance(v, str):
            if v is None and "value" not in m and "content" not in m:
                raise RecordError(f"{key}[{i}]: missing field 'value'")
            raise RecordError(f"{key}[{i}]: value must be a string (got {_typename(v)})")
        turns.append((r, v))
    return turns


def _req_str(record: dict, field: str) -> str:
    if field not in record:
        raise RecordError(f"missing field '{field}'")
    v = record[field]
    if type(v) is not str:
        raise RecordError(f"field '{field}' must be a string (got {_typename(v)})")
    return v


def _opt_str(record: dict, field: str | None) -> str:
    if not field:
        return ""
    v = record.get(field)
    if v is None:
        return ""
    if type(v) is not str:
        raise RecordError(f"field '{field}' must be a string (got {_typename(v)})")
    return v


def alpaca_prompt(instruction: str, input_: str) -> str:
    return f"{instruction}\n\n{input_}" if input_ else instruction


def record_turns(record: Any, schema: str, fields: dict[str, str]) -> list[tuple[str, str]]:
    """All turns of ``record`` as (role, text); raises :class:`RecordError` for a bad record."""
    if type(record) is not dict:
        raise RecordError(f"wrong type: expected a JSON object, got {_typename(record)}")
    if schema == "chat":
        key = fields.get("messages", "messages")
        if key not in record:
            raise RecordError(f"missing field '{key}'")
        return chat_turns(record[key], key)
    if schema == "sharegpt":
        return sharegpt_turns(record, fields)
    if schema == "alpaca":
        instruction = _req_str(record, fields["prompt"])
        output = _req_str(record, fields["response"])
        input_ = _opt_str(record, fields.get("input"))
        system = _opt_str(record, fields.get("system"))
        turns = [("system", system)] if system else []
        hist_key = fields.get("history")
        history = record.get(hist_key) if hist_key else None
        if history is not None:
            if not isinstance(history, list):
                raise RecordError(f"field '{hist_key}' must be an array of [user, assistant] pairs")
            for i, pair in enumerate(history):
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                    raise RecordError(f"{hist_key}[{i}] must be a [user, assistant] pair of strings")
                turns.append(("user", pair[0]))
                turns.append(("assistant", pair[1]))
        turns.append(("user", alpaca_prompt(instruction, input_)))
        turns.append(("assistant", output))
        return turns
    if schema == "prompt_completion":
        prompt = _req_str(record, fields["prompt"])
        completion = _req_str(record, fields["response"])
        system = _opt_str(record, fields.get("system"))
        turns = [("system", system)] if system else []
        turns.append(("user", prompt))
        turns.append(("assistant", completion))
        return turns
    if schema == "text":
        prompt = _req_str(record, fields["prompt"])
        system = _opt_str(record, fields.get("system"))
        return [("system", system), ("user", prompt)] if system else [("user", prompt)]
    raise RecordError(f"unknown schema {schema!r}")


def summarise(turns: list[tuple[str, str]], unit: str = DEFAULT_UNIT) -> tuple[str, str, str]:
    """(system, prompt, response) of a turn list for an analysis unit (see module docstring)."""
    last_user = -1
    for i in range(len(turns) - 1, -1, -1):
        if turns[i][0] == "user":
            last_user = i
            break
    if last_user < 0:
        raise RecordError("no user turn")
    n = len(turns)
    if unit == "conversation":
        pass
    elif n == 1:  # an input only
        return "", turns[0][1], ""
    elif n == 2 and last_user == 0:  # the common single-turn case
        return "", turns[0][1], (turns[1][1] if turns[1][0] == "assistant" else "")
    elif n == 3 and last_user == 1 and turns[0][0] == "system":
        return turns[0][1], turns[1][1], (turns[2][1] if turns[2][0] == "assistant" else "")
    system = "\n\n".join(c for r, c in turns if r == "system")
    response = "\n\n".join(c for r, c in turns[last_user + 1:] if r == "assistant")
    if unit == "last_user":
        prompt = turns[last_user][1]
    elif unit == "all_user":
        prompt = "\n\n".join(c for r, c in turns[: last_user + 1] if r == "user")
    elif unit == "conversation":
        prompt = "\n".join(f"{r}: {c}" for r, c in turns[: last_user + 1] if r != "system")
    else:
        raise ValueError(f"unknown analysis unit {unit!r}; use one of {', '.join(UNITS)}")
    return system, prompt, response


_REQUIRED = {"chat": ("messages",), "sharegpt": ("conversations",), "alpaca": ("prompt", "response"),
             "prompt_completion": ("prompt", "response"), "text": ("prompt",)}


def mixed_reason(record: dict, schema: str, reason: str, fields: dict[str, str] | None = None,
                 given: bool = False) -> str:
    """Explain a record that fails ``schema`` but is a valid record of another known schema (a
    record holding any required field of ``schema`` is a broken record of it, not another format).
    ``given``: the schema was chosen by the user (``--schema``), not detected: then the file does
    not match that schema, rather than mixing two formats."""
    fields = fields or DEFAULT_FIELDS[schema]
    if any(fields.get(k) in record for k in _REQUIRED[schema]):
        return reason
    other = detect_record(record)
    if other is None or other.schema == schema:
        return reason
    try:
        record_turns(record, other.schema, other.fields)
    except RecordError:
        return reason
    if given:
        return (f"{SCHEMA_TITLES[other.schema]} record, but the schema chosen is {SCHEMA_TITLES[schema]} "
                f"({reason}): the schema does not match this file; choose {other.schema} "
                "(--schema " + other.schema + ") or leave the schema out to detect it")
    return (
        f"{SCHEMA_TITLES[other.schema]} record in a file of {SCHEMA_TITLES[schema]} records "
        f"(format detected from the first records; {reason}). "
        "Two formats are mixed in this file: load each part as its own source"
    )
