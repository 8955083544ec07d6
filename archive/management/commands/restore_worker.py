"""Consume restore requests (queue alias 'restore'): start cold storage restores."""

from __future__ import annotations

import logging

from archive.services import restore_process
from gas_site.queues import Message
from gas_site.workers import QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume restore requests (queue alias 'restore'): start cold storage restores."
    queue_alias = "restore"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        logger.info("restore_worker: job %s: %s", job_id, restore_process(job_id=job_id))
