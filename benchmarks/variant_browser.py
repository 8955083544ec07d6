"""Benchmark: the variant browser's queries on a large job (issue 11, item 6).

    python benchmarks/variant_browser.py [--variants 1000000] [--repeat 10] [--work DIR] [--no-s3]

Builds a synthetic VCF of ``--variants`` records on the demo reference (benchmarks/synthetic.py),
annotates it with the engine (two processes), writes its variant table as the worker does, then
times, ``--repeat`` times each, a filtered page (the page's rows and every transcript entry of
them, as the browser shows) and the filter's count, for a set of filters users combine. It prints
p50/p95 per filter and over all of them. The peer, in the same run: the same filtered count by
reading the annotated VCF itself (what a page would cost without the table), once.

With S3 (default; ``--no-s3`` skips it): a moto server, the table stored in a bucket through the
service's own storage, then the first look (the fetch into the local cache) and the same queries.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILTERS: list[tuple[str, dict]] = [
    ("no filter", {}),
    ("missense", {"consequence": "missense_variant"}),
    ("HIGH+MODERATE in 10 Mb", {"impact": "HIGH,MODERATE", "region": "20:30000000-40000000"}),
    ("one gene", {"gene": "PTPRT"}),
    ("all transcripts, protein_coding", {"show": "all", "biotype": "protein_coding"}),
    ("most severe first", {"sort": "severity"}),
    ("not in dbSNP, deletions", {"dbsnp": "no", "class": "deletion"}),
    ("HGVS text", {"q": "c.1"}),
    ("the page after variant 500,000", {"cursor": "a500000.500000"}),
]


def load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_queries(table_path: Path, repeat: int) -> dict[str, list[float]]:
    from jobs.results.filters import Cursor, parse_filter
    from jobs.results.queries import VariantTable
    from jobs.results.schema import PAGE_FIELDS

    table = VariantTable(table_path)
    timings: dict[str, list[float]] = {}
    for label, params in FILTERS:
        filt = parse_filter(params)
        sort = params.get("sort", "position")
        cursor = Cursor.parse(params.get("cursor", "0"))
        pages, counts, everything = [], [], []
        for _ in range(repeat):
            began = time.perf_counter()
            table.page(filt, sort=sort, cursor=cursor, limit=50, fields=PAGE_FIELDS)  # (each with its entries)
            pages.append(time.perf_counter() - began)
            began = time.perf_counter()
            table.count(filt)
            counts.append(time.perf_counter() - began)
            began = time.perf_counter()  # (the column chooser's "everything": every CSQ field of each entry)
            table.page(filt, sort=sort, cursor=cursor, limit=50, fields=None)
            everything.append(time.perf_counter() - began)
        timings[f"{label}|page"] = pages
        timings[f"{label}|count"] = counts
        timings[f"{label}|everything"] = everything
    return timings


def report(title: str, timings: dict[str, list[float]], counts: dict[str, int] | None = None) -> None:
    print(f"\n{title}  (ms; load average {load()})")
    print(f"{'filter':<36}{'page p50':>10}{'page p95':>10}{'count p50':>11}{'count p95':>11}"
          f"{'all cols p95':>14}{'matches':>10}")  # fmt: skip
    for label, _ in FILTERS:
        page, count = timings[f"{label}|page"], timings[f"{label}|count"]
        every = timings.get(f"{label}|everything")
        wide = f"{1000 * percentile(every, 0.95):>14.0f}" if every else f"{'':>14}"
        matches = f"{counts[label]:>10}" if counts else ""
        counted = f"{1000 * statistics.median(count):>11.0f}{1000 * percentile(count, 0.95):>11.0f}"
        print(f"{label:<36}{1000 * statistics.median(page):>10.0f}{1000 * percentile(page, 0.95):>10.0f}"
              f"{counted}{wide}{matches}")  # fmt: skip
    pages = [t for key, values in timings.items() if key.endswith("|page") for t in values]
    counts_all = [t for key, values in timings.items() if key.endswith("|count") for t in values]
    wide_all = [t for key, values in timings.items() if key.endswith("|everything") for t in values]
    wide = f"{1000 * percentile(wide_all, 0.95):>14.0f}" if wide_all else ""
    counted = f"{1000 * statistics.median(counts_all):>11.0f}{1000 * percentile(counts_all, 0.95):>11.0f}"
    print(f"{'all filters':<36}{1000 * statistics.median(pages):>10.0f}{1000 * percentile(pages, 0.95):>10.0f}"
          f"{counted}{wide}")  # fmt: skip


def vcf_count_missense(path: Path) -> int:
    """The peer: the 'missense' count read from the annotated VCF, line by line."""
    found = 0
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if not line.startswith("#") and "missense_variant" in line:
                info = line.split("\t")[7]
                csq = next((item[4:] for item in info.split(";") if item.startswith("CSQ=")), "")
                found += any("missense_variant" in entry.split("|")[1].split("&") for entry in csq.split(","))
    return found


S3_STEP = r"""
import json, os, sys, time, types, uuid
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")
import django
django.setup()
import boto3
from django.core.files import File
from jobs.results import tables
from jobs.storage import results_storage
table_file, repeat = sys.argv[2], int(sys.argv[3])
boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket=os.environ["GAS_RESULTS_BUCKET"])
storage = results_storage()
with open(table_file, "rb") as handle:
    key = storage.save("1/bench/a/bench.variants.parquet", File(handle, name="bench.variants.parquet"))
job = types.SimpleNamespace(id=uuid.uuid4(), table_key=key)
began = time.perf_counter()
local = tables._cached(job, job.table_key)
first = time.perf_counter() - began
began = time.perf_counter()
tables._cached(job, job.table_key)
again = time.perf_counter() - began
sys.path.insert(0, os.path.join(sys.argv[1], "benchmarks"))
from variant_browser import time_queries
print(json.dumps({"first_look_s": first, "cached_look_s": again, "timings": time_queries(local, repeat)}))
"""


def s3_run(table: Path, repeat: int, work: Path) -> dict:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ, "GAS_STORAGE": "s3", "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "GAS_INPUTS_BUCKET": "bench-inputs", "GAS_RESULTS_BUCKET": "bench-results",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "GAS_DATA_DIR": str(work / "s3-data"), "GAS_TABLE_CACHE_DIR": str(work / "s3-cache"),
            "DJANGO_SECRET_KEY": "benchmark-only",
        }  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", S3_STEP, str(ROOT), str(table), str(repeat)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"the S3 run failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--work", type=Path, help="keep the VCFs and the table here (reused when present)")
    parser.add_argument("--no-s3", action="store_true")
    options = parser.parse_args()

    from benchmarks.synthetic import generate
    from jobs.annotation.engine import annotate_vcf
    from jobs.annotation.reference import Reference
    from jobs.results.filters import parse_filter
    from jobs.results.queries import VariantTable
    from jobs.results.writer import write_table

    scratch = None if options.work else tempfile.TemporaryDirectory()
    work = options.work or Path(scratch.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    reference = Reference(ROOT / "var" / "references" / "demo")
    source, annotated, table = (work / f"syn{options.variants}.{ext}" for ext in ("vcf.gz", "annot.vcf.gz", "parquet"))
    if not source.is_file():
        generate(reference, options.variants, source)
    if not annotated.is_file():
        began = time.perf_counter()
        result = annotate_vcf(source, annotated, reference, processes=2)
        print(f"annotated {result.stats.records} records in {time.perf_counter() - began:.1f} s (engine, 2 processes)")
    began = time.perf_counter()
    variants = write_table(annotated, table)
    written = time.perf_counter() - began
    entries = VariantTable(table)._run("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
    print(f"variant table: {variants} variants, {entries} entries, {table.stat().st_size / 1e6:.0f} MB "
          f"(VCF {annotated.stat().st_size / 1e6:.0f} MB), written in {written:.1f} s")  # fmt: skip

    counts = {label: VariantTable(table).count(parse_filter(params)) for label, params in FILTERS}
    report("embedded default (local file)", time_queries(table, options.repeat), counts)

    began = time.perf_counter()
    peer = vcf_count_missense(annotated)
    peer_s = time.perf_counter() - began
    ours = statistics.median(time_queries(table, 3)["missense|count"])
    assert peer == counts["missense"], (peer, counts["missense"])
    print(f"\npeer: the missense count read from the VCF: {peer_s:.2f} s; from the table {1000 * ours:.0f} ms "
          f"({peer_s / ours:.0f}x faster)")  # fmt: skip

    if not options.no_s3:
        s3 = s3_run(table, options.repeat, work)
        print(f"\nS3 (moto server): first look fetches the table into the cache in {s3['first_look_s']:.2f} s; "
              f"later looks find it there in {1000 * s3['cached_look_s']:.1f} ms")  # fmt: skip
        report("S3 (moto server), queries on the cached table", s3["timings"])
    if scratch:
        scratch.cleanup()


if __name__ == "__main__":
    main()
