"""Django-style pluggable backends: ``{"alias": {"BACKEND": "dotted.path", "OPTIONS": {...}}}``.

Like ``django.core.cache.caches``: an instance per alias, created lazily on first use and
dropped when the setting changes (``override_settings`` in tests), so tests can swap a
backend without touching the code that uses it.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

BackendT = TypeVar("BackendT")

_handlers: dict[str, BackendHandler[Any]] = {}


class BackendHandler(Generic[BackendT]):
    """Creates and caches one backend instance per alias of a settings dict."""

    def __init__(self, settings_name: str) -> None:
        self.settings_name = settings_name
        self._instances: dict[str, BackendT] = {}
        self._lock = threading.Lock()
        _handlers[settings_name] = self

    @property
    def configuration(self) -> dict[str, dict[str, Any]]:
        value = getattr(settings, self.settings_name, None)
        if not isinstance(value, dict) or not value:
            raise ImproperlyConfigured(f"settings.{self.settings_name} must be a non-empty dict of aliases.")
        return value

    def aliases(self) -> list[str]:
        return list(self.configuration)

    def __getitem__(self, alias: str) -> BackendT:
        with self._lock:
            instance = self._instances.get(alias)
            if instance is None:
                instance = self._create(alias)
                self._instances[alias] = instance
            return instance

    def _create(self, alias: str) -> BackendT:
        try:
            entry = self.configuration[alias]
        except KeyError:
            raise ImproperlyConfigured(
                f"settings.{self.settings_name} has no alias {alias!r} (known: {', '.join(self.configuration)})."
            ) from None
        try:
            backend_class = import_string(entry["BACKEND"])
        except (KeyError, ImportError) as exc:
            raise ImproperlyConfigured(
                f"settings.{self.settings_name}[{alias!r}] has no importable BACKEND: {exc}"
            ) from exc
        options = dict(entry.get("OPTIONS", {}))
        if "NAME" in entry:
            options["name"] = entry["NAME"]
        return backend_class(alias=alias, **options)

    def reset(self) -> None:
        with self._lock:
            self._instances.clear()


@receiver(setting_changed)
def _reset_backends_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    handler = _handlers.get(setting)
    if handler is not None:
        handler.reset()
