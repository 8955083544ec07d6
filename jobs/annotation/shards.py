"""A large VCF in shards and back: split into files of whole groups of data lines, each annotated
on its own (``annotate_vcf(..., line_offset=)``), and the annotated shards joined without
recompressing.

A shard holds the file's header and a run of its data lines; its size is a whole number of the
output's groups (engine.OUTPUT_GROUP_LINES), so the annotated shards' BGZF blocks, joined in order
under the header's, are byte for byte the output of the whole file annotated at once.
Imports: the engine's reader and writer; nothing of Django.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from jobs.annotation.engine import BGZF_EOF, OUTPUT_GROUP_LINES, group_pieces, read_part, write_part
from jobs.annotation.vcf import VcfReader

SPLIT_CHUNK_BYTES = 1 << 20  # read this much at a time while splitting


@dataclass(frozen=True)
class ShardInput:
    path: Path
    line_offset: int  # the file's data lines before this shard's
    lines: int  # data lines in this shard


def check_shard_lines(shard_lines: int) -> None:
    if shard_lines <= 0 or shard_lines % OUTPUT_GROUP_LINES:
        raise ValueError(f"a shard holds a positive multiple of {OUTPUT_GROUP_LINES} data lines, not {shard_lines}")


def has_more_lines_than(input_path: Path, lines: int, *, name: str, max_bytes: int = 0, limit_label: str = "") -> bool:
    """Whether the VCF has more than ``lines`` data lines (read no further than that)."""
    reader = VcfReader(input_path, display_name=name, max_bytes=max_bytes, limit_label=limit_label)
    reader.read_header()
    seen = 0
    for _first, text in reader.data_chunks(SPLIT_CHUNK_BYTES):
        seen += text.count("\n")
        if seen > lines:
            return True
    return False


def split_vcf(
    input_path: Path, folder: Path, *, shard_lines: int, name: str, max_bytes: int = 0, limit_label: str = ""
) -> list[ShardInput]:
    """Split a VCF (plain, gzip, bgzip or BCF: shards are gzipped VCF text) into shards of
    ``shard_lines`` data lines (the last holds from half to one and a half of that), written into ``folder`` as
    shard-00000.vcf.gz, ... The header is checked as the engine checks it; the data lines are
    copied as they are (the shards' annotation checks them, naming the file's own line numbers)."""
    check_shard_lines(shard_lines)
    reader = VcfReader(input_path, display_name=name, max_bytes=max_bytes, limit_label=limit_label)
    reader.read_header()
    header = "".join(f"{line}\n" for line in reader.header_lines).encode()
    first_data_line = len(reader.header_lines) + 1
    shards: list[ShardInput] = []
    handle: gzip.GzipFile | None = None
    in_shard = 0
    try:
        for first_line, chunk in reader.data_chunks(SPLIT_CHUNK_BYTES):
            for start, text, ends_group in group_pieces(first_line, chunk, first_data_line):
                if handle is None:
                    path = folder / f"shard-{len(shards):05d}.vcf.gz"
                    handle = gzip.GzipFile(path, "wb", compresslevel=1, mtime=0)
                    handle.write(header)
                    shards.append(ShardInput(path, start - first_data_line, 0))
                handle.write(text.encode())
                in_shard += text.count("\n")
                if ends_group and in_shard == shard_lines:
                    handle.close()
                    handle = None
                    last = shards[-1]
                    shards[-1] = ShardInput(last.path, last.line_offset, in_shard)
                    in_shard = 0
        if handle is not None:
            handle.close()
            handle = None
            last = shards[-1]
            shards[-1] = ShardInput(last.path, last.line_offset, in_shard)
    finally:
        if handle is not None:
            handle.close()
    if len(shards) > 1 and shards[-1].lines < shard_lines // 2:
        shards[-2:] = [_appended(shards[-2], shards[-1])]
    return shards


def _appended(shard: ShardInput, tail: ShardInput) -> ShardInput:
    """A short last shard's lines added to the shard before it (a second gzip member), so the last
    round of shards is not one annotator's small remainder."""
    with gzip.open(tail.path, "rb") as source, gzip.GzipFile(shard.path, "ab", compresslevel=1, mtime=0) as target:
        for line in source:
            if not line.startswith(b"#"):
                target.write(line)
    tail.path.unlink()
    return ShardInput(shard.path, shard.line_offset, shard.lines + tail.lines)


def header_text(annotated: Path) -> str:
    """The header of an annotated (bgzipped) VCF, its lines each ending in a newline."""
    lines: list[str] = []
    with gzip.open(annotated, "rt", encoding="utf-8", newline="\n") as handle:
        for line in handle:
            lines.append(line)
            if line.startswith("#CHROM"):
                return "".join(lines)
    raise ValueError(f"{annotated.name}: no #CHROM header line")


def header_bytes(text: str, scratch: Path) -> bytes:
    """The header's BGZF blocks, as the engine writes them before the first data line."""
    part = scratch / "header.part"
    write_part(part, text, compressed=True)
    return read_part(part, compressed=True)


def join_shards(parts: list[Path], output: Path, *, scratch: Path) -> int:
    """Join annotated shards (bgzipped VCFs, in order) into one output without recompressing:
    the header's blocks once, each shard's data blocks, the end-of-file block. Returns the
    output's size. A part whose header differs from the first's is refused (ValueError)."""
    head = header_bytes(header_text(parts[0]), scratch)
    size = 0
    with open(output, "wb") as out:
        size += out.write(head)
        for part in parts:
            with open(part, "rb") as handle:
                if handle.read(len(head)) != head:
                    raise ValueError(f"{part.name}: its header differs from the first shard's")
                remaining = part.stat().st_size - len(head) - len(BGZF_EOF)
                while remaining > 0:
                    block = handle.read(min(remaining, 1 << 20))
                    if not block:
                        raise ValueError(f"{part.name}: shorter than its size")
                    size += out.write(block)
                    remaining -= len(block)
                if handle.read() != BGZF_EOF:
                    raise ValueError(f"{part.name}: does not end with the BGZF end-of-file block")
        size += out.write(BGZF_EOF)
    return size
