"""Sign-in through a real OpenID provider (oidc-provider on Node.js, tests/oidc_provider) in a real
browser: its login and consent pages, back to GAS signed in with the profile filled from the claims;
every refusal (consent denied, a tampered state, an expired or wrongly signed ID token, an unverified
address) is a page that says what happened; Globus-shaped claims; accounts that meet are linked
only after the existing account's owner signs in to it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from allauth.socialaccount.models import SocialAccount
from selenium.webdriver.common.by import By

from accounts.models import User
from tests.browser.test_results_in_browser import PASSWORD, click, find_testid, wait
from tests.oidc_provider import OpenIDProvider

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LAB = {"client_id": "gas-lab-sso", "client_secret": "lab-sso-secret-for-tests"}
GLOBUS = {"client_id": "gas-globus", "client_secret": "globus-secret-for-tests"}
PROVIDER_PASSWORD = "provider-pass-1"


@pytest.fixture(scope="module")
def openid_provider(live_server) -> Iterator[OpenIDProvider]:
    callback = f"{live_server.url}/accounts/oidc/{{}}/login/callback/"
    clients = [
        {**LAB, "client_name": "GAS", "redirect_uris": [callback.format("oidc")],
         "token_endpoint_auth_method": "client_secret_post"},
        {**GLOBUS, "client_name": "GAS", "redirect_uris": [callback.format("globus")],
         "token_endpoint_auth_method": "client_secret_basic"},
    ]  # fmt: skip
    provider = OpenIDProvider(clients=clients)
    yield provider
    provider.stop()


@pytest.fixture
def provider(openid_provider, settings) -> Iterator[OpenIDProvider]:
    app = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            **app,
            "APPS": [
                {"provider_id": "oidc", "name": "Lab SSO", "client_id": LAB["client_id"],
                 "secret": LAB["client_secret"], "settings": {"server_url": openid_provider.issuer}},
                {"provider_id": "globus", "name": "Globus", "client_id": GLOBUS["client_id"],
                 "secret": GLOBUS["client_secret"],
                 "settings": {"server_url": openid_provider.issuer, "email_verified": True,
                              "token_auth_method": "client_secret_basic"}},
            ],
        }
    }  # fmt: skip
    yield openid_provider
    openid_provider.spoil_id_tokens(None)
    openid_provider.hold_answers(False)


def start_sign_in(browser, base: str, button: str) -> None:
    """GAS's sign-in page, the provider's button, GAS's 'continue' page (a POST, CSRF-checked)."""
    browser.get(f"{base}/accounts/login/")
    click(browser.find_element(By.LINK_TEXT, button))
    wait(browser).until(lambda d: "/accounts/oidc/" in d.current_url)  # (GAS's "continue" page, not the last one)
    click(wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "main form [type=submit]")))


def at_provider(browser, provider: OpenIDProvider, login: str, *, consent: bool = True) -> None:
    """The provider's own login page, then its consent page (Allow or Deny)."""
    wait(browser).until(lambda d: d.current_url.startswith(provider.issuer + "/interaction/"))
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(PROVIDER_PASSWORD)
    click(browser.find_element(By.ID, "sign-in"))
    wait(browser).until(lambda d: d.find_elements(By.ID, "allow"))
    assert "openid" in browser.find_element(By.ID, "scopes").text
    click(browser.find_element(By.ID, "allow" if consent else "deny"))


def at_gas(browser, base: str) -> bool:
    """On a GAS page, not one of its sign-in steps."""
    return browser.current_url.startswith(base) and "/accounts/oidc/" not in browser.current_url


def back_at_gas(browser, base: str) -> None:
    wait(browser).until(lambda d: at_gas(d, base))


def new_account_through(browser, base: str, provider: OpenIDProvider, button: str, login: str, email: str) -> User:
    """Sign in through ``button`` as the provider's ``login``: back at GAS, signed in to a new account."""
    start_sign_in(browser, base, button)
    at_provider(browser, provider, login)
    back_at_gas(browser, base)
    assert signed_in_as(browser, base) == email
    return User.objects.get(email=email)


def refusal(browser) -> tuple[str, str]:
    reason = find_testid(browser, "sign-in-refused").get_attribute("data-reason")
    return reason, browser.find_element(By.CSS_SELECTOR, '[data-testid="refusal-message"]').text


def signed_in_as(browser, base: str) -> str:
    browser.get(f"{base}/profile")
    wait(browser).until(lambda d: "/profile" in d.current_url or "/login" in d.current_url)
    if "/login" in browser.current_url:
        return ""
    return browser.find_element(By.CSS_SELECTOR, "main dl dd").text.split(" ")[0]


def sign_in_with_password(browser, page: str, email: str) -> None:
    browser.get(page)
    browser.find_element(By.NAME, "login").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click(browser.find_element(By.CSS_SELECTOR, "main form [type=submit]"))
    wait(browser).until(lambda d: "/accounts/login" not in d.current_url)


def sign_out(browser, base: str) -> None:
    browser.get(f"{base}/accounts/logout/")
    click(browser.find_element(By.CSS_SELECTOR, "main form [type=submit]"))
    wait(browser).until(lambda d: "/accounts/logout" not in d.current_url)


def test_sign_in_through_the_provider_fills_the_profile_and_comes_back_to_the_same_account(
    browser, live_server, provider
):
    base = live_server.url
    provider.account(
        "rfranklin", password=PROVIDER_PASSWORD, email="rosalind@kcl.example.org", email_verified=True,
        name="Rosalind Franklin", organization="King's College London",
    )  # fmt: skip
    user = new_account_through(browser, base, provider, "Lab SSO", "rfranklin", "rosalind@kcl.example.org")
    assert (user.full_name, user.institution) == ("Rosalind Franklin", "King's College London")
    assert browser.find_element(By.ID, "id_institution").get_attribute("value") == "King's College London"
    identities = [e.text for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="identity"]')]
    assert len(identities) == 1 and "Lab SSO" in identities[0] and "rosalind@kcl.example.org" in identities[0]
    assert "your only way in" in identities[0]  # (no password yet: nothing to remove it for)

    sign_out(browser, base)
    assert signed_in_as(browser, base) == ""
    start_sign_in(browser, base, "Lab SSO")  # (the provider remembers the session and the consent)
    back_at_gas(browser, base)
    assert signed_in_as(browser, base) == "rosalind@kcl.example.org"
    assert User.objects.count() == 1 and SocialAccount.objects.filter(user=user).count() == 1

    # The provider rotates its keys: the next sign-in is verified against the newly published one.
    old_kid = provider.jwks()["keys"][0]["kid"]
    new_kid = provider.rotate_keys()
    assert new_kid != old_kid and [k["kid"] for k in provider.jwks()["keys"]] == [new_kid]
    sign_out(browser, base)
    start_sign_in(browser, base, "Lab SSO")
    wait(browser).until(lambda d: d.find_elements(By.ID, "login") or d.current_url.startswith(base + "/profile")
                        or (d.current_url.startswith(base) and "/accounts/" not in d.current_url))  # fmt: skip
    if browser.find_elements(By.ID, "login"):  # (a provider restarted with new keys may ask again)
        at_provider(browser, provider, "rfranklin")
    back_at_gas(browser, base)
    assert signed_in_as(browser, base) == "rosalind@kcl.example.org"


def test_consent_denied_is_a_page_that_says_so(browser, live_server, provider):
    provider.account("denier", password=PROVIDER_PASSWORD, email="denier@example.org", email_verified=True)
    start_sign_in(browser, live_server.url, "Lab SSO")
    at_provider(browser, provider, "denier", consent=False)
    reason, message = refusal(browser)
    assert reason == "cancelled" and "You declined to share your details" in message and "Lab SSO" in message
    assert not User.objects.filter(email="denier@example.org").exists()
    assert signed_in_as(browser, live_server.url) == ""


def test_a_tampered_state_is_refused_and_the_untouched_answer_then_still_signs_in(browser, live_server, provider):
    provider.account("tamper", password=PROVIDER_PASSWORD, email="tamper@example.org", email_verified=True)
    provider.hold_answers(True)  # (as a man in the middle would)
    start_sign_in(browser, live_server.url, "Lab SSO")
    at_provider(browser, provider, "tamper")
    answer = urlparse(wait(browser).until(lambda d: d.find_element(By.ID, "answer")).get_attribute("href"))
    provider.hold_answers(False)
    query = {k: v[0] for k, v in parse_qs(answer.query).items()}
    assert query["code"] and query["state"] and query["iss"] == provider.issuer

    tampered = {**query, "state": query["state"][:-2] + ("AA" if query["state"][-2:] != "AA" else "BB")}
    browser.get(f"{live_server.url}{answer.path}?{urlencode(tampered)}")
    reason, message = refusal(browser)
    assert reason == "state_mismatch" and "altered" in message
    assert not User.objects.filter(email="tamper@example.org").exists()

    browser.get(f"{live_server.url}{answer.path}?{urlencode(query)}")  # the answer as the provider sent it
    wait(browser).until(lambda d: "/login/callback/" not in d.current_url)
    assert signed_in_as(browser, live_server.url) == "tamper@example.org"
    browser.get(f"{live_server.url}{answer.path}?{urlencode(query)}")  # ... and not twice
    assert refusal(browser)[0] == "state_mismatch"


@pytest.mark.parametrize(
    ("spoil", "reason", "words"),
    [
        ("expired", "id_token_expired", "had expired"),
        ("foreign-key", "id_token_signature", "valid signature"),
        ("previous-key", "id_token_unknown_key", "a key it does not publish"),
    ],
)
def test_a_bad_id_token_is_refused(browser, live_server, provider, spoil, reason, words):
    login = f"spoiled-{spoil}"
    provider.account(login, password=PROVIDER_PASSWORD, email=f"{login}@example.org", email_verified=True)
    if spoil == "previous-key":
        provider.rotate_keys()  # (then sign with the key it just retired)
    provider.spoil_id_tokens(spoil)
    start_sign_in(browser, live_server.url, "Lab SSO")
    at_provider(browser, provider, login)
    got, message = refusal(browser)
    assert got == reason and words in message and "Lab SSO" in message
    assert not User.objects.filter(email=f"{login}@example.org").exists()
    assert signed_in_as(browser, live_server.url) == ""


def test_an_unverified_address_is_refused_and_never_meets_the_account_that_has_it(browser, live_server, provider):
    existing = User.objects.create_user("owner@example.org", PASSWORD)
    provider.account("impostor", password=PROVIDER_PASSWORD, email="owner@example.org", email_verified=False)
    start_sign_in(browser, live_server.url, "Lab SSO")
    at_provider(browser, provider, "impostor")
    reason, message = refusal(browser)
    assert reason == "email_unverified" and "owner@example.org" in message and "not verified" in message
    assert not SocialAccount.objects.exists()
    assert list(User.objects.all()) == [existing]
    assert signed_in_as(browser, live_server.url) == ""


def test_globus_shaped_claims_fill_the_profile(browser, live_server, provider):
    provider.account(
        "0b5e4a2c-8f0e-4d8e-9a39-4c1b8f2d7e11", password=PROVIDER_PASSWORD, name="Barbara McClintock",
        email="barbara@cornell.example.edu", preferred_username="bmcclintock@globusid.org",
        organization="Cornell University", identity_provider="41143743-f3c8-4d60-bbdb-eeecaba85bd9",
        identity_provider_display_name="Globus ID",
        identity_set=[
            {"sub": "0b5e4a2c-8f0e-4d8e-9a39-4c1b8f2d7e11", "username": "bmcclintock@globusid.org",
             "email": "barbara@cornell.example.edu", "name": "Barbara McClintock"},
            {"sub": "7d1c2b3a-0000-4000-8000-000000000002", "username": "bm42@cornell.example.edu",
             "email": "bm42@cornell.example.edu", "organization": "Cornell University"},
        ],
    )  # fmt: skip
    base = live_server.url
    user = new_account_through(
        browser, base, provider, "Globus", "0b5e4a2c-8f0e-4d8e-9a39-4c1b8f2d7e11", "barbara@cornell.example.edu"
    )
    assert (user.full_name, user.institution) == ("Barbara McClintock", "Cornell University")
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("globus", "0b5e4a2c-8f0e-4d8e-9a39-4c1b8f2d7e11")
    assert user.emailaddress_set.get().verified  # (Globus has no email_verified claim; its addresses count)
    identity = browser.find_element(By.CSS_SELECTOR, '[data-testid="identity"]').text
    assert "Globus" in identity and "bmcclintock@globusid.org" in identity and "bm42@cornell.example.edu" in identity


def test_a_verified_address_of_an_existing_account_is_linked_once_its_owner_signs_in(browser, live_server, provider):
    base = live_server.url
    owner = User.objects.create_user("gertrude@example.org", PASSWORD, full_name="Gertrude Elion")
    provider.account("gelion", password=PROVIDER_PASSWORD, email="Gertrude@example.org", email_verified=True,
                     name="G. Elion")  # fmt: skip
    start_sign_in(browser, base, "Lab SSO")
    at_provider(browser, provider, "gelion")
    offer = find_testid(browser, "link-identity")
    assert "already exists" in offer.text and "gertrude@example.org".lower() in offer.text.lower()
    assert not SocialAccount.objects.exists()  # (nothing linked before the owner signs in)
    assert signed_in_as(browser, base) == ""

    browser.get(f"{base}/accounts/link")  # (the offer waits in this browser's session)
    sign_in_page = find_testid(browser, "link-identity").find_element(By.ID, "sign-in-to-link").get_attribute("href")
    sign_in_with_password(browser, sign_in_page, "gertrude@example.org")
    click(wait(browser).until(lambda d: d.find_element(By.ID, "link-identity")))
    wait(browser).until(lambda d: "/profile" in d.current_url)
    assert "Lab SSO is linked" in browser.page_source
    account = SocialAccount.objects.get()
    assert account.user == owner and User.objects.count() == 1
    owner.refresh_from_db()
    assert owner.full_name == "Gertrude Elion"  # (the existing profile is kept)

    sign_out(browser, base)
    start_sign_in(browser, base, "Lab SSO")
    back_at_gas(browser, base)
    assert signed_in_as(browser, base) == "gertrude@example.org"

    # Two ways in now: the identity can be removed from the profile, and the password still works.
    browser.get(f"{base}/profile")
    click(browser.find_element(By.CSS_SELECTOR, '[data-testid="identity"] button'))
    wait(browser).until(lambda d: "is no longer linked" in d.page_source)
    assert not SocialAccount.objects.exists()


def test_a_signed_in_user_links_globus_from_the_profile_and_an_identity_is_never_shared(browser, live_server, provider):
    base = live_server.url
    User.objects.create_user("lise@example.org", PASSWORD)
    provider.account("lmeitner", password=PROVIDER_PASSWORD, email="lise.meitner@globus.example.org",
                     preferred_username="lmeitner@globusid.org", organization="KWI")  # fmt: skip
    sign_in_with_password(browser, f"{base}/accounts/login/", "lise@example.org")
    browser.get(f"{base}/profile")
    click(browser.find_element(By.XPATH, "//button[normalize-space()='Link Globus']"))
    at_provider(browser, provider, "lmeitner")
    wait(browser).until(lambda d: d.current_url.startswith(f"{base}/profile"))
    identity = find_testid(browser, "identity").text
    assert "Globus" in identity and "lmeitner@globusid.org" in identity and "Remove" in identity
    assert SocialAccount.objects.get().user.email == "lise@example.org"

    # Another GAS user signed in to the same browser cannot take that Globus identity.
    sign_out(browser, base)
    User.objects.create_user("otto@example.org", PASSWORD)
    sign_in_with_password(browser, f"{base}/accounts/login/", "otto@example.org")
    browser.get(f"{base}/profile")
    click(browser.find_element(By.XPATH, "//button[normalize-space()='Link Globus']"))
    # (the provider remembers lmeitner and answers at once; the button was on a GAS page already)
    wait(browser).until(lambda d: "already connected to a different account" in d.page_source)
    assert at_gas(browser, base)
    assert SocialAccount.objects.get().user.email == "lise@example.org"


def test_an_identity_without_an_address_is_refused(browser, live_server, provider):
    provider.account("anon", password=PROVIDER_PASSWORD, name="No Mail")
    start_sign_in(browser, live_server.url, "Lab SSO")
    at_provider(browser, provider, "anon")
    reason, message = refusal(browser)
    assert reason == "email_missing" and "did not tell GAS your e-mail address" in message
    assert not User.objects.exists() and not SocialAccount.objects.exists()
