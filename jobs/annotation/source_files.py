"""Files behind annotation sources: recognising them, making a bgzipped, tabix-indexed copy, and
reading a user's BED regions with errors that name the line. No Django here."""

from __future__ import annotations

import gzip
import io
import shutil
from collections.abc import Iterable
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
        pysam.tabix_index(str(target), preset=kind, force=True, keep_original=True)
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


def read_bed(handle: IO[bytes], *, name: str, max_regions: int) -> list[Region]:
    """Every region of a BED file (plain or gzipped); an error names the first bad line and says
    what was expected. ``track``, ``browser`` and ``#`` lines are skipped."""
    head = handle.read(2)
    handle.seek(0)
    binary: IO[bytes] = gzip.GzipFile(fileobj=handle) if head == b"\x1f\x8b" else handle  # type: ignore[assignment]
    text = io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline="")
    regions: list[Region] = []
    try:
        for number, line in enumerate(text, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            regions.append(_bed_line(line, number, name))
            if len(regions) > max_regions:
                raise AnnotationError(f"{name}: more than {max_regions:,} regions (the most a region file may hold)")
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{name}: is not a text BED file ({exc.reason} at byte {exc.start})") from exc
    except (OSError, EOFError) as exc:
        raise AnnotationError(f"{name}: the compressed file is damaged or truncated ({exc})") from exc
    finally:
        text.detach()  # (the caller's handle stays open)
    if not regions:
        raise AnnotationError(f"{name}: no regions found: expected tab-separated lines of chrom, start, end[, name]")
    return regions


def _bed_line(line: str, number: int, name: str) -> Region:
    columns = line.split("\t")
    where = f"{name}, line {number}"
    if len(columns) < 3:
        raise AnnotationError(
            f"{where}: expected at least 3 tab-separated columns (chrom, start, end), found {len(columns)}"
        )
    try:
        start, end = int(columns[1]), int(columns[2])
    except ValueError:
        raise AnnotationError(
            f"{where}: start and end must be whole numbers, found {columns[1]!r} and {columns[2]!r}"
        ) from None
    if start < 0 or end < start:
        raise AnnotationError(
            f"{where}: expected 0 <= start <= end (BED is 0-based, end exclusive), found {start}-{end}"
        )
    label = columns[3].strip() if len(columns) > 3 else ""
    return Region(columns[0], start, end, label)


def write_indexed_bed(regions: Iterable[Region], path: Path) -> Path:
    """The regions sorted and written as a bgzipped, tabix-indexed BED at ``path`` (.gz added)."""
    ordered = sorted(regions, key=lambda region: (region.contig, region.start, region.end))
    with open(path, "w", encoding="utf-8") as out:
        for region in ordered:
            out.write(f"{region.contig}\t{region.start}\t{region.end}\t{region.name or '.'}\n")
    return Path(pysam.tabix_index(str(path), preset="bed", force=True))
