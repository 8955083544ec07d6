"""A sharded job's variant table from its shards' tables (issue 32, item 1): column chunks copied
byte for byte, v and rec written anew past the shards before; the joined table equals the table of
the whole output, for DuckDB and pyarrow alike."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from jobs.annotation.engine import annotate_vcf
from jobs.annotation.shards import split_vcf
from jobs.results.merge import merge_variant_tables
from jobs.results.parquet_splice import _Reader, encode_struct
from jobs.results.queries import VariantTable
from jobs.results.writer import write_table

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def shards_and_whole(tmp_path_factory, demo_reference):
    work = tmp_path_factory.mktemp("merge")
    source = DATA / "synthetic_chr20_10k.vcf.gz"
    whole = annotate_vcf(source, work / "whole.vcf.gz", demo_reference).output
    write_table(whole, work / "whole.parquet")
    tables = []
    for shard in split_vcf(source, work, shard_lines=3000, name=source.name):
        out = annotate_vcf(shard.path, work / f"{shard.path.name}.out.vcf.gz", demo_reference,
                           line_offset=shard.line_offset).output  # fmt: skip
        tables.append(work / f"{shard.path.name}.parquet")
        write_table(out, tables[-1])
    return work, tables


def test_the_footer_codec_reads_and_writes_pyarrows_footers_byte_for_byte(shards_and_whole):
    work, tables = shards_and_whole
    for path in (*tables, work / "whole.parquet"):
        data = path.read_bytes()
        size = int.from_bytes(data[-8:-4], "little")
        footer = data[-8 - size : -8]
        assert encode_struct(_Reader(footer).struct()) == footer


def test_joined_shard_tables_equal_the_whole_table(shards_and_whole, tmp_path):
    work, tables = shards_and_whole
    assert len(tables) == 3  # (3,000, 3,000 and 4,000 lines: a short last shard joins the one before)
    offsets = merge_variant_tables(tables, tmp_path / "joined.parquet")
    joined, whole = pq.read_table(tmp_path / "joined.parquet"), pq.read_table(work / "whole.parquet")
    assert joined.equals(whole) and joined.schema.metadata == whole.schema.metadata
    assert offsets[0] == 0 and offsets == sorted(offsets) and len(set(offsets)) == 3
    # every chunk but v's and rec's is the part's own bytes
    part = tables[1].read_bytes()
    for name in ("Consequence", "Feature", "HGVSc"):
        chunk = pq.ParquetFile(tables[1]).metadata.row_group(0).column(pq.read_schema(tables[1]).get_field_index(name))
        start = min(o for o in (chunk.dictionary_page_offset, chunk.data_page_offset) if o)
        assert part[start : start + chunk.total_compressed_size] in (tmp_path / "joined.parquet").read_bytes()
    table = VariantTable(tmp_path / "joined.parquet")
    assert table.variants == VariantTable(work / "whole.parquet").variants
    assert table.summary() == VariantTable(work / "whole.parquet").summary()
    query = "SELECT v, eno, Consequence, HGVSc FROM read_parquet('{}') WHERE v BETWEEN 2000 AND 4000 ORDER BY v, eno"
    assert duckdb.sql(query.format(tmp_path / "joined.parquet")).fetchall() == duckdb.sql(
        query.format(work / "whole.parquet")).fetchall()  # fmt: skip


def test_a_part_the_splice_cannot_join_is_rewritten_with_the_same_result(shards_and_whole, tmp_path):
    work, tables = shards_and_whole
    indexed = tmp_path / "indexed.parquet"
    pq.write_table(pq.read_table(tables[1]), indexed, compression="zstd", write_page_index=True,
                   row_group_size=100_000)  # fmt: skip
    merge_variant_tables([tables[0], indexed, tables[2]], tmp_path / "joined.parquet")
    assert pq.read_table(tmp_path / "joined.parquet").equals(pq.read_table(work / "whole.parquet"))
