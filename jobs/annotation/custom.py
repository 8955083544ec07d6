"""Annotation sources matched allele-exactly, as VEP's ``--custom ...,format=vcf,type=exact``.

A source is a bgzipped, tabix-indexed VCF. Each allele gets the IDs of the source lines that
carry the same allele and, for each requested INFO field, the value for that allele (Number=A
and Number=R fields are split per ALT); several matching lines are joined with ``&``. Alleles
are compared in their minimal form (common leading and trailing bases removed from both sides),
so a multi-allelic record on either side, or a padded indel, still matches its allele. The CSQ
fields are named as VEP names them: ``<short_name>`` (the IDs) and ``<short_name>_<FIELD>``.
Symbolic alleles are not matched in exact mode, as VEP.

Lines are read a window at a time (sorted input reads each window once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam

from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import contig_aliases
from jobs.annotation.terms import csq_escape
from jobs.annotation.vcf import info_fields

_WINDOW = 1 << 20
_REACH = 1024  # (a source line this far before a window can still have its allele inside it)
_WINDOWS_KEPT = 4


@dataclass(frozen=True)
class CustomSpec:
    """One source, as VEP's ``--custom file=…,short_name=…,format=vcf,type=exact,fields=A%B``."""

    path: str
    short_name: str
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> CustomSpec:
        """VEP's --custom syntax (key=value pairs separated by commas); a clear error otherwise."""
        options: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise AnnotationError(f"--custom {text!r}: expected key=value pairs, found {part!r}")
            options[key.strip()] = value.strip()
        unknown = set(options) - {"file", "short_name", "format", "type", "fields", "coords"}
        if unknown:
            raise AnnotationError(f"--custom {text!r}: unknown option(s) {', '.join(sorted(unknown))}")
        if "file" not in options:
            raise AnnotationError(f"--custom {text!r}: file= is required")
        if options.get("format", "vcf") != "vcf":
            raise AnnotationError(f"--custom {text!r}: only format=vcf is supported")
        if options.get("type", "exact") != "exact":
            raise AnnotationError(f"--custom {text!r}: only type=exact is supported")
        if options.get("coords", "0") != "0":
            raise AnnotationError(f"--custom {text!r}: only coords=0 is supported")
        path = options["file"]
        short = options.get("short_name") or Path(path).name
        fields = tuple(field for field in options.get("fields", "").split("%") if field)
        return cls(path=path, short_name=short, fields=fields)


def minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The allele without the bases REF and ALT share at their ends (leading first, then trailing),
    so a padded or untrimmed multi-allelic form and the trimmed one compare equal."""
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return pos, ref, alt


class CustomSource:
    """An open source: its header checked, its lines read a window at a time."""

    def __init__(self, spec: CustomSpec) -> None:
        self.spec = spec
        path = Path(spec.path)
        if not path.is_file():
            raise AnnotationError(f"custom source {spec.short_name}: {path} does not exist")
        try:
            self._tabix = pysam.TabixFile(str(path))
        except (OSError, ValueError) as exc:
            raise AnnotationError(
                f"custom source {spec.short_name}: {path} is not a bgzipped, tabix-indexed file ({exc})"
            ) from exc
        self._contigs = set(self._tabix.contigs)
        self.numbers, self.descriptions = _declared_info(path)
        missing = [field for field in spec.fields if field not in self.numbers]
        if missing:
            raise AnnotationError(
                f"custom source {spec.short_name}: {path.name} has no INFO field {', '.join(missing)} in its header"
            )
        self._windows: dict[tuple[str, int], dict[tuple[int, str, str], list[tuple[str, str, int]]]] = {}

    @property
    def csq_fields(self) -> list[str]:
        return [self.spec.short_name, *(f"{self.spec.short_name}_{field}" for field in self.spec.fields)]

    def header_lines(self) -> list[str]:
        path = self.spec.path
        lines = [f'##INFO=<ID={self.spec.short_name},Number=.,Type=String,Description="{path}">']
        for field in self.spec.fields:
            known = self.descriptions.get(field, "")  # (VEP's wording: "<description>. AF field from <file>")
            description = f"{known}. {field} field from {path}" if known else f"{field} field from {path}"
            lines.append(f'##INFO=<ID={self.spec.short_name}_{field},Number=.,Type=String,Description="{description}">')
        return lines

    def values(self, contig: str, pos: int, ref: str, alt: str) -> list[str]:
        """The CSQ values (IDs, then each field) for one allele; empty strings when none matches."""
        key = (pos, ref, alt) if len(ref) == 1 and len(alt) == 1 else minimal(pos, ref, alt)
        window = (contig, key[0] // _WINDOW)
        sites = self._windows.get(window)
        if sites is None:
            if len(self._windows) >= _WINDOWS_KEPT:
                del self._windows[next(iter(self._windows))]
            sites = self._windows[window] = self._load(contig, window[1] * _WINDOW)
        found = sites.get(key)
        if not found:
            return [""] * (1 + len(self.spec.fields))
        rows = [self._row(ident, info, index) for ident, info, index in found]
        return ["&".join(row[i] for row in rows) for i in range(1 + len(self.spec.fields))]

    def _row(self, ident: str, info_text: str, index: int) -> list[str]:
        """One matching line's values (its INFO parsed only now, on a match)."""
        info = info_fields(info_text)
        row = [csq_escape(ident if ident != "." else "")]
        for field in self.spec.fields:
            row.append(csq_escape(_field_value(info.get(field), self.numbers[field], index)))
        return row

    def _load(self, contig: str, start: int) -> dict[tuple[int, str, str], list[tuple[str, str, int]]]:
        """The window's lines by allele: (ID, INFO text, ALT index), INFO left unparsed."""
        sites: dict[tuple[int, str, str], list[tuple[str, str, int]]] = {}
        name = next((alias for alias in contig_aliases(contig) if alias in self._contigs), None)
        if name is None:
            return sites
        stop = start + _WINDOW
        for line in self._tabix.fetch(name, max(0, start - _REACH), stop):
            columns = line.split("\t", 8)
            pos, ident, ref, alt_text = int(columns[1]), columns[2], columns[3], columns[4]
            info = columns[7] if len(columns) > 7 else ""
            if len(ref) == 1 and len(alt_text) == 1:  # (one base for one: the commonest line)
                if start <= pos < stop and alt_text != "*" and alt_text != ".":
                    sites.setdefault((pos, ref.upper(), alt_text.upper()), []).append((ident, info, 0))
                continue
            ref = ref.upper()
            for index, alt in enumerate(alt_text.upper().split(",")):
                if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
                    continue
                key = minimal(pos, ref, alt)
                if start <= key[0] < stop:
                    sites.setdefault(key, []).append((ident, info, index))
        return sites


def _declared_info(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each INFO field's Number and Description, from the header as htslib parses it."""
    numbers: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    with pysam.VariantFile(str(path)) as variants:
        for key in list(variants.header.info.keys()):
            declared: Any = variants.header.info[key]  # (pysam's stubs say Number is a str; 1 is an int)
            numbers[str(key)] = str(declared.number)
            descriptions[str(key)] = str(declared.description or "")
    return numbers, descriptions


def _field_value(value: str | None, number: str, index: int) -> str:
    if value is None:
        return ""
    if number in ("A", "R"):
        parts = value.split(",")
        at = index if number == "A" else index + 1
        return parts[at] if at < len(parts) else ""
    return value
