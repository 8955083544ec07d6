"""Consume thaw requests (queue alias 'thaw'): bring restored results back to hot storage."""

from __future__ import annotations

import logging

from gas_site.queues import Message
from gas_site.workers import QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume thaw requests (queue alias 'thaw'): bring restored results back to hot storage."
    queue_alias = "thaw"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        # The thaw service arrives with its issue; until then the request is acknowledged.
        logger.info("thaw_worker: request for job %s acknowledged", job_id)
