"""Show queue depths (and dead letters), or move dead-lettered messages back after a fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gas_site.queues import QueueError, queues


class Command(BaseCommand):
    help = "Show the depth of every queue; --redrive ALIAS moves that queue's dead letters back."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--redrive", metavar="ALIAS", help="Move dead-lettered messages of ALIAS back to it.")
        parser.add_argument("--limit", type=int, default=None, help="With --redrive: at most this many.")

    def handle(self, *args: Any, redrive: str | None, limit: int | None, **options: Any) -> None:
        try:
            if redrive:
                if redrive not in queues.aliases():
                    raise CommandError(f"unknown queue alias {redrive!r}; known: {', '.join(queues.aliases())}")
                moved = queues[redrive].redrive_dead_letters(limit=limit)
                self.stdout.write(f"{redrive}: moved {moved} dead-lettered message(s) back")
                return
            self.stdout.write(f"{'alias':<10}{'queue':<32}{'visible':>9}{'in flight':>11}{'delayed':>9}{'dead':>7}")
            for alias in queues.aliases():
                queue = queues[alias]
                depth = queue.depth()
                self.stdout.write(
                    f"{alias:<10}{queue.name:<32}{depth.visible:>9}{depth.in_flight:>11}"
                    f"{depth.delayed:>9}{depth.dead_letter:>7}"
                )
        except QueueError as exc:
            raise CommandError(str(exc)) from exc
