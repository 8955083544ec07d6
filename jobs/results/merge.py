"""One job's tables from its shards' (a job annotated in shards, jobs.services.shards): each shard's
variant table numbers its variants and records from 0; joined in order, each shard's numbers move
past the shards before it, so the joined table equals the table of the whole output. Genotype
tables are joined the same way and sorted by (sample, v) as the writer sorts them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.results.schema import ROW_GROUP


def merge_variant_tables(parts: Sequence[Path], table: Path) -> list[int]:
    """Write the variant tables ``parts`` (in order) as one table; returns each part's offset of ``v``."""
    first = pq.ParquetFile(parts[0])
    schema = first.schema_arrow
    v_at, rec_at = schema.get_field_index("v"), schema.get_field_index("rec")
    offsets: list[int] = []
    variants = records = 0
    partial = table.with_name(table.name + ".partial")
    try:
        with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
            for part in parts:
                offsets.append(variants)
                source = pq.ParquetFile(part)
                if source.schema_arrow.remove_metadata() != schema.remove_metadata():
                    raise ValueError(f"{part.name}: its columns differ from the first shard's table")
                last_v = last_rec = -1
                for group in range(source.num_row_groups):
                    rows = source.read_row_group(group)
                    if not rows.num_rows:
                        continue
                    v, rec = rows.column(v_at), rows.column(rec_at)
                    last_v = max(last_v, pc.max(v).as_py())
                    last_rec = max(last_rec, pc.max(rec).as_py())
                    rows = rows.set_column(v_at, schema.field(v_at), pc.add(v, pa.scalar(variants, pa.int32())))
                    rows = rows.set_column(rec_at, schema.field(rec_at), pc.add(rec, pa.scalar(records, pa.int32())))
                    writer.write_table(rows.replace_schema_metadata(schema.metadata), row_group_size=ROW_GROUP)
                variants += last_v + 1
                records += last_rec + 1
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(table)
    return offsets


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
