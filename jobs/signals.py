"""Domain events of jobs. ``job_completed(job)`` is sent inside the transaction that marks a job
COMPLETED (its results already stored); the archive app schedules free users' results for cold
storage from it, through gas_site.outbox, so the schedule commits with the completion."""

from django.dispatch import Signal

job_completed = Signal()
