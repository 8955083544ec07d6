"""Writing a job's variant table from its annotated VCF (this service's own output).

The VCF is read by pyarrow's CSV reader in blocks, and each block's entries are split into rows and
fields by Arrow kernels and numpy reductions: Python touches each record once, to map a multi-allelic
record's entries to their ALTs. At 1M variants (3.2M entries) that takes 16 s and 430 MB.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.results.genotypes import GenotypeSink
from jobs.results.schema import (
    CODING,
    IMPACTS,
    ROW_GROUP,
    TableError,
    allele_of_label,
    csq_field_names,
    entry_rank,
    is_gzip,
    open_vcf,
    table_columns,
    table_schema,
    variant_class,
)


def _header_of(path: Path) -> tuple[list[str], list[str]]:
    """The meta-information lines of a VCF and its column names."""
    header: list[str] = []
    with open_vcf(path) as handle:
        for line in handle:
            if line.startswith("#CHROM"):
                return header, line.rstrip("\n").split("\t")
            header.append(line)
    raise TableError(f"{path.name}: no #CHROM header line")


def write_table(
    vcf_path: str | Path, table_path: str | Path, *, genotypes_path: str | Path | None = None,
    extra_fields: Sequence[str] = (),
) -> int:  # fmt: skip
    """Write the variant table of an annotated VCF (this service's own output); returns the number
    of variants. The VCF is read by pyarrow's CSV reader in blocks, and each block's entries are
    split into rows and fields by Arrow kernels: Python touches each record once, to map a
    multi-allelic record's entries to their ALTs. With ``genotypes_path``, a VCF with samples also
    gets its genotype table there (``genotypes``; FORMAT ``extra_fields`` kept too). Each table
    appears only when complete."""
    vcf_path, table_path = Path(vcf_path), Path(table_path)
    header, column_names = _header_of(vcf_path)
    column_count = len(column_names)
    samples = column_names[9:] if genotypes_path is not None else []
    csq_fields = csq_field_names(header)
    schema = table_schema(table_columns(csq_fields), samples=samples)
    names = [f"c{i}" for i in range(column_count)]
    reader = pacsv.open_csv(
        pa.input_stream(str(vcf_path), compression="gzip" if is_gzip(vcf_path) else None),
        read_options=pacsv.ReadOptions(skip_rows=len(header) + 1, column_names=names, block_size=4 << 20),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=["c0", "c1", "c2", "c3", "c4", "c7", *(names[8:] if samples else [])],
            column_types={name: pa.int64() if name == "c1" else pa.string() for name in names},
            null_values=[], strings_can_be_null=False,
        ),
    )  # fmt: skip
    partial = table_path.with_name(table_path.name + ".partial")
    sink = (
        GenotypeSink(samples, Path(genotypes_path), extra_fields=extra_fields) if samples and genotypes_path else None
    )
    try:
        with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
            variants = _write_entries(reader, writer, sink, csq_fields, schema)
        if sink is not None:
            with tempfile.TemporaryDirectory(prefix="gas-sort-", dir=table_path.parent) as scratch:
                sink.finish(scratch=Path(scratch))
    except BaseException:
        if sink is not None:
            sink.abandon()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(table_path)
    return variants


def _write_entries(
    reader: pacsv.CSVStreamingReader, writer: pq.ParquetWriter, sink: GenotypeSink | None, csq_fields: Sequence[str],
    schema: pa.Schema,
) -> int:  # fmt: skip
    """The entries of every block, written a row group at a time; returns the number of variants."""
    records = variants = held = 0
    pending: list[pa.Table] = []
    for batch in reader:
        if batch.num_rows:
            table = _entries_of_batch(batch, records, variants, len(csq_fields), csq_fields, schema, sink)
            records += batch.num_rows
            variants = int(table["v"][-1].as_py()) + 1
            pending.append(table)
            held += table.num_rows
            if held >= ROW_GROUP:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                pending, held = [], 0
    if pending:
        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
    return variants


def _alleles_of_batch(refs: list[str], alts: list[str], csqs: list[str], positions: list[int]) -> tuple[
    list[int], list[str], list[str], list[str], list[int]
]:  # fmt: skip
    """Each record's variants: (record index, ALT, its CSQ entries joined, class, the ALT's 1-based
    index: 0 for a multi-allelic record without CSQ, one variant of all its ALTs); a multi-allelic
    record's entries go to their ALTs by VEP's allele labels."""
    parent: list[int] = []
    alleles: list[str] = []
    entries: list[str] = []
    classes: list[str] = []
    indexes: list[int] = []
    for i, (ref, alt, csq) in enumerate(zip(refs, alts, csqs, strict=True)):
        if "," not in alt or not csq:
            parent.append(i)
            indexes.append(1 if "," not in alt else 0)
            alleles.append(alt)
            entries.append(csq)
            classes.append("SNV" if len(ref) == 1 and len(alt) == 1 else variant_class(ref, alt))
            continue
        split = alt.split(",")
        labels = allele_of_label(ref, split, positions[i])
        by_alt: dict[int, list[str]] = {}
        for raw in csq.split(","):
            by_alt.setdefault(labels.get(raw.split("|", 1)[0], 0), []).append(raw)
        for index, raws in sorted(by_alt.items()):
            parent.append(i)
            indexes.append(index + 1)
            alleles.append(split[index])
            entries.append(",".join(raws))
            classes.append(variant_class(ref, split[index]))
    return parent, alleles, entries, classes, indexes


def _csq_column(info: pa.Array) -> pa.Array:
    """Each record's CSQ value ("" without one): the engine writes it last in INFO, after any
    other key (an input's own CSQ is renamed), so it runs from the first ``;CSQ=`` to the end.
    (A sentinel ``;CSQ=`` on each end makes every record split in two, then is cut off.)"""
    framed = pc.binary_join_element_wise(";", info, ";CSQ=", "")
    after = pc.list_element(pc.split_pattern(framed, ";CSQ=", max_splits=1), 1)
    return pc.utf8_slice_codeunits(after, 0, -5)


def _entries_of_batch(
    batch: pa.RecordBatch,
    first_rec: int,
    first_v: int,
    width: int,
    csq_fields: Sequence[str],
    schema: pa.Schema,
    sink: GenotypeSink | None = None,
) -> pa.Table:
    csq = _csq_column(batch.column("c7"))
    parent, alleles, joined, classes, alt_index = _alleles_of_batch(
        batch.column("c3").to_pylist(), batch.column("c4").to_pylist(), csq.to_pylist(), batch.column("c1").to_pylist()
    )
    parent_np = np.asarray(parent, dtype=np.int64)
    carriers = pa.nulls(len(parent), pa.int32())
    ref_gt = zygs = pa.nulls(len(parent), pa.string())
    if sink is not None:
        count, texts, letters = sink.add(
            [batch.column(f"c{9 + s}") for s in range(len(sink.samples))], batch.column("c8").to_pylist(),
            parent_np, np.asarray(alt_index, dtype=np.int64), first_v,
        )  # fmt: skip
        carriers, ref_gt = pa.array(count, type=pa.int32()), pa.array(texts, type=pa.string())
        if letters is not None:
            zygs = pa.array(letters, type=pa.string())
    ids = pc.take(pc.if_else(pc.equal(batch.column("c2"), "."), "", batch.column("c2")), parent_np)
    rs_id = np.asarray(pc.starts_with(ids, "rs"), dtype=bool)

    # the entries: one row each (an allele without any: one empty entry)
    empty = "|" * max(width - 1, 0)
    lists = pc.split_pattern(pa.array(joined, type=pa.string()), ",")
    flat = pc.list_flatten(lists)
    flat = pc.if_else(pc.equal(flat, ""), empty, flat)
    owner = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)  # (allele of each entry)
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    eno = np.arange(len(flat), dtype=np.int64) - offsets[owner]
    fields = pc.split_pattern(flat, "|")
    if width and pc.min(pc.list_value_length(fields)).as_py() < width:  # (short entries: padded)
        padded = [text + "|" * (width - 1 - text.count("|")) for text in flat.to_pylist()]
        fields = pc.split_pattern(pa.array(padded, type=pa.string()), "|")
    columns = [pc.list_element(fields, i) for i in range(width)]

    at = {name: i for i, name in enumerate(csq_fields)}
    consequence = columns[at["Consequence"]] if "Consequence" in at else pa.array([""] * len(flat))
    encoded = pc.dictionary_encode(consequence).combine_chunks() if isinstance(consequence, pa.ChunkedArray) else (
        pc.dictionary_encode(consequence))  # fmt: skip
    terms = encoded.dictionary.to_pylist()
    codes = np.asarray(encoded.indices, dtype=np.int64)
    rank = np.asarray([entry_rank(text) for text in terms], dtype=np.int16)[codes]
    coding = np.asarray([any(term in CODING for term in text.split("&")) for text in terms], dtype=bool)[codes]
    if "IMPACT" in at:
        impact = pc.fill_null(pc.index_in(columns[at["IMPACT"]], value_set=pa.array(IMPACTS)), len(IMPACTS))
        impact_rank = np.asarray(impact, dtype=np.int8)
    else:
        impact_rank = np.full(len(flat), len(IMPACTS), dtype=np.int8)

    # each allele's most severe entry (the first of equals), and whether dbSNP knows it
    starts = offsets[:-1]
    least = np.minimum.reduceat(rank, starts)
    candidates = np.flatnonzero(rank == least[owner])
    first = candidates[np.r_[True, owner[candidates][1:] != owner[candidates][:-1]]]
    worst = np.zeros(len(flat), dtype=bool)
    worst[first] = True
    known = rs_id.copy()
    if "Existing_variation" in at:
        mentions = np.asarray(pc.match_substring(columns[at["Existing_variation"]], "rs"), dtype=np.uint8)
        known |= np.maximum.reduceat(mentions, starts).astype(bool)

    arrays = [
        pa.array(first_v + owner, type=pa.int32()),
        pa.array(first_rec + parent_np[owner], type=pa.int32()),
        pa.array(eno, type=pa.int16()),
        pc.take(batch.column("c0"), parent_np[owner]),
        pc.take(batch.column("c1"), parent_np[owner]),
        pc.take(ids, owner),
        pc.take(batch.column("c3"), parent_np[owner]),
        pc.take(pa.array(alleles, type=pa.string()), owner),
        pc.take(pa.array(classes, type=pa.string()), owner),
        pa.array(worst),
        pa.array(rank, type=pa.int16()),
        pa.array(impact_rank, type=pa.int8()),
        pa.array(coding),
        pa.array(known[owner]),
        pc.take(carriers, owner),
        pc.take(ref_gt, owner),
        pc.take(zygs, owner),
        *columns,
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
