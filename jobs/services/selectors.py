"""Read-side queries: every page and API route gets jobs through these, scoped to their owner."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import User
from gas_site.errors import NotFound
from jobs.models import Job


def jobs_of(user: User) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).select_related("result_archive").order_by("-submitted_at")


def job_of(user: User, job_id: uuid.UUID | str) -> Job:
    """The user's job, else NotFound (also for someone else's job: its existence is not revealed)."""
    try:
        return jobs_of(user).get(id=job_id)
    except (Job.DoesNotExist, ValueError) as exc:
        raise NotFound("No such job.") from exc
