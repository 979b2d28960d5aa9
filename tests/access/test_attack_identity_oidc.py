"""Attack findings on OIDC bearer tokens: what the hub answers while the issuer is down."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from pimhub.access.jwks import FetchFailed, JwksCache, KeysUnavailable
from pimhub.access.oidc import OidcConfig, OidcVerifier, TokenRefused
from tests.access.oidc_issuer import AUDIENCE, Issuer, rsa_key, serve_issuer

RSA = rsa_key("rsa-1")
SCOPES = {"groups": {"pim-readers": ["read"]}}


def fetch(url: str, timeout: float) -> Any:
    """A plain GET of the stand-in issuer (the hub's own fetch is not under test)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        raise FetchFailed(f"{url} answered HTTP {exc.code}") from None


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with serve_issuer(Issuer(keys=[RSA])) as served:
        yield served


def test_a_new_key_id_while_the_issuer_is_down_is_503_not_an_invalid_token(
    issuer: Issuer,
) -> None:
    # The issuer rotated a key in and then went down: the hub cannot tell whether the
    # token is good, so it must not answer 401 "unknown key id" (clients would throw the
    # token away) but 503, as with no key set at all.
    now = [1000.0]
    keys = JwksCache(issuer=issuer.url, timeout=2.0, fetch=fetch, monotonic=lambda: now[0])
    config = OidcConfig(issuer.url, AUDIENCE, ("RS256",), scope_claims=SCOPES)
    verifier = OidcVerifier(config, keys)
    assert verifier.verify(issuer.token()).key_id == "oidc:user-42"
    rotated = rsa_key("rsa-2")
    issuer.status = 500
    now[0] += 1
    with pytest.raises(KeysUnavailable) as caught:
        verifier.verify(issuer.token(rotated))
    assert caught.value.code == "oidc-keys-unavailable"
    assert "rsa-2" not in caught.value.detail  # not 'unknown key id'
    now[0] += 10  # within the refetch interval: still 503 while the last fetch failed
    with pytest.raises(KeysUnavailable):
        verifier.verify(issuer.token(rotated, jti="2"))
    assert verifier.verify(issuer.token(jti="3")).key_id == "oidc:user-42"  # old set kept
    issuer.status = 200
    issuer.keys = [RSA, rotated]
    now[0] += 61
    assert verifier.verify(issuer.token(rotated, jti="4")).key_id == "oidc:user-42"
    # With the issuer up, a key id it does not publish is a plain invalid token.
    now[0] += 61
    with pytest.raises(TokenRefused, match="unknown key id"):
        verifier.verify(issuer.token(rsa_key("rsa-3")))
