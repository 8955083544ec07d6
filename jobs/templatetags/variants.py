"""How the variant pages show CSQ values (the CSQ itself stays as VEP writes it)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def protein_change(hgvsp: str | None) -> str:
    """An HGVSp as a reader wants it: the ``p.`` part (the protein id before ``:`` left out, such as
    VEP's ``.1`` for a gene model without protein ids) with VEP's escaped ``=`` as ``=``:
    ``.1:p.Leu17%3D`` -> ``p.Leu17=``."""
    if not hgvsp:
        return ""
    return hgvsp.rsplit(":", 1)[-1].replace("%3D", "=")
