"""Project settings: JSON values by key, stored in the project file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from workbench.project.project import Project


class Settings:
    """Project settings: JSON values by key, written durably on ``set``.

    Keys used by the app (others may add their own, namespaced like ``analysis.dir``):
    ``unit`` (analysis unit, default ``last_user``), ``analysis.dir``, ``analysis.revision``.
    """

    def __init__(self, project: "Project") -> None:
        self._p = project

    def get(self, key: str, default: Any = None) -> Any:
        store = self._p._store_open()
        return store.get_setting(key) if store.has_setting(key) else default

    def set(self, key: str, value: Any) -> None:
        self._p._store_open().set_setting(key, value)

    def delete(self, key: str) -> None:
        self._p._store_open().delete_setting(key)

    def items(self) -> dict[str, Any]:
        return self._p._store_open().settings_items()

    def __getitem__(self, key: str) -> Any:
        store = self._p._store_open()
        if not store.has_setting(key):
            raise KeyError(key)
        return store.get_setting(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __contains__(self, key: str) -> bool:
        return self._p._store_open().has_setting(key)
