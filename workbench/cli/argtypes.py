"""Argument types shared by the commands: a bad value is one clear line from argparse
("workbench export: error: argument --seed: ..."), never a traceback from deep inside a runner."""

from __future__ import annotations

import argparse


def fraction(text: str) -> float:
    """A number strictly between 0 and 1 (e.g. a train fraction 0.9)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (e.g. 0.9), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"is the training fraction, between 0 and 1 (e.g. 0.9); got {text}")
    return value


def whole(minimum: int = 0, maximum: int | None = None):
    """A whole number >= ``minimum`` (and <= ``maximum``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum:,}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{upper}; got {text}")
        return value

    parse.__name__ = "whole number"
    return parse


SEED = whole(0, 2**32 - 1)


def mapping(text: str) -> dict[str, str]:
    """``--map`` of inspect, add and embed alike: ``KEY=FIELD`` pairs, comma-separated and/or
    repeated (``--map prompt=q,response=a`` = ``--map prompt=q --map response=a``); keys are the
    record parts of :data:`workbench.io.formats.MAPPING_KEYS`."""
    from workbench.io.formats import MAPPING_KEYS

    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, col = part.partition("=")
        key, col = key.strip(), col.strip()
        if not sep or not key or not col:
            raise argparse.ArgumentTypeError(f"expected KEY=FIELD (e.g. prompt=question), got {part!r}")
        if key not in MAPPING_KEYS:
            raise argparse.ArgumentTypeError(f"unknown key {key!r}; use {', '.join(MAPPING_KEYS)}")
        out[key] = col
    if not out:
        raise argparse.ArgumentTypeError("empty mapping: expected KEY=FIELD (e.g. prompt=question)")
    return out


def merged(mappings) -> dict[str, str] | None:
    """The ``--map`` values (dicts from :func:`mapping`, or raw strings) merged; None when none."""
    out: dict[str, str] = {}
    for m in mappings or []:
        out.update(mapping(m) if isinstance(m, str) else m)
    return out or None


MAP_HELP = ("field or column for a part of the record: KEY=FIELD, repeated or comma-separated, e.g. "
            "--map prompt=question --map response=answer (= --map prompt=question,response=answer); "
            "keys: prompt, response, system, input, history, messages, conversations")
