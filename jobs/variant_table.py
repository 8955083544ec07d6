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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.annotation.terms import CODING_TERMS, TERMS
from jobs.annotation.vcf import process_alleles

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ROW_GROUP = 64_000  # entries per row group: a region filter skips groups by their statistics
IMPACTS = ("HIGH", "MODERATE", "LOW", "MODIFIER")
NOT_ANNOTATED_RANK = 99  # (a record without CSQ: sorts after every consequence)
CODING = frozenset(term for term, (rank, _) in TERMS.items() if CODING_TERMS >> rank & 1)
VARIANT_CLASSES = ("SNV", "insertion", "deletion", "MNV", "SV")
# the table's own columns; CSQ fields follow under their header names
BASE_COLUMNS = ("v", "rec", "eno", "chrom", "pos", "id", "ref", "alt", "variant_class", "worst", "rank",
                "impact_rank", "coding", "in_dbsnp")  # fmt: skip
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


class _TableWriter:
    """Rows gathered as tuples (one per entry) and turned into columns a row group at a time."""

    def __init__(self, writer: pq.ParquetWriter, schema: pa.Schema, csq_fields: Sequence[str]) -> None:
        self.writer = writer
        self.schema = schema
        self.width = len(csq_fields)
        self.existing = csq_fields.index("Existing_variation") if "Existing_variation" in csq_fields else -1
        self.base: list[tuple[Any, ...]] = []
        self.csq: list[str] = []
        self.variants = 0
        self._terms: dict[str, tuple[int, int, bool]] = {}  # Consequence, IMPACT -> rank, impact rank, coding
        self._empty = "|" * (self.width - 1)

    def _classified(self, consequence: str, impact: str) -> tuple[int, int, bool]:
        key = consequence + "|" + impact
        known = self._terms.get(key)
        if known is None:
            terms = consequence.split("&") if consequence else []
            known = self._terms[key] = (
                _entry_rank(consequence),
                IMPACTS.index(impact) if impact in IMPACTS else len(IMPACTS),
                any(term in CODING for term in terms),
            )
        return known

    def add(self, rec: int, columns: list[str]) -> None:
        chrom, pos, vid, ref, alt_column = columns[0], int(columns[1]), columns[2], columns[3], columns[4]
        alts = alt_column.split(",")
        # each entry stays one string here (its fields are split into columns by pyarrow at flush);
        # only its allele, consequence and impact are read
        by_alt: dict[int, list[tuple[str, list[str]]]] = {}
        raw_entries = _csq_of(columns[7]) if len(columns) > 7 else []
        if raw_entries:
            labels = _allele_of_label(ref, alts, pos) if len(alts) > 1 or len(ref) > 1 or len(alts[0]) > 1 else {}
            for raw in raw_entries:
                missing = self.width - 1 - raw.count("|")
                if missing > 0:
                    raw += "|" * missing
                head = raw.split("|", 3)
                by_alt.setdefault(labels.get(head[0], 0), []).append((raw, head))
        ids = vid if vid != "." else ""
        for index in sorted(by_alt) if by_alt else [0]:
            alt = alts[index] if index < len(alts) else alt_column
            allele_entries = by_alt.get(index) or [(self._empty, ["", "", ""])]
            classified = [self._classified(head[1], head[2]) if len(head) > 2 else (NOT_ANNOTATED_RANK, 4, False)
                          for _, head in allele_entries]  # fmt: skip
            ranks = [item[0] for item in classified]
            worst_at = ranks.index(min(ranks))
            known = ids.startswith("rs") or (
                self.existing >= 0
                and any("rs" in raw for raw, _ in allele_entries)
                and any("rs" in raw.split("|")[self.existing] for raw, _ in allele_entries)
            )
            vclass = variant_class(ref, alt) if len(ref) > 1 or len(alt) > 1 else "SNV"
            v = self.variants
            for eno, (rank, impact_rank, coding) in enumerate(classified):
                self.base.append((v, rec, eno, chrom, pos, ids, ref, alt, vclass, eno == worst_at, rank, impact_rank,
                                  coding, known))  # fmt: skip
            self.csq.extend(raw for raw, _ in allele_entries)
            self.variants += 1
        if len(self.base) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self.base:
            return
        arrays = [pa.array(list(column), type=field.type)
                  for column, field in zip(zip(*self.base, strict=True), self.schema, strict=False)]  # fmt: skip
        if self.width:
            fields = pc.split_pattern(pa.array(self.csq, type=pa.string()), "|")
            arrays += [pc.list_element(fields, i) for i in range(self.width)]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.base, self.csq = [], []


def write_table(vcf_path: str | Path, table_path: str | Path) -> int:
    """Write the variant table of an annotated VCF; returns the number of variants."""
    vcf_path, table_path = Path(vcf_path), Path(table_path)
    with _open_vcf(vcf_path) as handle:
        header: list[str] = []
        for line in handle:
            if line.startswith("#CHROM"):
                break
            header.append(line)
        csq_fields = csq_field_names(header)
        schema = _schema(table_columns(csq_fields))
        partial = table_path.with_name(table_path.name + ".partial")
        with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
            rows = _TableWriter(writer, schema, csq_fields)
            for rec, line in enumerate(handle):
                rows.add(rec, line.rstrip("\n").split("\t"))
            rows.flush()
    partial.replace(table_path)
    return rows.variants


def _csq_of(info: str) -> list[str]:
    at = info.find("CSQ=")
    if at < 0 or (at and info[at - 1] != ";"):
        at = info.find(";CSQ=")
        if at < 0:
            return []
        at += 1
    end = info.find(";", at)
    return info[at + 4 : end if end >= 0 else len(info)].split(",")


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


# -- reading ---------------------------------------------------------------------------------
class VariantTable:
    """Queries on one job's table file (each opens its own in-memory DuckDB connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        schema = pq.read_schema(self.path)
        if (schema.metadata or {}).get(b"gas_variant_table") != str(FORMAT_VERSION).encode():
            raise TableError(f"{self.path.name} is not a variant table of this version")
        self.csq_columns = [name for name in schema.names if name not in BASE_COLUMNS]

    def _run(self, sql: str, params: Sequence[Any] = ()) -> duckdb.DuckDBPyRelation:
        connection = duckdb.connect(config={"threads": 2, "enable_external_access": True})
        connection.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{_sql_path(self.path)}')")
        return connection.execute(sql, list(params))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _selection(self, filt: VariantFilter, columns: str) -> tuple[str, list[Any]]:
        """The rows the filter shows: per variant its most severe matching entry, else every match."""
        if filt.per_variant and filt.entry_level:
            where, params = _where(filt, entries=True)
            return (f"SELECT {columns} FROM t WHERE {where} "
                    "QUALIFY row_number() OVER (PARTITION BY v ORDER BY rank, eno) = 1"), params  # fmt: skip
        where, params = _where(filt, entries=not filt.per_variant)
        if filt.per_variant:
            where += " AND worst"
        return f"SELECT {columns} FROM t WHERE {where}", params

    def count(self, filt: VariantFilter) -> int:
        if filt.per_variant and filt.entry_level:
            where, params = _where(filt, entries=True)
            return self._run(f"SELECT count(DISTINCT v) FROM t WHERE {where}", params).fetchone()[0]  # type: ignore[index]
        sql, params = self._selection(filt, "v")
        return self._run(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]  # type: ignore[index]

    def page(self, filt: VariantFilter, *, sort: str = "position", offset: int = 0, limit: int = 50) -> list[dict]:
        order = SORTS.get(sort)
        if order is None:
            raise TableError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
        sql, params = self._selection(filt, "*")
        return self._rows(f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])

    def entries(self, v: int) -> list[dict]:
        """Every transcript entry of variant ``v``."""
        return self._rows("SELECT * FROM t WHERE v = ? ORDER BY eno", [v])

    def entries_of(self, variants: Sequence[int]) -> list[dict]:
        """Every transcript entry of the ``variants`` (a page's), in order."""
        if not variants:
            return []
        low, high = min(variants), max(variants)  # (a range first: row groups outside it are skipped)
        return self._rows(
            "SELECT * FROM t WHERE v BETWEEN ? AND ? AND list_contains(?, v) ORDER BY v, eno",
            [low, high, list(variants)],
        )

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
        csq = ", ".join(f'"{name}"' for name in self.csq_columns)
        sql = (f"SELECT chrom AS CHROM, pos AS POS, id AS ID, ref AS REF, alt AS ALT, variant_class AS VARIANT_CLASS, "
               f"{csq} FROM t WHERE {where} ORDER BY v, eno")  # fmt: skip
        self._run(f"COPY ({sql}) TO '{_sql_path(target)}' (HEADER, DELIMITER '\t', QUOTE '')", params)


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
