"""Consume thaw requests (queue alias 'thaw'): bring restored results back to hot storage."""

from __future__ import annotations

import logging

from archive.services import thaw_process
from gas_site.queues import Message
from gas_site.workers import MessageRejected, QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume thaw requests (queue alias 'thaw'): bring restored results back to hot storage."
    queue_alias = "thaw"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        checks = message.body.get("checks", 0) or 0
        if not isinstance(checks, int) or isinstance(checks, bool) or checks < 0:
            raise MessageRejected(f"checks must be a whole number, got {checks!r}")
        logger.info("thaw_worker: job %s: %s", job_id, thaw_process(job_id=job_id, checks=checks))
