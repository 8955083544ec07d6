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
from collections.abc import Generator, Iterator
from pathlib import Path

from jobs.annotation.bcf import BcfError, is_bcf, open_bcf_text
from jobs.annotation.errors import InputFormatError, LimitExceeded

_REF = re.compile(r"^[ACGTNacgtn]+$")
_ALT = re.compile(
    # bases; a deleted allele (*); <symbolic>; a breakend, joined (t[p[, t]p], ]p]t, [p[t) or at a telomere
    # (.[p[, ]p].: VCF 4.1-4.4, section 5.4); a single breakend (t., .t)
    r"^([ACGTNacgtn]+|\*|<[^<>]+>|([ACGTNacgtn]*|\.)[\[\]][^\[\]]+[\[\]]([ACGTNacgtn]*|\.)|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$"
)
_ONE_BASE = "ACGTNacgtn"  # (the commonest REF and ALT, checked without a regular expression)
_REQUIRED_HEADER = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
# The longest line read: generous (a record with 100,000 samples takes ~2 MB); a longer one is an
# error naming the line, found in time linear in its length and in memory of at most this.
MAX_LINE_BYTES = 64 * 1024 * 1024


# (VcfRecord and Allele are plain classes, not dataclasses: mypyc compiles their __init__, where a
# dataclass's generated __init__ would run as Python for every record)
class VcfRecord:
    """One data line: its columns (the eight fixed ones, then FORMAT and the samples as one string),
    and POS, REF and the ALTs read from them."""

    __slots__ = ("alts", "columns", "line_number", "pos", "ref")

    def __init__(self, line_number: int, columns: list[str], pos: int, ref: str, alts: list[str]) -> None:
        self.line_number = line_number
        self.columns = columns
        self.pos = pos
        self.ref = ref
        self.alts = alts

    @property
    def chrom(self) -> str:
        return self.columns[0]


class Allele:
    """One ALT allele after VEP's trimming: ``s..e`` on the genome (an insertion has s == e + 1)."""

    __slots__ = ("alt", "alt_index", "diff_regions", "end", "existing", "ref", "shiftable", "start")

    def __init__(self, alt_index: int, ref: str, alt: str, start: int, end: int, shiftable: bool) -> None:
        self.alt_index = alt_index  # 1-based ALT number in the record
        self.ref = ref  # processed reference bases ('' for an insertion)
        self.alt = alt  # processed alternative bases ('' for a deletion)
        self.start = start
        self.end = end
        self.shiftable = shiftable  # the record is all insertions or all deletions (HGVS 3' shift allowed)
        self.existing = ""  # CSQ Existing_variation: co-located known variants of this very allele, "&"-joined
        self.diff_regions = self.regions()  # (once per allele, not per transcript)

    def regions(self) -> list[tuple[int, int]]:
        """VEP's differing regions (BaseTranscriptVariationAllele _get_differing_regions): the runs of
        bases where REF and ALT differ when both are longer than one base, compared position by
        position (the longer one's extra bases all differ, so a region can reach past ``end``);
        otherwise the whole REF span (``start..start-1`` for an insertion). Genomic coordinates."""
        ref, alt, start = self.ref, self.alt, self.start
        if len(ref) <= 1 or len(alt) <= 1:
            return [(start, start + len(ref) - 1)]
        found: list[tuple[int, int]] = []
        run_start = -1
        for i in range(max(len(ref), len(alt))):
            differs = i >= len(ref) or i >= len(alt) or ref[i] != alt[i]
            if differs and run_start < 0:
                run_start = i
            elif not differs and run_start >= 0:
                found.append((start + run_start, start + i - 1))
                run_start = -1
        if run_start >= 0:
            found.append((start + run_start, start + max(len(ref), len(alt)) - 1))
        return found or [(start, start + len(ref) - 1)]

    def __repr__(self) -> str:
        return f"<Allele {self.ref or '-'}>{self.alt or '-'} at {self.start}-{self.end}>"

    @property
    def label(self) -> str:
        return self.alt or "-"


class VcfReader:
    """Read a VCF (plain, gzip or bgzip): ``read_header()``, then ``data_chunks()``.

    Lines end with LF (or CRLF); line numbers count from 1 at the first header line.
    """

    def __init__(
        self, path: str | Path, *, display_name: str | None = None, max_bytes: int = 0, limit_label: str = "",
        line_offset: int = 0,
    ) -> None:
        self.path = Path(path)
        self.line_offset = line_offset  # data lines of a larger file before this one's (a shard's)
        self.name = display_name or self.path.name
        self.max_bytes = max_bytes  # of decompressed input (0: no limit); more raises LimitExceeded
        self.limit_label = limit_label or "a job"  # whose limit max_bytes is, for the message
        self.bytes_read = 0  # decompressed bytes read so far
        self.header_lines: list[str] = []
        self.column_count = 0
        self.line_number = 0  # lines read so far
        self._raw: io.BufferedReader | None = None
        self._header_lines: Generator[str, None, None] | None = None
        self.bytes_total = self.path.stat().st_size
        self.bcf = is_bcf(self.path)
        with open(self.path, "rb") as handle:  # (compressed: BCF, gzip or bgzip, whatever its name)
            self.compressed = self.bcf or handle.read(2) == b"\x1f\x8b"

    def _open_binary(self) -> gzip.GzipFile | io.BufferedReader:
        if self.bcf:  # (BCF: htslib writes each record as its VCF line)
            self._raw = open_bcf_text(self.path)
            return self._raw
        self._raw = open(self.path, "rb")
        magic = self._raw.peek(2)[:2]
        return gzip.GzipFile(fileobj=self._raw, mode="rb") if magic == b"\x1f\x8b" else self._raw

    def fraction_read(self) -> float:
        """How much of the file (compressed bytes) has been consumed, 0..1."""
        if self._raw is None or self.bytes_total == 0 or self._raw.closed:
            return 0.0
        if self.bcf:
            return self._raw.raw.fraction_read()  # type: ignore[attr-defined, no-any-return]
        return min(1.0, self._raw.tell() / self.bytes_total)

    def _input_error(self, exc: Exception, line_number: int) -> InputFormatError:
        if isinstance(exc, BcfError):
            return InputFormatError(self.name, line_number, str(exc))
        if isinstance(exc, UnicodeDecodeError):
            return InputFormatError(self.name, line_number, "is not a text VCF (found non-UTF-8 bytes)")
        if isinstance(exc, EOFError):
            return InputFormatError(self.name, line_number, "the compressed file ends unexpectedly (truncated upload?)")
        return InputFormatError(self.name, line_number, f"is not a valid gzip file ({exc})")

    def _too_long(self, line_number: int) -> LimitExceeded:
        return LimitExceeded(
            f"{self.name}, line {line_number}: the line is longer than {MAX_LINE_BYTES // 1024**2} MB, the longest "
            "line GAS reads (is it a VCF?)"
        )

    def _count(self, size: int) -> None:
        self.bytes_read += size
        if self.max_bytes and self.bytes_read > self.max_bytes:
            raise LimitExceeded(
                f"{self.name}: the file is larger than {self.max_bytes:,} bytes once decompressed, the limit "
                f"for {self.limit_label} (reached at line {self.line_number + 1})"
            )

    def _lines(self) -> Generator[str, None, None]:
        """Header lines, each read with a bound (MAX_LINE_BYTES), so one endless line cannot fill memory."""
        try:
            handle = self._open_binary()
            while True:
                raw = handle.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                if len(raw) > MAX_LINE_BYTES:
                    raise self._too_long(self.line_number + 1)
                self._count(len(raw))
                line = raw.decode("utf-8")
                self.line_number += 1
                yield line
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error, BcfError) as exc:
            raise self._input_error(exc, self.line_number + 1) from None
        finally:
            if self._raw is not None:
                self._raw.close()

    def read_header(self) -> None:
        """Read and check the header lines, up to and including #CHROM."""
        lines = self._header_lines = self._lines()
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
                return
            raise InputFormatError(self.name, self.line_number, "expected the #CHROM column header before the data")
        raise InputFormatError(self.name, None, "no #CHROM column header line: the file ends inside the header")

    def data_chunks(self, size: int) -> Iterator[tuple[int, str]]:
        """After ``read_header``: the data lines as (number of the first line, text of whole lines)
        chunks of about ``size`` bytes, read and decoded a block at a time."""
        assert self._header_lines is not None and self.column_count, "call read_header() first"
        self._header_lines.close()
        try:
            binary = self._open_binary()
            for _ in range(self.line_number):
                binary.readline()
            self.line_number += self.line_offset  # (a shard's lines are numbered as in its whole file)
            # the start of a line longer than a block, in pieces (joined once, when its end comes:
            # linear in the line's length), never more than MAX_LINE_BYTES
            pieces: list[bytes] = []
            pending = 0
            while True:
                block = binary.read(size)
                if not block:
                    break
                self._count(len(block))
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # no line ends in this block
                    pieces.append(block)
                    pending += len(block)
                    if pending > MAX_LINE_BYTES:
                        raise self._too_long(self.line_number + 1)
                    continue
                if pieces:
                    if pending + block.find(b"\n") > MAX_LINE_BYTES:
                        raise self._too_long(self.line_number + 1)
                    pieces.append(block[:cut])
                    whole = b"".join(pieces)
                    pieces, pending = [], 0
                else:
                    whole = block[:cut] if cut < len(block) else block
                if cut < len(block):
                    pieces.append(block[cut:])
                    pending = len(block) - cut
                yield self._decoded(whole)
            if pieces:  # a last line without its newline
                if pending > MAX_LINE_BYTES:
                    raise self._too_long(self.line_number + 1)
                yield self._decoded(b"".join(pieces) + b"\n")
        except (EOFError, gzip.BadGzipFile, zlib.error, BcfError) as exc:
            raise self._input_error(exc, self.line_number + 1) from None
        finally:
            if self._raw is not None:
                self._raw.close()

    def _decoded(self, data: bytes) -> tuple[int, str]:
        first = self.line_number + 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._input_error(exc, first + data.count(b"\n", 0, exc.start)) from None
        self.line_number += data.count(b"\n")
        return first, text


def info_fields(text: str) -> dict[str, str]:
    """An INFO column as a dict (a flag maps to ""); "." is empty."""
    fields: dict[str, str] = {}
    if text == ".":
        return fields
    for item in text.split(";"):
        key, _sep, value = item.partition("=")
        fields[key] = value
    return fields


def parse_data_line(line: str, line_number: int, column_count: int, name: str) -> VcfRecord | None:
    """Check one data line against the header; None for a blank line. Errors name the line."""
    text = line.rstrip("\r\n")
    if not text:
        return None
    # FORMAT and the samples stay one string (columns[8]): only ID and INFO change, and a cohort's
    # thousands of sample columns need not become thousands of strings per record
    columns = text.split("\t", 8)
    found = len(columns) if len(columns) < 9 else 9 + columns[8].count("\t")
    if found != column_count:
        raise InputFormatError(
            name, line_number, f"expected {column_count} tab-separated columns as in the #CHROM header, found {found}"
        )
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
        return [] if alt == ref else [Allele(1, ref, alt, pos, pos, False)]
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
        out.append(Allele(alt_index=index, ref=r, alt=a, start=s, end=e, shiftable=False))
    shiftable = (kinds == {"ins"} or kinds == {"del"}) and (trimmed or biallelic)
    for allele in out:
        allele.shiftable = shiftable
    return out
