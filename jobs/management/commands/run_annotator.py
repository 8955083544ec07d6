"""Consume annotation job requests (queue alias 'jobs') and run them."""

from __future__ import annotations

import logging

from gas_site.queues import Message
from gas_site.workers import QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume annotation job requests (queue alias 'jobs') and run them."
    queue_alias = "jobs"

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        # The annotation service arrives with its issue; until then the request is acknowledged.
        logger.info("run_annotator: request for job %s acknowledged", job_id)
