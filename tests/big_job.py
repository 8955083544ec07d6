"""Make a large completed job in the database and storages the environment names, for tests and
benchmarks that drive a real web server: a synthetic VCF (benchmarks/synthetic.py, labelled
synthetic in its header) on the demo reference, annotated by the engine, its result and variant
table stored as a worker stores them. Prints JSON: job id, owner, API token, records, entries.

    python tests/big_job.py --records 340000 [--email big@example.org] [--password P] [--more-jobs 9999]

``--more-jobs`` adds that many more completed jobs to the same owner (bulk-created rows naming the
same files), for a job list of a realistic length; ``--password`` lets the owner sign in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=340_000)
    parser.add_argument("--email", default="big-job@example.org")
    parser.add_argument("--password", default="")
    parser.add_argument("--more-jobs", type=int, default=0)
    options = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from accounts.models import User
    from jobs.models import Job, JobStatus
    from jobs.references.bundles import load_reference
    from jobs.services import tokens

    reference = load_reference()
    user, _ = User.objects.get_or_create(email=options.email)
    if options.password:
        user.set_password(options.password)
        user.save()
    _, token = tokens.api_token_create(user=user, name="big job")
    job, stats, entries = _completed_job(user, reference, options.records, "big")
    if options.more_jobs:  # (a long list of small jobs: one small job's files, named by many rows)
        small, small_stats, _ = _completed_job(user, reference, 200, "small")
        copies = [
            Job(owner=user, input_name=f"copy{n}.vcf.gz", input_key="-", reference_name=reference.name,
                status=JobStatus.COMPLETED, completed_at=timezone.now(), progress=1.0, records=small_stats.records,
                alleles=small_stats.alleles, result_key=small.result_key, table_key=small.table_key,
                result_size=small.result_size)
            for n in range(options.more_jobs - 1)
        ]  # fmt: skip
        Job.objects.bulk_create(copies, batch_size=1000)
    print(json.dumps({"job": str(job.id), "token": token, "records": stats.records, "entries": entries}))


def _completed_job(user, reference, records: int, stem: str):
    """A completed job of ``records`` synthetic records: its result and variant table stored."""
    import pyarrow.parquet as pq
    from django.core.files import File
    from django.utils import timezone

    from benchmarks.synthetic import generate
    from jobs import storage
    from jobs.annotation.engine import annotate_vcf
    from jobs.models import Job, JobStatus
    from jobs.results import tables
    from jobs.results.writer import write_table

    with tempfile.TemporaryDirectory(prefix="gas-big-job-") as scratch:
        names = (f"{stem}.vcf.gz", f"{stem}.annot.vcf.gz", "t.parquet")
        source, result, table = (Path(scratch) / name for name in names)
        generate(reference, records, source)
        stats = annotate_vcf(source, result, reference, processes=2).stats
        write_table(result, table)
        entries = pq.ParquetFile(table).metadata.num_rows
        job = Job.objects.create(
            owner=user, input_name=f"{stem}.vcf.gz", input_key="-", reference_name=reference.name,
            status=JobStatus.COMPLETED, completed_at=timezone.now(), progress=1.0, records=stats.records,
            alleles=stats.alleles,
        )  # fmt: skip
        storage = storage.results_storage()
        with open(result, "rb") as handle:
            job.result_key = storage.save(f"{user.pk}/{job.id}/{result.name}", File(handle, name=result.name))
        job.result_size = result.stat().st_size
        job.table_key = tables.table_key(job)
        job.save()
        with open(table, "rb") as handle:
            storage.save(job.table_key, File(handle, name=tables.table_name(job)))
    return job, stats, entries


if __name__ == "__main__":
    main()
