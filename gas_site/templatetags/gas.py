from __future__ import annotations

from django import template

register = template.Library()

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@register.filter
def duration(seconds: int | float | None) -> str:
    """3700 -> "1 hour 1 minute"; the two largest units that are not zero."""
    if seconds is None:
        return ""
    remaining = int(seconds)
    if remaining <= 0:
        return "0 seconds"
    parts = []
    for name, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts[:2])
