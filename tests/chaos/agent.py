"""The chaos suite's hands inside the cluster: one long-lived process, configured by the same
environment as the workers, that takes one JSON command per line on stdin and answers one JSON
line on stdout. It is never killed; the workers are.

Commands: users, submit, upgrade, downgrade, poison, duplicate, status, report.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")

import django  # noqa: E402

django.setup()

from django.core.files.storage import storages  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db.models import JSONField, Value  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.services import plan_cancel, plan_upgrade  # noqa: E402
from archive.models import ResultArchive, ResultState  # noqa: E402
from gas_site.coldstorage import cold_storage  # noqa: E402
from gas_site.models import OutboxEntry, QueuedMessage  # noqa: E402
from gas_site.queues import queues  # noqa: E402
from jobs.annotation.engine import annotate_vcf  # noqa: E402
from jobs.models import Job, JobShard, JobStatus, ShardStatus  # noqa: E402
from jobs.references.bundles import load_reference  # noqa: E402
from jobs.services import lifecycle  # noqa: E402
from jobs.services.completion import engine_options  # noqa: E402

ALIASES = ("jobs", "archive", "restore", "thaw")
POISON = [Value(None, JSONField()), 42, "job", ["job_id"], True, {"job_id": 7}, {"job_id": "not-a-uuid"}, {}]


def users(count: int) -> list[str]:
    emails = []
    for index in range(count):
        email = f"chaos{index}@example.org"
        User.objects.get_or_create(email=email)
        emails.append(email)
    return emails


def submit(email: str, path: str, name: str) -> str:
    upload = SimpleUploadedFile(name, Path(path).read_bytes())
    return str(lifecycle.job_create(owner=User.objects.get(email=email), upload=upload).id)


def poison() -> int:
    now = timezone.now()
    count = 0
    for alias in ALIASES:
        for body in POISON:
            QueuedMessage.objects.create(queue_name=queues[alias].name, body=body, sent_at=now, visible_at=now)
            count += 1
    return count


def duplicate() -> int:
    """Send again every job request and archive request now on the queues (a duplicate delivery).
    Only real requests: a poison body still waiting (``{"job_id": 7}``) is not one, and a copy of it
    would be one more dead letter than the poison sent."""
    now = timezone.now()
    sent = 0
    jobs = {str(pk) for pk in Job.objects.values_list("id", flat=True)}
    for alias in ("jobs", "archive"):
        for body in QueuedMessage.objects.filter(queue_name=queues[alias].name).values_list("body", flat=True):
            if isinstance(body, dict) and body.get("job_id") in jobs:
                QueuedMessage.objects.create(queue_name=queues[alias].name, body=body, sent_at=now, visible_at=now)
                sent += 1
    return sent


def result_sha256(job: Job) -> str | None:
    storage = storages["results"]
    if not job.result_key or not storage.exists(job.result_key):
        return None
    with storage.open(job.result_key, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def status() -> dict[str, Any]:
    jobs = {
        str(job.id): {"status": job.status, "worker": job.worker, "attempts": job.attempts} for job in Job.objects.all()
    }
    archives = dict(ResultArchive.objects.values_list("job_id", "state"))
    depths = {alias: queues[alias].depth().__dict__ for alias in ALIASES}
    return {
        "jobs": jobs,
        "archives": {str(k): v for k, v in archives.items()},
        "depths": depths,
        "outbox": OutboxEntry.objects.count(),
    }


def running_on(worker: str) -> list[str]:
    """The jobs a worker was running: whole, a shard of them, or their gather."""
    jobs = set(Job.objects.filter(status=JobStatus.RUNNING, worker=worker).values_list("id", flat=True))
    jobs |= set(
        JobShard.objects.filter(status=ShardStatus.RUNNING, worker=worker, job__status=JobStatus.RUNNING)
        .values_list("job_id", flat=True)
    )  # fmt: skip
    return [str(i) for i in jobs]


_whole: dict[str, str] = {}


def whole_sha256(job: Job) -> str:
    """The result of the job's input annotated here at once, as an unsplit job is (same options)."""
    if job.input_sha256 not in _whole:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "input"
            with storages["inputs"].open(job.input_key, "rb") as source:
                local.write_bytes(source.read())
            output = Path(folder) / "whole.vcf.gz"
            annotate_vcf(local, output, load_reference(job.reference_name), **engine_options(job))
            _whole[job.input_sha256] = hashlib.sha256(output.read_bytes()).hexdigest()
    return _whole[job.input_sha256]


def hashes() -> dict[str, str | None]:
    """The result of each completed job a user can download now: not while it is being archived or
    restored (a restore writes the hot copy back before the job's result is AVAILABLE again)."""
    moving = ResultArchive.objects.exclude(state=ResultState.AVAILABLE).values_list("job_id", flat=True)
    readable = Job.objects.filter(status=JobStatus.COMPLETED).exclude(id__in=moving)
    return {str(job.id): result_sha256(job) for job in readable}


def records_in(key: str) -> tuple[int, bool]:
    """(data lines, whether every one carries CSQ or passes through) of a stored gzip VCF."""
    with storages["results"].open(key, "rb") as handle, gzip.open(handle, "rt") as text:
        header_ok, count = False, 0
        for line in text:
            if line.startswith("#CHROM"):
                header_ok = True
            elif not line.startswith("#"):
                count += 1
    return count, header_ok


def report() -> dict[str, Any]:
    cold = cold_storage()
    stored_cold = sorted(cold.archive_ids())
    named = dict(ResultArchive.objects.exclude(archive_id="").values_list("archive_id", "state"))
    jobs = []
    for job in Job.objects.select_related("owner").order_by("submitted_at"):
        record = ResultArchive.objects.filter(job=job).first()
        entry: dict[str, Any] = {
            "id": str(job.id), "status": job.status, "attempts": job.attempts, "input_name": job.input_name,
            "records": job.records, "error": job.error_message,
            "completed_at": job.completed_at.timestamp() if job.completed_at else None,
            "archive_state": record.state if record else None, "restore_count": record.restore_count if record else 0,
            "sha256": result_sha256(job), "owner_premium": job.owner.is_premium,
        }  # fmt: skip
        if job.status == JobStatus.COMPLETED and entry["sha256"]:
            entry["result_records"], entry["result_header"] = records_in(job.result_key)
            entry["whole_sha256"], entry["shards"] = whole_sha256(job), job.shards
        jobs.append(entry)
    referenced = set()
    for job in Job.objects.all():
        referenced.update(k for k in (job.input_key, job.result_key, job.log_key, job.summary_key, job.table_key) if k)
    files = {}
    for alias in ("inputs", "results"):
        files[alias] = sorted(_walk(storages[alias]))
    return {
        "jobs": jobs,
        "cold_stored": stored_cold,
        "cold_named": sorted(named),
        "cold_needed": sorted(
            k for k, state in named.items() if state in (ResultState.ARCHIVED, ResultState.RESTORING)
        ),
        "files": files,
        "referenced": sorted(referenced),
        "hot_deleted_keys": sorted(
            ResultArchive.objects.filter(hot_deleted=True).values_list("job__result_key", flat=True)
        ),
        "depths": {alias: queues[alias].depth().__dict__ for alias in ALIASES},
        "outbox": OutboxEntry.objects.count(),
    }


def _walk(storage: Any, prefix: str = "") -> list[str]:
    try:
        folders, names = storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [f"{prefix}{name}" for name in names]
    for folder in folders:
        found += _walk(storage, f"{prefix}{folder}/")
    return found


COMMANDS = {
    "users": lambda a: users(a["count"]),
    "submit": lambda a: submit(a["email"], a["path"], a["name"]),
    "upgrade": lambda a: plan_upgrade(user=User.objects.get(email=a["email"])),
    "downgrade": lambda a: plan_cancel(user=User.objects.get(email=a["email"])),
    "poison": lambda a: poison(),
    "duplicate": lambda a: duplicate(),
    "status": lambda a: status(),
    "running_on": lambda a: running_on(a["worker"]),
    "hashes": lambda a: hashes(),
    "report": lambda a: report(),
}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": COMMANDS[request["command"]](request)}
        except Exception as exc:  # answered, never fatal: the suite decides
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
