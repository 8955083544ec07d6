"""Where a job's result file lives: hot storage, on its way to cold storage, cold, or coming back."""

from __future__ import annotations

from django.db import models

from jobs.models import Job


class ResultState(models.TextChoices):
    AVAILABLE = "AVAILABLE", "Available"
    ARCHIVING = "ARCHIVING", "Archiving"
    ARCHIVED = "ARCHIVED", "Archived"
    RESTORING = "RESTORING", "Restoring"


class ResultArchive(models.Model):
    """One per completed job. ``state`` moves AVAILABLE → ARCHIVING → ARCHIVED → RESTORING → AVAILABLE.

    Every transition is a conditional UPDATE on the expected state, so a repeated message,
    a crashed worker or a plan change racing with a worker can only finish the work or do
    nothing; the hot copy is deleted only after the cold copy is confirmed, and the cold
    copy only after the restored hot copy is confirmed.
    """

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="result_archive")
    state = models.CharField(max_length=16, choices=ResultState.choices, default=ResultState.AVAILABLE, db_index=True)
    archive_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    force_archive = models.BooleanField(default=False)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    archive_id = models.CharField(max_length=500, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    hot_deleted = models.BooleanField(default=False)
    restore_requested_at = models.DateTimeField(null=True, blank=True)
    restore_tier = models.CharField(max_length=16, blank=True)
    restore_expected_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    restore_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "result archive"

    def __str__(self) -> str:
        return f"{self.job_id}: {self.get_state_display()}"
