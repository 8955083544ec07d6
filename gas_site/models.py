"""Project-wide models: the embedded default's queue storage."""

from __future__ import annotations

from django.db import models


class QueuedMessage(models.Model):
    """One message of the database queue backend (gas_site.queues.database)."""

    queue_name = models.CharField(max_length=80)
    body = models.JSONField()
    sent_at = models.DateTimeField()
    visible_at = models.DateTimeField()
    receive_count = models.PositiveIntegerField(default=0)
    # Changes on every delivery; a receipt handle is "<id>:<token>", so only the most recent
    # receiver can delete the message or change its visibility.
    receipt_token = models.CharField(max_length=32, default="", blank=True)
    first_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["queue_name", "visible_at"], name="queue_visible_idx")]

    def __str__(self) -> str:
        return f"{self.queue_name}#{self.pk}"
