"""The genotype table's queries, a part of VariantTable's: a page's genotypes, per-sample statistics
(counts, depth, Ti/Tv, the X heterozygosity of the sex check) and parent-child Mendelian checks."""

# ruff: noqa: S608 - the SQL is built from fixed fragments; every user value is a parameter
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from jobs.results.genotypes import ZYGOSITIES


class SampleQueries:
    """Queries on the genotype table ``g`` beside the variant table ``t`` (VariantTable's connection),
    and the two ways every query of a table runs (``_run``, ``_rows``)."""

    samples: list[str]
    genotypes_path: Path | None

    def _connect(self, purpose: str = "pages") -> duckdb.DuckDBPyConnection:
        raise NotImplementedError

    def sample_genotypes(
        self, variants: Sequence[int], samples: Sequence[str], connection: duckdb.DuckDBPyConnection | None = None
    ) -> dict[int, dict[str, dict[str, Any]]]:
        """Each variant's genotypes of ``samples``: {v: {sample: {gt, zygosity, phased, dp, gq, ad, vaf}}};
        a sample the table omits has the record's bare hom-ref genotype."""
        if not variants or not samples or self.genotypes_path is None:
            return {}
        connection = connection or self._connect()
        low, high = min(variants), max(variants)
        stored = self._rows(
            "SELECT * EXCLUDE (copies) FROM g WHERE sample IN (SELECT unnest(?)) AND v BETWEEN ? AND ? "
            "AND list_contains(?, v)", [list(samples), low, high, list(variants)], connection,
        )  # fmt: skip
        ref_gt = dict(self._run("SELECT v, any_value(ref_gt) FROM t WHERE v BETWEEN ? AND ? AND list_contains(?, v) "
                                "GROUP BY v", [low, high, list(variants)], connection).fetchall())  # fmt: skip
        found: dict[int, dict[str, dict[str, Any]]] = {v: {} for v in variants}
        for row in stored:
            found[row["v"]][row["sample"]] = genotype_out(row)
        for v in variants:
            for name in samples:
                if name not in found[v]:
                    text = ref_gt.get(v) or "."
                    zygosity = "hom_ref" if ref_gt.get(v) else "missing"
                    found[v][name] = {"gt": text, "zygosity": zygosity, "phased": "|" in text,
                                      "dp": None, "gq": None, "ad": None, "vaf": None}  # fmt: skip
        return {v: {name: found[v][name] for name in samples} for v in variants}

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

    def sample_stats(self) -> list[dict[str, Any]]:
        """Per sample: variants carried, het, hom_alt, missing, mean depth (of the genotypes that
        give one), Ti/Tv of the SNVs carried, and het/hom_alt calls on X outside its PARs (the sex check)."""
        rows = self._rows(
            f"""WITH w AS (SELECT v, chrom, pos, ref, alt, variant_class FROM t WHERE worst)
            SELECT sample, count(*) FILTER (WHERE zyg IN (1, 2)) AS variants, count(*) FILTER (WHERE zyg = 1) AS het,
                count(*) FILTER (WHERE zyg = 2) AS hom_alt, count(*) FILTER (WHERE zyg = 3) AS missing,
                avg(dp) AS mean_dp,
                count(*) FILTER (WHERE zyg IN (1, 2) AND variant_class = 'SNV' AND {_TRANSITION}) AS ti,
                count(*) FILTER (WHERE zyg IN (1, 2) AND variant_class = 'SNV' AND NOT {_TRANSITION}) AS tv,
                count(*) FILTER (WHERE zyg = 1 AND {_X_NON_PAR}) AS x_het,
                count(*) FILTER (WHERE zyg = 2 AND {_X_NON_PAR}) AS x_hom
            FROM g JOIN w USING (v) GROUP BY sample"""
        )  # fmt: skip
        by_name = {row["sample"]: row for row in rows}
        stats = []
        for name in self.samples:
            row = by_name.get(name) or {"variants": 0, "het": 0, "hom_alt": 0, "missing": 0, "mean_dp": None,
                                        "ti": 0, "tv": 0, "x_het": 0, "x_hom": 0}  # fmt: skip
            mean = row["mean_dp"]
            stats.append({
                "sample": name, "variants": row["variants"], "het": row["het"], "hom_alt": row["hom_alt"],
                "missing": row["missing"], "mean_dp": None if mean is None else round(float(mean), 1),
                "ti_tv": round(row["ti"] / row["tv"], 2) if row["tv"] else None,
                "x_het": row["x_het"], "x_hom": row["x_hom"], "sex_from_x": sex_from_x(row["x_het"], row["x_hom"]),
            })  # fmt: skip
        return stats

    def mendelian(self, parent: str, child: str) -> dict[str, int]:
        """Of the autosomal variants where parent and child are both called and one carries the ALT,
        how many the child cannot have from this parent (hom_alt against hom_ref, either way)."""
        row = self._run(
            f"""WITH p AS (SELECT v, zyg FROM g WHERE sample = ?), c AS (SELECT v, zyg FROM g WHERE sample = ?),
            j AS (SELECT coalesce(p.v, c.v) AS v, coalesce(p.zyg, 0) AS pz, coalesce(c.zyg, 0) AS cz
                  FROM p FULL JOIN c ON p.v = c.v)
            SELECT count(*) FILTER (WHERE pz <> 3 AND cz <> 3 AND (pz IN (1, 2) OR cz IN (1, 2))),
                count(*) FILTER (WHERE (pz = 0 AND cz = 2) OR (pz = 2 AND cz = 0))
            FROM j WHERE v IN (SELECT v FROM t WHERE worst AND chrom NOT IN {_SEX_AND_MT})""",
            [parent, child],
        ).fetchone()
        assert row is not None
        return {"informative": int(row[0]), "errors": int(row[1])}


_TRANSITION = "upper(ref || alt) IN ('AG', 'GA', 'CT', 'TC')"
# X outside its pseudo-autosomal regions in GRCh37 and GRCh38 alike
_X_NON_PAR = "chrom IN ('X', 'chrX') AND pos BETWEEN 2781480 AND 154931043"
_SEX_AND_MT = "('X', 'chrX', 'Y', 'chrY', 'MT', 'M', 'chrM', 'chrMT')"
# X calls needed before a sex is inferred, and the het share below which it is male, above which female
SEX_MIN_CALLS, MALE_HET_BELOW, FEMALE_HET_ABOVE = 10, 0.1, 0.25


def sex_from_x(het: int, hom: int) -> str:
    """The sex X heterozygosity suggests ("male", "female", or "unknown" with too few calls or in between)."""
    if het + hom < SEX_MIN_CALLS:
        return "unknown"
    share = het / (het + hom)
    return "male" if share < MALE_HET_BELOW else "female" if share > FEMALE_HET_ABOVE else "unknown"


def genotype_out(row: dict[str, Any]) -> dict[str, Any]:
    """A genotype row as pages and the API show it."""
    extra = {name[4:]: row[name] for name in row if name.startswith("fmt_") and row[name] is not None}
    vaf = row.get("vaf")
    return {"gt": row["gt"] or ".", "zygosity": ZYGOSITIES[row["zyg"]], "phased": bool(row["phased"]),
            "dp": row["dp"], "gq": row["gq"], "ad": row["ad"], "vaf": None if vaf is None else round(float(vaf), 4),
            **({"format": extra} if extra else {})}  # fmt: skip
