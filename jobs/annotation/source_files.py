"""Files behind annotation sources: recognising them, making a bgzipped, tabix-indexed copy, and
reading a user's BED regions with errors that name the line. No Django here."""

from __future__ import annotations

import gzip
import heapq
import shutil
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

import pysam

from jobs.annotation.errors import AnnotationError

_SUFFIXES = {".vcf": "vcf", ".vcf.gz": "vcf", ".vcf.bgz": "vcf", ".bed": "bed", ".bed.gz": "bed", ".bed.bgz": "bed"}


class Region(NamedTuple):
    contig: str
    start: int  # 0-based, as in BED
    end: int
    name: str


def file_format(name: str) -> str:
    """``vcf`` or ``bed``, from the file name; a clear error for anything else."""
    for suffix, kind in _SUFFIXES.items():
        if name.lower().endswith(suffix):
            return kind
    raise AnnotationError(f"{name}: expected a VCF or BED file (.vcf.gz, .vcf, .bed.gz, .bed)")


def is_bgzf(path: Path) -> bool:
    """Whether ``path`` is BGZF (gzip with the BC extra field), which tabix can index."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) == 18 and head[:2] == b"\x1f\x8b" and head[3] & 4 != 0 and head[12:14] == b"BC"


def _index_of(path: Path) -> Path | None:
    for suffix in (".tbi", ".csi"):
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def indexed_copy(source: Path, folder: Path, kind: str) -> Path:
    """``source`` in ``folder`` as a bgzipped file with its tabix index, compressing and indexing
    it when needed. An unsorted file is refused with how to sort it."""
    stem = source.name.removesuffix(".gz").removesuffix(".bgz")
    target = folder / f"{stem}.gz"
    if is_bgzf(source):  # (copied, not hard-linked: a file rewritten in place would change a kept version)
        shutil.copyfile(source, target)
        index = _index_of(source)
        if index is not None and index.stat().st_mtime >= source.stat().st_mtime:
            shutil.copyfile(index, folder / f"{target.name}{index.suffix}")
            return target
    else:
        plain = folder / stem
        with open(source, "rb") as handle:
            opener = gzip.open if handle.read(2) == b"\x1f\x8b" else open
        try:
            with opener(source, "rb") as reading, open(plain, "wb") as writing:
                shutil.copyfileobj(reading, writing, 1 << 20)
        except (OSError, EOFError) as exc:
            raise AnnotationError(f"{source.name}: cannot be read ({exc})") from exc
        pysam.tabix_compress(str(plain), str(target), force=True)
        plain.unlink()
    try:
        pysam.tabix_index(str(target), preset=kind, force=True, keep_original=True)  # type: ignore[arg-type]
    except (OSError, ValueError):
        sort = (
            "bcftools sort -Oz -o sorted.vcf.gz FILE"
            if kind == "vcf"
            else "sort -k1,1 -k2,2n FILE | bgzip > sorted.bed.gz"
        )
        raise AnnotationError(
            f"{source.name}: could not be indexed: a source must be sorted by contig and position: {sort}"
        ) from None
    return target


@dataclass(frozen=True)
class BedLimits:
    """What a user's region file may hold, each checked as the file is read (after decompression):
    a file past any of them is refused at once, naming the limit and the line."""

    regions: int = 200_000  # regions
    lines: int = 250_000  # lines of any kind: regions, blank, comment, track, browser
    decompressed_bytes: int = 64 << 20
    line_bytes: int = 64 << 10
    name_chars: int = 255  # the 4th column, reported in CSQ for every variant the region overlaps
    per_position: int = 64  # regions that overlap one base (so, the most one variant reports)
    contig_lengths: Mapping[str, int] = field(default_factory=dict)  # (a contig's ends are checked when known)


def read_bed(handle: IO[bytes], *, name: str, limits: BedLimits) -> list[Region]:
    """Every region of a BED file (plain or gzipped); an error names the first bad line and says
    what was expected. ``track``, ``browser`` and ``#`` lines are skipped. Nothing is read past a
    limit: a line is read at most ``line_bytes`` + 1 bytes at a time."""
    head = handle.read(2)
    handle.seek(0)
    binary: IO[bytes] = gzip.GzipFile(fileobj=handle) if head == b"\x1f\x8b" else handle  # type: ignore[assignment]
    regions: list[Region] = []
    lines: list[int] = []
    total = 0
    number = 0
    try:
        while True:
            raw = binary.readline(limits.line_bytes + 1)
            if not raw:
                break
            number += 1
            total += len(raw)
            where = f"{name}, line {number:,}"
            if len(raw) > limits.line_bytes:
                raise AnnotationError(
                    f"{where}: longer than {limits.line_bytes:,} bytes (the longest line a region file may have)"
                )
            if total > limits.decompressed_bytes:
                raise AnnotationError(
                    f"{where}: the file holds more than {limits.decompressed_bytes:,} bytes uncompressed "
                    "(the most a region file may hold)"
                )
            if number > limits.lines:
                raise AnnotationError(f"{where}: more than {limits.lines:,} lines (the most a region file may have)")
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise AnnotationError(f"{where}: is not UTF-8 text ({exc.reason} at byte {exc.start + 1})") from None
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            regions.append(_bed_line(line, where, limits))
            lines.append(number)
            if len(regions) > limits.regions:
                raise AnnotationError(
                    f"{where}: more than {limits.regions:,} regions (the most a region file may hold)"
                )
    except (OSError, EOFError, zlib.error) as exc:
        raise AnnotationError(f"{name}: the compressed file is damaged or truncated ({exc})") from exc
    if not regions:
        raise AnnotationError(f"{name}: no regions found: expected tab-separated lines of chrom, start, end[, name]")
    _check_depth(regions, lines, name, limits.per_position)
    return regions


def _bed_line(line: str, where: str, limits: BedLimits) -> Region:
    columns = line.split("\t")
    if len(columns) < 3:
        raise AnnotationError(
            f"{where}: expected at least 3 tab-separated columns (chrom, start, end), found {len(columns)}"
        )
    try:
        start, end = int(columns[1]), int(columns[2])
    except ValueError:
        raise AnnotationError(
            f"{where}: start and end must be whole numbers, found {columns[1][:20]!r} and {columns[2][:20]!r}"
        ) from None
    if start < 0 or end < start:
        raise AnnotationError(
            f"{where}: expected 0 <= start <= end (BED is 0-based, end exclusive), found {start}-{end}"
        )
    contig = columns[0]
    length = limits.contig_lengths.get(contig)
    if length is not None and end > length:
        raise AnnotationError(f"{where}: end {end:,} is past the end of {contig} ({length:,} bases in the reference)")
    label = columns[3].strip() if len(columns) > 3 else ""
    if len(label) > limits.name_chars:
        raise AnnotationError(
            f"{where}: the name is {len(label):,} characters; a region's name may have up to {limits.name_chars:,}"
        )
    return Region(contig, start, end, label)


def _check_depth(regions: list[Region], lines: list[int], name: str, most: int) -> None:
    """Refuse a file where more than ``most`` regions overlap one base, naming the line of the
    region that went over (it would be reported for every variant there)."""
    order = sorted(range(len(regions)), key=lambda i: (regions[i].contig, regions[i].start))
    open_ends: list[int] = []
    contig = None
    for i in order:
        region = regions[i]
        if region.contig != contig:
            contig, open_ends = region.contig, []
        while open_ends and open_ends[0] <= region.start:
            heapq.heappop(open_ends)
        if region.end > region.start:
            heapq.heappush(open_ends, region.end)
        if len(open_ends) > most:
            raise AnnotationError(
                f"{name}, line {lines[i]:,}: more than {most:,} regions overlap {region.contig}:{region.start + 1:,} "
                f"(the most one variant may report)"
            )


def write_indexed_bed(regions: Iterable[Region], path: Path) -> Path:
    """The regions sorted and written as a bgzipped, tabix-indexed BED at ``path`` (.gz added)."""
    ordered = sorted(regions, key=lambda region: (region.contig, region.start, region.end))
    with open(path, "w", encoding="utf-8") as out:
        for region in ordered:
            out.write(f"{region.contig}\t{region.start}\t{region.end}\t{region.name or '.'}\n")
    return Path(pysam.tabix_index(str(path), preset="bed", force=True))
