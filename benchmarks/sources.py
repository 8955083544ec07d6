"""Benchmark: a job with three annotation sources (frequency, clinical, prediction) against the same
job without, and filtered pages on their values (issue 30).

    python benchmarks/sources.py [--size 1000000] [--repeat 3] [--queries 20] [--work DIR]

Generates a synthetic VCF of SIZE variants on the demo reference and three SYNTHETIC sources over
its sites in the providers' formats: a gnomAD-style sites VCF (AF, AF_popmax, nhomalt; 70% of the
sites), a ClinVar-style VCF (CLNSIG, CLNREVSTAT, CLNDN; 2%) and an AlphaMissense-style TSV
(am_pathogenicity, am_class; 75% of the SNVs in coding exons: AlphaMissense scores missense changes
only), converted as ``source install`` converts them. Times the engine (one process and its output
compressor, bgzipped output, interleaved runs; wall and CPU seconds) without and with the three, then
writes the variant table and times a filtered page (50 rows) and count for ``where=`` filters, p50/p95.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pysam

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import generate  # noqa: E402
from benchmarks.variant_browser import load, percentile  # noqa: E402

ENGINE = (
    "import sys, time; sys.path.insert(0, {root!r});"
    "from jobs.annotation.custom import CustomSpec;"
    "from jobs.annotation.reference import Reference;"
    "from jobs.annotation.engine import annotate_vcf;"
    "customs = [CustomSpec.parse(spec) for spec in sys.argv[4:]];"
    "import resource;"
    "began = time.perf_counter();"
    "annotate_vcf(sys.argv[1], sys.argv[2], Reference(sys.argv[3]), customs=customs);"
    "cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime"
    " for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN));"
    "print(time.perf_counter() - began, cpu)"
)
FILTERS = [
    ("no filter (peer)", []),
    ("gnomADe_AF<0.001|missing", ["gnomADe_AF<0.001|missing"]),
    ("max_af<0.01", ["max_af<0.01"]),
    ("ClinVar_CLNSIG=Pathogenic,Likely_pathogenic", ["ClinVar_CLNSIG=Pathogenic,Likely_pathogenic"]),
    ("ClinVar_stars>=2", ["ClinVar_stars>=2"]),
    ("am_pathogenicity>0.8", ["AlphaMissense_am_pathogenicity>0.8"]),
    ("rare + predicted damaging", ["gnomADe_AF<0.001|missing", "AlphaMissense_am_pathogenicity>0.5"]),
]
SIGNIFICANCE = ["Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign"]
STATUS = ["criteria_provided,_single_submitter", "criteria_provided,_multiple_submitters,_no_conflicts",
          "reviewed_by_expert_panel", "no_assertion_criteria_provided"]  # fmt: skip


def sites(vcf: Path):  # type: ignore[no-untyped-def]
    with gzip.open(vcf, "rt") as handle:
        for line in handle:
            if not line.startswith("#"):
                chrom, pos, _, ref, alt = line.split("\t", 5)[:5]
                yield chrom, int(pos), ref, alt


def indexed(plain: Path) -> Path:
    target = Path(str(plain) + ".gz")
    pysam.tabix_compress(str(plain), str(target), force=True)
    pysam.tabix_index(str(target), preset="vcf", force=True)
    plain.unlink()
    return target


def coding_spans(reference: Path) -> list[tuple[int, int]]:
    """The demo reference's coding exon spans on chr20, sorted (AlphaMissense scores only the
    substitutions of coding bases that change an amino acid)."""
    from jobs.annotation.reference import Reference

    spans = []
    for transcript in Reference(reference).index("20").transcripts:
        first, last = transcript.coding_start, transcript.coding_end
        if first is not None and last is not None:
            spans += [(max(a, first), min(b, last)) for a, b in transcript.exons if b >= first and a <= last]
    return sorted(spans)


def in_cds(spans: list[tuple[int, int]], pos: int) -> bool:
    at = bisect.bisect_right(spans, (pos, 1 << 62)) - 1
    return any(spans[i][0] <= pos <= spans[i][1] for i in range(max(0, at - 40), at + 1))


def make_sources(vcf: Path, work: Path, reference: Path) -> dict[str, Path]:
    from jobs.sources.catalogue import CATALOGUE, _converted

    coding = coding_spans(reference)
    rng = random.Random(30)
    frequency, clinical, prediction = work / "gnomad.vcf", work / "clinvar.vcf", work / "am.tsv.gz"
    with open(frequency, "w") as freq, open(clinical, "w") as clin, gzip.open(prediction, "wt") as am:
        freq.write('##fileformat=VCFv4.2\n##INFO=<ID=AF,Number=A,Type=Float,Description="AF">\n'
                   '##INFO=<ID=AF_popmax,Number=A,Type=Float,Description="AF popmax">\n'
                   '##INFO=<ID=nhomalt,Number=A,Type=Integer,Description="hom">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")  # fmt: skip
        clin.write('##fileformat=VCFv4.1\n##INFO=<ID=CLNSIG,Number=.,Type=String,Description="sig">\n'
                   '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="status">\n'
                   '##INFO=<ID=CLNDN,Number=.,Type=String,Description="disease">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")  # fmt: skip
        am.write("# SYNTHETIC, AlphaMissense's layout\n#CHROM\tPOS\tREF\tALT\tgenome\tuniprot_id\ttranscript_id\t"
                 "protein_variant\tam_pathogenicity\tam_class\n")  # fmt: skip
        for chrom, pos, ref, alt in sites(vcf):
            first = alt.split(",")[0]
            if rng.random() < 0.7:
                af = 10 ** -rng.uniform(0, 5)
                freq.write(f"{chrom}\t{pos}\t.\t{ref}\t{first}\t.\t.\tAF={af:.6f};AF_popmax={min(1, af * 3):.6f};"
                           f"nhomalt={int(af * 100)}\n")  # fmt: skip
            if rng.random() < 0.02:
                clin.write(f"{chrom}\t{pos}\t{pos}\t{ref}\t{first}\t.\t.\tCLNSIG={rng.choice(SIGNIFICANCE)};"
                           f"CLNREVSTAT={rng.choice(STATUS)};CLNDN=Synthetic_disease\n")  # fmt: skip
            if len(ref) == 1 and len(first) == 1 and in_cds(coding, pos) and rng.random() < 0.75:
                score = rng.random()
                kind = "likely_pathogenic" if score > 0.564 else "ambiguous" if score > 0.34 else "likely_benign"
                am.write(f"chr{chrom}\t{pos}\t{ref}\t{first}\thg19\tP00000\tENST0\tA1B\t{score:.4f}\t{kind}\n")
    converted = work / "am.vcf"
    entry = CATALOGUE["alphamissense-grch37"]
    with open(converted, "w") as out:
        out.writelines(_converted(entry, [prediction], entry.fields))
    return {"gnomADe": indexed(frequency), "ClinVar": indexed(clinical), "AlphaMissense": indexed(converted)}


def specs(sources: dict[str, Path]) -> list[str]:
    fields = {"gnomADe": "AF%AF_popmax%nhomalt", "ClinVar": "CLNSIG%CLNREVSTAT%CLNDN",
              "AlphaMissense": "am_pathogenicity%am_class"}  # fmt: skip
    return [f"file={path},short_name={name},format=vcf,type=exact,fields={fields[name]}"
            for name, path in sources.items()]  # fmt: skip


def engine(vcf: Path, out: Path, reference: Path, customs: list[str]) -> tuple[float, float]:
    """Wall seconds of the engine's run, and CPU seconds of its process and its output compressor
    (the CPU figure includes loading the reference)."""
    done = subprocess.run([sys.executable, "-c", ENGINE.format(root=str(ROOT)), str(vcf), str(out), str(reference),
                           *customs], check=True, capture_output=True, text=True)  # fmt: skip
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--work", type=Path)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")
    import django

    django.setup()  # (the catalogue's converters live beside the registry)
    from jobs.annotation.reference import Reference
    from jobs.results.filters import parse_filter
    from jobs.results.queries import VariantTable
    from jobs.results.schema import PAGE_FIELDS
    from jobs.results.value_filters import resolve_where
    from jobs.results.writer import write_table

    scratch = None if options.work else tempfile.TemporaryDirectory()
    work = options.work or Path(scratch.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    reference = ROOT / "var" / "references" / "demo"
    vcf = work / f"syn{options.size}.vcf.gz"
    if not vcf.is_file():
        generate(Reference(reference), options.size, vcf)
    began = time.perf_counter()
    sources = make_sources(vcf, work, reference)
    print(f"{options.size:,} variants; three SYNTHETIC sources built in {time.perf_counter() - began:.0f} s")
    from jobs.annotation.custom import CustomSpec, prepare_source

    began = time.perf_counter()
    for spec in specs(sources):  # (as registration does: the form jobs read)
        prepare_source(CustomSpec.parse(spec))
    print(f"prepared as registration prepares them in {time.perf_counter() - began:.1f} s")
    without, with_sources = [], []
    for _ in range(options.repeat):  # (interleaved: a busy moment costs both alike)
        without.append(engine(vcf, work / "plain.vcf.gz", reference, []))
        with_sources.append(engine(vcf, work / "sources.vcf.gz", reference, specs(sources)))
    plain, annotated = statistics.median(w for w, _ in without), statistics.median(w for w, _ in with_sources)
    plain_cpu, annotated_cpu = statistics.median(c for _, c in without), statistics.median(c for _, c in with_sources)
    print(f"engine, one process (s, median of {options.repeat}; load average {load()}): without sources "
          f"{plain:.2f}, with three {annotated:.2f}: overhead {100 * (annotated - plain) / plain:.1f}% "
          f"(wall; runs {[round(w, 2) for w, _ in without]} and {[round(w, 2) for w, _ in with_sources]})")
    print(f"CPU (s, the process and its output compressor): without {plain_cpu:.2f}, with three "
          f"{annotated_cpu:.2f}: {100 * (annotated_cpu - plain_cpu) / plain_cpu:.1f}% more")
    table = work / "sources.variants.parquet"
    write_table(work / "sources.vcf.gz", table)
    types = {"gnomADe_AF": "Float", "gnomADe_AF_popmax": "Float", "gnomADe_nhomalt": "Integer",
             "ClinVar_CLNSIG": "String", "ClinVar_CLNREVSTAT": "String", "ClinVar_CLNDN": "String",
             "AlphaMissense_am_pathogenicity": "Float", "AlphaMissense_am_class": "String"}  # fmt: skip
    queried = VariantTable(table)
    print(f"\nfiltered pages (ms; load average {load()})")
    print(f"{'filter':<46}{'page p50':>10}{'page p95':>10}{'count p50':>11}{'count p95':>11}{'matches':>10}")
    every: list[float] = []
    for label, where in FILTERS:
        filt = parse_filter({"where": where})
        filt = replace(filt, values=resolve_where(filt.values, types=types))
        pages, counts = [], []
        for _ in range(options.queries):
            began = time.perf_counter()
            queried.page(filt, limit=50, fields=PAGE_FIELDS)
            pages.append(time.perf_counter() - began)
            began = time.perf_counter()
            matches = queried.count(filt)
            counts.append(time.perf_counter() - began)
        if where:
            every += pages
        page = f"{1000 * statistics.median(pages):>10.0f}{1000 * percentile(pages, 0.95):>10.0f}"
        count = f"{1000 * statistics.median(counts):>11.0f}{1000 * percentile(counts, 0.95):>11.0f}"
        print(f"{label:<46}{page}{count}{matches:>10}")
    overall = f"{1000 * statistics.median(every):>10.0f}{1000 * percentile(every, 0.95):>10.0f}"
    print(f"{'value filters, all pages':<46}{overall}")


if __name__ == "__main__":
    main()
