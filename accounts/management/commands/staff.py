"""Grant, revoke or list the staff role (the admin, read-only, and the job actions)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import User


class Command(BaseCommand):
    help = (
        "staff grant EMAIL / staff revoke EMAIL / staff list: the staff role may inspect jobs, results, "
        "users and sources in the admin and force a restore, archive now or re-run; superusers may do everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["grant", "revoke", "list"])
        parser.add_argument("email", nargs="?")

    def handle(self, *args: Any, action: str, email: str | None, **options: Any) -> None:
        if action == "list":
            for user in User.objects.filter(is_staff=True).order_by("email"):
                role = "superuser" if user.is_superuser else "staff"
                self.stdout.write(f"{user.email:<40}{role}")
            return
        if not email:
            raise CommandError(f"staff {action} needs the user's e-mail address")
        found = User.objects.filter(email__iexact=email).first()
        if found is None:
            raise CommandError(f"no user with the e-mail address {email} (they sign up first)")
        user = found
        if action == "grant":
            services.staff_grant(user=user)
            self.stdout.write(f"{user.email} has the staff role (group {services.STAFF_GROUP!r})")
        else:
            services.staff_revoke(user=user)
            self.stdout.write(f"{user.email} no longer has the staff role")
