"""Domain events of jobs. ``job_completed(job)`` is sent after a job's results are stored and
committed; the archive app schedules free users' results for cold storage from it."""

from django.dispatch import Signal

job_completed = Signal()
