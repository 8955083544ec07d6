"""Create (or with --check, only verify) the AWS resources this configuration needs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gas_site.aws_setup import bootstrap


class Command(BaseCommand):
    help = "Create or check GAS's buckets and queues on AWS (idempotent). --check changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Report only; exit 1 when something is missing.")

    def handle(self, *args: Any, check: bool, **options: Any) -> None:
        try:
            report = bootstrap(check_only=check)
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"AWS refused or could not be reached: {exc}") from exc
        for line in report.lines:
            self.stdout.write(line)
        if check and report.problems:
            raise CommandError(f"{report.problems} resource(s) missing or misconfigured; run aws_bootstrap to fix")
        self.stdout.write(f"{report.changes} change(s) made." if not check else "All resources present and configured.")
