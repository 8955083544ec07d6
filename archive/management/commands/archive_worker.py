"""Consume archive requests (queue alias 'archive'): move due results to cold storage."""

from __future__ import annotations

import logging

from archive.services import archive_process, cold_orphans_sweep
from gas_site.queues import Message
from gas_site.workers import MessageRejected, QueueWorkerCommand, message_job_id

logger = logging.getLogger(__name__)


class Command(QueueWorkerCommand):
    help = "Consume archive requests (queue alias 'archive'): move due results to cold storage."
    queue_alias = "archive"

    def on_start(self) -> None:
        cold_orphans_sweep()

    def housekeeping(self) -> None:
        super().housekeeping()
        if self.sweep_due():
            cold_orphans_sweep()

    def consume(self, message: Message) -> None:
        job_id = message_job_id(message)
        delete_cold = message.body.get("delete_cold") or ""
        if not isinstance(delete_cold, str):
            raise MessageRejected(f"delete_cold must be an archive id, got {delete_cold!r}")
        outcome = archive_process(job_id=job_id, force=bool(message.body.get("force")), delete_cold=delete_cold)
        logger.info("archive_worker: job %s: %s", job_id, outcome)
