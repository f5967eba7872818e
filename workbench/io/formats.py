"""Record formats, public face: detect a schema, normalise a record, convert to and from chat.

The schemas themselves (their fields, aliases, roles, and how the analysis unit picks the prompt
and response) are documented in :mod:`workbench.io.schemas`. In short: ``chat`` (OpenAI
``messages``), ``sharegpt`` (``conversations`` of ``from``/``value``), ``alpaca``
(``instruction``/``input``/``output``), ``prompt_completion`` and ``text`` (inputs only); every
field a schema does not own is an extra column.

``to_chat`` turns any record into an OpenAI chat record ``{"messages": [...]}`` (a chat record keeps
its messages, ``tools`` and ``parallel_tool_calls`` verbatim; extra fields are left out).
``from_chat`` builds a record of a schema from chat turns, used when a curator edits turns: with a
``template_record`` (the record before the edit) every unchanged turn and every other field stays
exactly as it was, in the same key order.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from workbench.io.source_data import DEFAULT_UNIT, Normalised, Turn
from workbench.io.schemas import (
    _OWNED,
    CHAT_ROLE_MAP,
    DEFAULT_FIELDS,
    MAPPING_KEYS,
    SCHEMA_TITLES,
    SHAREGPT_FROM,
    SHAREGPT_ROLE_MAP,
    Detection,
    RecordError,
    _render_tool_calls,
    alpaca_prompt,
    chat_turns,
    detect,
    detect_record,
    mixed_reason,
    owned_keys,
    record_turns,
    resolve_fields,
    summarise,
)

__all__ = [
    "Detection", "MAPPING_KEYS", "RecordError", "SCHEMA_TITLES", "detect", "detect_record", "detect_schema",
    "dumps_record", "from_chat", "mixed_reason", "normalise", "owned_keys", "record_turns", "resolve_fields",
    "summarise", "to_chat",
]


def detect_schema(records: list[dict]) -> str:
    """The schema most of ``records`` (a file's first records) match; see :func:`detect`."""
    return detect(records).schema


def normalise(
    record: dict, schema: str, unit: str = DEFAULT_UNIT, mapping: dict[str, str] | None = None
) -> Normalised:
    """The normalised view of one record; raises :class:`RecordError` when it is not valid."""
    if type(record) is not dict:
        record_turns(record, schema, {})  # raises the "wrong type" error
    fields = resolve_fields(record, schema, mapping)
    turns = record_turns(record, schema, fields)
    system, prompt, response = summarise(turns, unit)
    owned = owned_keys(schema, fields)
    extra = {k: v for k, v in record.items() if k not in owned}
    return Normalised(system, tuple(Turn(r, c) for r, c in turns), prompt, response, extra)


def dumps_record(obj: Any) -> str:
    """One JSON line for a new or edited record: readable Unicode, ``", "``/``": "`` separators
    (the style of most published JSONL). A string holding a lone surrogate (legal in JSON text,
    not encodable as UTF-8) is written with ``\\uXXXX`` escapes instead, so the line stays valid."""
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj, ensure_ascii=True)
    return line


# ------------------------------------------------------------------------------------------ to_chat


def to_chat(record: dict, schema: str, mapping: dict[str, str] | None = None, *, validate: bool = True) -> dict:
    """The record as an OpenAI chat record ``{"messages": [...]}`` (extra fields left out).
    ``validate=False`` skips re-checking a chat record's messages (for records a reader loaded)."""
    fields = resolve_fields(record, schema, mapping) if type(record) is dict else {}
    if schema == "chat":
        key = fields.get("messages", "messages")
        if type(record) is not dict or key not in record:
            record_turns(record, schema, fields)  # raises the precise error
        if validate:
            chat_turns(record[key], key)
        out = {}
        for k in record:
            if k == key:
                out["messages"] = record[k]
            elif k in _OWNED["chat"]:
                out[k] = record[k]
        return out
    turns = record_turns(record, schema, fields)
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


# ---------------------------------------------------------------------------------------- from_chat


def _items(messages: Sequence[Any]) -> list[tuple[str, str, dict]]:
    """(role, content, message dict) for chat turns given as dicts, :class:`Turn` or tuples."""
    out = []
    for i, m in enumerate(messages):
        if isinstance(m, Turn):
            role, content, d = m.role, m.content, {}
        elif isinstance(m, dict):
            role, content, d = m.get("role"), m.get("content"), m
        elif isinstance(m, (tuple, list)) and len(m) == 2:
            role, content, d = m[0], m[1], {}
        else:
            raise RecordError(f"turn {i}: expected a message object, a Turn or a (role, content) pair")
        r = CHAT_ROLE_MAP.get(role) if isinstance(role, str) else None
        if r is None:
            raise RecordError(f"turn {i}: unknown role {role!r}")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise RecordError(f"turn {i}: content must be a string")
        out.append((r, content, d))
    if not out:
        raise RecordError("empty conversation")
    return out


def _rebuild(template: dict | None, values: dict[str, Any], drop: Sequence[str] = ()) -> dict:
    """``template`` with ``values`` set in place (key order kept; new keys appended; ``drop`` removed)."""
    out = dict(template) if template else {}
    for k in drop:
        out.pop(k, None)
    out.update(values)
    return out


def _chat_message(role: str, content: str, given: dict, tmpl: Any) -> dict:
    if isinstance(tmpl, dict) and CHAT_ROLE_MAP.get(tmpl.get("role")) == role:
        try:
            old_text = chat_turns([tmpl])[0][1]
        except RecordError:
            old_text = None
        if old_text == content and all(tmpl.get(k) == v for k, v in given.items() if k not in ("role", "content")):
            return tmpl  # unchanged turn: verbatim
        msg = dict(tmpl)
        calls = _render_tool_calls(tmpl)
        if calls and content.endswith(calls):
            content = content[: -len(calls)].rstrip("\n")
            msg["content"] = content or (None if tmpl.get("content") is None else "")
        else:
            msg.pop("tool_calls", None)
            msg.pop("function_call", None)
            msg["content"] = content
    else:
        msg = {"role": role, "content": content}
    for k, v in given.items():
        if k not in ("role", "content"):
            msg[k] = v
    return msg


def _sharegpt_role(m: dict) -> str | None:
    return SHAREGPT_ROLE_MAP.get(str(m.get("from", m.get("role", ""))).lower())


def _split_system(items: list[tuple[str, str, dict]]) -> tuple[str, list[tuple[str, str, dict]]]:
    system = "\n\n".join(c for r, c, _ in items if r == "system")
    return system, [it for it in items if it[0] != "system"]


def _pairs(items: list[tuple[str, str, dict]], schema: str) -> list[tuple[str, str]]:
    """Strictly alternating user/assistant turns as pairs (the last may lack its answer)."""
    pairs: list[tuple[str, str]] = []
    for i, (r, c, _) in enumerate(items):
        expected = "user" if i % 2 == 0 else "assistant"
        if r != expected:
            raise RecordError(
                f"{SCHEMA_TITLES[schema]} records hold alternating user/assistant turns; turn {i + 1} is {r} "
                "(export as chat to keep it)"
            )
        if r == "user":
            pairs.append((c, ""))
        else:
            pairs[-1] = (pairs[-1][0], c)
    if not pairs:
        raise RecordError("no user turn")
    return pairs


def _split_alpaca_prompt(text: str, template: dict | None, fields: dict[str, str]) -> tuple[str, str]:
    """(instruction, input) for a user turn, keeping the template's split where it still fits."""
    if template:
        instr = template.get(fields["prompt"])
        inp = template.get(fields.get("input", "input")) or ""
        if isinstance(instr, str) and isinstance(inp, str):
            if alpaca_prompt(instr, inp) == text:
                return instr, inp
            if inp and text.endswith("\n\n" + inp):
                return text[: -len(inp) - 2], inp
            if inp and text.startswith(instr + "\n\n"):
                return instr, text[len(instr) + 2:]
    return text, ""


def from_chat(
    messages: Sequence[Any],
    schema: str,
    template_record: dict | None = None,
    mapping: dict[str, str] | None = None,
) -> dict:
    """A record of ``schema`` holding ``messages`` (dicts with role/content, :class:`Turn` or pairs).

    With ``template_record`` the result keeps the template's other fields and key order, and its
    unchanged turns verbatim. Raises :class:`RecordError` when the schema cannot hold the turns
    (e.g. several turns in a prompt/completion record, a response in a text record).
    """
    items = _items(messages)
    template = template_record if isinstance(template_record, dict) else None
    fields = resolve_fields(template, schema, mapping) if template else dict(DEFAULT_FIELDS[schema], **(mapping or {}))

    if schema == "chat":
        key = fields.get("messages", "messages")
        old = template.get(key) if template else None
        old = old if isinstance(old, list) else []
        msgs = [_chat_message(r, c, d, old[i] if i < len(old) else None) for i, (r, c, d) in enumerate(items)]
        return _rebuild(template, {key: msgs})

    if schema == "sharegpt":
        key = fields.get("conversations", "conversations")
        sys_key = fields.get("system", "system")
        old = template.get(key) if template else None
        old = [m for m in old if isinstance(m, dict)] if isinstance(old, list) else []
        top_system = template is not None and sys_key in template
        values: dict[str, Any] = {}
        if top_system:
            system, items = _split_system(items)
            values[sys_key] = system
        old_turns = [m for m in old if _sharegpt_role(m) != "system"] if top_system else old
        conv = []
        for i, (r, c, _) in enumerate(items):
            t = old_turns[i] if i < len(old_turns) else None
            src = t.get("from", t.get("role")) if t else None
            if t is not None and isinstance(src, str) and SHAREGPT_ROLE_MAP.get(src.lower()) == r:
                if t.get("value", t.get("content")) == c:
                    conv.append(t)
                    continue
                m = dict(t)
                m["value" if "value" in t or "content" not in t else "content"] = c
                conv.append(m)
            else:
                conv.append({"from": SHAREGPT_FROM[r], "value": c})
        values[key] = conv
        return _rebuild(template, values)

    if any(r == "tool" for r, _, _ in items):
        raise RecordError(f"{SCHEMA_TITLES[schema]} records cannot hold tool turns (export as chat to keep them)")
    system, rest = _split_system(items)
    pairs = _pairs(rest, schema)
    sys_key = fields.get("system", "system")
    keep_system = bool(system) or bool(template and sys_key in template)
    values: dict[str, Any] = {}
    if schema == "text":
        if any(a for _, a in pairs) or len(pairs) > 1:
            raise RecordError("plain text records hold one input and no response (export as chat to keep the answer)")
        values[fields["prompt"]] = pairs[0][0]
        if keep_system:
            values[sys_key] = system
        return _rebuild(template, values)
    last_user, last_answer = pairs[-1]
    if schema == "prompt_completion":
        if len(pairs) > 1:
            raise RecordError("prompt/completion records hold one turn each way "
                              "(export as chat to keep the conversation)")
        values[fields["prompt"]] = last_user
        values[fields["response"]] = last_answer
        if keep_system:
            values[sys_key] = system
        return _rebuild(template, values)
    if schema == "alpaca":
        instr, inp = _split_alpaca_prompt(last_user, template, fields)
        values[fields["prompt"]] = instr
        in_key = fields.get("input", "input")
        if inp or template is None or in_key in template:
            values[in_key] = inp
        values[fields["response"]] = last_answer
        hist_key = fields.get("history", "history")
        if len(pairs) > 1:
            values[hist_key] = [[u, a] for u, a in pairs[:-1]]
        elif template and hist_key in template:
            values[hist_key] = []
        if keep_system:
            values[sys_key] = system
        return _rebuild(template, values)
    raise RecordError(f"unknown schema {schema!r}")
