"""Durable follow-ups of state changes: the next queue message and the mail, written with the change.

Call ``send`` and ``mail`` inside the transaction that makes the state change (a job completes,
a result is restored, ...). Then the follow-up exists exactly when the change does:

- a message for a queue kept in the database is the queue's own row, written in that transaction;
- a message for any other queue (SQS) and every mail become an ``OutboxEntry`` row in that
  transaction; once it commits, the row is delivered at once and deleted. Should the process die
  first, ``relay`` (run by every worker between messages, and by ``manage.py housekeeping``)
  delivers it later.

Delivery is at least once: a relay that dies after sending and before deleting the row sends
again once its lease runs out. Mails carry a Message-ID chosen when the row is written, so a repeat is the
same message to a mail system; queue consumers are idempotent.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from gas_site.faults import fault_point
from gas_site.models import OutboxEntry
from gas_site.queues import queues
from gas_site.queues.base import MAX_DELAY_SECONDS

logger = logging.getLogger(__name__)

RELAY_GRACE_SECONDS = 5  # younger rows are left to the on-commit delivery of the process that wrote them
LEASE_SECONDS = 60  # a delivery in hand; after this another relay may take the row
RETRY_SECONDS = 30  # after a failed delivery


def send(alias: str, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
    """Queue ``body`` on ``alias`` as part of the current transaction."""
    queue = queues[alias]
    if queue.transactional:
        queue.send(body, delay_seconds=delay_seconds)
        return
    now = timezone.now()
    entry = OutboxEntry.objects.create(
        kind="message", queue_alias=alias, body=body, deliver_at=now + timedelta(seconds=delay_seconds), created_at=now
    )
    transaction.on_commit(lambda: deliver(entry_id=entry.pk))


def mail(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Mail ``templates/<template>.txt`` and ``.html`` once the current transaction commits (durably)."""
    now = timezone.now()
    body = {
        "message_id": make_msgid(idstring="gas", domain=_mail_domain()),  # the same on every retry
        "to": to,
        "subject": f"{settings.EMAIL_SUBJECT_PREFIX}{subject}",
        "text": render_to_string(f"{template}.txt", context),
        "html": render_to_string(f"{template}.html", context),
    }
    entry = OutboxEntry.objects.create(kind="mail", body=body, deliver_at=now, created_at=now)
    transaction.on_commit(lambda: deliver(entry_id=entry.pk))


def _mail_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"


def _deliver_now(entry: OutboxEntry) -> None:
    if entry.kind == "message":
        seconds = int((entry.deliver_at - timezone.now()).total_seconds() + 0.999)
        queues[entry.queue_alias].send(entry.body, delay_seconds=max(0, min(seconds, MAX_DELAY_SECONDS)))
    elif entry.kind == "mail":
        body = entry.body
        message = EmailMultiAlternatives(
            subject=body["subject"], body=body["text"], to=[body["to"]], headers={"Message-ID": body["message_id"]}
        )
        message.attach_alternative(body["html"], "text/html")
        message.send()
    else:
        raise ValueError(f"unknown outbox entry kind {entry.kind!r}")


def deliver(*, entry_id: int) -> bool:
    """Deliver one row if no other relay holds it; True when it was delivered (and deleted)."""
    now = timezone.now()
    free = models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now)
    if not OutboxEntry.objects.filter(free, pk=entry_id).update(
        lease_until=now + timedelta(seconds=LEASE_SECONDS), attempts=models.F("attempts") + 1
    ):
        return False
    entry = OutboxEntry.objects.get(pk=entry_id)
    try:
        _deliver_now(entry)
    except Exception as exc:
        logger.exception("outbox %s (%s %s): delivery failed; retrying later", entry.pk, entry.kind, entry.queue_alias)
        OutboxEntry.objects.filter(pk=entry_id).update(
            last_error=str(exc)[:2000], lease_until=timezone.now() + timedelta(seconds=RETRY_SECONDS)
        )
        return False
    fault_point("outbox.after_deliver")
    OutboxEntry.objects.filter(pk=entry_id).delete()
    return True


def relay(*, limit: int = 100) -> int:
    """Deliver rows whose writer did not (it died after its commit); returns how many were delivered."""
    now = timezone.now()
    free = models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now)
    ids = list(
        OutboxEntry.objects.filter(free, created_at__lt=now - timedelta(seconds=RELAY_GRACE_SECONDS))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    delivered = 0
    for entry_id in ids:
        try:
            delivered += deliver(entry_id=entry_id)
        except Exception:  # (the database itself failed: the next relay tries again)
            logger.exception("outbox %s: relay failed", entry_id)
    if delivered:
        logger.info("outbox: relayed %d follow-up(s) left by a process that stopped", delivered)
    return delivered
