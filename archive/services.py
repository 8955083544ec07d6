"""Cold storage services: schedule, archive, restore and thaw results. Workers and admin call these.

The guarantees: a result file is deleted from hot storage only after its cold copy is
confirmed (size and SHA-256), and the cold copy only after the restored hot copy is
confirmed. Each step is a conditional state change, so a repeated or resumed message either
finishes the work or does nothing, and a plan change racing with a worker loses nothing.
Every follow-up (the next message, a mail, dropping a cold copy) is written in the transaction
of the state change that calls for it (gas_site.outbox), and a cold copy's id is recorded
before it is written, so a worker killed at any point leaves work that is finished later,
never a lost step or an orphaned copy.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import BinaryIO, cast

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from archive.models import ResultArchive, ResultState
from gas_site import outbox
from gas_site.coldstorage import EXPEDITED, ColdStorageError, RestoreState, cold_storage
from gas_site.faults import fault_point
from gas_site.queues.base import MAX_DELAY_SECONDS
from jobs.models import Job, JobStatus
from jobs.results.tables import table_drop, table_key, table_store
from jobs.services.lifecycle import job_url
from jobs.storage import results_storage

logger = logging.getLogger(__name__)


class ArchiveIntegrityError(RuntimeError):
    """A copy did not match its source; the step is retried, nothing is deleted."""


def _delay_until(moment: datetime | None, *, minimum: int = 0) -> int:
    if moment is None:
        return minimum
    seconds = int((moment - timezone.now()).total_seconds() + 0.999)
    return max(minimum, min(seconds, MAX_DELAY_SECONDS))


def _send(alias: str, body: dict, delay: int) -> None:
    """Queue a follow-up as part of the current transaction."""
    outbox.send(alias, body, delay_seconds=delay)


def _retention_end(start: datetime) -> datetime:
    return start + timedelta(seconds=settings.GAS_FREE_RETENTION_SECONDS)


def _sha256_of_hot(key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with results_storage().open(key, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# -- scheduling ------------------------------------------------------------------------------
def archive_schedule(*, job: Job) -> ResultArchive:
    """A job completed: its result is hot; a free user's is due for cold storage after the window."""
    due = None if job.owner.is_premium else _retention_end(job.completed_at or timezone.now())
    record, _ = ResultArchive.objects.get_or_create(
        job=job, defaults={"archive_due_at": due, "size": job.result_size or 0}
    )
    if record.archive_due_at is not None and record.state == ResultState.AVAILABLE:
        _send("archive", {"job_id": str(job.id)}, _delay_until(record.archive_due_at))
    return record


def archive_now(*, job: Job) -> bool:
    """Staff: archive this result at once, whatever the owner's plan."""
    with transaction.atomic():
        updated = ResultArchive.objects.filter(job=job, state=ResultState.AVAILABLE).update(
            archive_due_at=timezone.now(), force_archive=True
        )
        if updated:
            _send("archive", {"job_id": str(job.id), "force": True}, 0)
    return bool(updated)


# -- archiving -----------------------------------------------------------------------------
def archive_process(*, job_id: uuid.UUID, force: bool = False, delete_cold: str = "") -> str:
    """Handle one archive request; returns what happened (for the log and tests). ``delete_cold``:
    the request is to drop that cold copy, whose result is hot again (sent by the thaw)."""
    if delete_cold:
        return _drop_thawed_copy(job_id, delete_cold)
    record = ResultArchive.objects.select_related("job", "job__owner").filter(job_id=job_id).first()
    if record is None:
        return "no result"
    if record.state == ResultState.ARCHIVED:
        return _delete_hot_copy(record)
    if record.state == ResultState.RESTORING:
        return "restoring"
    if record.state == ResultState.AVAILABLE:
        if record.archive_id:  # an archive that an upgrade cancelled midway: drop the spare cold copy
            _drop_spare_copy(record.pk, record.archive_id)
        if not (force or record.force_archive):
            if record.job.owner.is_premium or record.archive_due_at is None:
                ResultArchive.objects.filter(pk=record.pk, state=ResultState.AVAILABLE).update(archive_due_at=None)
                return "kept hot"
            if timezone.now() < record.archive_due_at:
                _send("archive", {"job_id": str(job_id)}, _delay_until(record.archive_due_at))
                return "not yet due"
        with transaction.atomic():
            # the plan is checked again under the owner's row lock, which a plan change holds too:
            # an upgrade either lands first (and the result stays hot) or finds this ARCHIVING and
            # cancels it; without the lock an upgrade between the check above and this update
            # would leave a premium user's result archived with nothing to bring it back
            premium = _owner_is_premium_locked(record.job)
            if premium and not (force or record.force_archive):
                return "kept hot"
            if not ResultArchive.objects.filter(pk=record.pk, state=ResultState.AVAILABLE).update(
                state=ResultState.ARCHIVING
            ):
                return "changed meanwhile"
        record.refresh_from_db()
    return _archive_copy(record)


def _owner_is_premium_locked(job: Job) -> bool:
    """The owner's plan as committed, with the owner's row locked until the transaction ends."""
    return User.objects.select_for_update().get(pk=job.owner_id).is_premium


def _archive_copy(record: ResultArchive) -> str:
    job = record.job
    cold = cold_storage()
    hot = results_storage()
    hot_size = hot.size(job.result_key)
    confirmed = False
    if record.archive_id:  # resumed: is the recorded cold copy complete?
        try:
            stored = cold.stat(record.archive_id)
        except ColdStorageError:
            stored = None
        confirmed = stored is not None and stored.size == hot_size and stored.sha256 == record.sha256
    if not confirmed:
        # the id is recorded before the copy is written: a copy interrupted at any point is found
        # by the next attempt (and replaced) or by the upgrade that cancels the archive (and deleted)
        archive_id = record.archive_id or cold.new_archive_id(key=job.result_key)
        if not record.archive_id and not ResultArchive.objects.filter(pk=record.pk, state=ResultState.ARCHIVING).update(
            archive_id=archive_id
        ):
            return "cancelled"
        fault_point("archive.before_copy")
        with hot.open(job.result_key, "rb") as source:
            copied = cold.archive(cast(BinaryIO, source), key=job.result_key, archive_id=archive_id)
        fault_point("archive.after_copy")
        stored = cold.stat(copied.archive_id)
        if (stored.size, stored.sha256) != (copied.size, copied.sha256) or copied.size != hot_size:
            cold.delete(copied.archive_id)
            raise ArchiveIntegrityError(
                f"job {job.id}: cold copy {copied.archive_id} does not match the hot file "
                f"({stored.size}/{copied.size}/{hot_size} bytes)"
            )
        if not ResultArchive.objects.filter(pk=record.pk, state=ResultState.ARCHIVING).update(
            sha256=copied.sha256, size=copied.size
        ):
            _drop_spare_copy(record.pk, archive_id)
            return "cancelled"
        record.archive_id = archive_id
    with transaction.atomic():
        if not ResultArchive.objects.filter(pk=record.pk, state=ResultState.ARCHIVING).update(
            state=ResultState.ARCHIVED, archived_at=timezone.now(), archive_due_at=None, force_archive=False
        ):
            # an upgrade cancelled the archive: the hot copy stays, the spare cold copy goes
            _drop_spare_copy(record.pk, record.archive_id)
            return "cancelled"
    fault_point("archive.after_archived")
    record.refresh_from_db()
    logger.info("job %s: result archived as %s", job.id, record.archive_id)
    return _delete_hot_copy(record)


def _drop_spare_copy(pk: uuid.UUID, archive_id: str) -> None:
    """A cold copy of a result that stayed hot: delete it, then forget its id (in that order, so
    a crash between the two leaves an id to retry, never a copy without a record)."""
    cold_storage().delete(archive_id)
    ResultArchive.objects.filter(pk=pk, state=ResultState.AVAILABLE, archive_id=archive_id).update(archive_id="")


def _drop_thawed_copy(job_id: uuid.UUID, archive_id: str) -> str:
    if ResultArchive.objects.filter(job_id=job_id, archive_id=archive_id).exclude(state=ResultState.AVAILABLE).exists():
        return "cold copy still needed"  # (archived again meanwhile under the same id: never)
    _drop_spare_copy(job_id, archive_id)
    return "cold copy deleted"


def _delete_hot_copy(record: ResultArchive) -> str:
    with transaction.atomic():
        locked = ResultArchive.objects.select_for_update().select_related("job").get(pk=record.pk)
        if locked.state != ResultState.ARCHIVED:
            return locked.state.lower()
        if not locked.hot_deleted:
            results_storage().delete(locked.job.result_key)
            table_drop(job=locked.job)  # (derived from the result: built again on restore)
            fault_point("archive.after_hot_delete")
            locked.hot_deleted = True
            locked.save(update_fields=["hot_deleted"])
    return "archived"


# -- restoring -----------------------------------------------------------------------------
def restore_request(*, job: Job) -> bool:
    """Bring an archived result back (on upgrade, or by staff): ARCHIVED → RESTORING."""
    with transaction.atomic():
        if ResultArchive.objects.filter(job=job, state=ResultState.ARCHIVED).update(
            state=ResultState.RESTORING, restore_requested_at=timezone.now(), restore_tier="", restore_expected_at=None
        ):
            _send("restore", {"job_id": str(job.id)}, 0)
            return True
    return False


def restore_process(*, job_id: uuid.UUID) -> str:
    record = ResultArchive.objects.filter(job_id=job_id).first()
    if record is None or record.state != ResultState.RESTORING:
        return "nothing to restore"
    ticket = cold_storage().start_restore(record.archive_id, tier=EXPEDITED)
    fault_point("restore.after_request")
    first_check = min(_delay_until(ticket.expected_ready_at), settings.GAS_THAW_POLL_SECONDS)
    with transaction.atomic():
        ResultArchive.objects.filter(pk=record.pk, state=ResultState.RESTORING).update(
            restore_tier=ticket.tier, restore_expected_at=ticket.expected_ready_at
        )
        _send("thaw", {"job_id": str(job_id), "checks": 0}, first_check)
    logger.info("job %s: %s restore requested, expected by %s", job_id, ticket.tier, ticket.expected_ready_at)
    return ticket.tier


def _thaw_delay(record: ResultArchive, checks: int) -> int:
    """When to look again: doubling from GAS_THAW_POLL_SECONDS, never past the expected time, at most 900 s."""
    backoff = min(settings.GAS_THAW_POLL_SECONDS * 2**checks, MAX_DELAY_SECONDS)
    if record.restore_expected_at and record.restore_expected_at > timezone.now():
        return min(_delay_until(record.restore_expected_at, minimum=1), backoff)
    return backoff


def thaw_process(*, job_id: uuid.UUID, checks: int = 0) -> str:
    record = ResultArchive.objects.select_related("job", "job__owner").filter(job_id=job_id).first()
    if record is None or record.state != ResultState.RESTORING:
        return "nothing to thaw"
    cold = cold_storage()
    if cold.restore_status(record.archive_id).state is not RestoreState.READY:
        _send("thaw", {"job_id": str(job_id), "checks": checks + 1}, _thaw_delay(record, checks))
        return "not ready"
    job = record.job
    hot = results_storage()
    intact = hot.exists(job.result_key) and _sha256_of_hot(job.result_key) == (record.sha256, record.size)
    if not intact:
        if hot.exists(job.result_key):
            hot.delete(job.result_key)
        with cold.open_restored(record.archive_id) as stream:
            saved = hot.save(job.result_key, File(stream, name=job.result_name))
        fault_point("thaw.after_hot_write")
        if saved != job.result_key:
            Job.objects.filter(pk=job.pk).update(result_key=saved)
            job.result_key = saved
        if _sha256_of_hot(saved) != (record.sha256, record.size):
            hot.delete(saved)
            raise ArchiveIntegrityError(f"job {job.id}: the restored file does not match the archived one")
    archive_id = record.archive_id
    # the browser's table, built again from the restored result: its key recorded first (a file
    # no job names is swept at once), while the restore is still in progress (a thaw that lost a
    # race records nothing)
    key = table_key(job)
    if Job.objects.filter(pk=job.pk, result_archive__state=ResultState.RESTORING).update(table_key=key):
        try:
            saved = table_store(job=job)
            if saved != key:
                Job.objects.filter(pk=job.pk).update(table_key=saved)
        except Exception:  # (not a reason to keep the result cold: the first look builds it then)
            logger.exception("job %s: the variant table could not be built after the restore", job.id)
    with transaction.atomic():
        # (the plan under the owner's lock: a downgrade racing with the thaw still gets its window)
        due = None if _owner_is_premium_locked(job) else _retention_end(timezone.now())
        if not ResultArchive.objects.filter(pk=record.pk, state=ResultState.RESTORING).update(
            state=ResultState.AVAILABLE, restored_at=timezone.now(), hot_deleted=False, archive_due_at=due,
            restore_count=record.restore_count + 1,
        ):  # fmt: skip
            return "changed meanwhile"
        # the follow-ups commit with the thaw: drop the cold copy, tell the owner, and (free plan)
        # schedule the next archive
        _send("archive", {"job_id": str(job_id), "delete_cold": archive_id}, 0)
        _notify_restored(job)
        if due is not None:
            _send("archive", {"job_id": str(job_id)}, _delay_until(due))
        fault_point("thaw.before_commit")
    fault_point("thaw.after_commit")
    logger.info("job %s: result restored to hot storage", job.id)
    return "restored"


def _notify_restored(job: Job) -> None:
    outbox.mail(
        to=job.owner.email,
        subject=f"Your results for {job.input_name} are available again",
        template="emails/results_restored",
        context={"job": job, "url": job_url(job)},
    )


# -- plan changes ------------------------------------------------------------------------------
def on_plan_upgraded(*, user: User) -> int:
    """Premium: pending archives are cancelled and archived results are restored. Returns restores started."""
    records = ResultArchive.objects.filter(job__owner=user)
    records.filter(state=ResultState.AVAILABLE).update(archive_due_at=None, force_archive=False)
    records.filter(state=ResultState.ARCHIVING).update(
        state=ResultState.AVAILABLE, archive_due_at=None, force_archive=False
    )
    restored = 0
    for job in Job.objects.filter(owner=user, result_archive__state=ResultState.ARCHIVED):
        restored += restore_request(job=job)
    return restored


def on_plan_downgraded(*, user: User, changed_at: datetime) -> int:
    """Free again: hot results get the free retention window, counted from now."""
    due = _retention_end(changed_at)
    jobs = list(Job.objects.filter(owner=user, status=JobStatus.COMPLETED, result_archive__state=ResultState.AVAILABLE))
    for job in jobs:
        with transaction.atomic():
            ResultArchive.objects.filter(job=job, state=ResultState.AVAILABLE).update(archive_due_at=due)
            _send("archive", {"job_id": str(job.id)}, _delay_until(due))
    return len(jobs)


# -- reporting -----------------------------------------------------------------------------
def storage_usage(*, user: User) -> dict[str, int]:
    hot_states = (ResultState.AVAILABLE, ResultState.ARCHIVING)
    totals = ResultArchive.objects.filter(job__owner=user).aggregate(
        hot=Sum("size", filter=Q(state__in=hot_states)),
        cold=Sum("size", filter=~Q(state__in=hot_states)),
    )
    return {"hot": totals["hot"] or 0, "cold": totals["cold"] or 0}


# -- sweeping ------------------------------------------------------------------------------
def cold_orphans_sweep() -> int:
    """Delete cold copies that no record names; returns how many.

    A copy's id is recorded before the copy is written and forgotten only after it is deleted,
    so listing the cold store *before* reading the records finds only true orphans (copies made
    before that rule, or by hand)."""
    cold = cold_storage()
    stored = list(cold.archive_ids())
    named = set(ResultArchive.objects.exclude(archive_id="").values_list("archive_id", flat=True))
    orphans = [archive_id for archive_id in stored if archive_id not in named]
    for archive_id in orphans:
        cold.delete(archive_id)
    if orphans:
        logger.info("swept %d cold cop(ies) that no record names", len(orphans))
    return len(orphans)


def job_timeline(*, job: Job) -> list[tuple[datetime, str]]:
    """What happened to a job, oldest first: submitted, started, finished, archived, restored, its
    owner's plan changes since, and every staff action from Django's admin log, with who did it."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    events: list[tuple[datetime, str]] = [(job.submitted_at, f"submitted by {job.owner.email}")]
    if job.started_at:
        events.append((job.started_at, f"started (attempt {job.attempts})"))
    if job.completed_at:
        events.append((job.completed_at, job.get_status_display().lower()))
    archive = ResultArchive.objects.filter(job=job).first()
    if archive is not None:
        if archive.archived_at:
            events.append((archive.archived_at, "results archived to cold storage"))
        if archive.restore_requested_at:
            events.append((archive.restore_requested_at, "restore requested"))
        if archive.restored_at:
            times = "once" if archive.restore_count == 1 else f"{archive.restore_count} times"
            events.append((archive.restored_at, f"results restored (restored {times} in all)"))
    for change in job.owner.plan_changes.filter(changed_at__gte=job.submitted_at).select_related("changed_by"):
        who = f"by {change.changed_by.email} (staff)" if change.changed_by else "by the owner"
        events.append((change.changed_at, f"owner's plan: {change.from_plan} → {change.to_plan} — {who}"))
    staff_actions = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Job), object_id=str(job.pk)
    ).select_related("user")
    events += [(entry.action_time, f"{entry.get_change_message()} — by {entry.user.email}") for entry in staff_actions]
    return sorted(events, key=lambda event: event[0])
