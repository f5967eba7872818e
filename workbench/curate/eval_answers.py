"""The curator's reference answers for eval-set inputs (Qt-free; ``workbench eval-set --answers``
and the app's Eval set dialog call these).

A reference answer belongs to one production input, named by its identity ``(source_id, line)``,
and is recorded as a journal op (:class:`~workbench.project.journal.EvalAnswer`: undoable, in the
history); :mod:`workbench.curate.eval_set` writes it as the assistant turn of that input when it is
drawn (``"reference": true``). Surrounding blanks are not kept; an empty answer clears one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from workbench.curate.eval_set import EvalSetError


def answer_op(items: Sequence[tuple[tuple[int, int], str]], label: str = ""):
    """The journal op recording reference answers ``[((source_id, line), text), ...]`` (``""``
    clears one): one :class:`~workbench.project.journal.EvalAnswer`, or a batch of them (one
    undoable step)."""
    from workbench.project.journal import Batch, EvalAnswer

    ops = [EvalAnswer(eid, str(text or "").strip()) for eid, text in items]  # surrounding blanks are not kept
    if not ops:
        raise EvalSetError("No reference answers to record.")
    if len(ops) == 1:
        return ops[0]
    return Batch(ops, label or f"Reference answers for {len(ops)} inputs")


def read_answers(ws: Any, path: str | Path) -> tuple[list[tuple[tuple[int, int], str]], int]:
    """Reference answers from a JSONL file, one object per line naming a production input by
    ``"source"`` (name or id) or ``"source_id"`` and ``"line"``, with the answer as ``"answer"``
    (``""`` clears it) or as the last assistant turn of ``"messages"`` -- so the eval set's own
    ``eval_set.jsonl``, with assistant turns filled in, can be read back. Returns
    ``([((source_id, line), text), ...], lines without an answer)``; any line that names no
    production input or is not JSON raises :class:`InputError` with ``file:line: reason``."""
    from workbench.core.errors import InputError
    from workbench.curate.actions import find_ref

    path = Path(path).expanduser()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the answers file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    items: dict[tuple[int, int], str] = {}
    problems: list[str] = []
    skipped = 0
    for k, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            problems.append(f"{path}:{k}: not a JSON object")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{k}: not a JSON object")
            continue
        if "answer" in obj:
            answer = obj["answer"]
            if answer is None:
                answer = ""
            if not isinstance(answer, str):
                problems.append(f"{path}:{k}: \"answer\" is text, not {type(answer).__name__}")
                continue
        else:
            msgs = obj.get("messages")
            turns = [m for m in msgs if isinstance(m, dict) and m.get("role") == "assistant"] \
                if isinstance(msgs, list) else []
            if not turns:
                skipped += 1  # an eval-set record nobody answered yet
                continue
            answer = turns[-1].get("content")
            if not isinstance(answer, str):
                problems.append(f"{path}:{k}: the assistant turn's content is not text")
                continue
        try:
            row = find_ref(ws, line)
        except InputError as exc:
            problems.append(f"{path}:{k}: {exc.user_message.split(': ', 1)[-1]}")
            continue
        if str(ws.role[row]) != "production":
            problems.append(f"{path}:{k}: {ws.source_name(row)}:{ws.example_id(row)[1]} is a {ws.role[row]} "
                            "example, not a production input")
            continue
        items[ws.example_id(row)] = answer
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError("Lines of the answers file that cannot be used:\n" + "\n".join(problems[:5]) + more)
    return list(items.items()), skipped
