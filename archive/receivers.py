"""Connect cold storage to the domain events of accounts and jobs."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.signals import plan_downgraded, plan_upgraded
from archive import services
from archive.models import ResultArchive
from gas_site.coldstorage import cold_storage
from jobs.signals import job_completed


@receiver(job_completed)
def _job_completed(sender: Any, job: Any, **kwargs: Any) -> None:
    services.archive_schedule(job=job)


@receiver(plan_upgraded)
def _plan_upgraded(sender: Any, user: Any, **kwargs: Any) -> None:
    services.on_plan_upgraded(user=user)


@receiver(plan_downgraded)
def _plan_downgraded(sender: Any, user: Any, changed_at: Any, **kwargs: Any) -> None:
    services.on_plan_downgraded(user=user, changed_at=changed_at)


@receiver(pre_delete, sender=ResultArchive)
def _drop_cold_copy(sender: Any, instance: ResultArchive, **kwargs: Any) -> None:
    if instance.archive_id:
        cold_storage().delete(instance.archive_id)
