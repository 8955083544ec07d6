"""Consume archive requests (queue alias 'archive'): move due results to cold storage."""

from __future__ import annotations

import logging

from archive.services import archive_process
from gas_site.queues import Message
from gas_site.workers import QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume archive requests (queue alias 'archive'): move due results to cold storage."
    queue_alias = "archive"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        outcome = archive_process(job_id=job_id, force=bool(message.body.get("force")))
        logger.info("archive_worker: job %s: %s", job_id, outcome)
