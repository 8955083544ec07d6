"""Consume annotation job requests (queue alias 'jobs') and run them."""

from __future__ import annotations

import os
import socket

from django.conf import settings

from gas_site.queues import Message
from gas_site.workers import MessageRejected, QueueWorkerCommand, message_job_id
from jobs.scratch import scratch_sweep
from jobs.services.housekeeping import files_sweep, jobs_reconcile
from jobs.services.lifecycle import job_requeue_if_pending
from jobs.services.running import job_run
from jobs.services.shards import job_gather, requeue_if_waiting, shard_run

JOB_STORE_SECONDS = 900  # past the engine's own limit: storing the results, the completion


class Command(QueueWorkerCommand):
    help = "Consume annotation job requests (queue alias 'jobs') and run them."
    queue_alias = "jobs"

    @property
    def max_consume_seconds(self) -> float:
        """A job's own limit (the engine stops at GAS_JOB_MAX_SECONDS) and time to store its results."""
        return float(settings.GAS_JOB_MAX_SECONDS + JOB_STORE_SECONDS)

    def on_start(self) -> None:
        scratch_sweep()
        files_sweep()

    def housekeeping(self) -> None:
        super().housekeeping()
        jobs_reconcile()
        if self.sweep_due():
            self.on_start()

    def consume(self, message: Message) -> None:
        """A job request ({"job_id"}), one of a split job's shards ({"job_id", "shard": N}) or its
        gather ({"job_id", "gather": true})."""
        job_id = message_job_id(message)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        shard, gather = message.body.get("shard"), message.body.get("gather")
        if shard is not None and (not isinstance(shard, int) or isinstance(shard, bool) or shard < 0):
            raise MessageRejected(f"message has no valid shard number (got {shard!r})")
        try:
            if shard is not None:
                shard_run(job_id=job_id, index=shard, worker=worker)
            elif gather is True:
                job_gather(job_id=job_id, worker=worker)
            else:
                job_run(job_id=job_id, worker=worker)
        except Exception:
            # the queue dead-letters a request after its last delivery; work that can still run gets a
            # fresh one (its attempts, counted at each claim, still bound how often it runs)
            if message.receive_count >= self.queue.max_receives:
                if shard is not None or gather is True:
                    if requeue_if_waiting(job_id=job_id, index=shard):
                        return
                elif job_requeue_if_pending(job_id=job_id):
                    return
            raise
