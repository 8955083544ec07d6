"""VEP's transcript flag columns (--canonical, --mane, --tsl, --appris, --ccds, --protein).

Each option adds its columns after HGNC_ID, in VEP's order whatever order they were asked in;
the values come from the gene model's tags (gene_models.transcript_flags) and are empty where it
has none, and on intergenic entries."""

from __future__ import annotations

from jobs.annotation.model import Transcript
from jobs.annotation.terms import CSQ_FIELDS

# The values a transcript carries, in this order (gene_models fills them)
FLAG_FIELDS = ("CANONICAL", "MANE", "MANE_SELECT", "MANE_PLUS_CLINICAL", "TSL", "APPRIS", "CCDS")
NO_FLAGS = ("",) * len(FLAG_FIELDS)
_AT = {name: at for at, name in enumerate(FLAG_FIELDS)}
# Each option's columns, in VEP's order (ENSP is the protein_id every model carries)
FLAG_OPTIONS: dict[str, tuple[str, ...]] = {
    "canonical": ("CANONICAL",),
    "mane": ("MANE", "MANE_SELECT", "MANE_PLUS_CLINICAL"),
    "tsl": ("TSL",),
    "appris": ("APPRIS",),
    "ccds": ("CCDS",),
    "protein": ("ENSP",),
}
FLAGS_AFTER = CSQ_FIELDS.index("HGNC_ID")


def flag_columns(options: tuple[str, ...]) -> list[str]:
    """The CSQ columns of ``options`` (names from FLAG_OPTIONS), in VEP's order."""
    unknown = sorted(set(options) - set(FLAG_OPTIONS))
    if unknown:
        raise ValueError(f"unknown flag option {unknown[0]!r}: expected some of {', '.join(FLAG_OPTIONS)}")
    return [column for option, columns in FLAG_OPTIONS.items() if option in options for column in columns]


def flag_values(transcript: Transcript | None, columns: tuple[str, ...]) -> str:
    """``columns``' values for one entry, each followed by "|"."""
    if transcript is None:
        return "|" * len(columns)
    flags = transcript.flags or NO_FLAGS
    values = [transcript.protein_id if column == "ENSP" else flags[_AT[column]] for column in columns]
    return "|".join(values) + "|"


def insert_after(entry: str, field: int, text: str) -> str:
    """``entry`` with ``text`` (fields each ending in "|") inserted after its field number ``field``."""
    at = -1
    for _ in range(field + 1):
        at = entry.index("|", at + 1)
    return f"{entry[: at + 1]}{text}{entry[at + 1 :]}"
