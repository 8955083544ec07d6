"""Requests as views see them: behind ``login_required`` the user is a signed-in ``User``."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A request of a signed-in user (a view behind ``login_required``, an admin page)."""

    user: User
