"""Linked identities on the profile: listed with what the provider said, removable while another
way to sign in remains, never someone else's; the link offer needs a waiting sign-in."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

GLOBUS_CLAIMS = {
    "userinfo": {
        "sub": "0b5e4a2c", "preferred_username": "bmcclintock@globusid.org", "email": "barbara@example.edu",
        "identity_set": [{"sub": "0b5e4a2c", "username": "bmcclintock@globusid.org"},
                         {"sub": "7d1c2b3a", "username": "bm42@cornell.example.edu"}],
    },
    "id_token": {"sub": "0b5e4a2c"},
}  # fmt: skip


@pytest.fixture
def sign_in_apps(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            **settings.SOCIALACCOUNT_PROVIDERS["openid_connect"],
            "APPS": [
                {"provider_id": "globus", "name": "Globus", "client_id": "g", "secret": "s",
                 "settings": {"server_url": "https://auth.globus.example"}},
                {"provider_id": "oidc", "name": "Lab SSO", "client_id": "o", "secret": "s",
                 "settings": {"server_url": "https://sso.example"}},
            ],
        }
    }  # fmt: skip


def _user(email: str, *, password: str | None = "pw-long-enough-1") -> User:
    user = User.objects.create_user(email, password)
    if password is None:
        user.set_unusable_password()
        user.save()
    return user


def test_the_profile_lists_identities_with_the_globus_id_and_its_identity_set(client, sign_in_apps):
    user = _user("barbara@example.edu")
    SocialAccount.objects.create(user=user, provider="globus", uid="0b5e4a2c", extra_data=GLOBUS_CLAIMS)
    client.force_login(user)
    html = client.get(reverse("profile")).content.decode()
    assert "Ways to sign in" in html and "E-mail and password (barbara@example.edu)" in html
    assert "<b>Globus</b> bmcclintock@globusid.org" in html and "also bm42@cornell.example.edu" in html
    assert "Link Lab SSO" in html and "Remove</button>" in html


def test_an_identity_is_removed_while_a_password_remains(client, sign_in_apps):
    user = _user("a@example.org")
    account = SocialAccount.objects.create(user=user, provider="oidc", uid="s-1", extra_data={"userinfo": {}})
    client.force_login(user)
    response = client.post(reverse("identity_remove", args=[account.pk]), follow=True)
    assert "Lab SSO (s-1) is no longer linked" in response.content.decode()
    assert not SocialAccount.objects.exists()


def test_the_only_way_in_is_not_removed(client, sign_in_apps):
    user = _user("b@example.org", password=None)
    account = SocialAccount.objects.create(user=user, provider="oidc", uid="s-2", extra_data={})
    client.force_login(user)
    html = client.get(reverse("profile")).content.decode()
    assert "your only way in" in html and "set one</a>" in html
    response = client.post(reverse("identity_remove", args=[account.pk]), follow=True)
    assert "is your only way to sign in: set a password or link another identity first" in response.content.decode()
    assert SocialAccount.objects.filter(pk=account.pk).exists()

    SocialAccount.objects.create(user=user, provider="globus", uid="g-2", extra_data={})  # (a second way in)
    client.post(reverse("identity_remove", args=[account.pk]))
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == ["g-2"]


def test_someone_elses_identity_cannot_be_removed(client, sign_in_apps):
    owner = _user("owner@example.org")
    theirs = SocialAccount.objects.create(user=owner, provider="oidc", uid="theirs", extra_data={})
    client.force_login(_user("other@example.org"))
    response = client.post(reverse("identity_remove", args=[theirs.pk]), follow=True)
    assert "That identity is not linked to your account." in response.content.decode()
    assert SocialAccount.objects.filter(pk=theirs.pk).exists()
    assert client.get(reverse("identity_remove", args=[theirs.pk])).status_code == 405


def test_the_link_offer_without_a_waiting_sign_in_goes_home(client):
    response = client.get(reverse("account_link"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "No sign-in is waiting to be linked." in response.content.decode()
