"""OpenID Connect sign-in, checked the way the specification asks.

allauth's ``openid_connect`` provider, with its provider class swapped (its ``provider_class``
setting) for one that sends a ``nonce`` and whose callback verifies the ID token every time:
signature against the provider's published keys (fetched again, so a rotated key is found),
issuer, audience, expiry and nonce, and that userinfo speaks of the same subject. Globus is one
app of this provider (Globus Auth is an OpenID provider), generic OIDC another.
"""
