"""The variant table: a job's annotations as a columnar file beside its VCF, for the variant browser,
the gene view, the summary and the filtered exports (pages and API alike).

Why Parquet written with pyarrow and queried with DuckDB: the annotated VCF holds one text line per
record with every transcript's entry packed in CSQ, so a filtered page would parse the whole file.
The table holds one row per CSQ entry (variant x transcript), in the VCF's order, with each CSQ
field a column: a query reads only the columns it names, and a region filter only the row groups
whose chromosome/position statistics can match. DuckDB runs those queries straight on the file
(no import, no server, the same on every storage backend once the file is local), with SQL for
the per-variant "most severe matching entry", the gene roll-up and the exports; pyarrow writes
the file in row groups as the VCF is read, so memory stays flat at genome scale.

Here a *variant* is one ALT allele of a record (as VEP reports them); a record VEP does not
annotate (a contig the reference lacks, an ALT it skips) is one row with no consequence, so the
browser shows it rather than hiding it. No Django here.
"""

# ruff: noqa: S608 - the SQL is built from this module's fixed fragments; every user value is a parameter
from __future__ import annotations

import gzip
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.annotation.terms import CODING_TERMS, TERMS
from jobs.annotation.vcf import process_alleles

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
# entries per row group: a range of variants or a region skips groups by their statistics; past
# that, larger groups answer faster (less metadata per query: 200k against 64k halved a count)
ROW_GROUP = 200_000
IMPACTS = ("HIGH", "MODERATE", "LOW", "MODIFIER")
NOT_ANNOTATED_RANK = 99  # (a record without CSQ: sorts after every consequence)
CODING = frozenset(term for term, (rank, _) in TERMS.items() if CODING_TERMS >> rank & 1)
VARIANT_CLASSES = ("SNV", "insertion", "deletion", "MNV", "SV")
# the table's own columns; CSQ fields follow under their header names
BASE_COLUMNS = ("v", "rec", "eno", "chrom", "pos", "id", "ref", "alt", "variant_class", "worst", "rank",
                "impact_rank", "coding", "in_dbsnp")  # fmt: skip
# the CSQ fields the browser's page shows (the API's pages carry every field)
PAGE_FIELDS = ("Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature", "BIOTYPE", "EXON", "INTRON", "HGVSc",
               "HGVSp", "Existing_variation", "DISTANCE")  # fmt: skip
SORTS = {
    "position": "v, eno",
    "-position": "v DESC, eno",
    "severity": "rank, v, eno",
    "-severity": "rank DESC, v, eno",
    "gene": "SYMBOL, v, eno",
    "-gene": "SYMBOL DESC, v, eno",
}
GENE_SORTS = {
    "variants": "variants DESC, symbol",
    "symbol": "symbol, gene",
    "severity": "worst_rank, variants DESC, symbol",
    "high": "high DESC, variants DESC, symbol",
}
_RS = re.compile(r"^rs\d+$")


class TableError(Exception):
    """A filter a user gave that cannot be applied (the message says which and why)."""


# -- writing ---------------------------------------------------------------------------------
def csq_field_names(header_lines: Iterable[str]) -> list[str]:
    for line in header_lines:
        if line.startswith("##INFO=<ID=CSQ,"):
            return line.split("Format: ", 1)[1].split('"', 1)[0].split("|")
    return []


def table_columns(csq_fields: Sequence[str]) -> list[str]:
    """The column of each CSQ field: its own name, unless it clashes with a table column."""
    taken = {name.lower() for name in BASE_COLUMNS}
    return [f"CSQ_{name}" if name.lower() in taken else name for name in csq_fields]


def _schema(csq_columns: Sequence[str]) -> pa.Schema:
    base = [
        ("v", pa.int32()), ("rec", pa.int32()), ("eno", pa.int16()), ("chrom", pa.string()), ("pos", pa.int64()),
        ("id", pa.string()), ("ref", pa.string()), ("alt", pa.string()), ("variant_class", pa.string()),
        ("worst", pa.bool_()), ("rank", pa.int16()), ("impact_rank", pa.int8()), ("coding", pa.bool_()),
        ("in_dbsnp", pa.bool_()),
    ]  # fmt: skip
    fields = [pa.field(name, kind) for name, kind in base]
    fields += [pa.field(name, pa.string()) for name in csq_columns]
    return pa.schema(fields, metadata={"gas_variant_table": str(FORMAT_VERSION)})


def variant_class(ref: str, alt: str) -> str:
    """VEP's VARIANT_CLASS, in the browser's five classes, of one VCF ALT against its REF."""
    if alt.startswith("<") or "[" in alt or "]" in alt:
        return "SV"
    alleles = process_alleles(1, ref, [alt])
    if not alleles:
        return "SNV" if len(ref) == len(alt) == 1 else "MNV"
    allele = alleles[0]
    if not allele.ref:
        return "insertion"
    if not allele.alt:
        return "deletion"
    return "SNV" if len(allele.ref) == len(allele.alt) == 1 else "MNV"


def _entry_rank(consequence: str) -> int:
    ranks = [TERMS[term][0] for term in consequence.split("&") if term in TERMS]
    return min(ranks) if ranks else NOT_ANNOTATED_RANK


def _open_vcf(path: Path) -> Any:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else open(path, encoding="utf-8")


def _allele_of_label(ref: str, alts: list[str], pos: int) -> dict[str, int]:
    """Each CSQ Allele label of a record -> the 0-based index of its ALT."""
    labels = {allele.label: allele.alt_index - 1 for allele in process_alleles(pos, ref, alts)}
    for index, alt in enumerate(alts):  # (structural ALTs are labelled as written)
        labels.setdefault(alt, index)
    return labels


def _header_of(path: Path) -> tuple[list[str], int]:
    """The meta-information lines of a VCF and its number of columns."""
    header: list[str] = []
    with _open_vcf(path) as handle:
        for line in handle:
            if line.startswith("#CHROM"):
                return header, len(line.rstrip("\n").split("\t"))
            header.append(line)
    raise TableError(f"{path.name}: no #CHROM header line")


def write_table(vcf_path: str | Path, table_path: str | Path) -> int:
    """Write the variant table of an annotated VCF (this service's own output); returns the number
    of variants. The VCF is read by pyarrow's CSV reader in blocks, and each block's entries are
    split into rows and fields by Arrow kernels: Python touches each record once, to map a
    multi-allelic record's entries to their ALTs. The table appears only when complete."""
    vcf_path, table_path = Path(vcf_path), Path(table_path)
    header, column_count = _header_of(vcf_path)
    csq_fields = csq_field_names(header)
    schema = _schema(table_columns(csq_fields))
    names = [f"c{i}" for i in range(column_count)]
    reader = pacsv.open_csv(
        pa.input_stream(str(vcf_path), compression="gzip" if _is_gzip(vcf_path) else None),
        read_options=pacsv.ReadOptions(skip_rows=len(header) + 1, column_names=names, block_size=4 << 20),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=["c0", "c1", "c2", "c3", "c4", "c7"],
            column_types={name: pa.int64() if name == "c1" else pa.string() for name in names},
            null_values=[], strings_can_be_null=False,
        ),
    )  # fmt: skip
    partial = table_path.with_name(table_path.name + ".partial")
    records = variants = 0
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        pending: list[pa.Table] = []  # (blocks' entries, written a row group at a time)
        held = 0
        for batch in reader:
            if batch.num_rows:
                table = _entries_of_batch(batch, records, variants, len(csq_fields), csq_fields, schema)
                records += batch.num_rows
                variants = int(table["v"][-1].as_py()) + 1
                pending.append(table)
                held += table.num_rows
                if held >= ROW_GROUP:
                    writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                    pending, held = [], 0
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
    partial.replace(table_path)
    return variants


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def _alleles_of_batch(refs: list[str], alts: list[str], csqs: list[str], positions: list[int]) -> tuple[
    list[int], list[str], list[str], list[str]
]:  # fmt: skip
    """Each record's variants: (record index, ALT, its CSQ entries joined, class); a multi-allelic
    record's entries go to their ALTs by VEP's allele labels."""
    parent: list[int] = []
    alleles: list[str] = []
    entries: list[str] = []
    classes: list[str] = []
    for i, (ref, alt, csq) in enumerate(zip(refs, alts, csqs, strict=True)):
        if "," not in alt or not csq:
            parent.append(i)
            alleles.append(alt)
            entries.append(csq)
            classes.append("SNV" if len(ref) == 1 and len(alt) == 1 else variant_class(ref, alt))
            continue
        split = alt.split(",")
        labels = _allele_of_label(ref, split, positions[i])
        by_alt: dict[int, list[str]] = {}
        for raw in csq.split(","):
            by_alt.setdefault(labels.get(raw.split("|", 1)[0], 0), []).append(raw)
        for index, raws in sorted(by_alt.items()):
            parent.append(i)
            alleles.append(split[index])
            entries.append(",".join(raws))
            classes.append(variant_class(ref, split[index]))
    return parent, alleles, entries, classes


def _csq_column(info: pa.Array) -> pa.Array:
    """Each record's CSQ value ("" without one): the engine writes it last in INFO, after any
    other key (an input's own CSQ is renamed), so it runs from the first ``;CSQ=`` to the end.
    (A sentinel ``;CSQ=`` on each end makes every record split in two, then is cut off.)"""
    framed = pc.binary_join_element_wise(";", info, ";CSQ=", "")
    after = pc.list_element(pc.split_pattern(framed, ";CSQ=", max_splits=1), 1)
    return pc.utf8_slice_codeunits(after, 0, -5)


def _entries_of_batch(
    batch: pa.RecordBatch, first_rec: int, first_v: int, width: int, csq_fields: Sequence[str], schema: pa.Schema
) -> pa.Table:
    csq = _csq_column(batch.column("c7"))
    parent, alleles, joined, classes = _alleles_of_batch(
        batch.column("c3").to_pylist(), batch.column("c4").to_pylist(), csq.to_pylist(), batch.column("c1").to_pylist()
    )
    parent_np = np.asarray(parent, dtype=np.int64)
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
    rank = np.asarray([_entry_rank(text) for text in terms], dtype=np.int16)[codes]
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
        *columns,
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


# -- filters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    chrom: str
    start: int = 0
    end: int = 0  # 0: to the end of the chromosome

    def __str__(self) -> str:
        if not self.start:
            return self.chrom
        return f"{self.chrom}:{self.start}-{self.end}" if self.end else f"{self.chrom}:{self.start}-"


@dataclass(frozen=True)
class VariantFilter:
    """What the browser shows: entries matching every given filter (each list: any of its values).

    ``per_variant`` shows each variant once, by its most severe entry among those that match."""

    consequences: tuple[str, ...] = ()
    impacts: tuple[str, ...] = ()
    genes: tuple[str, ...] = ()
    biotypes: tuple[str, ...] = ()
    regions: tuple[Region, ...] = ()
    variant_classes: tuple[str, ...] = ()
    in_dbsnp: bool | None = None
    text: str = ""
    per_variant: bool = True
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def entry_level(self) -> bool:
        """Whether a filter looks into transcript entries (else the variant's worst entry stands)."""
        return bool(self.consequences or self.impacts or self.genes or self.biotypes or self.text)

    def query(self) -> dict[str, str]:
        """The filter as URL parameters (the browser's links, the API's next page)."""
        params = {
            "consequence": ",".join(self.consequences), "impact": ",".join(self.impacts),
            "gene": ",".join(self.genes), "biotype": ",".join(self.biotypes),
            "region": " ".join(map(str, self.regions)), "class": ",".join(self.variant_classes),
            "dbsnp": "" if self.in_dbsnp is None else ("yes" if self.in_dbsnp else "no"),
            "q": self.text, "show": "" if self.per_variant else "all",
        }  # fmt: skip
        return {key: value for key, value in params.items() if value}


def _values(params: Mapping[str, Any], name: str, separator: str = ",") -> list[str]:
    """A parameter's values: repeated, or ``separator``-separated within one."""
    raw = params.get(name) or ""
    items = raw if isinstance(raw, list | tuple) else [raw]
    return [part.strip() for item in items for part in re.split(separator, str(item)) if part.strip()]


_REGION = re.compile(r"^(?P<chrom>[A-Za-z0-9_.]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]*))?)?$")


def parse_region(text: str) -> Region:
    match = _REGION.match(text.strip())
    if not match:
        raise TableError(
            f"region {text!r}: expected chromosome:start-end (for example 20:1000000-2000000), or a chromosome"
        )
    start = int(match["start"].replace(",", "")) if match["start"] else 0
    end = (
        int(match["end"].replace(",", ""))
        if match["end"]
        else (start if match["start"] and match["end"] is None else 0)
    )
    if end and start > end:
        raise TableError(f"region {text!r}: the start ({start}) is after the end ({end})")
    return Region(match["chrom"], start, end)


def parse_filter(params: Mapping[str, Any]) -> VariantFilter:
    """A VariantFilter from URL parameters (consequence, impact, gene, biotype, region, class,
    dbsnp=yes|no, q, show=all); a TableError names the parameter and what it expects."""
    consequences = tuple(_values(params, "consequence"))
    unknown = [term for term in consequences if term not in TERMS]
    if unknown:
        raise TableError(
            f"consequence {', '.join(unknown)}: not a consequence term VEP reports (for example missense_variant)"
        )
    impacts = tuple(value.upper() for value in _values(params, "impact"))
    if bad := [value for value in impacts if value not in IMPACTS]:
        raise TableError(f"impact {', '.join(bad)}: expected one of {', '.join(IMPACTS)}")
    classes = tuple(_values(params, "class"))
    if bad := [value for value in classes if value not in VARIANT_CLASSES]:
        raise TableError(f"class {', '.join(bad)}: expected one of {', '.join(VARIANT_CLASSES)}")
    dbsnp_text = str(params.get("dbsnp") or "").lower()
    if dbsnp_text not in ("", "yes", "no", "true", "false"):
        raise TableError(f"dbsnp {dbsnp_text!r}: expected yes or no")
    show = str(params.get("show") or "variant")
    if show not in ("variant", "all"):
        raise TableError(f"show {show!r}: expected variant (one entry per variant) or all (every transcript)")
    text = str(params.get("q") or "").strip()
    if len(text) > 200:
        raise TableError("q: at most 200 characters")
    return VariantFilter(
        consequences=consequences,
        impacts=impacts,
        genes=tuple(_values(params, "gene"))[:200],
        biotypes=tuple(_values(params, "biotype")),
        regions=tuple(parse_region(value) for value in _values(params, "region", r"[;\s]+")[:50]),
        variant_classes=classes,
        in_dbsnp=None if not dbsnp_text else dbsnp_text in ("yes", "true"),
        text=text,
        per_variant=show == "variant",
    )


def _chrom_names(name: str) -> list[str]:
    bare = name[3:] if name.lower().startswith("chr") else name
    names = [bare, f"chr{bare}"]
    if bare.upper() in ("M", "MT"):
        names += ["M", "MT", "chrM", "chrMT"]
    return names


def _where(filt: VariantFilter, *, entries: bool) -> tuple[str, list[Any]]:
    """SQL conditions and their parameters; ``entries``: the entry-level ones too."""
    conditions: list[str] = []
    params: list[Any] = []
    if filt.regions:
        parts = []
        for region in filt.regions:
            part = "chrom IN (SELECT unnest(?))"
            params.append(_chrom_names(region.chrom))
            if region.start:
                part += " AND pos >= ?"
                params.append(region.start)
            if region.end:
                part += " AND pos <= ?"
                params.append(region.end)
            parts.append(f"({part})")
        conditions.append("(" + " OR ".join(parts) + ")")
    if filt.variant_classes:
        conditions.append("variant_class IN (SELECT unnest(?))")
        params.append(list(filt.variant_classes))
    if filt.in_dbsnp is not None:
        conditions.append("in_dbsnp" if filt.in_dbsnp else "NOT in_dbsnp")
    if entries:
        if filt.consequences:
            conditions.append("list_has_any(string_split(Consequence, '&'), ?)")
            params.append(list(filt.consequences))
        if filt.impacts:
            conditions.append("IMPACT IN (SELECT unnest(?))")
            params.append(list(filt.impacts))
        if filt.genes:
            conditions.append("(upper(SYMBOL) IN (SELECT unnest(?)) OR Gene IN (SELECT unnest(?)))")
            params += [[gene.upper() for gene in filt.genes], list(filt.genes)]
        if filt.biotypes:
            conditions.append("BIOTYPE IN (SELECT unnest(?))")
            params.append(list(filt.biotypes))
        if filt.text:
            if _RS.match(filt.text):  # an rs id: the whole id among the known ones
                conditions.append("(list_contains(string_split(id, ';'), ?) OR "
                                  "list_contains(string_split(Existing_variation, '&'), ?))")  # fmt: skip
                params += [filt.text, filt.text]
            else:
                conditions.append("(contains(lower(HGVSc), ?) OR contains(lower(HGVSp), ?) OR contains(lower(id), ?))")
                params += [filt.text.lower()] * 3
    return (" AND ".join(conditions) or "TRUE"), params


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: ``offset`` rows in (shown as "51-100"; the paging of sorts other than
    position) and, in position order, after (or, going back, before) a variant."""

    offset: int = 0
    after: int | None = None
    before: int | None = None

    def __str__(self) -> str:
        if self.after is not None:
            return f"a{self.after}.{self.offset}"
        if self.before is not None:
            return f"b{self.before}.{self.offset}"
        return str(self.offset)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = re.fullmatch(r"(?:(?P<kind>[ab])(?P<v>\d+)\.)?(?P<offset>\d+)", text.strip())
        if not match:
            raise TableError(f"cursor {text!r}: not a cursor this service gave (use next_cursor as given)")
        offset, kind = int(match["offset"]), match["kind"]
        if kind is None:
            return cls(offset)
        v = int(match["v"])
        return cls(offset, after=v) if kind == "a" else cls(offset, before=v)


_DATABASE: duckdb.DuckDBPyConnection | None = None
_DATABASE_LOCK = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """This process's DuckDB (in memory; it only reads the tables' files), made on first use."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None:
            _DATABASE = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
        return _DATABASE


# -- reading ---------------------------------------------------------------------------------
class VariantTable:
    """Queries on one job's table file (each opens its own in-memory DuckDB connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        schema = pq.read_schema(self.path)
        if (schema.metadata or {}).get(b"gas_variant_table") != str(FORMAT_VERSION).encode():
            raise TableError(f"{self.path.name} is not a variant table of this version")
        self.csq_columns = [name for name in schema.names if name not in BASE_COLUMNS]
        self._variants: int | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        connection = _database().cursor()  # (a cursor per call: one database, its caches shared)
        connection.execute(f"CREATE TEMP VIEW t AS SELECT * FROM read_parquet('{_sql_path(self.path)}')")
        return connection

    def _run(
        self, sql: str, params: Sequence[Any] = (), connection: duckdb.DuckDBPyConnection | None = None
    ) -> duckdb.DuckDBPyConnection:
        return (connection or self._connect()).execute(sql, list(params))

    def _rows(
        self, sql: str, params: Sequence[Any] = (), connection: duckdb.DuckDBPyConnection | None = None
    ) -> list[dict[str, Any]]:
        cursor = self._run(sql, params, connection)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @property
    def variants(self) -> int:
        """How many variants the table holds (from the file's statistics: nothing is scanned)."""
        if self._variants is None:
            metadata = pq.ParquetFile(self.path).metadata
            last = metadata.num_row_groups - 1
            stats = metadata.row_group(last).column(0).statistics if last >= 0 else None
            self._variants = int(stats.max) + 1 if stats is not None and stats.has_min_max else 0
        return self._variants

    def _selection(self, filt: VariantFilter, columns: str, *, extra: str = "") -> tuple[str, list[Any]]:
        """The rows the filter shows: per variant its most severe matching entry, else every match
        (``extra``: one more condition, such as a range of variants)."""
        more = f" AND {extra}" if extra else ""
        if filt.per_variant and filt.entry_level:
            where, params = _where(filt, entries=True)
            return (f"SELECT {columns} FROM t WHERE {where}{more} "
                    "QUALIFY row_number() OVER (PARTITION BY v ORDER BY rank, eno) = 1"), params  # fmt: skip
        where, params = _where(filt, entries=not filt.per_variant)
        if filt.per_variant:
            where += " AND worst"
        return f"SELECT {columns} FROM t WHERE {where}{more}", params

    def count(self, filt: VariantFilter) -> int:
        if filt.per_variant and filt.entry_level:
            where, params = _where(filt, entries=True)
            return self._run(f"SELECT count(DISTINCT v) FROM t WHERE {where}", params).fetchone()[0]  # type: ignore[index]
        sql, params = self._selection(filt, "v")
        return self._run(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]  # type: ignore[index]

    def page(self, filt: VariantFilter, *, sort: str = "position", cursor: Cursor | None = None,
             limit: int = 50, fields: Sequence[str] | None = None) -> list[dict]:  # fmt: skip
        """A page of what the filter shows, each row (per variant) with all its ``entries``; with
        ``fields``, only those CSQ fields (the fewer, the less of each row group is decoded).

        In position order a page is found by scanning ranges of variants from the cursor on, each
        range larger than the last, so a page reads the row groups it needs, not the file; in
        another order the matching keys are sorted (two narrow columns), then the page's rows read."""
        order = SORTS.get(sort)
        if order is None:
            raise TableError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
        cursor = cursor or Cursor()
        connection = self._connect()
        if sort in ("position", "-position"):
            keys = self._scan(connection, filt, ascending=sort == "position", cursor=cursor, limit=limit)
        else:
            sql, params = self._selection(filt, "v, eno, rank, SYMBOL")
            keys = [(row[0], row[1]) for row in self._run(
                f"SELECT v, eno FROM ({sql}) ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, cursor.offset],
                connection).fetchall()]  # fmt: skip
        return self._fetch(connection, keys, with_entries=filt.per_variant, fields=fields)

    _FIRST_WINDOW = 4096  # variants in the first range a position-ordered page scans

    def _scan(
        self, connection: duckdb.DuckDBPyConnection, filt: VariantFilter, *, ascending: bool, cursor: Cursor, limit: int
    ) -> list[tuple[int, int]]:
        forward = cursor.before is None  # (a "previous" cursor scans back from its first variant)
        upwards = ascending == forward
        if cursor.after is not None:
            edge = cursor.after + 1 if ascending else cursor.after - 1
        elif cursor.before is not None:
            edge = cursor.before - 1 if ascending else cursor.before + 1
        else:
            edge = 0 if ascending else self.variants - 1
        if cursor.after is None and cursor.before is None and cursor.offset:  # (an offset alone: counted)
            sql, params = self._selection(filt, "v, eno")
            direction = "" if ascending else " DESC"
            return [(row[0], row[1]) for row in self._run(
                f"SELECT v, eno FROM ({sql}) ORDER BY v{direction}, eno LIMIT ? OFFSET ?",
                [*params, limit, cursor.offset], connection).fetchall()]  # fmt: skip
        keys: list[tuple[int, int]] = []
        window = self._FIRST_WINDOW
        direction = "" if upwards else " DESC"
        while len(keys) < limit and 0 <= edge < self.variants:
            if upwards:
                low, high = edge, min(self.variants - 1, edge + window - 1)
            else:
                low, high = max(0, edge - window + 1), edge
            sql, params = self._selection(filt, "v, eno", extra=f"v BETWEEN {low} AND {high}")
            found = [(row[0], row[1]) for row in self._run(
                f"SELECT v, eno FROM ({sql}) ORDER BY v{direction}, eno LIMIT ?", [*params, limit - len(keys)],
                connection).fetchall()]  # fmt: skip
            keys += found
            edge = high + 1 if upwards else low - 1
            window *= 4
            if not found and 0 <= edge < self.variants:  # a sparse filter: jump to its next match
                beyond = f"v >= {edge}" if upwards else f"v <= {edge}"
                sql, params = self._selection(filt, "v", extra=beyond)
                nearest = self._run(f"SELECT {'min' if upwards else 'max'}(v) FROM ({sql})", params, connection)
                jump = nearest.fetchone()[0]  # type: ignore[index]
                if jump is None:
                    break
                edge, window = jump, self._FIRST_WINDOW
        return keys if forward else keys[::-1]

    def _fetch(
        self,
        connection: duckdb.DuckDBPyConnection,
        keys: list[tuple[int, int]],
        *,
        with_entries: bool,
        fields: Sequence[str] | None = None,
    ) -> list[dict]:
        if not keys:
            return []
        variants = sorted({v for v, _ in keys})
        columns = "*"
        if fields is not None:
            chosen = [name for name in fields if name in self.csq_columns]
            columns = ", ".join([*BASE_COLUMNS, *(_quoted(name) for name in chosen)])
        rows = self._rows(
            f"SELECT {columns} FROM t WHERE v BETWEEN ? AND ? AND list_contains(?, v) ORDER BY v, eno",
            [variants[0], variants[-1], variants], connection,
        )  # fmt: skip
        by_key = {(row["v"], row["eno"]): row for row in rows}
        if with_entries:
            for row in rows:
                by_key[(row["v"], 0)].setdefault("entries", []).append(row)
            for v, eno in keys:
                by_key[(v, eno)]["entries"] = by_key[(v, 0)]["entries"]
        return [by_key[key] for key in keys]

    def entries(self, v: int) -> list[dict]:
        """Every transcript entry of variant ``v``."""
        return self._rows("SELECT * FROM t WHERE v = ? ORDER BY eno", [v])

    def genes(self, filt: VariantFilter, *, sort: str = "variants", limit: int = 100, offset: int = 0) -> list[dict]:
        """Per gene: its variants (matching the filter), their worst consequence and counts by impact
        (each variant counted once, at its worst impact in that gene)."""
        order = GENE_SORTS.get(sort)
        if order is None:
            raise TableError(f"sort {sort!r}: expected one of {', '.join(GENE_SORTS)}")
        where, params = _where(filt, entries=True)
        rows = self._rows(
            f"""WITH per_variant AS (
                SELECT Gene AS gene, any_value(SYMBOL) AS symbol, v, min(rank) AS r, min(impact_rank) AS i
                FROM t WHERE {where} AND Gene <> '' GROUP BY Gene, v)
            SELECT gene, any_value(symbol) AS symbol, count(*) AS variants, min(r) AS worst_rank,
                count(*) FILTER (WHERE i = 0) AS high, count(*) FILTER (WHERE i = 1) AS moderate,
                count(*) FILTER (WHERE i = 2) AS low, count(*) FILTER (WHERE i = 3) AS modifier
            FROM per_variant GROUP BY gene ORDER BY {order} LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        for row in rows:
            row["worst_consequence"] = term_of_rank(row["worst_rank"])
        return rows

    def gene_count(self, filt: VariantFilter) -> int:
        where, params = _where(filt, entries=True)
        return self._run(f"SELECT count(DISTINCT Gene) FROM t WHERE {where} AND Gene <> ''", params).fetchone()[0]  # type: ignore[index]

    def summary(self) -> dict[str, Any]:
        """The charts: variants by most severe consequence, impact, class, chromosome, coding or not."""
        by_rank = self._run("SELECT rank, count(*) FROM t WHERE worst GROUP BY rank ORDER BY rank").fetchall()
        impacts = dict(self._run("SELECT impact_rank, count(*) FROM t WHERE worst GROUP BY impact_rank").fetchall())
        classes = dict(self._run("SELECT variant_class, count(*) FROM t WHERE worst GROUP BY variant_class").fetchall())
        chroms = self._run("SELECT chrom, count(*) FROM t WHERE worst GROUP BY chrom ORDER BY min(v)").fetchall()
        coding = self._run(
            "SELECT count(*) FILTER (WHERE c), count(*) FROM (SELECT bool_or(coding) AS c FROM t GROUP BY v)"
        ).fetchone()
        assert coding is not None
        return {
            "variants": coding[1],
            "most_severe_consequence": {term_of_rank(rank): count for rank, count in by_rank},
            "impact": {name: impacts.get(i, 0) for i, name in enumerate(IMPACTS) if impacts.get(i)}
            | ({"not annotated": impacts[len(IMPACTS)]} if impacts.get(len(IMPACTS)) else {}),
            "variant_class": {name: classes[name] for name in VARIANT_CLASSES if classes.get(name)},
            "chromosome": dict(chroms),
            "coding": {"coding": coding[0], "non-coding": coding[1] - coding[0]},
        }

    def records(self, filt: VariantFilter) -> list[int]:
        """The VCF record numbers (0-based data lines) of the variants the filter shows."""
        where, params = _where(filt, entries=True)
        return [
            row[0] for row in self._run(f"SELECT DISTINCT rec FROM t WHERE {where} ORDER BY rec", params).fetchall()
        ]

    def export_tsv(self, filt: VariantFilter, target: Path) -> None:
        """One row per variant x transcript entry the filter matches, with named columns."""
        where, params = _where(filt, entries=True)
        csq = ", ".join(_quoted(name) for name in self.csq_columns)
        sql = (f"SELECT chrom AS CHROM, pos AS POS, id AS ID, ref AS REF, alt AS ALT, variant_class AS VARIANT_CLASS, "
               f"{csq} FROM t WHERE {where} ORDER BY v, eno")  # fmt: skip
        self._run(f"COPY ({sql}) TO '{_sql_path(target)}' (HEADER, DELIMITER '\t', QUOTE '')", params)


def _quoted(name: str) -> str:
    """A column name as an SQL identifier (CSQ field names come from a file's header)."""
    return '"' + name.replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")  # (a string literal: the paths are the service's own)


def term_of_rank(rank: int) -> str:
    for term, (term_rank, _) in TERMS.items():
        if term_rank == rank:
            return term
    return "not annotated"


def filtered_vcf(source: Path, records: Iterable[int], target: Path) -> int:
    """Write the header of ``source`` and its records numbered in ``records`` (sorted) to
    ``target`` (bgzipped); returns the number written."""
    import pysam

    wanted: Iterator[int] = iter(records)
    next_wanted = next(wanted, None)
    written = 0
    with _open_vcf(source) as handle, pysam.BGZFile(str(target), "wb") as out:
        rec = -1
        for line in handle:
            if line.startswith("#"):
                out.write(line.encode())
                continue
            rec += 1
            if next_wanted is None:
                break
            if rec == next_wanted:
                out.write(line.encode())
                written += 1
                next_wanted = next(wanted, None)
    return written
