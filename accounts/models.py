"""Users sign in with their e-mail address; each has a plan (free or premium)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PREMIUM = "premium", "Premium"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create_user(email, password, **fields)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField("name", max_length=150, blank=True)
    institution = models.CharField(max_length=200, blank=True)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    plan_changed_at = models.DateTimeField(default=timezone.now)
    # the variant browser's extra columns, as the user last chose them (CSQ and source fields)
    variant_columns = models.JSONField(default=list, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]  # (the stubs expect auth's own manager)

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_premium(self) -> bool:
        return self.plan == Plan.PREMIUM


class PlanChange(models.Model):
    """The history of a user's plan: one row per upgrade or cancellation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="plan_changes")
    from_plan = models.CharField(max_length=16, choices=Plan.choices)
    to_plan = models.CharField(max_length=16, choices=Plan.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    payment_reference = models.CharField(max_length=200, blank=True)
    # the staff member who made the change in the staff console; empty when the user made it
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user} {self.from_plan}→{self.to_plan} at {self.changed_at:%Y-%m-%d %H:%M}"
