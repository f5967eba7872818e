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
