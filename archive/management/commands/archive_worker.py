"""Consume archive requests (queue alias 'archive'): move due results to cold storage."""

from __future__ import annotations

import logging

from gas_site.queues import Message
from gas_site.workers import QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume archive requests (queue alias 'archive'): move due results to cold storage."
    queue_alias = "archive"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        # The archive service arrives with its issue; until then the request is acknowledged.
        logger.info("archive_worker: request for job %s acknowledged", job_id)
