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


class OutboxEntry(models.Model):
    """A follow-up of a state change, written in the same transaction as the change (gas_site.outbox).

    ``kind`` is "message" (send ``body`` to the queue ``queue_alias``, visible at ``deliver_at``)
    or "mail" (``body`` holds the rendered mail). The relay delivers it and deletes the row; a
    row whose relay died is delivered again once ``lease_until`` has passed.
    """

    kind = models.CharField(max_length=16)
    queue_alias = models.CharField(max_length=40, blank=True)
    body = models.JSONField()
    deliver_at = models.DateTimeField()
    created_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["lease_until", "created_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"outbox#{self.pk} {self.kind} {self.queue_alias}"
