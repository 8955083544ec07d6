"""Typed readers for environment variables that fail loudly on a bad value.

Settings are read once at start-up; a typo such as ``GAS_QUEUE=sqss`` must stop the
process with a message naming the variable, not silently fall back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured


class ImproperlyConfiguredEnv(ImproperlyConfigured):
    """An environment variable holds a value the service cannot use (Django's ImproperlyConfigured)."""


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfiguredEnv(f"Environment variable {name} is required but not set.")
        if default is None:
            return ""
        return default
    return value


MAX_SECRET_FILE_BYTES = 64 * 1024


def env_secret(name: str, default: str | None = None, *, required: bool = False) -> str:
    """A secret from ``NAME``, or from the file ``NAME_FILE`` names (Docker secrets, systemd
    credentials: ``DJANGO_SECRET_KEY_FILE=/run/secrets/django_key``), its final newline dropped.
    Both set is an error: which one would win is not obvious."""
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return env_str(name, default, required=required)
    if os.environ.get(name):
        raise ImproperlyConfiguredEnv(f"Environment variables {name} and {name}_FILE are both set: set one.")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ImproperlyConfiguredEnv(
            f"Environment variable {name}_FILE: cannot read the file ({exc.strerror})."
        ) from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}_FILE: the file is larger than 64 KiB.")
    value = raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
    if not value and required:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}_FILE names an empty file.")
    return value or (default or "")


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    value = env_str(name, default).strip().lower()
    if value not in allowed:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}={value!r} is not one of: {', '.join(allowed)}.")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = env_str(name, str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}={value} is below {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfiguredEnv(f"Environment variable {name}={value} is above {maximum}.")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(
        f"Environment variable {name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no, on/off)."
    )


def env_list(name: str, default: Iterable[str]) -> list[str]:
    raw = env_str(name, "")
    if raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]
