"""The genotype table: each sample's genotype of each variant, beside the variant table.

One row per (sample, variant), where a *variant* is one ALT allele as in the variant table (its
``v``): the genotype as written (``gt``), the zygosity for that ALT (``zyg``: 0 hom_ref, 1 het,
2 hom_alt, 3 missing; for a multi-allelic record relative to each ALT, ``any_alt`` counting copies
of every ALT), ``copies`` of that ALT, ``phased``, ``dp``, ``gq``, ``ad`` as written and ``vaf``
(the ALT's share of ``AD``), and any FORMAT field the operator lists (``fmt_<KEY>``, as written).

Why long and sparse, sorted by sample: a filter names samples ("the child het, both parents
hom_ref"), so each sample's rows are contiguous and a query reads only the row groups of the
samples it names (their statistics); a page's genotypes are the named samples' rows in the page's
range of variants. A record whose FORMAT holds nothing stored but GT (a 1000 Genomes-style cohort)
does not store its samples' bare hom-ref genotypes: the variant table's ``ref_gt`` gives their text
(``0|0``) and a sample without a row for a variant has exactly that genotype. Records with depths
or qualities (a clinic's trio) keep every sample. So a 2,504-sample cohort stores its carriers,
a trio everything, and neither grows with what it does not hold.

Written in the same pass as the variant table (``writer``), batch by batch in the VCF's order,
then sorted by (sample, v) with DuckDB's external sort: bounded memory in both directions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ZYGOSITIES = ("hom_ref", "het", "hom_alt", "missing")
HOM_REF, HET, HOM_ALT, MISSING = range(4)
# what "zygosity=" takes: the four, and "alt" (het or hom_alt)
ZYGOSITY_CODES = {"hom_ref": (HOM_REF,), "het": (HET,), "hom_alt": (HOM_ALT,), "missing": (MISSING,),
                  "alt": (HET, HOM_ALT)}  # fmt: skip

# a job of up to this many samples also keeps, per variant, one letter per sample in the variant table
# (``zygs``: 0 hom_ref, o hom_ref for this ALT but another ALT carried, 1 het, 2 hom_alt, 3 missing), so
# that a family's filters need no join; larger cohorts filter on the genotype table
ZYGS_UP_TO = 64
ZYG_LETTERS = "0123o"
OTHER_ALT = 4
# the letters of each "zygosity=" value, and of "no copy of any ALT"
ZYG_LETTERS_OF = {"hom_ref": "0o", "het": "1", "hom_alt": "2", "missing": "3", "alt": "12"}

# FORMAT fields every genotype row keeps (beside GT); an operator may list more
STORED_FIELDS = ("DP", "GQ", "AD")

# genotype rows per row group: a sample's rows are found by statistics, a page's by its variants' range
ROW_GROUP = 65_536



def extra_columns(fields: Sequence[str]) -> list[str]:
    return [f"fmt_{name}" for name in fields]


def genotype_schema(extra_fields: Sequence[str]) -> pa.Schema:
    base = [
        ("sample", pa.dictionary(pa.int32(), pa.string())), ("v", pa.int32()), ("gt", pa.string()),
        ("zyg", pa.int8()), ("copies", pa.int8()), ("any_alt", pa.int8()), ("phased", pa.bool_()),
        ("dp", pa.int32()), ("gq", pa.int32()), ("ad", pa.string()), ("vaf", pa.float32()),
    ]  # fmt: skip
    fields = [pa.field(name, kind) for name, kind in base]
    fields += [pa.field(name, pa.string()) for name in extra_columns(extra_fields)]
    return pa.schema(fields)


def parse_gt(text: str) -> tuple[list[int | None], bool]:
    """A GT value's alleles (None: missing) and whether it is phased; VCF 4.4's leading phase
    marker (``|0|1``) is read as such. An unreadable GT is one missing allele."""
    body = text[1:] if text[:1] in ("|", "/") else text
    phased = "|" in body or (text[:1] == "|" and "/" not in body)
    alleles: list[int | None] = []
    for part in re.split(r"[/|]", body):
        if part.isdigit():
            alleles.append(int(part))
        elif part == ".":
            alleles.append(None)
        else:
            return [None], False
    return alleles, phased if len(alleles) > 1 else text[:1] == "|"


def _gt_tables(texts: list[str], max_alt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct GT text: copies of each ALT index (0: of any ALT), its zygosity for each
    ALT index, copies of any ALT, phased, and whether it is a called hom-ref (``0/0``, ``0|0``, ``0``)."""
    n = len(texts)
    copies = np.zeros((n, max_alt + 1), dtype=np.int8)
    zyg = np.full((n, max_alt + 1), MISSING, dtype=np.int8)
    any_alt = np.zeros(n, dtype=np.int8)
    phased = np.zeros(n, dtype=bool)
    hom_ref = np.zeros(n, dtype=bool)
    for d, text in enumerate(texts):
        alleles, phased[d] = parse_gt(text)
        called = [a for a in alleles if a is not None]
        ploidy = len(alleles)
        any_alt[d] = sum(1 for a in called if a > 0)
        hom_ref[d] = bool(called) and len(called) == ploidy and not any_alt[d]
        for index in range(max_alt + 1):
            count = any_alt[d] if index == 0 else sum(1 for a in called if a == index)
            copies[d, index] = count
            if not called or (not count and len(called) < ploidy):
                zyg[d, index] = MISSING  # (a missing allele may be this ALT: never "not carrying")
            elif not count:
                zyg[d, index] = HOM_REF
            else:
                zyg[d, index] = HOM_ALT if count == ploidy else HET
    return copies, zyg, any_alt, phased, hom_ref


_DIGITS = r"^[0-9]+$"
_NUMBER = r"^[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?$"


def _as_int(values: pa.Array, pattern: str = _DIGITS) -> pa.Array:
    """Integers from FORMAT text ('.', empty or unreadable: null); ``_NUMBER`` rounds a decimal."""
    filled = pc.fill_null(values, "")
    good = pc.match_substring_regex(filled, pattern)
    numbers = pc.cast(pc.if_else(good, filled, "0"), pa.float64() if pattern == _NUMBER else pa.int64())
    if pattern == _NUMBER:
        numbers = pc.round(numbers)
    clipped = pc.min_element_wise(numbers, 2**31 - 1)
    return pc.if_else(good, pc.cast(clipped, pa.int32()), pa.scalar(None, pa.int32()))


class GenotypeSink:
    """Collects each batch's genotype rows (unsorted, in a partial file), then sorts them into the
    genotype table. ``add`` answers, per allele of the batch, how many samples carry it, the bare
    hom-ref text of its record's omitted samples (None when every sample is stored) and, for up to
    ZYGS_UP_TO samples, its samples' zygosity letters (else None)."""

    def __init__(self, samples: Sequence[str], path: Path, *, extra_fields: Sequence[str] = ()) -> None:
        self.samples = list(samples)
        self.path = path
        self.extra_fields = tuple(extra_fields)
        self.schema = genotype_schema(self.extra_fields)
        self.unsorted = path.with_name(path.name + ".unsorted")
        self._writer = pq.ParquetWriter(self.unsorted, self.schema, compression="zstd")
        self._names = pa.array(self.samples, type=pa.string())
        self.rows = 0

    def add(
        self, cells_by_sample: Sequence[pa.Array], formats: list[str], parent: np.ndarray, alt_index: np.ndarray,
        first_v: int,
    ) -> tuple[np.ndarray, list[str | None], list[str] | None]:  # fmt: skip
        records, count = len(formats), len(self.samples)
        alleles = len(parent)
        keys = [text.split(":") for text in formats]

        positions: dict[str, np.ndarray] = {}

        def position(name: str) -> np.ndarray:  # (each key's place in each record's FORMAT, found once)
            if name not in positions:
                positions[name] = np.asarray([k.index(name) if name in k else -1 for k in keys], dtype=np.int64)
            return positions[name]

        cells = pa.concat_arrays(
            [pa.array(column) if not isinstance(column, pa.Array) else column for column in cells_by_sample]
        )  # fmt: skip  (cell k = sample * records + record)
        parts = pc.split_pattern(cells, ":")
        offsets = np.asarray(parts.offsets, dtype=np.int64)
        lengths = offsets[1:] - offsets[:-1]
        values = parts.values
        record_of_cell = np.tile(np.arange(records, dtype=np.int64), count)

        def field(name: str) -> pa.Array:
            index = position(name)[record_of_cell]
            valid = (index >= 0) & (index < lengths)
            taken = pc.take(values, pa.array(np.where(valid, offsets[:-1] + index, 0)))
            return pc.if_else(pa.array(valid), taken, pa.scalar(None, pa.string()))

        # GT: each distinct text parsed once
        gt_text = field("GT")
        encoded = pc.dictionary_encode(pc.fill_null(gt_text, "."))
        texts = encoded.dictionary.to_pylist()
        gt_code = np.asarray(encoded.indices, dtype=np.int64)
        max_alt = int(alt_index.max()) if alleles else 0
        copies_of, zyg_of, any_alt_of, phased_of, hom_ref_of = _gt_tables(texts, max_alt)

        # omitted: a bare hom-ref genotype, the same text as its record's first, in a record storing no other field
        bare_record = np.ones(records, dtype=bool)
        for name in (*STORED_FIELDS, *self.extra_fields):
            bare_record &= position(name) < 0
        candidate = hom_ref_of[gt_code].reshape(count, records) & bare_record[None, :]
        has_ref: np.ndarray = np.asarray(candidate.any(axis=0), dtype=bool)
        first_sample = candidate.argmax(axis=0)
        chosen = gt_code.reshape(count, records)[first_sample, np.arange(records)]
        omitted = (gt_code.reshape(count, records) == chosen[None, :]) & has_ref[None, :]
        ref_text = [texts[chosen[r]] if has_ref[r] else None for r in range(records)]

        # one candidate row per (sample, allele): sample-major within the batch
        sample_of = np.repeat(np.arange(count, dtype=np.int64), alleles)
        allele_of = np.tile(np.arange(alleles, dtype=np.int64), count)
        cell = sample_of * records + parent[allele_of]
        code = gt_code[cell]
        zyg = zyg_of[code, alt_index[allele_of]]
        carriers = ((zyg == HET) | (zyg == HOM_ALT)).reshape(count, alleles).sum(axis=0).astype(np.int32)
        keep = np.flatnonzero(~omitted.reshape(-1)[cell])
        if len(keep):
            self._write(keep, cell, code, zyg, sample_of, allele_of, alt_index, first_v, field, gt_text,
                        copies_of, any_alt_of, phased_of)  # fmt: skip
        zygs = None
        if count <= ZYGS_UP_TO:  # (a family: every sample's zygosity in one short text per variant)
            letters = np.where((zyg == HOM_REF) & (any_alt_of[code] > 0), OTHER_ALT, zyg)
            matrix = np.asarray(list(ZYG_LETTERS))[letters].reshape(count, alleles).T
            zygs = ["".join(row) for row in matrix]
        return carriers, [ref_text[r] for r in parent], zygs

    def _write(self, keep, cell, code, zyg, sample_of, allele_of, alt_index, first_v, field, gt_text,  # type: ignore[no-untyped-def]
               copies_of, any_alt_of, phased_of) -> None:  # fmt: skip
        kept_cell = cell[keep]
        kept_alt = alt_index[allele_of[keep]]
        kept_code = code[keep]
        take = pa.array(kept_cell)
        ad_text = field("AD")
        ad = pc.take(ad_text, take)
        # VAF: this ALT's depth (of any ALT, for index 0) over the sum of AD
        ad_parts = pc.split_pattern(pc.fill_null(ad_text, ""), ",")
        ad_offsets = np.asarray(ad_parts.offsets, dtype=np.int64)
        ad_values = np.asarray(pc.fill_null(_as_int(ad_parts.values), 0), dtype=np.int64)
        running = np.concatenate([[0], np.cumsum(ad_values)])
        total = running[ad_offsets[1:]] - running[ad_offsets[:-1]]
        padded = np.append(ad_values, 0)  # (index len(ad_values): an absent depth, 0)
        start, width = ad_offsets[:-1][kept_cell], (ad_offsets[1:] - ad_offsets[:-1])[kept_cell]
        first = padded[np.where(width > 0, start, len(ad_values))]
        own = np.where(kept_alt == 0, total[kept_cell] - first,
                       padded[np.where(kept_alt < width, start + kept_alt, len(ad_values))])  # fmt: skip
        depth = total[kept_cell]
        vaf = pa.array(np.where(depth > 0, own / np.maximum(depth, 1), np.nan).astype(np.float32),
                       mask=~(depth > 0) | ~np.asarray(pc.is_valid(ad)))  # fmt: skip
        arrays = [
            pa.DictionaryArray.from_arrays(pa.array(sample_of[keep], type=pa.int32()), self._names),
            pa.array(first_v + allele_of[keep], type=pa.int32()),
            pc.take(gt_text, take),
            pa.array(zyg[keep], type=pa.int8()),
            pa.array(copies_of[kept_code, kept_alt], type=pa.int8()),
            pa.array(any_alt_of[kept_code], type=pa.int8()),
            pa.array(phased_of[kept_code]),
            pc.take(_as_int(field("DP")), take),
            pc.take(_as_int(field("GQ"), _NUMBER), take),
            pc.if_else(pc.equal(pc.fill_null(ad, "."), "."), pa.scalar(None, pa.string()), ad),
            vaf,
            *(pc.take(field(name), take) for name in self.extra_fields),
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema), row_group_size=ROW_GROUP)
        self.rows += len(keep)

    def finish(self, *, scratch: Path) -> None:
        """Sort the rows by (sample, v) into the table (DuckDB's external sort in 512 MB, spilling to
        ``scratch``: 100k variants x 2,504 samples write in about 0.76 GB in all)."""
        self._writer.close()
        target = self.path.with_name(self.path.name + ".partial")
        connection = duckdb.connect(config={"threads": 2, "memory_limit": "512MB", "temp_directory": str(scratch),
                                            "preserve_insertion_order": False})  # fmt: skip
        try:
            source, out = str(self.unsorted).replace("'", "''"), str(target).replace("'", "''")
            connection.execute(
                f"COPY (SELECT * FROM read_parquet('{source}') ORDER BY sample, v) TO '{out}' "  # noqa: S608
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
            )
        finally:
            connection.close()
        self.unsorted.unlink(missing_ok=True)
        target.replace(self.path)

    def abandon(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: S110 - (closed already; only the partial file matters)
            pass
        self.unsorted.unlink(missing_ok=True)
