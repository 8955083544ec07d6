"""Requeue jobs whose worker died, deliver left-behind follow-ups, and sweep leftovers.

The workers do the same on their own (the annotators reconcile and relay every few seconds and
sweep at start, the archive worker sweeps the cold store at start); this runs it all at once,
for cron or after an incident.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from archive.services import cold_orphans_sweep
from gas_site import outbox
from jobs.scratch import scratch_sweep
from jobs.services.housekeeping import files_sweep, jobs_reconcile


class Command(BaseCommand):
    help = "Requeue jobs of dead workers, relay outbox rows, sweep scratch folders, orphan files and cold copies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace", type=int, default=3600, help="Age in seconds before an unreferenced file is swept (3600)."
        )

    def handle(self, *args: Any, grace: int, **options: Any) -> None:
        self.stdout.write(f"requeued {jobs_reconcile()} job(s) whose worker went silent")
        self.stdout.write(f"relayed {outbox.relay(limit=10_000)} outbox follow-up(s)")
        self.stdout.write(f"swept {scratch_sweep()} scratch folder(s)")
        self.stdout.write(f"swept {files_sweep(grace_seconds=max(0, grace))} unreferenced")
        self.stdout.write(f"swept {cold_orphans_sweep()} orphaned cold cop(ies)")
