"""A large job split over the annotators (issue 32, item 1): shards of whole groups of lines, each
any annotator's; the last to finish queues the gather, which joins the shards' BGZF blocks without
recompressing. The result is byte for byte the job run whole; every step survives a duplicate
message, a silent worker and bad input naming the file's own line."""

from __future__ import annotations

import gzip
import json
import random
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core import mail
from django.core.files.storage import storages
from django.urls import reverse
from django.utils import timezone

from gas_site.queues import queues
from jobs.models import Job, JobShard, JobStatus, ShardStatus
from jobs.results.tables import genotypes_key
from jobs.services.housekeeping import jobs_reconcile
from tests.helpers import run, the_job, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings", "cold_store")]
DATA = Path(__file__).resolve().parents[2] / "data"
TEN_K = DATA / "synthetic_chr20_10k.vcf.gz"


def work(capture, *, limit: int = 100) -> int:
    """Run annotator passes until the job queue is empty; returns how many messages were handled."""
    handled = 0
    while queues["jobs"].depth().visible and handled < limit:
        run("run_annotator", capture)
        handled += 1
    return handled


def submit(client, capture, name: str, content: bytes) -> Job:
    upload(client, name, content, capture)
    return the_job()


def whole_and_split(client, capture, settings, name: str, content: bytes, shard_records: int) -> tuple[Job, Job]:
    """The same file as a job run whole, then as a job split into shards of ``shard_records`` lines."""
    jobs = []
    for records in (0, shard_records):
        settings.GAS_SHARD_RECORDS = records
        jobs.append(submit(client, capture, name, content))
        work(capture)
        jobs[-1].refresh_from_db()
    return jobs[0], jobs[1]


def stored(key: str) -> bytes:
    with storages["results"].open(key, "rb") as handle:
        return handle.read()


def table_rows(job: Job) -> dict:
    with storages["results"].open(job.table_key, "rb") as handle:
        return pq.read_table(handle).to_pydict()


def test_a_sharded_job_is_byte_for_byte_the_job_run_whole(signed_in_client, django_capture_on_commit_callbacks,
                                                          settings):  # fmt: skip
    capture = django_capture_on_commit_callbacks
    settings.GAS_SHARD_RECORDS = 0
    whole = submit(signed_in_client, capture, "ten_k.vcf.gz", TEN_K.read_bytes())
    work(capture)
    whole.refresh_from_db()
    assert (whole.status, whole.shards) == (JobStatus.COMPLETED, 0)

    settings.GAS_SHARD_RECORDS, settings.GAS_SHARDS_IN_FLIGHT = 2000, 2
    mail.outbox.clear()
    job = submit(signed_in_client, capture, "ten_k.vcf.gz", TEN_K.read_bytes())
    run("run_annotator", capture)  # the split
    job.refresh_from_db()
    assert (job.status, job.shards, job.shards_sent, job.shards_done) == (JobStatus.RUNNING, 5, 2, 0)
    assert [s.lines for s in job.shard_set.all()] == [2000] * 5
    assert [s.line_offset for s in job.shard_set.all()] == [0, 2000, 4000, 6000, 8000]
    assert queues["jobs"].depth().visible == 2  # (a few at a time: other jobs' requests come between)
    run("run_annotator", capture)  # shard 0; it queues shard 2
    job.refresh_from_db()
    assert (job.shards_done, job.shards_sent, job.progress_percent) == (1, 3, 19)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "Split over the annotators: 1 of 5 parts annotated" in page
    live = signed_in_client.get(reverse("job_statuses"), {"ids": str(job.id)}).json()["jobs"][0]
    assert (live["progress"], live["shards"]) == (19, "1 of 5 parts annotated")
    work(capture)
    job.refresh_from_db()
    assert (job.status, job.shards_done) == (JobStatus.COMPLETED, 5)
    assert stored(job.result_key) == stored(whole.result_key)  # byte for byte
    assert (job.records, job.alleles, job.consequence_counts, job.charts, job.warnings) == (
        whole.records, whole.alleles, whole.consequence_counts, whole.charts, whole.warnings)  # fmt: skip
    assert table_rows(job) == table_rows(whole)
    timing = ("seconds", "variants_per_second")
    summaries = [{k: v for k, v in json.loads(stored(j.summary_key)).items() if k not in timing} for j in (job, whole)]
    assert summaries[0] == summaries[1]
    logs = [[line for line in stored(j.log_key).decode().splitlines() if not line.startswith("Run time")]
            for j in (job, whole)]  # fmt: skip
    assert logs[0] == logs[1]
    verb = "is ready, with warnings" if job.warnings else "is ready"
    assert [m.subject for m in mail.outbox] == [f"[GAS] Your annotation of ten_k.vcf.gz {verb}"]  # one mail
    # the shards' files went with the gather; only the job's own remain under it
    kept = {job.input_key, job.result_key, job.log_key, job.summary_key, job.table_key}
    prefix = f"{job.owner_id}/{job.id}/"
    left = set()
    for folder in storages["results"].listdir(prefix)[0]:
        for sub in (f"{prefix}{folder}", f"{prefix}{folder}/shards"):
            try:
                left |= {f"{sub}/{name}" for name in storages["results"].listdir(sub)[1]}
            except FileNotFoundError:
                pass
    assert left and left <= kept


def _with_samples(path: Path, samples: int, seed: int = 32) -> bytes:
    """SYNTHETIC genotypes on a real file's sites (each sample's GT and DP drawn at random)."""
    rng = random.Random(seed)
    out = []
    for line in gzip.open(path, "rt"):
        if line.startswith("##"):
            out.append(line)
        elif line.startswith("#CHROM"):
            out.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
            out.append('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
            out.append(line.rstrip("\n") + "\tFORMAT\t" + "\t".join(f"S{i}" for i in range(samples)) + "\n")
        else:
            calls = ["0/0", "0/1", "1/1", "./."]
            gts = "\t".join(f"{rng.choice(calls)}:{rng.randrange(5, 60)}" for _ in range(samples))
            out.append(line.rstrip("\n") + f"\tGT:DP\t{gts}\n")
    return gzip.compress("".join(out).encode())


def test_a_sharded_job_with_samples_has_the_whole_jobs_genotype_table(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    content = _with_samples(TEN_K, 3)
    whole, job = whole_and_split(signed_in_client, django_capture_on_commit_callbacks, settings, "cohort.vcf.gz",
                                 content, 3000)  # fmt: skip
    assert (job.status, job.shards, job.samples) == (JobStatus.COMPLETED, 3, ["S0", "S1", "S2"])
    assert stored(job.result_key) == stored(whole.result_key)
    genotypes = [pq.read_table(storages["results"].open(genotypes_key(j.table_key), "rb")).to_pydict()
                 for j in (job, whole)]  # fmt: skip
    assert genotypes[0] == genotypes[1] and len(genotypes[0]["v"]) > 10_000
    assert table_rows(job) == table_rows(whole)


def test_duplicate_and_late_messages_do_nothing_and_a_silent_shard_is_redone(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    capture = django_capture_on_commit_callbacks
    settings.GAS_SHARD_RECORDS, settings.GAS_SHARDS_IN_FLIGHT = 4000, 3
    job = submit(signed_in_client, capture, "ten_k.vcf.gz", TEN_K.read_bytes())
    run("run_annotator", capture)  # split: 3 shards, all queued
    queues["jobs"].send({"job_id": str(job.id)})  # a duplicate of the job's own request
    queues["jobs"].send({"job_id": str(job.id), "shard": 0})  # and of a shard's
    run("run_annotator", capture)  # shard 0
    run("run_annotator", capture)  # shard 1
    # shard 2's worker dies while annotating: it stays RUNNING, its message gone
    queues["jobs"].purge()
    JobShard.objects.filter(job=job, index=2).update(
        status=ShardStatus.RUNNING, attempts=1, attempt_token="dead", worker="dead:1",
        heartbeat_at=timezone.now() - timedelta(seconds=settings.GAS_JOB_STALE_SECONDS + 1),
    )  # fmt: skip
    assert jobs_reconcile() == 1
    work(capture)  # shard 2 again, then the gather
    job.refresh_from_db()
    shards = list(job.shard_set.all())
    assert job.status == JobStatus.COMPLETED and [s.attempts for s in shards] == [1, 1, 2]
    assert job.attempts == 1  # the gather's (the split's were reset: each shard counts its own)
    assert job.records == 10_000
    # late copies of every message: nothing runs again
    for body in ({"job_id": str(job.id)}, {"job_id": str(job.id), "shard": 1}, {"job_id": str(job.id), "gather": True}):
        queues["jobs"].send(body)
    assert work(capture) == 3
    assert Job.objects.get(id=job.id).completed_at == job.completed_at
    assert sum("is ready" in m.subject for m in mail.outbox) == 1


def test_a_gather_whose_worker_went_silent_is_finished_by_another(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    capture = django_capture_on_commit_callbacks
    settings.GAS_SHARD_RECORDS = 5000
    job = submit(signed_in_client, capture, "ten_k.vcf.gz", TEN_K.read_bytes())
    for _ in range(3):
        run("run_annotator", capture)  # split, two shards
    job.refresh_from_db()
    assert job.is_gathering and queues["jobs"].depth().visible == 1
    queues["jobs"].purge()  # a gatherer took it and died
    Job.objects.filter(id=job.id).update(attempt_token="dead", worker="dead:1",
                                         heartbeat_at=timezone.now() - timedelta(seconds=60))  # fmt: skip
    assert jobs_reconcile() == 1
    work(capture)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.records == 10_000


def test_bad_input_in_a_shard_fails_the_job_naming_the_files_own_line(
    signed_in_client, django_capture_on_commit_callbacks, settings
):
    capture = django_capture_on_commit_callbacks
    lines = gzip.open(TEN_K, "rt").read().splitlines(keepends=True)
    header = sum(line.startswith("#") for line in lines)
    bad = header + 7500  # (a data line in the fourth shard)
    columns = lines[bad - 1].split("\t")
    columns[1] = "63025600"  # (past the end of chromosome 20: found by the annotation, not at upload)
    lines[bad - 1] = "\t".join(columns)
    content = gzip.compress("".join(lines).encode())
    whole, job = whole_and_split(signed_in_client, capture, settings, "bad.vcf.gz", content, 2000)
    assert (whole.status, job.status, job.shards) == (JobStatus.FAILED, JobStatus.FAILED, 5)
    assert f"line {bad}" in job.error_message and job.error_message == whole.error_message
    assert sum("failed" in m.subject for m in mail.outbox) == 2  # one mail per job


@pytest.mark.parametrize("shard_records", [10_000, 7_000])
def test_a_job_under_one_and_a_half_shards_is_run_whole(
    signed_in_client, django_capture_on_commit_callbacks, settings, shard_records
):
    """10,000 lines: at a threshold of 10,000 and of 7,000 (a second shard of 3,000 would join the first)."""
    capture = django_capture_on_commit_callbacks
    settings.GAS_SHARD_RECORDS = shard_records
    job = submit(signed_in_client, capture, "ten_k.vcf.gz", TEN_K.read_bytes())
    assert work(capture) == 1
    job.refresh_from_db()
    assert (job.status, job.shards, JobShard.objects.count()) == (JobStatus.COMPLETED, 0, 0)


def test_other_users_small_jobs_come_between_a_big_jobs_shards(
    signed_in_client, django_capture_on_commit_callbacks, settings, django_user_model, client
):
    capture = django_capture_on_commit_callbacks
    settings.GAS_SHARD_RECORDS, settings.GAS_SHARDS_IN_FLIGHT = 2000, 2
    big = submit(signed_in_client, capture, "genome.vcf.gz", TEN_K.read_bytes())
    run("run_annotator", capture)  # the split: 2 of its 5 shards queued
    other = django_user_model.objects.create_user(email="other@example.org", password="x-long-pass-1")
    client.force_login(other)
    small = submit(client, capture, "small.vcf.gz", (DATA / "vt_chr20_indels.vcf.gz").read_bytes())
    for _ in range(3):  # two shards, then the small job: it waited for 2 shards, not for the genome
        run("run_annotator", capture)
    small.refresh_from_db()
    big.refresh_from_db()
    assert small.status == JobStatus.COMPLETED and (big.status, big.shards_done) == (JobStatus.RUNNING, 2)
    work(capture)
    assert Job.objects.get(id=big.id).status == JobStatus.COMPLETED
