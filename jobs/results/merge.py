"""One job's tables from its shards' (a job annotated in shards, jobs.services.shards): each shard's
variant table numbers its variants and records from 0; joined in order, each shard's numbers move
past the shards before it, so the joined table equals the table of the whole output. Genotype
tables are joined the same way and sorted by (sample, v) as the writer sorts them."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.results.parquet_splice import splice
from jobs.results.schema import ROW_GROUP


def merge_variant_tables(parts: Sequence[Path], table: Path) -> list[int]:
    """Write the variant tables ``parts`` (in order) as one table; returns each part's offset of
    ``v``. The parts' column chunks are copied as they are (jobs.results.parquet_splice) but for
    ``v`` and ``rec``, written anew with their offsets; a part the splice cannot join (page
    indexes, say) makes it rewrite every column instead."""
    schema = pq.ParquetFile(parts[0]).schema_arrow
    for part in parts[1:]:
        if pq.ParquetFile(part).schema_arrow.remove_metadata() != schema.remove_metadata():
            raise ValueError(f"{part.name}: its columns differ from the first shard's table")
    partial = table.with_name(table.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(prefix="gas-merge-", dir=table.parent) as scratch:
            numbers, offsets = _renumbered(parts, Path(scratch))
            try:
                splice(parts, numbers, [schema.get_field_index("v"), schema.get_field_index("rec")], partial)
            except ValueError:
                _rewrite(parts, offsets, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(table)
    return [v for v, _rec in offsets]


def _renumbered(parts: Sequence[Path], scratch: Path) -> tuple[list[Path], list[tuple[int, int]]]:
    """For each part, a file of its ``v`` and ``rec`` moved past the parts before it, in the part's
    row groups; and each part's offsets (v, rec)."""
    files, offsets = [], []
    variants = records = 0
    numbers = pa.schema([pa.field("v", pa.int32()), pa.field("rec", pa.int32())])
    for index, part in enumerate(parts):
        offsets.append((variants, records))
        source = pq.ParquetFile(part)
        path = scratch / f"numbers-{index}.parquet"
        last_v = last_rec = -1
        with pq.ParquetWriter(path, numbers, compression="zstd") as writer:
            for group in range(source.num_row_groups):
                rows = source.read_row_group(group, columns=["v", "rec"])
                if rows.num_rows:
                    last_v = max(last_v, pc.max(rows["v"]).as_py())
                    last_rec = max(last_rec, pc.max(rows["rec"]).as_py())
                new = pa.table([pc.add(rows["v"], pa.scalar(variants, pa.int32())),
                                pc.add(rows["rec"], pa.scalar(records, pa.int32()))], schema=numbers)  # fmt: skip
                writer.write_table(new, row_group_size=max(1, new.num_rows))
        files.append(path)
        variants += last_v + 1
        records += last_rec + 1
    return files, offsets


def _rewrite(parts: Sequence[Path], offsets: Sequence[tuple[int, int]], partial: Path) -> None:
    """The parts decoded and written again, ``v`` and ``rec`` moved by ``offsets``."""
    schema = pq.ParquetFile(parts[0]).schema_arrow
    v_at, rec_at = schema.get_field_index("v"), schema.get_field_index("rec")
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for part, (variants, records) in zip(parts, offsets, strict=True):
            source = pq.ParquetFile(part)
            for group in range(source.num_row_groups):
                rows = source.read_row_group(group)
                rows = rows.set_column(
                    v_at, schema.field(v_at), pc.add(rows.column(v_at), pa.scalar(variants, pa.int32()))
                )
                rows = rows.set_column(
                    rec_at, schema.field(rec_at), pc.add(rows.column(rec_at), pa.scalar(records, pa.int32()))
                )
                writer.write_table(rows.replace_schema_metadata(schema.metadata), row_group_size=ROW_GROUP)


def merge_genotype_tables(parts: Sequence[Path], offsets: Sequence[int], table: Path, *, scratch: Path) -> None:
    """Write the genotype tables ``parts`` as one, their ``v`` moved by ``offsets`` (the variant
    tables'), sorted by (sample, v) with DuckDB's external sort (512 MB, spilling to ``scratch``)."""
    partial = table.with_name(table.name + ".partial")
    connection = duckdb.connect(config={"threads": 2, "memory_limit": "512MB", "temp_directory": str(scratch),
                                        "preserve_insertion_order": False})  # fmt: skip
    try:
        quoted = [str(path).replace("'", "''") for path in (*parts, partial)]
        selects = " UNION ALL ".join(
            f"SELECT * REPLACE (CAST(v + {int(offset)} AS INTEGER) AS v) FROM read_parquet('{path}')"  # noqa: S608
            for path, offset in zip(quoted[:-1], offsets, strict=True)
        )
        connection.execute(
            f"COPY (SELECT * FROM ({selects}) ORDER BY sample, v) TO '{quoted[-1]}' "  # noqa: S608 - (our own paths)
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        connection.close()
    partial.replace(table)
