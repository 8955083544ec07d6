"""The payment seam. GAS takes no payments yet: every upgrade is approved.

A payment provider plugs in here: ``authorize_premium`` charges (or checks a checkout
session) and returns a reference stored with the plan change, or raises ``PaymentDeclined``.
"""

from __future__ import annotations

from accounts.models import User


class PaymentDeclined(Exception):
    """The payment for an upgrade did not go through; the message is shown to the user."""


def authorize_premium(*, user: User) -> str:
    return "no-payment"
