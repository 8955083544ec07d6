"""Benchmark: samples in the results (issue 29): the genotype table written and queried at scale.

    python benchmarks/samples.py [--trio 1000000] [--cohort 100000] [--samples 2504] [--repeat 20] [--work DIR]

Two inputs on the demo reference, annotated by the engine (sites only, two processes), then given
sample columns as the worker's result would carry them (SYNTHETIC genotypes, seeded):
  - a trio (``--trio`` variants; GT:AD:DP:GQ, with de novo, recessive and compound-het sites);
  - a cohort (``--cohort`` variants x ``--samples`` samples; GT only, phased, allele frequencies
    from a 1000 Genomes-like spectrum: most variants rare).
For each: the tables written as the worker writes them (time, the writing process's peak memory,
size on disk), then a filtered page (50 rows with the shown samples' genotypes) and the filter's
count, ``--repeat`` times each, p50/p95 per filter and over all. The peer, in the same run: the
same page without any sample filter (the variant table alone).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.variant_browser import load, percentile  # noqa: E402

TRIO = ["PROBAND", "FATHER", "MOTHER"]
PED = [{"family": "F", "individual": "PROBAND", "father": "FATHER", "mother": "MOTHER", "sex": "male",
        "phenotype": "affected"},
       {"family": "F", "individual": "FATHER", "father": "", "mother": "", "sex": "male", "phenotype": "unaffected"},
       {"family": "F", "individual": "MOTHER", "father": "", "mother": "", "sex": "female",
        "phenotype": "unaffected"}]  # fmt: skip

TRIO_FILTERS: list[tuple[str, dict]] = [
    ("no sample filter (peer)", {}),
    ("de novo", {"inheritance": "de_novo"}),
    ("recessive", {"inheritance": "recessive"}),
    ("compound het", {"inheritance": "compound_het"}),
    ("proband het, DP>=20, VAF>=0.3", {"sample": "PROBAND", "zygosity": "het", "min_dp": "20", "min_vaf": "0.3"}),
    ("both parents hom_ref", {"sample": ["FATHER", "MOTHER"], "zygosity": "hom_ref"}),
    ("de novo + HIGH/MODERATE", {"inheritance": "de_novo", "impact": "HIGH,MODERATE"}),
]


def cohort_filters(samples: list[str]) -> list[tuple[str, dict]]:
    return [
        ("no sample filter (peer)", {}),
        ("one sample carries", {"sample": samples[len(samples) // 25], "zygosity": "alt"}),
        ("one sample hom_alt", {"genotype": f"{samples[7]}:hom_alt"}),
        ("carried by all of 2", {"carrier_all": f"{samples[1]},{samples[2]}"}),
        ("in at most 1 sample", {"max_carriers": "1"}),
        ("none of 3 carry", {"carrier_none": ",".join(samples[3:6])}),
        ("one sample + missense",
         {"sample": samples[len(samples) * 4 // 5], "zygosity": "alt", "consequence": "missense_variant"}),
    ]


def trio_cells(rng: np.random.Generator, count: int) -> list[str]:
    """Each record's three sample fields (GT:AD:DP:GQ): mostly inherited hets and hom_alts, with
    de novo, recessive and missing calls mixed in."""
    kinds = rng.choice(6, size=count, p=[0.55, 0.25, 0.1, 0.05, 0.03, 0.02])
    depth = rng.integers(8, 60, size=(count, 3))
    gq = rng.integers(10, 99, size=(count, 3))
    patterns = {
        0: ("0/1", "0/1", "0/0"), 1: ("0/1", "0/0", "0/1"), 2: ("1/1", "1/1", "0/1"),
        3: ("1/1", "0/1", "0/1"), 4: ("0/1", "0/0", "0/0"), 5: ("0/1", "./.", "0/0"),
    }  # fmt: skip
    out = []
    for i in range(count):
        fields = []
        for s, gt in enumerate(patterns[int(kinds[i])]):
            dp = int(depth[i, s])
            alt = 0 if gt in ("0/0", "./.") else dp if gt == "1/1" else dp // 2
            fields.append(f"{gt}:{dp - alt},{alt}:{dp}:{int(gq[i, s])}" if gt != "./." else "./.:.:.:.")
        out.append("\t".join(fields))
    return out


def with_samples(annotated: Path, target: Path, samples: list[str], cells, fmt: str) -> None:
    """The annotated VCF with FORMAT and sample columns appended (``cells(n)``: n records' fields)."""
    with gzip.open(annotated, "rt") as source, gzip.open(target, "wt", compresslevel=1) as out:
        batch: list[str] = []

        def flush() -> None:
            for line, tail in zip(batch, cells(len(batch)), strict=True):
                out.write(f"{line}\t{fmt}\t{tail}\n")
            batch.clear()

        for line in source:
            if line.startswith("##"):
                out.write(line)
            elif line.startswith("#CHROM"):
                out.write(line.rstrip("\n") + "\tFORMAT\t" + "\t".join(samples) + "\n")
            else:
                batch.append(line.rstrip("\n"))
                if len(batch) >= 2000:
                    flush()
        flush()


WRITE_STEP = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from jobs.results.writer import write_table
began = time.perf_counter()
variants = write_table(Path(sys.argv[2]), Path(sys.argv[3]), genotypes_path=Path(sys.argv[4]))
print(json.dumps({"variants": variants, "seconds": time.perf_counter() - began,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write(vcf: Path, table: Path, genotypes: Path) -> dict:
    """Write the tables in a process of its own (its peak memory is the writer's, DuckDB's sort included)."""
    done = subprocess.run([sys.executable, "-c", WRITE_STEP, str(ROOT), str(vcf), str(table), str(genotypes)],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_filters(table, filters, samples, pedigree, repeat: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    from jobs.results.filters import parse_filter
    from jobs.results.samples import resolve, shown_samples
    from jobs.results.schema import PAGE_FIELDS

    timings: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for label, params in filters:
        filt = resolve(parse_filter(params), samples=samples, pedigree=pedigree)
        shown = shown_samples(filt, samples)
        pages, count_times = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            rows = table.page(filt, limit=50, fields=PAGE_FIELDS)
            table.sample_genotypes(sorted({row["v"] for row in rows}), shown)
            pages.append(time.perf_counter() - began)
            began = time.perf_counter()
            counts[label] = table.count(filt)
            count_times.append(time.perf_counter() - began)
        timings[f"{label}|page"], timings[f"{label}|count"] = pages, count_times
    return timings, counts


def report(title: str, filters, timings: dict[str, list[float]], counts: dict[str, int]) -> None:
    print(f"\n{title}  (ms; load average {load()})")
    print(f"{'filter':<34}{'page p50':>10}{'page p95':>10}{'count p50':>11}{'count p95':>11}{'matches':>10}")
    for label, _ in filters:
        page, count = timings[f"{label}|page"], timings[f"{label}|count"]
        print(f"{label:<34}{1000 * statistics.median(page):>10.0f}{1000 * percentile(page, 0.95):>10.0f}"
              f"{1000 * statistics.median(count):>11.0f}{1000 * percentile(count, 0.95):>11.0f}"
              f"{counts[label]:>10}")  # fmt: skip
    sampled = [label for label, _ in filters if "peer" not in label]
    pages = [t for label in sampled for t in timings[f"{label}|page"]]
    count_all = [t for label in sampled for t in timings[f"{label}|count"]]
    every = f"{1000 * statistics.median(pages):>10.0f}{1000 * percentile(pages, 0.95):>10.0f}"
    print(f"{'sample filters, all':<34}{every}"
          f"{1000 * statistics.median(count_all):>11.0f}{1000 * percentile(count_all, 0.95):>11.0f}")  # fmt: skip
    peer = statistics.median(timings[f"{filters[0][0]}|page"])
    print(f"page with sample filters / page without (median): {statistics.median(pages) / peer:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trio", type=int, default=1_000_000)
    parser.add_argument("--cohort", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2504)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--work", type=Path, help="keep the VCFs and tables here (reused when present)")
    options = parser.parse_args()

    from benchmarks.synthetic import generate
    from jobs.annotation.engine import annotate_vcf
    from jobs.annotation.reference import Reference
    from jobs.results.queries import VariantTable

    scratch = None if options.work else tempfile.TemporaryDirectory()
    work = options.work or Path(scratch.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    reference = Reference(ROOT / "var" / "references" / "demo")
    rng = np.random.default_rng(29)
    cohort_names = [f"S{i:05d}" for i in range(options.samples)]

    def cohort_cells(n: int) -> list[str]:
        # per record an allele frequency from a rare-heavy spectrum, phased genotypes by it
        freq = np.minimum(rng.beta(0.1, 2.0, size=(n, 1)), 0.99)
        haplotypes = rng.random((n, options.samples, 2)) < freq[:, :, None]
        codes = haplotypes[:, :, 0].astype(np.int8) * 2 + haplotypes[:, :, 1]
        texts = np.array(["0|0", "0|1", "1|0", "1|1"])
        return ["\t".join(texts[row]) for row in codes]

    for name, count, samples, cells, fmt, filters, pedigree in (
        ("trio", options.trio, TRIO, lambda n: trio_cells(rng, n), "GT:AD:DP:GQ", TRIO_FILTERS, PED),
        ("cohort", options.cohort, cohort_names, cohort_cells, "GT", cohort_filters(cohort_names), []),
    ):
        source, annotated = work / f"{name}{count}.vcf.gz", work / f"{name}{count}.annot.vcf.gz"
        with_gt = work / f"{name}{count}x{len(samples)}.samples.vcf.gz"
        if not source.is_file():
            generate(reference, count, source, seed=29 if name == "trio" else 30)
        if not annotated.is_file():
            annotate_vcf(source, annotated, reference, processes=2)
        if not with_gt.is_file():
            began = time.perf_counter()
            with_samples(annotated, with_gt, samples, cells, fmt)
            print(f"{name}: {count:,} variants x {len(samples):,} samples, SYNTHETIC genotypes written in "
                  f"{time.perf_counter() - began:.0f} s ({with_gt.stat().st_size / 1e6:.0f} MB gzipped)")  # fmt: skip
        table, genotypes = work / f"{name}.variants.parquet", work / f"{name}.genotypes.parquet"
        written = write(with_gt, table, genotypes)
        rows = VariantTable(table, genotypes)._run("SELECT count(*) FROM g").fetchone()[0]  # type: ignore[index]
        print(f"\n{name}: tables written in {written['seconds']:.1f} s, peak memory {written['peak_mb']:.0f} MB; "
              f"variant table {table.stat().st_size / 1e6:.1f} MB, "
              f"genotype table {genotypes.stat().st_size / 1e6:.1f} MB "
              f"({rows:,} genotype rows of {written['variants'] * len(samples):,} genotypes)")  # fmt: skip
        timings, counts = time_filters(VariantTable(table, genotypes), filters, samples, pedigree, options.repeat)
        report(f"{name}: a filtered page (50 rows + genotypes) and its count", filters, timings, counts)


if __name__ == "__main__":
    main()
