"""Account and plan services: the one place where profiles and plans change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Plan, PlanChange, User
from accounts.signals import plan_downgraded, plan_upgraded

logger = logging.getLogger(__name__)


def profile_update(*, user: User, full_name: str, institution: str) -> User:
    user.full_name = full_name.strip()
    user.institution = institution.strip()
    user.save(update_fields=["full_name", "institution"])
    return user


def remember_variant_columns(*, user: User, columns: list[str]) -> None:
    """The variant browser's extra columns, kept as the user's choice for every job's table."""
    User.objects.filter(pk=user.pk).update(variant_columns=list(columns))
    user.variant_columns = list(columns)


def _plan_change(
    *, user: User, to_plan: Plan, event: Signal, payment_reference: str = "", by: User | None = None
) -> bool:
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.plan == to_plan:
            return False
        changed_at: datetime = timezone.now()
        PlanChange.objects.create(
            user=locked,
            from_plan=locked.plan,
            to_plan=to_plan,
            changed_at=changed_at,
            payment_reference=payment_reference,
            changed_by=by,
        )
        locked.plan = to_plan
        locked.plan_changed_at = changed_at
        locked.save(update_fields=["plan", "plan_changed_at"])
        # receivers write their follow-ups (restore requests, archive schedules) in this transaction,
        # so they are as durable as the plan change itself
        event.send(sender=User, user=locked, changed_at=changed_at)
    user.plan, user.plan_changed_at = locked.plan, locked.plan_changed_at
    logger.info("user %s: plan changed to %s", user.pk, to_plan)
    return True


def plan_upgrade(*, user: User, payment_reference: str = "", by: User | None = None) -> bool:
    """Make ``user`` premium (``by`` a staff member, if not the user); sends ``plan_upgraded`` within the
    change. False if already premium."""
    return _plan_change(
        user=user, to_plan=Plan.PREMIUM, event=plan_upgraded, payment_reference=payment_reference, by=by
    )


def plan_cancel(*, user: User, by: User | None = None) -> bool:
    """Return ``user`` to the free plan (``by`` a staff member, if not the user); sends ``plan_downgraded``
    within the change. False if already free."""
    return _plan_change(user=user, to_plan=Plan.FREE, event=plan_downgraded, by=by)


# The staff role: inspect jobs, results, users and sources in the admin, and run the job actions
# (force restore, archive now, re-run). Superusers also change and delete, and redrive queues.
STAFF_GROUP = "GAS staff"
STAFF_PERMISSIONS = (
    ("jobs", "view_job"), ("jobs", "view_jobshard"), ("jobs", "view_annotationsource"), ("jobs", "view_regionset"),
    ("jobs", "restore_job"), ("jobs", "archive_job"), ("jobs", "rerun_job"),
    ("archive", "view_resultarchive"), ("accounts", "view_user"), ("accounts", "view_planchange"),
)  # fmt: skip


def staff_group() -> Group:
    """The staff role's group, with exactly its permissions (made or brought up to date)."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    wanted = [
        Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in STAFF_PERMISSIONS
    ]
    group.permissions.set(wanted)
    return group


def staff_grant(*, user: User) -> None:
    """Give ``user`` the staff role: the admin, read-only, and the job actions."""
    with transaction.atomic():
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(staff_group())
    logger.info("user %s: staff role granted", user.pk)


def staff_revoke(*, user: User) -> None:
    """Take the staff role from ``user`` (a superuser stays one: use the admin for that)."""
    with transaction.atomic():
        user.is_staff = user.is_superuser
        user.save(update_fields=["is_staff"])
        user.groups.remove(*Group.objects.filter(name=STAFF_GROUP))
    logger.info("user %s: staff role revoked", user.pk)


# --- Identities: the providers a user signs in with ------------------------------------------


class IdentityError(Exception):
    """An identity change refused; the message says why, for the user."""


@dataclass(frozen=True)
class LinkedIdentity:
    id: int
    provider: str
    label: str  # the provider's username (a Globus ID), else the e-mail it shared, else its subject
    linked_at: datetime
    last_login: datetime | None
    also: tuple[str, ...]  # other identities the provider groups with it (Globus's identity_set)


def identity_claims(extra_data: dict[str, Any] | None) -> dict[str, Any]:
    """What an OpenID provider said of an identity: its userinfo, else its ID token's claims."""
    data = extra_data or {}
    return data.get("userinfo") or data.get("id_token") or data


def identity_label(account: SocialAccount) -> str:
    claims = identity_claims(account.extra_data)
    return str(claims.get("preferred_username") or claims.get("email") or account.uid)


def linked_identities(*, user: User) -> list[LinkedIdentity]:
    identities = []
    for account in SocialAccount.objects.filter(user=user).order_by("date_joined", "pk"):
        claims = identity_claims(account.extra_data)
        label = identity_label(account)
        also = tuple(
            str(entry.get("username") or entry.get("email") or entry.get("sub"))
            for entry in claims.get("identity_set") or []
            if isinstance(entry, dict) and str(entry.get("username") or entry.get("email") or "") != label
        )
        try:
            provider = account.get_provider().name
        except (SocialApp.DoesNotExist, ImproperlyConfigured):  # (an app no longer configured: its id)
            provider = account.provider
        identities.append(LinkedIdentity(account.pk, provider, label, account.date_joined, account.last_login, also))
    return identities


def sign_in_ways(*, user: User) -> int:
    return int(user.has_usable_password()) + SocialAccount.objects.filter(user=user).count()


def identity_unlink(*, user: User, account_id: int) -> LinkedIdentity:
    """Remove one of ``user``'s identities, while another way to sign in remains."""
    identity = next((i for i in linked_identities(user=user) if i.id == account_id), None)
    if identity is None:
        raise IdentityError("That identity is not linked to your account.")
    if sign_in_ways(user=user) < 2:
        raise IdentityError(
            f"{identity.provider} ({identity.label}) is your only way to sign in: set a password or link "
            "another identity first."
        )
    SocialAccount.objects.filter(pk=account_id, user=user).delete()
    logger.info("user %s: identity %s (%s) unlinked", user.pk, account_id, identity.provider)
    return identity


def identity_link(*, request: HttpRequest, user: User, sociallogin: SocialLogin, email: str) -> None:
    """Link the identity ``sociallogin`` (whose provider verified ``email``) to ``user``."""
    account = sociallogin.account
    if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exclude(user=user).exists():
        raise IdentityError("That identity was linked to another account meanwhile; nothing was changed.")
    with transaction.atomic():
        sociallogin.connect(request, user)
        if user.email.lower() == email.lower():
            EmailAddress.objects.filter(user=user, email__iexact=email).update(verified=True)
    logger.info("user %s: identity %s linked", user.pk, sociallogin.account.provider)
