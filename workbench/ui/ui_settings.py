"""The app's own settings (window layout, recent files, colour-by) in the shared settings file.

Stored under the ``"ui"`` key of ``paths.settings_file()`` (JSON, versioned, human-readable;
other parts of the workbench keep their own keys in the same file and are left untouched).
Binary Qt state (geometry, dock layout) is base64 text.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

from workbench.core import paths

log = logging.getLogger(__name__)

VERSION = 1
MAX_RECENT = 10


def _read_all() -> dict:
    f = paths.settings_file()
    if not f.exists():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError) as exc:
        log.warning("settings file unreadable, using defaults: %s", exc)
        return {}


def load() -> dict:
    ui = _read_all().get("ui", {})
    return ui if isinstance(ui, dict) and ui.get("version", VERSION) <= VERSION else {}


def save(ui: dict) -> None:
    data = _read_all()
    ui = dict(ui)
    ui["version"] = VERSION
    data["ui"] = ui
    try:
        from workbench.io.writers import atomic_writer

        with atomic_writer(paths.settings_file()) as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
    except Exception as exc:  # noqa: BLE001 - settings must never stop the app
        log.warning("could not save settings: %s", exc)


def get(key: str, default: Any = None) -> Any:
    return load().get(key, default)


def put(**values: Any) -> None:
    ui = load()
    ui.update(values)
    save(ui)


def encode(blob: bytes) -> str:
    return base64.b64encode(bytes(blob)).decode("ascii")


def decode(text: str | None) -> bytes:
    try:
        return base64.b64decode(text or "")
    except (ValueError, TypeError):
        return b""


def recent() -> list[str]:
    return [p for p in get("recent", []) if isinstance(p, str)]


def add_recent(path: str | Path) -> list[str]:
    p = str(Path(path).resolve())
    items = [p] + [r for r in recent() if r != p]
    items = items[:MAX_RECENT]
    put(recent=items)
    return items


def projects_dir() -> Path:
    """Where projects made for you live (the sample project, ``workbench FILE...``)."""
    d = paths.home() / "projects"
    d.mkdir(parents=True, exist_ok=True)
    return d
