"""Column-wise accumulation of loaded records, shared by every container reader.

A reader feeds :class:`Collector` one item per record in file order: ``add(line, raw, obj)`` for a
parsed value or ``error(line, reason)`` for a line that could not be parsed. The collector detects
the schema from the first :data:`~workbench.io.schemas.DETECT_SAMPLE` objects (or resolves the one
the user gave), validates *every* record against it, and fills the columns of
:class:`~workbench.io.source_data.SourceData`. Until the schema is known, items wait in order, so errors
come out sorted by line and strict mode stops at the first bad line of the file.
"""

from __future__ import annotations

import json
import re
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import InputError, StrictModeError
from workbench.io.source_data import DEFAULT_UNIT, SCHEMAS, UNITS, LoadError, SourceData
from workbench.io.schemas import (
    DETECT_SAMPLE,
    MAPPING_KEYS,
    SCHEMA_TITLES,
    Detection,
    RecordError,
    detect,
    mixed_reason,
    owned_keys,
    record_turns,
    summarise,
)

_BIG_INT = re.compile(r"\d{19}")
_CHECK_TYPES = (float, dict, list)
SHORT = 64  # responses up to this length are shared between records (labels repeat a lot)


class Collector:
    def __init__(
        self,
        path: Path,
        container: str,
        *,
        schema: str | None = None,
        unit: str = DEFAULT_UNIT,
        mapping: dict[str, str] | None = None,
        strict: bool = False,
    ):
        if unit not in UNITS:
            raise InputError(f"unknown analysis unit {unit!r}; use one of {', '.join(UNITS)}")
        if schema is not None and schema not in SCHEMAS:
            raise InputError(f"unknown schema {schema!r}; use one of {', '.join(SCHEMAS)}")
        bad = sorted(set(mapping or {}) - set(MAPPING_KEYS))
        if bad:
            raise InputError(f"unknown mapping key(s) {', '.join(bad)}; use {', '.join(MAPPING_KEYS)}")
        self.path = Path(path)
        self.container = container
        self.schema_arg = schema
        self.mapping_arg = dict(mapping) if mapping else None
        self.unit = unit
        self.strict = strict
        self.detection: Detection | None = None
        # True once the schema is chat with the usual field name: a reader may then pass
        # (system, prompt, response, n_turns) tuples it extracted itself for the plain shapes.
        self.fast_chat = False
        self._pending: list[tuple[int, str | None, Any]] = []  # (line, raw or None, obj or reason)
        self._pending_objects = 0
        self.lines = array("q")
        self.n_turns = array("i")
        self.raw: list[str] = []
        self.system: list[str] = []
        self.prompt: list[str] = []
        self.response: list[str] = []
        self.extra: dict[str, list[Any]] = {}
        self.errors: list[LoadError] = []
        self.notes: list[str] = []
        self.stats: dict[str, Any] = {}
        self._shared: dict[str, str] = {}
        self.roles: dict[str, int] = {}
        self._fast_shapes = [0, 0]  # records of the chat fast path: (user, assistant), (system, user, assistant)

    # ------------------------------------------------------------------------------ feeding
    def error(self, line: int, reason: str) -> None:
        if self.detection is None:
            self._pending.append((line, None, reason))
            return
        self._error(line, reason)

    def _error(self, line: int, reason: str) -> None:
        if self.strict:
            raise StrictModeError(f"{self.path}:{line}: {reason} (strict mode stops at the first bad line)",
                                  str(self.path), line, reason)
        self.errors.append(LoadError(str(self.path), line, reason))

    def add(self, line: int, raw: str, obj: Any) -> None:
        if self.detection is not None:
            self._add(line, raw, obj)
            return
        self._pending.append((line, raw, obj))
        if type(obj) is dict:
            self._pending_objects += 1
            if self._pending_objects >= DETECT_SAMPLE:
                self._flush()

    def add_batch(self, nums: list[int], raws: list[str], objs: list[Any]) -> None:
        """Many parsed lines at once (same as ``add`` for each, in order; the hot path)."""
        i = 0
        while self.detection is None and i < len(raws):
            self.add(nums[i], raws[i], objs[i])
            i += 1
        if i:
            nums, raws, objs = nums[i:], raws[i:], objs[i:]
        if not raws:
            return
        if self._schema == "chat" and self.unit != "conversation":
            self._batch_chat(nums, raws, objs)
        else:
            add = self._add
            for line, raw, obj in zip(nums, raws, objs):
                add(line, raw, obj)

    def _batch_chat(self, nums: list[int], raws: list[str], objs: list[Any]) -> None:
        """Chat records of the common shapes ([system,] user, assistant with plain string contents
        and no other keys) without the general validation calls; anything else takes ``_add``."""
        key = self._fields.get("messages", "messages")
        lines_append, raw_append = self.lines.append, self.raw.append
        sys_append, prompt_append = self.system.append, self.prompt.append
        resp_append, turns_append = self.response.append, self.n_turns.append
        shared = self._shared
        slow = self._add
        shapes = self._fast_shapes
        for line, raw, obj in zip(nums, raws, objs):
            if type(obj) is tuple:  # extracted by the reader's fast path
                system, prompt, response, n = obj
                lines_append(line)
                raw_append(raw)
                sys_append(shared.setdefault(system, system) if system else system)
                prompt_append(prompt)
                resp_append(shared.setdefault(response, response) if len(response) <= SHORT else response)
                turns_append(n)
                shapes[n - 2] += 1
                continue
            msgs = obj.get(key) if type(obj) is dict and len(obj) == 1 else None
            if type(msgs) is list:
                n = len(msgs)
                if n == 2:
                    u, a = msgs
                    s = None
                elif n == 3:
                    s, u, a = msgs
                else:
                    slow(line, raw, obj)
                    continue
                if (
                    type(u) is dict and type(a) is dict and len(u) == 2 and len(a) == 2
                    and u.get("role") == "user" and a.get("role") == "assistant"
                ):
                    prompt, response = u.get("content"), a.get("content")
                    if s is None:
                        system = ""
                    elif type(s) is dict and len(s) == 2 and s.get("role") == "system":
                        system = s.get("content")
                    else:
                        system = None
                    if type(prompt) is str and type(response) is str and type(system) is str:
                        lines_append(line)
                        raw_append(raw)
                        sys_append(shared.setdefault(system, system) if system else system)
                        prompt_append(prompt)
                        resp_append(shared.setdefault(response, response) if len(response) <= SHORT else response)
                        turns_append(n)
                        shapes[n - 2] += 1
                        continue
            slow(line, raw, obj)

    def _flush(self) -> None:
        objects = [o for _, raw, o in self._pending if raw is not None and type(o) is dict]
        if objects or self.schema_arg or self.mapping_arg:
            try:
                self.detection = detect(objects, self.schema_arg, self.mapping_arg)
            except RecordError as exc:
                raise InputError(f"{self.path.name}: {exc.reason}") from None
            self._prepare()
            if self.detection.note:
                self.notes.append(self.detection.note)
        pending, self._pending = self._pending, []
        for line, raw, obj in pending:
            if raw is None:
                self._error(line, obj)
            elif self.detection is None:
                self._error(line, record_error_reason(obj))
            else:
                self._add(line, raw, obj)

    def _prepare(self) -> None:
        d = self.detection
        self._schema = d.schema
        self._fields = d.fields
        self._owned = owned_keys(d.schema, d.fields)
        self.fast_chat = d.schema == "chat" and self.unit != "conversation" and d.fields.get("messages") == "messages"

    def _add(self, line: int, raw: str, obj: Any) -> None:
        try:
            turns = record_turns(obj, self._schema, self._fields)
            system, prompt, response = summarise(turns, self.unit)
        except RecordError as exc:
            reason = exc.reason
            if type(obj) is dict:
                reason = mixed_reason(obj, self._schema, reason, self._fields, given=bool(self.schema_arg))
            self._error(line, reason)
            return
        i = len(self.raw)
        self.lines.append(line)
        self.raw.append(raw)
        shared = self._shared
        if system:
            system = shared.setdefault(system, system)
        self.system.append(system)
        self.prompt.append(prompt)
        if len(response) <= SHORT:
            response = shared.setdefault(response, response)
        self.response.append(response)
        self.n_turns.append(len(turns))
        roles = self.roles
        for r, _ in turns:
            roles[r] = roles.get(r, 0) + 1
        owned = self._owned
        if any(type(obj[k]) in _CHECK_TYPES for k in obj if k not in owned) and _BIG_INT.search(raw):
            # orjson reads integers beyond 64 bits as floats: re-read the line exactly (rare).
            obj = json.loads(raw)
        for k in obj:
            if k not in owned:
                col = self.extra.get(k)
                if col is None:
                    col = self.extra[k] = [None] * i
                elif len(col) < i:
                    col.extend([None] * (i - len(col)))
                col.append(obj[k])

    # ------------------------------------------------------------------------------- result
    def finish(self, total_lines: int, mapping_used: bool = False, *, sha256: str = "") -> SourceData:
        if self.detection is None:
            self._flush()
        n = len(self.raw)
        for col in self.extra.values():
            if len(col) < n:
                col.extend([None] * (n - len(col)))
        if n == 0:
            raise self._no_records()
        d = self.detection
        two, three = self._fast_shapes
        for role, count in (("system", three), ("user", two + three), ("assistant", two + three)):
            if count:
                self.roles[role] = self.roles.get(role, 0) + count
        order = {r: i for i, r in enumerate(("system", "user", "assistant", "tool"))}
        stats = {"roles": dict(sorted(self.roles.items(), key=lambda kv: order.get(kv[0], 9)))}
        stats.update(self.stats)
        return SourceData(
            path=self.path,
            schema=d.schema,
            container=self.container,
            lines=np.frombuffer(self.lines, dtype=np.int64).copy(),
            raw=self.raw,
            system=self.system,
            prompt=self.prompt,
            response=self.response,
            n_turns=np.frombuffer(self.n_turns, dtype=np.int32).copy(),
            extra=self.extra,
            errors=self.errors,
            total_lines=total_lines,
            unit=self.unit,
            mapping=dict(d.fields),
            notes=self.notes,
            stats=stats,
            sha256=sha256,
        )

    def _no_records(self) -> InputError:
        name = self.path.name
        if not self.errors:
            exc = InputError(f"{name}: no records (the file holds only blank lines)")
        else:
            first = self.errors[0]
            more = f" (and {len(self.errors) - 1} more bad lines)" if len(self.errors) > 1 else ""
            schema = f" as {SCHEMA_TITLES[self.detection.schema]}" if self.detection else ""
            exc = InputError(
                f"{name}: no record could be loaded{schema}; line {first.line}: {first.reason}{more}",
                "\n".join(str(e) for e in self.errors[:50]),
            )
        exc.errors = list(self.errors)  # type: ignore[attr-defined]
        return exc


def record_error_reason(obj: Any) -> str:
    """Why a value that is not a JSON object is not a record."""
    try:
        record_turns(obj, "text", {"prompt": "text"})
    except RecordError as exc:
        return exc.reason
    return "not a record"  # pragma: no cover - record_turns always raises for non-objects
