"""Queries on one job's variant table, with DuckDB straight on the Parquet file: pages, counts,
the gene roll-up, the summary and the exports."""

# ruff: noqa: S608 - the SQL is built from fixed fragments; every user value is a parameter
from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.annotation.terms import TERMS
from jobs.results.filters import Cursor, VariantFilter, where_clause
from jobs.results.genotypes import ZYGOSITIES
from jobs.results.sample_queries import SampleQueries
from jobs.results.schema import BASE_COLUMNS, CODING, FORMAT_VERSION, IMPACTS, VARIANT_CLASSES, TableError, term_of_rank

logger = logging.getLogger(__name__)

# the table's columns an export names, with their names there; CSQ fields follow under their own
EXPORT_BASE_COLUMNS = {
    "chrom": "CHROM", "pos": "POS", "id": "ID", "ref": "REF", "alt": "ALT", "variant_class": "VARIANT_CLASS",
}  # fmt: skip
CODING_RANKS = frozenset(TERMS[term][0] for term in CODING)
# rows an export reads from the table at a time
EXPORT_BATCH_ROWS = 20_000

SORTS = {
    "position": "v, eno",
    "-position": "v DESC, eno",
    "severity": "rank, v, eno",
    "-severity": "rank DESC, v, eno",
    "gene": "SYMBOL = '', SYMBOL, v, eno",  # (variants without a gene last, either way)
    "-gene": "SYMBOL = '', SYMBOL DESC, v, eno",
}

GENE_SORTS = {
    "variants": "variants DESC, symbol",
    "symbol": "symbol, gene",
    "severity": "worst_rank, variants DESC, symbol",
    "high": "high DESC, variants DESC, symbol",
}


_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}

_DATABASE_LOCK = threading.Lock()

# pages and counts use both cores for a short query; exports, long and paced, stream on one thread
# of a database of their own, so that one starting never takes the machine from the pages
_THREADS = {"pages": 2, "exports": 1}


def _database(purpose: str = "pages") -> duckdb.DuckDBPyConnection:
    """This process's DuckDB for ``purpose`` (in memory; it only reads the tables' files), made on first use."""
    with _DATABASE_LOCK:
        if purpose not in _DATABASES:
            # (spills go to the system's temporary folder, not to .tmp/ in whatever the working directory is)
            spill = Path(tempfile.gettempdir()) / "gas-duckdb"
            _DATABASES[purpose] = duckdb.connect(
                config={"threads": _THREADS[purpose], "memory_limit": "512MB", "temp_directory": str(spill)}
            )
        return _DATABASES[purpose]


class OldTable(TableError):
    """A table written by an earlier version (built again from the result)."""


class VariantTable(SampleQueries):
    """Queries on one job's table file and, for a VCF with samples, its genotype table (each query
    opens its own cursor of this process's DuckDB)."""

    def __init__(self, path: str | Path, genotypes: str | Path | None = None) -> None:
        self.path = Path(path)
        schema = pq.read_schema(self.path)
        if (schema.metadata or {}).get(b"gas_variant_table") != str(FORMAT_VERSION).encode():
            raise OldTable(f"{self.path.name} is not a variant table of this version")
        self.csq_columns = [name for name in schema.names if name not in BASE_COLUMNS]
        self.samples: list[str] = json.loads((schema.metadata or {}).get(b"gas_samples", b"[]"))
        self.genotypes_path = Path(genotypes) if genotypes is not None and self.samples else None
        self._variants: int | None = None

    def _connect(self, purpose: str = "pages") -> duckdb.DuckDBPyConnection:
        connection = _database(purpose).cursor()  # (a cursor per call: one database, its caches shared)
        connection.execute(f"CREATE TEMP VIEW t AS SELECT * FROM read_parquet('{sql_path(self.path)}')")
        if self.genotypes_path is not None:
            connection.execute(f"CREATE TEMP VIEW g AS SELECT * FROM read_parquet('{sql_path(self.genotypes_path)}')")
        else:  # (an empty one: a sample filter on a job without samples is refused before it gets here)
            connection.execute("CREATE TEMP VIEW g AS SELECT NULL::VARCHAR AS sample, NULL::INTEGER AS v, "
                               "NULL::TINYINT AS zyg, NULL::TINYINT AS any_alt, NULL::INTEGER AS dp, "
                               "NULL::INTEGER AS gq, NULL::FLOAT AS vaf WHERE FALSE")  # fmt: skip
        return connection

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
            where, params = where_clause(filt, entries=True)
            return (f"SELECT {columns} FROM t WHERE {where}{more} "
                    "QUALIFY row_number() OVER (PARTITION BY v ORDER BY rank, eno) = 1"), params  # fmt: skip
        where, params = where_clause(filt, entries=not filt.per_variant)
        if filt.per_variant:
            where += " AND worst"
        return f"SELECT {columns} FROM t WHERE {where}{more}", params

    def count(self, filt: VariantFilter) -> int:
        if filt.per_variant and filt.entry_level:
            where, params = where_clause(filt, entries=True)
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
            columns = ", ".join([*BASE_COLUMNS, *(quoted(name) for name in chosen)])
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
        where, params = where_clause(filt, entries=True)
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

    def value_counts(self, column: str, limit: int) -> list[tuple[str, int]]:
        """A text column's values (each as written, several joined by &) and their variants, most first."""
        if column not in self.csq_columns:
            raise TableError(f"{column}: not a column of this table")
        name = quoted(column)
        return [(str(value), int(count)) for value, count in self._run(
            f"SELECT {name}, count(DISTINCT v) FROM t WHERE coalesce({name}, '') NOT IN ('', '.') GROUP BY {name} "
            "ORDER BY 2 DESC, 1 LIMIT ?", [limit]).fetchall()]  # fmt: skip

    def gene_count(self, filt: VariantFilter) -> int:
        where, params = where_clause(filt, entries=True)
        return self._run(f"SELECT count(DISTINCT Gene) FROM t WHERE {where} AND Gene <> ''", params).fetchone()[0]  # type: ignore[index]

    def summary(self) -> dict[str, Any]:
        """The charts: variants by most severe consequence, impact, class, chromosome, coding or not."""
        by_rank = self._run("SELECT rank, count(*) FROM t WHERE worst GROUP BY rank ORDER BY rank").fetchall()
        impacts = dict(self._run("SELECT impact_rank, count(*) FROM t WHERE worst GROUP BY impact_rank").fetchall())
        classes = dict(self._run("SELECT variant_class, count(*) FROM t WHERE worst GROUP BY variant_class").fetchall())
        chroms = self._run("SELECT chrom, count(*) FROM t WHERE worst GROUP BY chrom ORDER BY min(v)").fetchall()
        # coding: the most severe consequence is a coding term, as the count log counts its "coding" region
        coding = (sum(count for rank, count in by_rank if rank in CODING_RANKS), sum(count for _, count in by_rank))
        return {
            "variants": coding[1],
            "most_severe_consequence": {term_of_rank(rank): count for rank, count in by_rank},
            "impact": {name: impacts.get(i, 0) for i, name in enumerate(IMPACTS) if impacts.get(i)}
            | ({"not annotated": impacts[len(IMPACTS)]} if impacts.get(len(IMPACTS)) else {}),
            "variant_class": {name: classes[name] for name in VARIANT_CLASSES if classes.get(name)},
            "chromosome": dict(chroms),
            "coding": {"coding": coding[0], "non-coding": coding[1] - coding[0]},
        } | ({"samples": self.sample_stats()} if self.genotypes_path is not None else {})

    def records(self, filt: VariantFilter, *, batch_rows: int = EXPORT_BATCH_ROWS) -> Iterator[int]:
        """The VCF record numbers (0-based data lines) of the variants the filter shows, ascending,
        streamed (the table is in the VCF's order: no sort, nothing held but a batch)."""
        where, params = where_clause(filt, entries=True)
        last = -1
        for batch in self._stream(f"SELECT rec FROM t WHERE {where}", params, batch_rows):
            for rec in batch.column(0).to_numpy():
                if rec != last:
                    last = int(rec)
                    yield last

    def tsv_lines(
        self, filt: VariantFilter, *, samples: Sequence[str] = (), batch_rows: int = EXPORT_BATCH_ROWS
    ) -> Iterator[bytes]:
        """One row per variant x transcript entry the filter matches, with named columns, as UTF-8
        text: the header line, then the rows a batch at a time, in the table's (the VCF's) order;
        ``samples``: a column group each (GT, zygosity, DP, GQ, AD, VAF)."""
        where, params = where_clause(filt, entries=True)
        names = [*EXPORT_BASE_COLUMNS.values(), *self.csq_columns]
        values = [f"t.{quoted(name)}" for name in [*EXPORT_BASE_COLUMNS, *self.csq_columns]]
        joins, join_params = "", []
        for i, sample in enumerate(samples if self.genotypes_path is not None else []):
            # (one column group per sample; a sample without a row has the record's bare hom-ref)
            joins += f" LEFT JOIN (SELECT * FROM g WHERE sample = ?) AS g{i} ON g{i}.v = t.v"
            join_params.append(sample)
            names += [f"{sample}.{label}" for label in ("GT", "zygosity", "DP", "GQ", "AD", "VAF")]
            values += [
                f"coalesce(g{i}.gt, t.ref_gt, '.')",
                f"CASE WHEN g{i}.zyg IS NULL THEN (CASE WHEN t.ref_gt IS NULL THEN 'missing' ELSE 'hom_ref' END) "
                f"ELSE {_ZYGOSITY_SQL.format(column=f'g{i}.zyg')} END",
                f"g{i}.dp", f"g{i}.gq", f"g{i}.ad", f"round(g{i}.vaf, 4)",
            ]  # fmt: skip
        line = " || chr(9) || ".join(f"coalesce(CAST({value} AS VARCHAR), '')" for value in values)
        yield ("\t".join(name.replace("\t", " ") for name in names) + "\n").encode()
        order = " ORDER BY t.v, t.eno" if joins else ""  # (a join need not keep the table's order)
        sql = f"SELECT {line} || chr(10) FROM (SELECT * FROM t WHERE {where}) AS t{joins}{order}"
        params = [*params, *join_params]
        for batch in self._stream(sql, params, batch_rows):
            yield joined_text(batch.column(0))

    def _stream(self, sql: str, params: Sequence[Any], batch_rows: int) -> Iterator[Any]:
        """The rows of ``sql`` as Arrow record batches, produced as they are read (DuckDB's relation
        API streams; a DB-API result would be materialised first)."""
        connection = self._connect("exports")
        try:
            yield from connection.sql(sql, params=list(params)).to_arrow_reader(batch_rows)
        finally:
            connection.close()


_ZYGOSITY_SQL = "CASE {column} " + " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(ZYGOSITIES)) + " END"


def joined_text(column: pa.Array) -> bytes:
    """A string column's values end to end, as UTF-8 bytes: straight from its data buffer (one copy,
    no Python object per row, the GIL held only for the copy); none of the values may be null."""
    if column.null_count:
        raise ValueError("a text column to join holds nulls")
    if not len(column):
        return b""
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)[column.offset : column.offset + len(column) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    return column.buffers()[2].slice(start, end - start).to_pybytes()


def quoted(name: str) -> str:
    """A column name as an SQL identifier (CSQ field names come from a file's header)."""
    return '"' + name.replace('"', '""') + '"'


def sql_path(path: Path) -> str:
    return str(path).replace("'", "''")  # (a string literal: the paths are the service's own)
