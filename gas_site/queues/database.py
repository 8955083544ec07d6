"""A queue kept in the project's database, with SQS semantics.

Delay, visibility timeout, redelivery with a receive count, and a dead-letter queue after
``max_receives`` deliveries. Consumers claim a message with an optimistic update
(``filter(id=..., receipt_token=<the one read>).update(receipt_token=<new>)``): of two
consumers that read the same row, exactly one update matches, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from gas_site.models import QueuedMessage
from gas_site.queues.base import (
    MAX_RECEIVE_BATCH,
    MAX_WAIT_SECONDS,
    Message,
    Queue,
    QueueDepth,
    QueueError,
    check_delay,
    check_visibility,
)

logger = logging.getLogger(__name__)


class DatabaseQueue(Queue):
    transactional = True  # its rows live in the project's database

    def __init__(self, *, poll_interval: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.poll_interval = poll_interval

    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> str:
        delay = check_delay(delay_seconds)
        now = timezone.now()
        row = QueuedMessage.objects.create(
            queue_name=self.name,
            body=body,
            sent_at=now,
            visible_at=now + timedelta(seconds=delay),
        )
        return str(row.pk)

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be between 1 and {MAX_RECEIVE_BATCH}.")
        visibility = check_visibility(self.visibility_timeout if visibility_timeout is None else visibility_timeout)
        deadline = time.monotonic() + min(max(wait_seconds, 0), MAX_WAIT_SECONDS)
        while True:
            messages = self._receive_visible(max_messages, visibility)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            time.sleep(min(self.poll_interval, remaining))

    def _receive_visible(self, max_messages: int, visibility: int) -> list[Message]:
        now = timezone.now()
        candidates = list(
            QueuedMessage.objects.filter(queue_name=self.name, visible_at__lte=now)
            .order_by("visible_at", "pk")
            .values("pk", "receipt_token", "receive_count")[: max_messages * 4]
        )
        received: list[Message] = []
        for candidate in candidates:
            if len(received) >= max_messages:
                break
            claim = QueuedMessage.objects.filter(
                pk=candidate["pk"], queue_name=self.name, receipt_token=candidate["receipt_token"]
            )
            if candidate["receive_count"] >= self.max_receives:
                if claim.update(queue_name=self.dead_letter_name, visible_at=now, receipt_token=secrets.token_hex(16)):
                    logger.warning(
                        "queue %s: message %s dead-lettered after %s receives",
                        self.name,
                        candidate["pk"],
                        candidate["receive_count"],
                    )
                continue
            token = secrets.token_hex(16)
            with transaction.atomic():
                claimed = claim.update(
                    receipt_token=token,
                    visible_at=now + timedelta(seconds=visibility),
                    receive_count=models.F("receive_count") + 1,
                    first_received_at=Coalesce("first_received_at", models.Value(now)),
                )
                if not claimed:
                    continue  # another consumer took it first
                row = QueuedMessage.objects.values("body", "receive_count").get(pk=candidate["pk"])
            received.append(
                Message(
                    message_id=str(candidate["pk"]),
                    body=row["body"],
                    receipt_handle=f"{candidate['pk']}:{token}",
                    receive_count=row["receive_count"],
                    queue_name=self.name,
                )
            )
        return received

    def _current(self, message: Message) -> models.QuerySet[QueuedMessage]:
        pk, _, token = message.receipt_handle.partition(":")
        return QueuedMessage.objects.filter(pk=pk, receipt_token=token, queue_name=self.name)

    def delete(self, message: Message) -> None:
        deleted, _ = self._current(message).delete()
        if not deleted:
            logger.warning(
                "queue %s: message %s was received again by another consumer; this delete is ignored",
                self.name,
                message.message_id,
            )

    def change_visibility(self, message: Message, *, timeout_seconds: int) -> None:
        timeout = check_visibility(timeout_seconds)
        if not self._current(message).update(visible_at=timezone.now() + timedelta(seconds=timeout)):
            raise QueueError(f"queue {self.name}: receipt handle of message {message.message_id} is no longer valid")

    def dead_letter(self, message: Message) -> None:
        if not self._current(message).update(queue_name=self.dead_letter_name, visible_at=timezone.now()):
            raise QueueError(f"queue {self.name}: receipt handle of message {message.message_id} is no longer valid")

    def redrive_dead_letters(self, *, limit: int | None = None) -> int:
        ids = QueuedMessage.objects.filter(queue_name=self.dead_letter_name).order_by("pk").values_list("pk", flat=True)
        if limit is not None:
            ids = ids[:limit]
        return QueuedMessage.objects.filter(pk__in=list(ids)).update(
            queue_name=self.name, visible_at=timezone.now(), receive_count=0, receipt_token=""
        )

    def depth(self) -> QueueDepth:
        now = timezone.now()
        rows = QueuedMessage.objects.filter(queue_name=self.name)
        return QueueDepth(
            visible=rows.filter(visible_at__lte=now).count(),
            in_flight=rows.filter(visible_at__gt=now, receive_count__gt=0).count(),
            delayed=rows.filter(visible_at__gt=now, receive_count=0).count(),
            dead_letter=QueuedMessage.objects.filter(queue_name=self.dead_letter_name).count(),
        )

    def purge(self) -> None:
        QueuedMessage.objects.filter(queue_name=self.name).delete()
