"""Streaming VCF input with precise errors, and VEP's allele processing.

Data lines are split on tabs and passed through untouched apart from the ID and INFO
columns: a library parser would re-format QUAL, INFO and sample fields, and the output
promise is that every record comes back unchanged except for those two columns.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from jobs.annotation.errors import InputFormatError

_REF = re.compile(r"^[ACGTNacgtn]+$")
_ALT = re.compile(
    r"^([ACGTNacgtn]+|\*|<[^<>]+>|[ACGTNacgtn]*[\[\]][^\[\]]+[\[\]][ACGTNacgtn]*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$"
)
_ONE_BASE = "ACGTNacgtn"  # (the commonest REF and ALT, checked without a regular expression)
_REQUIRED_HEADER = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


@dataclass(slots=True)
class VcfRecord:
    line_number: int
    columns: list[str]
    pos: int
    ref: str
    alts: list[str]

    @property
    def chrom(self) -> str:
        return self.columns[0]


@dataclass(slots=True)
class Allele:
    """One ALT allele after VEP's trimming: ``s..e`` on the genome (an insertion has s == e + 1)."""

    alt_index: int  # 1-based ALT number in the record
    vcf_alt: str
    ref: str  # processed reference bases ('' for an insertion)
    alt: str  # processed alternative bases ('' for a deletion)
    start: int
    end: int
    shiftable: bool  # the record is all insertions or all deletions (HGVS 3' shift allowed)

    @property
    def label(self) -> str:
        return self.alt or "-"

    @property
    def is_insertion(self) -> bool:
        return self.start == self.end + 1


class VcfReader:
    """Iterate over a VCF (plain, gzip or bgzip): ``header_lines`` first, then ``records()``."""

    def __init__(self, path: str | Path, *, display_name: str | None = None) -> None:
        self.path = Path(path)
        self.name = display_name or self.path.name
        self.header_lines: list[str] = []
        self.column_count = 0
        self.line_number = 0
        self._handle: IO[str] | None = None
        self._raw: io.BufferedReader | None = None
        self._pending: Iterator[str] | None = None
        self.bytes_total = self.path.stat().st_size

    def _open(self) -> IO[str]:
        self._raw = open(self.path, "rb")
        magic = self._raw.peek(2)[:2]
        binary: Any = gzip.GzipFile(fileobj=self._raw, mode="rb") if magic == b"\x1f\x8b" else self._raw
        return io.TextIOWrapper(binary, encoding="utf-8", newline="")

    def fraction_read(self) -> float:
        """How much of the file (compressed bytes) has been consumed, 0..1."""
        if self._raw is None or self.bytes_total == 0 or self._raw.closed:
            return 0.0
        return min(1.0, self._raw.tell() / self.bytes_total)

    def _lines(self) -> Iterator[str]:
        try:
            self._handle = self._open()
            with self._handle as handle:
                for line in handle:
                    self.line_number += 1
                    yield line
        except UnicodeDecodeError:
            raise InputFormatError(
                self.name, self.line_number + 1, "is not a text VCF (found non-UTF-8 bytes)"
            ) from None
        except EOFError:
            raise InputFormatError(
                self.name, self.line_number + 1, "the compressed file ends unexpectedly (truncated upload?)"
            ) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputFormatError(self.name, self.line_number + 1, f"is not a valid gzip file ({exc})") from None
        finally:
            if self._raw is not None:
                self._raw.close()

    def read_header(self) -> Iterator[VcfRecord]:
        """Read the header; return the iterator positioned at the first data line."""
        lines = self._lines()
        first = next(lines, None)
        if first is None:
            raise InputFormatError(
                self.name, None, "the file is empty; expected a VCF starting with ##fileformat=VCFv4.x"
            )
        if not first.startswith("##fileformat=VCF"):
            raise InputFormatError(
                self.name, 1, f"not a VCF: the first line must be ##fileformat=VCFv4.x, found {first[:40].rstrip()!r}"
            )
        self.header_lines.append(first.rstrip("\r\n"))
        for line in lines:
            text = line.rstrip("\r\n")
            if text.startswith("##"):
                self.header_lines.append(text)
                continue
            if text.startswith("#CHROM"):
                columns = text.split("\t")
                if columns[:8] != _REQUIRED_HEADER:
                    raise InputFormatError(
                        self.name, self.line_number,
                        "the column header must start #CHROM POS ID REF ALT QUAL FILTER INFO, separated by tabs",
                    )  # fmt: skip
                self.header_lines.append(text)
                self.column_count = len(columns)
                self._pending = lines
                return self._records(lines)
            raise InputFormatError(self.name, self.line_number, "expected the #CHROM column header before the data")
        raise InputFormatError(self.name, None, "no #CHROM column header line: the file ends inside the header")

    def _records(self, lines: Iterator[str]) -> Iterator[VcfRecord]:
        for line in lines:
            record = parse_data_line(line, self.line_number, self.column_count, self.name)
            if record is not None:
                yield record

    def data_lines(self) -> Iterator[tuple[int, str]]:
        """After ``read_header``'s iterator was obtained but not used: (line number, raw line) pairs."""
        lines = self._pending
        assert lines is not None, "call read_header() first"
        for line in lines:
            yield self.line_number, line


def parse_data_line(line: str, line_number: int, column_count: int, name: str) -> VcfRecord | None:
    """Check one data line against the header; None for a blank line. Errors name the line."""
    text = line.rstrip("\r\n")
    if not text:
        return None
    columns = text.split("\t")
    if len(columns) != column_count:
        raise InputFormatError(
            name, line_number,
            f"expected {column_count} tab-separated columns as in the #CHROM header, found {len(columns)}",
        )  # fmt: skip
    pos_text, ref, alt_text = columns[1], columns[3], columns[4]
    if not pos_text.isdigit():
        raise InputFormatError(name, line_number, f"POS must be a whole number, found {pos_text!r}")
    if not (len(ref) == 1 and ref in _ONE_BASE) and not _REF.match(ref):
        raise InputFormatError(name, line_number, f"REF must be bases A, C, G, T or N, found {ref!r}")
    alts = alt_text.split(",")
    if alt_text != ".":
        for alt in alts:
            if not (len(alt) == 1 and alt in _ONE_BASE) and not _ALT.match(alt):
                raise InputFormatError(
                    name, line_number, f"ALT {alt!r} is not a base string, '*', a <symbolic> allele or a breakend"
                )
    if not columns[0] or columns[0] == ".":
        raise InputFormatError(name, line_number, "CHROM is empty")
    return VcfRecord(line_number, columns, int(pos_text), ref, alts)


def process_alleles(pos: int, ref: str, alts: list[str]) -> list[Allele]:
    """VEP's allele processing (Parser/VCF.pm, Parser.pm minimise_alleles), for annotatable ALTs."""
    ref = ref.upper()
    if len(ref) == 1 and len(alts) == 1 and len(alts[0]) == 1 and alts[0] not in ".*":
        alt = alts[0].upper()  # one base for one base: nothing to trim (the commonest record)
        return [] if alt == ref else [Allele(1, alts[0], ref, alt, pos, pos, False)]
    real = [alt.upper() for alt in alts if alt != "." and alt != "*" and not alt.startswith("<") and "[" not in alt
            and "]" not in alt and "." not in alt]  # fmt: skip
    if not real:
        return []
    is_indel = any(len(alt) != len(ref) for alt in real)
    trimmed = False
    start = pos
    ref_seq = ref
    processed = {alt: alt for alt in real}
    if is_indel:
        if len(real) == 1 and len(alts) == 1:
            alt = real[0]
            if ref[0] == alt[0]:
                ref_seq, processed[alt], start, trimmed = ref[1:], alt[1:], pos + 1, True
        elif all(alt[0] == ref[0] for alt in real):
            ref_seq, start, trimmed = ref[1:], pos + 1, True
            processed = {alt: alt[1:] for alt in real}
    kinds = set()
    out: list[Allele] = []
    biallelic = len(alts) == 1
    for index, vcf_alt in enumerate(alts, 1):
        upper = vcf_alt.upper()
        if upper not in processed or upper == ref:
            continue
        r, a, s = ref_seq, processed[upper], start
        if is_indel and biallelic:
            while r and a and r[0] == a[0]:
                r, a, s = r[1:], a[1:], s + 1
            while r and a and r[-1] == a[-1]:
                r, a = r[:-1], a[:-1]
        e = s + len(r) - 1
        if not r and a:
            kinds.add("ins")
        elif r and not a:
            kinds.add("del")
        else:
            kinds.add("other")
        out.append(Allele(alt_index=index, vcf_alt=vcf_alt, ref=r, alt=a, start=s, end=e, shiftable=False))
    shiftable = (kinds == {"ins"} or kinds == {"del"}) and (trimmed or biallelic)
    for allele in out:
        allele.shiftable = shiftable
    return out
