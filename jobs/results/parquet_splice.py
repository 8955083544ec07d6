"""Parquet files joined without re-encoding them: each file's column chunks copied byte for byte
into one file, its footer rebuilt with the chunks' new offsets, and some columns taken from
another file written with the same row groups (new values of those columns: the shards' variant
and record numbers moved past the shards before them).

A Parquet file is ``PAR1``, the row groups' column chunks, the footer (a Thrift FileMetaData in
Thrift's compact protocol), the footer's length and ``PAR1``. Chunks hold no absolute offsets;
the footer's do (ColumnMetaData.data_page_offset, dictionary_page_offset, index_page_offset,
ColumnChunk.file_offset, RowGroup.file_offset), so joining files is copying chunks and shifting
those numbers. Files with page indexes, bloom filters or encryption are refused (ValueError): the
writer here writes none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAGIC = b"PAR1"

# Thrift compact protocol types
BOOL_TRUE, BOOL_FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(1, 13)

Struct = list  # [(field id, type, value), ...] in the order read


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> Any:
        if kind in (BOOL_TRUE, BOOL_FALSE):  # (in a list: a byte each)
            return self.byte() == 1
        if kind == BYTE:
            return self.byte()
        if kind in (I16, I32, I64):
            return self.zigzag()
        if kind == DOUBLE:
            value = self.data[self.at : self.at + 8]
            self.at += 8
            return value
        if kind == BINARY:
            size = self.varint()
            value = self.data[self.at : self.at + size]
            self.at += size
            return value
        if kind in (LIST, SET):
            head = self.byte()
            size, element = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return (element, [self.value(element) for _ in range(size)])
        if kind == STRUCT:
            return self.struct()
        raise ValueError(f"Thrift type {kind} is not used in Parquet footers")

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return fields
            delta, kind = head >> 4, head & 0x0F
            field = last + delta if delta else self.zigzag()
            value = kind == BOOL_TRUE if kind in (BOOL_TRUE, BOOL_FALSE) else self.value(kind)
            fields.append((field, kind, value))
            last = field


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        if value < 0x80:
            out.append(value)
            return bytes(out)
        out.append((value & 0x7F) | 0x80)
        value >>= 7


def _zigzag(value: int) -> bytes:
    return _varint((value << 1) ^ (value >> 63))


def _value(kind: int, value: Any) -> bytes:
    if kind in (BOOL_TRUE, BOOL_FALSE):
        return bytes([1 if value else 2])
    if kind == BYTE:
        return bytes([value])
    if kind in (I16, I32, I64):
        return _zigzag(value)
    if kind == DOUBLE:
        return bytes(value)
    if kind == BINARY:
        return _varint(len(value)) + bytes(value)
    if kind in (LIST, SET):
        element, items = value
        head = (
            bytes([(len(items) << 4) | element]) if len(items) < 15 else bytes([0xF0 | element]) + _varint(len(items))
        )
        return head + b"".join(_value(element, item) for item in items)
    if kind == STRUCT:
        return encode_struct(value)
    raise ValueError(f"Thrift type {kind} is not used in Parquet footers")


def encode_struct(fields: Struct) -> bytes:
    out = bytearray()
    last = 0
    for field, kind, value in fields:
        if kind in (BOOL_TRUE, BOOL_FALSE):
            kind = BOOL_TRUE if value else BOOL_FALSE
        delta = field - last
        out += bytes([(delta << 4) | kind]) if 0 < delta <= 15 else bytes([kind]) + _zigzag(field)
        if kind not in (BOOL_TRUE, BOOL_FALSE):
            out += _value(kind, value)
        last = field
    out.append(0)
    return bytes(out)


def _get(fields: Struct, field: int, default: Any = None) -> Any:
    return next((value for number, _kind, value in fields if number == field), default)


class ParquetFooter:
    """A Parquet file's footer (FileMetaData), its chunks read from the file as they are wanted
    (a file is never read whole: a job's shards together may be larger than memory)."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "rb")  # (closed on leaving ``with``)
        self.handle.seek(-8, 2)
        tail = self.handle.read(8)
        self.handle.seek(0)
        if self.handle.read(4) != MAGIC or tail[4:] != MAGIC:
            self.handle.close()
            raise ValueError(f"{path.name} is not a Parquet file")
        size = int.from_bytes(tail[:4], "little")
        self.handle.seek(-8 - size, 2)
        self.meta: Struct = _Reader(self.handle.read(size)).struct()

    @property
    def row_groups(self) -> list[Struct]:
        return _get(self.meta, 4, (STRUCT, []))[1]

    def read(self, start: int, size: int) -> bytes:
        self.handle.seek(start)
        return self.handle.read(size)

    def __enter__(self) -> ParquetFooter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()


def _with(fields: Struct, replaced: Struct) -> Struct:
    """``fields`` with the fields of ``replaced`` in place of their own (or added), in field order."""
    numbers = {number for number, _kind, _value in replaced}
    return sorted([item for item in fields if item[0] not in numbers] + replaced, key=lambda item: item[0])


def _shifted(meta: Struct, by: int) -> Struct:
    """ColumnMetaData with its page offsets (data, index, dictionary) moved by ``by``."""
    return _with(meta, [(field, I64, _get(meta, field) + by) for field in (9, 10, 11)
                        if _get(meta, field) is not None and _get(meta, field) > 0])  # fmt: skip


# ColumnChunk: 2 file_offset, 3 meta_data, 4/6 page index offsets, 8/9 encryption;
# ColumnMetaData: 6 total_uncompressed_size, 7 total_compressed_size, 9 data_page_offset,
# 10 index_page_offset, 11 dictionary_page_offset, 14 bloom_filter_offset; RowGroup: 1 columns,
# 2 total_byte_size, 3 num_rows, 5 file_offset, 6 total_compressed_size, 7 ordinal
def _chunk_placed(footer: ParquetFooter, chunk: Struct, at: int) -> tuple[bytes, Struct]:
    """A column chunk's bytes and its metadata (ColumnChunk) with its offsets moved to ``at``."""
    if any(_get(chunk, field) is not None for field in (1, 4, 6, 8, 9)):
        raise ValueError("column chunks with page indexes, external files or encryption are not joined")
    meta: Struct = _get(chunk, 3)
    if _get(meta, 14) is not None:
        raise ValueError("column chunks with bloom filters are not joined")
    start = min(
        offset for offset in (_get(meta, 11), _get(meta, 10), _get(meta, 9)) if offset is not None and offset > 0
    )
    by = at - start
    placed = _with(chunk, [(2, I64, (_get(chunk, 2) or start) + by), (3, STRUCT, _shifted(meta, by))])
    return footer.read(start, _get(meta, 7)), placed


def splice(parts: Sequence[Path], replacements: Sequence[Path], replaced: Sequence[int], output: Path) -> None:
    """Join ``parts`` (same schema, in order) into ``output``; the columns at indexes ``replaced``
    are taken from ``replacements`` (one per part, the same row groups, those columns only, in
    that order). The footer's schema and key-value metadata are the first part's."""
    groups: list[Struct] = []
    rows = 0
    first_meta: Struct | None = None
    with open(output, "wb") as out:
        out.write(MAGIC)
        at = len(MAGIC)
        for part, replacement_path in zip(parts, replacements, strict=True):
            with ParquetFooter(part) as footer, ParquetFooter(replacement_path) as replacement:
                first_meta = first_meta or footer.meta
                if len(replacement.row_groups) != len(footer.row_groups):
                    raise ValueError(f"{replacement_path.name}: its row groups differ from its part's")
                for group, new in zip(footer.row_groups, replacement.row_groups, strict=True):
                    if _get(group, 3) != _get(new, 3):
                        raise ValueError("a replacement row group holds another number of rows")
                    new_columns = _get(new, 1)[1]
                    placed, compressed, uncompressed, first = [], 0, 0, at
                    for index, chunk in enumerate(_get(group, 1)[1]):
                        source, meta = footer, chunk
                        if index in replaced:
                            source, meta = replacement, new_columns[list(replaced).index(index)]
                        data, chunk_out = _chunk_placed(source, meta, at)
                        out.write(data)
                        placed.append(chunk_out)
                        at += len(data)
                        compressed += len(data)
                        uncompressed += _get(_get(chunk_out, 3), 6)
                    totals: Struct = [(1, LIST, (STRUCT, placed)), (2, I64, uncompressed), (5, I64, first),
                                      (6, I64, compressed), (7, I16, len(groups))]  # fmt: skip
                    groups.append(_with(group, totals))
                    rows += _get(group, 3)
        assert first_meta is not None, "no parts to join"
        encoded = encode_struct(_with(first_meta, [(3, I64, rows), (4, LIST, (STRUCT, groups))]))
        out.write(encoded)
        out.write(len(encoded).to_bytes(4, "little"))
        out.write(MAGIC)
