"""How the variant pages show CSQ values (the CSQ itself stays as VEP writes it)."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def protein_change(hgvsp: str | None) -> str:
    """An HGVSp as a reader wants it: the ``p.`` part (the protein id before ``:`` left out, such as
    VEP's ``.1`` for a gene model without protein ids) with VEP's escaped ``=`` as ``=``:
    ``.1:p.Leu17%3D`` -> ``p.Leu17=``."""
    if not hgvsp:
        return ""
    return hgvsp.rsplit(":", 1)[-1].replace("%3D", "=")


@register.filter
def coding_change(hgvsc: str | None, limit: int = 28) -> str:
    """An HGVSc as the table shows it: the change without its transcript (the row names the
    transcript), cut to ``limit`` characters with an ellipsis (the whole value on hover):
    ``SRC-T2:c.1219G>A`` -> ``c.1219G>A``."""
    if not hgvsc:
        return ""
    change = hgvsc.rsplit(":", 1)[-1]
    return change if len(change) <= limit else change[: limit - 1] + "\u2026"


@register.filter
def join_list(value: object) -> str:
    """A URL parameter as a form field shows it: a repeated one's values joined by commas."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


@register.filter
def field_value(entry: dict, name: str) -> str:
    """An entry's value of a field whose name the template holds in a variable."""
    value = entry.get(name)
    return "" if value is None else str(value)


@register.filter
def soft_breaks(value: object) -> str:
    """A term or value that may wrap where a reader would break it: after ``_``, ``&``, ``,`` and
    ``/`` (``non_coding_transcript_exon_variant`` over two lines, never mid-word); escaped."""
    text = str(escape("" if value is None else str(value)))
    for mark in ("_", "&amp;", ",", "/"):
        text = text.replace(mark, f"{mark}<wbr>")
    return mark_safe(text)  # noqa: S308 (escaped above; only <wbr> added)
