"""Annotation sources, as VEP's ``--custom``: VCFs matched allele-exactly (``type=exact``) and
VCF or BED features reported where they overlap a variant (``type=overlap``).

A source is a bgzipped, tabix-indexed file. In exact mode each allele gets the IDs of the source
lines that carry the same allele and, for each requested INFO field, the value for that allele
(Number=A and Number=R fields are split per ALT); several matching lines are joined with ``&``.
Alleles are compared in their minimal form (common leading and trailing bases removed from both
sides), so a multi-allelic record on either side, or a padded indel, still matches its allele.
Symbolic alleles are not matched in exact mode, as VEP.

In overlap mode every feature whose span meets the variant's is reported: a BED line by its name
(4th column; ``chrom:start-end`` when it has none), a VCF line by its first ID, with its fields'
whole values. A VCF line spans POS..POS+len(REF)-1, a BED line start+1..end; an insertion is
taken to span the two bases either side of it; a structural variant its whole span.

The CSQ fields are named as VEP names them: ``<short_name>`` (the IDs or names) and
``<short_name>_<FIELD>``. Lines are read a window at a time (sorted input reads each window once).
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import heapq
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pysam

from jobs.annotation.errors import AnnotationError
from jobs.annotation.reference import contig_aliases
from jobs.annotation.terms import csq_escape

_WINDOW: Final = 1 << 16  # (64 kb: a dense source's window stays small in memory)
_REACH: Final = 1024  # (a source line this far before a window can still have its allele inside it)
_WINDOWS_KEPT: Final = 4

FORMATS = ("vcf", "bed")
TYPES = ("exact", "overlap")


@dataclass(frozen=True)
class CustomSpec:
    """One source, as VEP's ``--custom file=…,short_name=…,format=vcf,type=exact,fields=A%B``."""

    path: str
    short_name: str
    fields: tuple[str, ...]
    format: str = "vcf"
    type: str = "exact"
    shown: str = ""  # what the output's header names it by (a service's source: never the server's path)

    def __post_init__(self) -> None:
        label = f"custom source {self.short_name}"
        if self.format not in FORMATS:
            raise AnnotationError(f"{label}: format={self.format} is not supported (expected vcf or bed)")
        if self.type not in TYPES:
            raise AnnotationError(f"{label}: type={self.type} is not supported (expected exact or overlap)")
        if self.format == "bed" and self.type != "overlap":
            raise AnnotationError(f"{label}: a BED source is matched by overlap only (type=overlap)")
        if self.format == "bed" and self.fields:
            raise AnnotationError(f"{label}: a BED source has no fields (its 4th column is the name reported)")
        if not self.short_name or any(not (c.isalnum() or c in "_-.") for c in self.short_name):
            raise AnnotationError(
                f"{label}: the short name may hold only letters, digits and _ - . (it names a CSQ field)"
            )

    def as_tuple(self) -> tuple[str, str, tuple[str, ...], str, str, str]:
        """(For worker processes: compiled frozen dataclasses do not unpickle.)"""
        return (self.path, self.short_name, self.fields, self.format, self.type, self.shown)

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
        if options.get("coords", "0") != "0":
            raise AnnotationError(f"--custom {text!r}: only coords=0 is supported")
        path = options["file"]
        short = options.get("short_name") or Path(path).name
        fields = tuple(field for field in options.get("fields", "").split("%") if field)
        file_format = options.get("format", "vcf").lower()
        return cls(
            path=path, short_name=short, fields=fields, format=file_format,
            type=options.get("type", "exact" if file_format == "vcf" else "overlap"),
        )  # fmt: skip


def minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The allele without the bases REF and ALT share at their ends (leading first, then trailing),
    so a padded or untrimmed multi-allelic form and the trimmed one compare equal."""
    while ref and alt and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return pos, ref, alt


def allele_key(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The key an exact source finds an allele by: its minimal form (a SNV as it is)."""
    return (start, ref, alt) if len(ref) == 1 and len(alt) == 1 else minimal(start, ref, alt)


def open_source(spec: CustomSpec) -> CustomSource:
    """The source for ``spec``, its file and header checked."""
    if spec.type == "overlap":
        return OverlapSource(spec)
    return ExactSource(spec)


class CustomSource:
    """An open source: its file checked; ``values`` gives an allele's CSQ values."""

    def __init__(self, spec: CustomSpec) -> None:
        self.spec = spec
        path = Path(spec.path)
        if not path.is_file():
            raise AnnotationError(f"custom source {spec.short_name}: {path} does not exist")
        csi = Path(f"{path}.csi")
        index = str(csi) if csi.is_file() and not Path(f"{path}.tbi").is_file() else None
        try:
            self._tabix = pysam.TabixFile(str(path), index=index)
        except (OSError, ValueError) as exc:
            raise AnnotationError(
                f"custom source {spec.short_name}: {path} is not a bgzipped, tabix-indexed file ({exc})"
            ) from exc
        self._contigs = set(self._tabix.contigs)
        # each INFO field's (Number, Type, Description), as the header declares it
        self.declared = declared_info(path) if spec.format == "vcf" else {}
        self.numbers = {field: declared[0] for field, declared in self.declared.items()}
        missing = [field for field in spec.fields if field not in self.numbers]
        if missing:
            raise AnnotationError(
                f"custom source {spec.short_name}: {path.name} has no INFO field {', '.join(missing)} in its header"
            )
        self._empty = [""] * (1 + len(spec.fields))
        self.empty_text = "|" * (1 + len(spec.fields))  # (text() when nothing matches)
        self._wanted = [(field, self.numbers[field]) for field in spec.fields]
        self.matched = 0  # (alleles text() found a line for)

    @property
    def csq_fields(self) -> list[str]:
        return [self.spec.short_name, *(f"{self.spec.short_name}_{field}" for field in self.spec.fields)]

    def header_lines(self) -> list[str]:
        path = self.spec.shown or self.spec.path
        lines = [f'##INFO=<ID={self.spec.short_name},Number=.,Type=String,Description="{path}">']
        for field in self.spec.fields:
            known = self.declared[field][2]  # (VEP's wording: "<description>. AF field from <file>")
            description = f"{known}. {field} field from {path}" if known else f"{field} field from {path}"
            lines.append(f'##INFO=<ID={self.spec.short_name}_{field},Number=.,Type=String,Description="{description}">')
        return lines

    def source_contig(self, contig: str) -> str | None:
        return next((alias for alias in contig_aliases(contig) if alias in self._contigs), None)

    def values(self, contig: str, start: int, end: int, ref: str, alt: str) -> list[str]:
        """The CSQ values (IDs, then each field) of the allele ``ref``>``alt`` at ``start..end``
        (VEP's coordinates: an insertion has end = start - 1); empty strings when none matches."""
        raise NotImplementedError

    def span_values(self, contig: str, start: int, end: int) -> list[str]:
        """The same for a structural allele, known only by its span."""
        raise NotImplementedError

    def text(self, contig: str, start: int, end: int, key: tuple[int, str, str], code: int = -1) -> str:
        """``values`` as the CSQ entry carries them: each followed by ``|`` (``key``: the allele's
        ``allele_key``, ``code`` its ``snv_code``, found once for every source)."""
        return self._counted(self.values(contig, start, end, key[1], key[2]))

    def span_text(self, contig: str, start: int, end: int) -> str:
        """``span_values`` as the CSQ entry carries them."""
        return self._counted(self.span_values(contig, start, end))

    def _counted(self, found: list[str]) -> str:
        if any(found):
            self.matched += 1
        return "|".join(found) + "|"

    def _joined(self, rows: list[list[str]]) -> list[str]:
        if not rows:
            return self._empty
        if len(rows) == 1:
            return rows[0]
        return ["&".join(row[i] for row in rows) for i in range(1 + len(self.spec.fields))]

    def _field(self, info: str, field: str, index: int) -> str:
        """One field's value for ALT ``index`` (Number=A/R split), or its whole value for index -1."""
        value = info_value(info, field)
        if value is None:
            return ""
        if value == "":  # (a flag: VEP writes 1)
            return "1"
        number = self.numbers[field]
        if index >= 0 and number in ("A", "R"):
            parts = value.split(",")
            at = index if number == "A" else index + 1
            return parts[at] if at < len(parts) else ""
        if index < 0 and number == "R":
            return value.split(",", 1)[1] if "," in value else ""
        return value


def info_value(info: str, field: str) -> str | None:
    """The value of INFO field ``field`` in an INFO column ("" for a flag, None when absent),
    found without splitting the whole column (a gnomAD line has hundreds of fields)."""
    size = len(field)
    at = info.find(field)
    while at >= 0:
        end = at + size
        if at == 0 or info[at - 1] == ";":
            if end == len(info) or info[end] == ";":
                return ""
            if info[end] == "=":
                stop = info.find(";", end)
                return info[end + 1 :] if stop < 0 else info[end + 1 : stop]
        at = info.find(field, end)
    return None


# each base's code by its character code (either case), -1 for any other character
_BASE_CODES: Final = [("ACGT".find(chr(c)) if chr(c) in "ACGT" else "acgt".find(chr(c))) for c in range(128)]


def snv_code(pos: int, ref: str, alt: str) -> int:
    """A one-base substitution of A, C, G or T (either case) as one number (a cheaper key than a
    tuple), else -1."""
    if len(ref) != 1 or len(alt) != 1:
        return -1
    first, second = ord(ref), ord(alt)
    if first >= 128 or second >= 128:
        return -1
    first, second = _BASE_CODES[first], _BASE_CODES[second]
    return -1 if first < 0 or second < 0 else pos * 16 + first * 4 + second


class _Alleles:
    """One window's source alleles: the first line carrying each (a plain SNV under its ``snv_code``,
    any other under its minimal form), and any further lines of the same allele (rare)."""

    __slots__ = ("first", "more", "snvs")

    def __init__(self) -> None:
        self.snvs: dict[int, tuple[str, int]] = {}
        self.first: dict[tuple[int, str, str], tuple[str, int]] = {}
        self.more: dict[tuple[int, str, str], list[tuple[str, int]]] = {}

    def add(self, key: tuple[int, str, str], line: str, index: int) -> None:
        code = snv_code(key[0], key[1], key[2])
        if code >= 0:
            if code in self.snvs:
                self.more.setdefault(key, []).append((line, index))
            else:
                self.snvs[code] = (line, index)
        elif key in self.first:  # (not setdefault and "is": mypyc passes tuples by value)
            self.more.setdefault(key, []).append((line, index))
        else:
            self.first[key] = (line, index)

    def found(self, key: tuple[int, str, str], code: int) -> tuple[str, int] | None:
        return self.snvs.get(code) if code >= 0 else self.first.get(key)


class ExactSource(CustomSource):
    """A VCF matched allele by allele. The source is read as a stream beside a sorted input: the
    next window continues where the last one stopped (one pass over the source, no query per
    variant); a jump (unsorted input, another contig) starts a new indexed query."""

    def __init__(self, spec: CustomSpec) -> None:
        super().__init__(spec)
        self._windows: dict[tuple[str, int], _Alleles] = {}
        self._stream: _Lines | None = None
        self._offsets: dict[str, list[int]] | None = linear_index(Path(f"{spec.path}.tbi"))
        self._stream_next: tuple[str, int] = ("", -1)  # the (contig, window) the stream goes on into
        self._pending: str | None = None  # the line read past the last window's end
        self._spill = _Alleles()  # alleles of that next window met while reading the last
        self._last = self._spill  # the window asked for last, and which it is
        self._last_contig = ""
        self._last_number = -1
        # the prepared form (prepare_source), when registration made one: what text() reads
        prepared = prepared_path(spec)
        self._prepared_path = str(prepared)
        self._prepared: pysam.TabixFile | None = None
        self._prepared_offsets: dict[str, list[int]] | None = None
        if prepared.is_file() and Path(f"{prepared}.tbi").is_file():
            self._prepared = pysam.TabixFile(str(prepared))
            self._prepared_offsets = linear_index(Path(f"{prepared}.tbi"))
        self._ready: dict[tuple[str, int], _Ready] = {}
        self._ready_last = _Ready()
        self._ready_contig = ""
        self._ready_number = -1
        self._ready_stream: _Lines | None = None
        self._ready_next: tuple[str, int] = ("", -1)
        self._ready_pending: str | None = None

    def values(self, contig: str, start: int, end: int, ref: str, alt: str) -> list[str]:
        key = allele_key(start, ref, alt)
        window = self._window(contig, key[0] // _WINDOW)
        found = window.found(key, snv_code(key[0], key[1], key[2]))
        if found is None:
            return self._empty
        rows = [self._row(found[0], found[1])]
        for line, index in window.more.get(key, ()):
            rows.append(self._row(line, index))
        return self._joined(rows)

    def text(self, contig: str, start: int, end: int, key: tuple[int, str, str], code: int = -1) -> str:
        if self._prepared is not None:
            return self._ready_text(contig, key, code)
        window = self._window(contig, key[0] // _WINDOW)
        found = window.found(key, code)
        if found is None:
            return self.empty_text
        self.matched += 1
        more = window.more.get(key) if window.more else None
        if more is None:  # (the usual match: one line, its text built straight from it)
            return self._row_text(found[0], found[1])
        rows = [self._row(found[0], found[1]), *(self._row(line, index) for line, index in more)]
        return "|".join(self._joined(rows)) + "|"

    def _window(self, contig: str, number: int) -> _Alleles:
        if number == self._last_number and contig == self._last_contig:  # (most calls: the last window)
            return self._last
        known = self._windows.get((contig, number))
        if known is None:
            if len(self._windows) >= _WINDOWS_KEPT:
                del self._windows[next(iter(self._windows))]
            known = self._windows[(contig, number)] = self._load(contig, number)
        self._last, self._last_contig, self._last_number = known, contig, number
        return known

    def _row_text(self, line: str, index: int) -> str:
        """``_row`` joined, each value followed by ``|``: the ID and INFO columns found by their tabs."""
        tab1 = line.find("\t")
        tab2 = line.find("\t", tab1 + 1)
        tab3 = line.find("\t", tab2 + 1)
        ident = line[tab2 + 1 : tab3]
        at = tab3
        for _ in range(4):  # (to the tab before INFO, the eighth column)
            if at >= 0:
                at = line.find("\t", at + 1)
        info = ""
        if at >= 0:
            stop = line.find("\t", at + 1)
            info = line[at + 1 :] if stop < 0 else line[at + 1 : stop]
        text = csq_escape(ident) + "|" if ident != "." else "|"
        if "|" in info or " " in info:  # (else a value needs no escape but of its commas)
            return text + "".join(csq_escape(self._field(info, field, index)) + "|" for field in self.spec.fields)
        for field, number in self._wanted:  # (as _field, inline: this is the hot path of a match)
            value = info_value(info, field)
            if value is None:
                text += "|"
            elif value == "":  # (a flag: VEP writes 1)
                text += "1|"
            elif index >= 0 and (number == "A" or number == "R"):
                at = index if number == "A" else index + 1
                if "," in value:
                    parts = value.split(",")
                    text += (parts[at] if at < len(parts) else "") + "|"
                else:
                    text += (value if at == 0 else "") + "|"
            elif number == "R" and index < 0:
                text += (value.split(",", 1)[1].replace(",", "&") if "," in value else "") + "|"
            else:
                text += (value.replace(",", "&") if "," in value else value) + "|"
        return text

    def span_values(self, contig: str, start: int, end: int) -> list[str]:
        return self._empty  # (exact mode never matches a symbolic allele, as VEP)

    def _row(self, line: str, index: int) -> list[str]:
        """One matching line's values (its ID and INFO split out only now, on a match)."""
        columns = line.split("\t", 8)
        ident = columns[2]
        info = columns[7] if len(columns) > 7 else ""
        row = [csq_escape(ident if ident != "." else "")]
        for field in self.spec.fields:
            row.append(csq_escape(self._field(info, field, index)))
        return row

    def _lines_from(self, name: str, begin: int) -> _Lines:
        """The source's lines of contig ``name`` from 0-based ``begin`` on: read straight from the
        compressed file at the offset its tabix index gives (htslib's iterator costs more per line)."""
        return _indexed_lines(self._tabix, self._offsets, self.spec.path, name, begin)

    def _ready_text(self, contig: str, key: tuple[int, str, str], code: int) -> str:
        """``text`` from the prepared form: each allele's text as registration wrote it."""
        number = key[0] // _WINDOW
        if number == self._ready_number and contig == self._ready_contig:
            window = self._ready_last
        else:
            known = self._ready.get((contig, number))
            if known is None:
                if len(self._ready) >= _WINDOWS_KEPT:
                    del self._ready[next(iter(self._ready))]
                known = self._ready[(contig, number)] = self._load_ready(contig, number)
            window, self._ready_last, self._ready_contig, self._ready_number = known, known, contig, number
        found = window.found(key, code)
        if found is None:
            return self.empty_text
        self.matched += 1
        more = window.more.get(key) if window.more else None
        if more is None:
            return found
        rows = [text.split("|")[:-1] for text in (found, *more)]  # (several lines: each field joined by &)
        return "|".join(self._joined(rows)) + "|"

    def _load_ready(self, contig: str, number: int) -> _Ready:
        """Window ``number`` of ``contig`` from the prepared form (sorted by the alleles' own
        positions, so a window's lines are contiguous and read as a stream)."""
        window = _Ready()
        name = self.source_contig(contig)
        if name is None or self._prepared is None:
            return window
        start, stop = number * _WINDOW, (number + 1) * _WINDOW
        if self._ready_stream is not None and self._ready_next == (contig, number):
            lines, line = self._ready_stream, self._ready_pending
        else:
            lines = _indexed_lines(self._prepared, self._prepared_offsets, self._prepared_path, name, start)
            line = None
        if line is None:
            line = lines.read()
        while line is not None:
            parts = line.split("\t", 4)
            pos = int(parts[1])
            if pos >= stop:
                break
            if pos >= start:
                code = snv_code(pos, parts[2], parts[3])
                if code >= 0 and code not in window.snvs:
                    window.snvs[code] = parts[4]
                else:
                    window.add((pos, parts[2], parts[3]), parts[4], code)
            line = lines.read()
        self._ready_stream = lines if line is not None else None
        self._ready_next, self._ready_pending = (contig, number + 1), line
        return window

    def _load(self, contig: str, number: int) -> _Alleles:
        """The alleles of window ``number`` of ``contig``, keyed by their minimal form."""
        name = self.source_contig(contig)
        if name is None:
            return _Alleles()
        start = number * _WINDOW
        stop = start + _WINDOW
        if self._stream is not None and self._stream_next == (contig, number):
            lines, line, window = self._stream, self._pending, self._spill
        else:  # (from a little before the window: a padded line there can have its allele inside)
            lines, line, window = self._lines_from(name, max(0, start - _REACH)), None, _Alleles()
        spill = _Alleles()
        if line is None:
            line = lines.read()
        while line is not None:
            # (columns found by their tabs: a one-base line, the commonest, needs no split)
            tab1 = line.find("\t")
            tab2 = line.find("\t", tab1 + 1)
            pos = int(line[tab1 + 1 : tab2])
            if pos >= stop:
                break
            tab3 = line.find("\t", tab2 + 1)
            tab4 = line.find("\t", tab3 + 1)
            tab5 = line.find("\t", tab4 + 1)
            if tab4 == tab3 + 2 and tab5 == tab4 + 2:  # (one base for one)
                alt_base = line[tab4 + 1]
                if pos >= start and alt_base != "*" and alt_base != ".":
                    ref_base = line[tab3 + 1]
                    code = snv_code(pos, ref_base, alt_base)
                    if code >= 0 and code not in window.snvs:  # (the commonest line, added straight)
                        window.snvs[code] = (line, 0)
                    else:
                        window.add((pos, _upper(ref_base), _upper(alt_base)), line, 0)
            else:
                ref = _upper(line[tab3 + 1 : tab4])
                alt_text = line[tab4 + 1 : tab5] if tab5 > 0 else line[tab4 + 1 :].rstrip("\n")
                for index, alt in enumerate(_upper(alt_text).split(",")):
                    if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
                        continue
                    key = minimal(pos, ref, alt)
                    if key[0] >= stop:
                        spill.add(key, line, index)
                    elif key[0] >= start:
                        window.add(key, line, index)
            line = lines.read()
        self._stream = lines if line is not None else None
        self._stream_next = (contig, number + 1)
        self._pending, self._spill = line, spill
        return window


class _Ready:
    """One window of a prepared source: each allele's ready text (SNVs under their ``snv_code``)."""

    __slots__ = ("first", "more", "snvs")

    def __init__(self) -> None:
        self.snvs: dict[int, str] = {}
        self.first: dict[tuple[int, str, str], str] = {}
        self.more: dict[tuple[int, str, str], list[str]] = {}

    def add(self, key: tuple[int, str, str], text: str, code: int) -> None:
        if (code >= 0 and code in self.snvs) or (code < 0 and key in self.first):
            self.more.setdefault(key, []).append(text)
        elif code >= 0:
            self.snvs[code] = text
        else:
            self.first[key] = text

    def found(self, key: tuple[int, str, str], code: int) -> str | None:
        return self.snvs.get(code) if code >= 0 else self.first.get(key)


def _indexed_lines(
    tabix: pysam.TabixFile, offsets: dict[str, list[int]] | None, path: str, name: str, begin: int
) -> _Lines:
    found = offsets.get(name) if offsets is not None else None
    if not found or begin >> 14 >= len(found) or found[begin >> 14] == 0:
        return _FetchLines(tabix, name, begin)
    return _BgzfLines(path, found[begin >> 14], name)


PREPARED_SUFFIX = ".prepared.tsv.gz"


def prepared_path(spec: CustomSpec) -> Path:
    """Where an exact source's prepared form for these fields lives: beside the source."""
    digest = hashlib.sha256("\t".join([spec.short_name, *spec.fields]).encode()).hexdigest()[:12]
    return Path(f"{spec.path}.{digest}{PREPARED_SUFFIX}")


def prepare_source(spec: CustomSpec) -> Path:
    """Write an exact VCF source's prepared form (``CHROM POS REF ALT TEXT``: each allele in its
    minimal form with the CSQ text ``values`` gives it, sorted by that position, bgzipped, indexed),
    which jobs then read instead of parsing every source line and its INFO. Lines of one allele keep
    the source's order."""
    source = ExactSource(spec)
    target = prepared_path(spec)
    plain = target.with_name(target.name.removesuffix(".gz"))
    heap: list[tuple[int, int, str]] = []
    count = 0
    contig = ""
    with gzip.open(spec.path, "rt", encoding="utf-8", errors="replace") as lines, open(plain, "w") as out:
        for line in lines:
            if line.startswith("#"):
                continue
            columns = line.rstrip("\n").split("\t", 5)
            if len(columns) < 5:
                continue
            pos = int(columns[1])
            if columns[0] != contig:  # (a new contig: the last one's alleles all go out)
                while heap:
                    out.write(heapq.heappop(heap)[2])
                contig = columns[0]
            while heap and heap[0][0] < pos:  # (no later line has an allele before its own POS)
                out.write(heapq.heappop(heap)[2])
            ref = _upper(columns[3])
            for index, alt in enumerate(_upper(columns[4]).split(",")):
                if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
                    continue
                key = allele_key(pos, ref, alt)
                text = source._row_text(line.rstrip("\n"), index)
                heapq.heappush(heap, (key[0], count, f"{contig}\t{key[0]}\t{key[1]}\t{key[2]}\t{text}\n"))
                count += 1
        while heap:
            out.write(heapq.heappop(heap)[2])
    pysam.tabix_compress(str(plain), str(target), force=True)
    plain.unlink()
    pysam.tabix_index(str(target), seq_col=0, start_col=1, end_col=1, force=True, keep_original=True)
    return target


class _Lines:
    """The lines of one contig of a source, from some position on, in file order."""

    def read(self) -> str | None:
        raise NotImplementedError


class _FetchLines(_Lines):
    """Through htslib's tabix iterator."""

    def __init__(self, tabix: pysam.TabixFile, name: str, begin: int) -> None:
        self._lines: Iterator[str] = iter(tabix.fetch(name, begin))

    def read(self) -> str | None:
        return next(self._lines, None)


class _BgzfLines(_Lines):
    """Straight from the BGZF file, a megabyte at a time, until the contig ends."""

    def __init__(self, path: str, offset: int, name: str) -> None:
        opener: Any = pysam.BGZFile  # (its stubs want an index argument it does not need)
        self._file: Any = opener(path, "rb")
        self._file.seek(offset)  # (a virtual offset, as the index gives it)
        self._prefix = name + "\t"
        self._lines: list[str] = []
        self._at = 0
        self._rest = b""
        self._ended = False

    def read(self) -> str | None:
        if self._at >= len(self._lines) and not self._fill():
            return None
        line = self._lines[self._at]
        self._at += 1
        if not line.startswith(self._prefix):  # (the next contig: this one is done)
            self._ended, self._lines, self._at = True, [], 0
            return None
        return line

    def _fill(self) -> bool:
        while not self._ended:
            chunk = self._file.read(1 << 20)
            if not chunk:
                self._ended = True
                self._lines, self._at = ([self._rest.decode()] if self._rest.strip() else []), 0
                return bool(self._lines)
            data = self._rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                self._rest = data
                continue
            self._rest = data[cut + 1 :]
            self._lines, self._at = data[:cut].decode().split("\n"), 0
            return True
        return False


def linear_index(path: Path) -> dict[str, list[int]] | None:
    """Per contig, the virtual offset of the first line meeting each 16 kb bin, from a tabix
    (.tbi) index; None without one (a CSI index has no such table)."""
    if not path.is_file():
        return None
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"TBI\x01":
        return None
    count = struct.unpack_from("<i", data, 4)[0]
    names_size = struct.unpack_from("<i", data, 32)[0]
    names = data[36 : 36 + names_size].split(b"\0")[:count]
    at = 36 + names_size
    offsets: dict[str, list[int]] = {}
    for name in names:
        bins = struct.unpack_from("<i", data, at)[0]
        at += 4
        for _ in range(bins):
            chunks = struct.unpack_from("<i", data, at + 4)[0]
            at += 8 + 16 * chunks
        intervals = struct.unpack_from("<i", data, at)[0]
        at += 4
        offsets[name.decode()] = list(struct.unpack_from(f"<{intervals}Q", data, at))
        at += 8 * intervals
    return offsets


def _upper(bases: str) -> str:
    return bases if bases.isupper() else bases.upper()


class _Features:
    """The features of one window, sorted by start, with the longest span to bound a look-back."""

    __slots__ = ("features", "longest", "starts")

    def __init__(self, features: list[tuple[int, int, str, str]]) -> None:
        features.sort(key=lambda feature: feature[0])
        self.features = features
        self.starts = [feature[0] for feature in features]
        self.longest = max((feature[1] - feature[0] for feature in features), default=0)


class OverlapSource(CustomSource):
    """VCF or BED features reported where they overlap a variant."""

    def __init__(self, spec: CustomSpec) -> None:
        super().__init__(spec)
        self._windows: dict[tuple[str, int], _Features] = {}

    def values(self, contig: str, start: int, end: int, ref: str, alt: str) -> list[str]:
        return self.span_values(contig, start, end)

    def span_values(self, contig: str, start: int, end: int) -> list[str]:
        if start > end:  # an insertion: the bases either side
            start, end = end, start
        number = start // _WINDOW
        if end // _WINDOW != number:  # (a span across windows: asked of the index directly)
            name = self.source_contig(contig)
            found = [] if name is None else self._features(name, start - 1, end)
        else:
            window = self._windows.get((contig, number))
            if window is None:
                if len(self._windows) >= _WINDOWS_KEPT:
                    del self._windows[next(iter(self._windows))]
                name = self.source_contig(contig)
                lines = [] if name is None else self._features(name, number * _WINDOW, (number + 1) * _WINDOW)
                window = self._windows[(contig, number)] = _Features(lines)
            found = _overlapping(window, start, end)
        return self._joined([self._row(feature) for feature in found])

    def _features(self, name: str, begin: int, stop: int) -> list[tuple[int, int, str, str]]:
        """(start, end, name, INFO text) of the lines meeting 0-based ``begin..stop``."""
        features: list[tuple[int, int, str, str]] = []
        bed = self.spec.format == "bed"
        for line in self._tabix.fetch(name, max(0, begin), stop):
            columns = line.split("\t", 8)
            if bed:
                first, last = int(columns[1]) + 1, int(columns[2])
                label = columns[3] if len(columns) > 3 and columns[3] not in ("", ".") else ""
                features.append((first, last, label or f"{columns[0]}:{first}-{last}", ""))
            else:
                first = int(columns[1])
                last = first + len(columns[3]) - 1
                ident = columns[2].split(";")[0]
                label = ident if ident not in ("", ".") else f"{columns[0]}:{first}-{last}"
                features.append((first, last, label, columns[7] if len(columns) > 7 else ""))
        return features

    def _row(self, feature: tuple[int, int, str, str]) -> list[str]:
        row = [csq_escape(feature[2])]
        row.extend(csq_escape(self._field(feature[3], field, -1)) for field in self.spec.fields)
        return row


def _overlapping(window: _Features, start: int, end: int) -> list[tuple[int, int, str, str]]:
    first = bisect.bisect_left(window.starts, start - window.longest)
    last = bisect.bisect_right(window.starts, end)
    return [feature for feature in window.features[first:last] if feature[1] >= start]


def declared_info(path: Path) -> dict[str, tuple[str, str, str]]:
    """Each INFO field's Number, Type and Description, from the header as htslib parses it."""
    declared: dict[str, tuple[str, str, str]] = {}
    with pysam.VariantFile(str(path)) as variants:
        for key in list(variants.header.info.keys()):
            field: Any = variants.header.info[key]  # (pysam's stubs say Number is a str; 1 is an int)
            declared[str(key)] = (str(field.number), str(field.type), str(field.description or ""))
    return declared
