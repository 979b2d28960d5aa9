"""OIDC bearer tokens: verification, claim mapping and the issuer's key set, against a
stand-in issuer served on a loopback port (tests/access/oidc_issuer.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimhub.access import jwks as jwks_module
from pimhub.access import oidc as oidc_module
from pimhub.access.jwks import (
    FetchFailed,
    JwksCache,
    KeysUnavailable,
    parse_key_set,
    require_https,
)
from pimhub.access.oidc import OidcConfig, OidcVerifier, TokenRefused, scopes_for
from pimhub.access.service import AccessService
from pimhub.api.jwks_fetch import http_fetch
from tests.access import oidc_issuer
from tests.access.oidc_issuer import (
    AUDIENCE,
    EC,
    RSA,
    Issuer,
    SigningKey,
    ec_key,
    hmac_token,
    rsa_key,
    unsigned_token,
    wait_for,
)

SCOPES = {
    "groups": {"pim-readers": ["read"], "pim-admins": ["admin"]},
    "scope": {"pim.write": ["write:Product"]},
    "realm_access.roles": {"storefront": ["datahub:storefront"]},
}


served = oidc_issuer.served
issuer = oidc_issuer.issuer


def verifier_for(issuer: Issuer, **config: Any) -> OidcVerifier:
    keys = JwksCache(issuer=issuer.url, fetch=http_fetch, timeout=2.0)
    settings: dict[str, Any] = {
        "issuer": issuer.url,
        "audience": AUDIENCE,
        "algorithms": ("RS256", "ES256"),
        "leeway_seconds": 30.0,
        "scope_claims": SCOPES,
    }
    settings.update(config)
    return OidcVerifier(OidcConfig(**settings), keys)


def refused(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as caught:
        verifier.verify(token)
    detail = caught.value.detail
    assert all(part not in detail for part in token.split(".") if len(part) > 8)
    return detail


def test_rs256_and_es256_tokens_map_to_a_principal_with_the_mapped_scopes(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    key = verifier.verify(
        issuer.token(RSA, groups=["pim-readers", "other"], scope="openid pim.write")
    )
    assert key.key_id == "oidc:user-42" and key.name == "ada"
    assert key.scopes == ("read:*", "write:Product")
    assert key.expires_at is not None and key.expires_at.timestamp() > time.time()
    by_ec = verifier.verify(
        issuer.token(EC, sub="svc", groups=None, realm_access={"roles": ["storefront"]})
    )
    assert by_ec.key_id == "oidc:svc" and by_ec.scopes == ("datahub:storefront",)
    assert by_ec.opens_datahub("storefront") and not by_ec.opens_datahub("other")
    # Discovery once, the key set once: both tokens were checked with the cached set.
    assert issuer.hits == {"/.well-known/openid-configuration": 1, "/jwks.json": 1}


def test_the_name_falls_back_to_the_subject(issuer: Issuer) -> None:
    key = verifier_for(issuer).verify(issuer.token(preferred_username=None))
    assert key.name == "user-42"


def test_access_service_hands_a_jwt_to_the_verifier(issuer: Issuer) -> None:
    class NoKeys:
        def find(self, key_id: str) -> None:
            raise AssertionError("a JWT must not be looked up as an API key")

    access = AccessService(NoKeys(), tokens=verifier_for(issuer))  # type: ignore[arg-type]
    assert access.authenticate(issuer.token()).key_id == "oidc:user-42"


def test_expired_token_is_refused_naming_when(issuer: Issuer) -> None:
    exp = int(time.time()) - 120
    detail = refused(verifier_for(issuer), issuer.token(exp=exp, iat=exp - 60))
    expected = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(exp))
    assert detail == f"the token expired at {expected}"


def test_leeway_accepts_a_token_expired_seconds_ago(issuer: Issuer) -> None:
    exp = int(time.time()) - 5
    assert verifier_for(issuer).verify(issuer.token(exp=exp, iat=exp - 60))


def test_not_yet_valid_and_future_iat_are_refused(issuer: Issuer) -> None:
    later = int(time.time()) + 600
    verifier = verifier_for(issuer)
    assert refused(verifier, issuer.token(nbf=later)).startswith("the token is not valid before ")
    assert "issued in the future" in refused(verifier, issuer.token(iat=later))


def test_wrong_audience_and_issuer_are_refused(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    assert refused(verifier, issuer.token(aud="other-app")) == (
        "wrong audience: the token is for 'other-app', this hub is 'pimhub'"
    )
    detail = refused(verifier, issuer.token(iss="https://evil.example"))
    assert detail.startswith("issuer mismatch: the token was issued by 'https://evil.example'")
    assert "no 'aud' claim" in refused(verifier, issuer.token(aud=None))


def test_without_an_audience_setting_any_audience_is_accepted(issuer: Issuer) -> None:
    verifier = verifier_for(issuer, audience=None)
    assert verifier.verify(issuer.token(aud="other-app"))
    assert verifier.verify(issuer.token(aud=None))


class LogRecorder:
    """Stands in for a module's structlog logger: capture_logs misses a logger bound before
    it started (structlog caches loggers on first use, which an earlier test may do)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def _record(self, event: str, **fields: Any) -> None:
        self.entries.append({"event": event, **fields})

    info = warning = error = _record


def test_production_refuses_to_build_the_verifier_without_an_audience(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pimhub.bootstrap import oidc_verifier
    from pimhub.settings import Settings

    production = Settings(profile="production", oidc_issuer=issuer.url, oidc_audience=None)
    with pytest.raises(ValueError, match=r"^PIMHUB_OIDC_AUDIENCE is required in the production"):
        oidc_verifier(production, prefetch=False)
    development = Settings(profile="development", oidc_issuer=issuer.url, oidc_audience=None)
    recorder = LogRecorder()
    monkeypatch.setattr(oidc_module, "log", recorder)
    assert oidc_verifier(development, prefetch=False) is not None
    logs = recorder.entries
    assert [e["event"] for e in logs] == ["oidc_no_audience"]
    assert "PIMHUB_OIDC_AUDIENCE" in logs[0]["detail"]
    production = Settings(profile="production", oidc_issuer=issuer.url, oidc_audience=AUDIENCE)
    assert oidc_verifier(production, prefetch=False) is not None


def test_the_503_for_unfetchable_keys_names_no_url_and_the_error_is_logged(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer.status = 500
    recorder = LogRecorder()
    monkeypatch.setattr(jwks_module, "log", recorder)
    with pytest.raises(KeysUnavailable) as caught:
        verifier_for(issuer).verify(issuer.token())
    logs = recorder.entries
    assert "127.0.0.1" not in caught.value.detail and "500" not in caught.value.detail
    assert logs[-1]["event"] == "oidc_keys_fetch_failed"
    assert logs[-1]["error"] == f"{issuer.url}/jwks.json answered HTTP 500"


def test_missing_claims_and_no_mapped_scopes_are_refused(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    assert refused(verifier, issuer.token(exp=None)) == "the token has no 'exp' claim"
    assert refused(verifier, issuer.token(sub=None)) == "the token has no 'sub' claim"
    detail = refused(verifier, issuer.token(groups=["strangers"]))
    assert detail.startswith("no scopes mapped: the token of 'ada' grants no hub scope")
    assert "x" * 129 not in refused(verifier, issuer.token(sub="x" * 129))


def test_alg_none_is_refused(issuer: Issuer) -> None:
    token = unsigned_token(issuer.claims(), {"alg": "none", "typ": "JWT", "kid": RSA.kid})
    detail = refused(verifier_for(issuer), token)
    assert detail == "the token's algorithm 'none' is not allowed; this hub accepts RS256, ES256"


def test_hs256_signed_with_the_public_key_is_refused(issuer: Issuer) -> None:
    token = hmac_token(issuer.claims(), RSA.public_pem(), RSA.kid)
    assert "algorithm 'HS256' is not allowed" in refused(verifier_for(issuer), token)


def test_symmetric_or_unsigned_algorithms_cannot_be_configured() -> None:
    for algorithms in (("RS256", "HS256"), ("none",), ()):
        with pytest.raises(ValueError, match="oidc_algorithms may not hold"):
            OidcConfig("https://id.example", "pimhub", algorithms)
    with pytest.raises(ValueError, match="oidc_scope_claims groups='x'"):
        OidcConfig(
            "https://id.example", "pimhub", ("RS256",), scope_claims={"groups": {"x": ["root"]}}
        )


def test_token_alg_must_fit_its_key(issuer: Issuer) -> None:
    """An ES256 header on the RSA key's id, a key published for one algorithm used with
    another: refused before any signature is checked."""
    forged = SigningKey(RSA.kid, "ES256", EC.private)
    assert "does not match its key 'rsa-1'" in refused(verifier_for(issuer), issuer.token(forged))
    issuer.extra_members = [{**RSA.public_jwk(), "kid": "rsa-no-alg", "alg": None}]
    issuer.extra_members[0].pop("alg")
    no_alg = SigningKey("rsa-no-alg", "ES256", EC.private)
    assert "does not fit its key 'rsa-no-alg'" in refused(
        verifier_for(issuer), issuer.token(no_alg)
    )


def test_a_tampered_signature_and_garbage_are_refused(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    head, body, _ = issuer.token().split(".")
    other = issuer.token(sub="someone-else").split(".")[2]
    assert refused(verifier, f"{head}.{body}.{other}") == (
        "the token's signature does not verify with the issuer's key"
    )
    assert refused(verifier, "abc.def.ghi") == "the bearer token is neither an API key nor a JWT"
    assert "longer than" in refused(verifier, "a.b." + "c" * 20000)
    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    assert refused(verifier, f"{deep}.{body}.{other}") == (
        "the bearer token is neither an API key nor a JWT"
    )


def test_unknown_key_id_refetches_once_then_not_again_within_a_minute(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    verifier.verify(issuer.token())
    stranger = rsa_key("rotated-in")
    detail = refused(verifier, issuer.token(stranger))
    assert detail.startswith("unknown key id: the token names key id 'rotated-in'")
    assert issuer.hits["/jwks.json"] == 2  # the refetch on the unknown id
    refused(verifier, issuer.token(rsa_key("another")))
    assert issuer.hits["/jwks.json"] == 2  # not again within the minute


def test_a_key_rotated_in_is_found_by_the_refetch(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    verifier.verify(issuer.token())
    rotated = ec_key("ec-2")
    issuer.keys = [rotated]
    assert verifier.verify(issuer.token(rotated)).key_id == "oidc:user-42"


def test_the_last_good_set_is_kept_while_the_issuer_is_down(issuer: Issuer) -> None:
    now = [1000.0]
    keys = JwksCache(issuer=issuer.url, fetch=http_fetch, ttl=60, monotonic=lambda: now[0])
    verifier = OidcVerifier(OidcConfig(issuer.url, AUDIENCE, ("RS256",), scope_claims=SCOPES), keys)
    verifier.verify(issuer.token(jti="1"))
    issuer.status = 500
    now[0] += 3600  # long past the TTL: a refetch starts in the background and fails
    assert verifier.verify(issuer.token(jti="2")).key_id == "oidc:user-42"
    wait_for(lambda: keys.last_error is not None)
    assert keys.last_error == f"{issuer.url}/jwks.json answered HTTP 500"
    assert verifier.verify(issuer.token(jti="3")).key_id == "oidc:user-42"  # still the old set
    issuer.status = 200
    now[0] += 61
    verifier.verify(issuer.token(jti="4"))
    wait_for(lambda: keys.last_error is None)


def test_a_verified_token_is_remembered_for_a_minute_and_not_past_its_exp(
    issuer: Issuer,
) -> None:
    now = [time.time()]
    verifier = verifier_for(issuer)
    verifier.clock = lambda: now[0]
    looked_up: list[str | None] = []
    keys = verifier.keys
    assert isinstance(keys, JwksCache)
    original = keys.key

    def counting(kid: str | None) -> dict[str, Any]:
        looked_up.append(kid)
        return original(kid)

    keys.key = counting  # type: ignore[method-assign]
    token = issuer.token(exp=int(now[0]) + 90)
    first = verifier.verify(token)
    assert verifier.verify(token) is first and looked_up == ["rsa-1"]
    now[0] += 61  # past the minute: checked again
    assert verifier.verify(token) == first and len(looked_up) == 2
    keys.refresh()  # a new key set: checked again
    verifier.verify(token)
    assert len(looked_up) == 3
    now[0] += 30  # past its exp (within the leeway): checked again, and still accepted
    verifier.verify(token)
    assert len(looked_up) == 4


def test_no_key_set_at_all_is_unavailable_not_unauthorized(issuer: Issuer) -> None:
    issuer.status = 500
    with pytest.raises(KeysUnavailable) as caught:
        verifier_for(issuer).verify(issuer.token())
    assert caught.value.detail == "the sign-in issuer's keys cannot be fetched now; retry shortly"


def test_on_an_event_loop_the_fetch_never_blocks(issuer: Issuer) -> None:
    """On SQLite authentication runs on the event loop: a missing set is fetched on a
    background thread and the request answered 503 at once, not after the fetch."""
    release = threading.Event()

    def slow_fetch(url: str, timeout: float) -> Any:
        release.wait(10)
        return http_fetch(url, timeout)

    verifier = OidcVerifier(
        OidcConfig(issuer.url, AUDIENCE, ("RS256",), scope_claims=SCOPES),
        JwksCache(issuer=issuer.url, fetch=slow_fetch),
    )
    keys = verifier.keys
    assert isinstance(keys, JwksCache)

    async def on_loop() -> str:
        try:
            verifier.verify(issuer.token())
        except KeysUnavailable as exc:
            return exc.detail
        return "verified"

    assert asyncio.run(on_loop()) == (
        "the hub is fetching the sign-in issuer's signing keys; retry in a second"
    )
    release.set()
    wait_for(lambda: keys.current is not None)
    assert asyncio.run(on_loop()) == "verified"


def test_discovery_must_name_the_issuer(issuer: Issuer) -> None:
    issuer.announced_issuer = "https://somebody-else.example"
    keys = JwksCache(issuer=issuer.url, fetch=http_fetch)
    assert keys.refresh() is None
    assert keys.last_error is not None and "names the issuer 'https://somebody-else.example'" in (
        keys.last_error
    )


def test_key_set_parsing_keeps_only_public_signature_keys() -> None:
    members = [
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
        {**RSA.public_jwk(), "kid": "enc", "use": "enc"},
        {**RSA.public_jwk(), "kid": "broken", "n": "!!"},
        {**RSA.public_jwk(), "kid": "odd", "n": 5, "e": [None]},
        EC.public_jwk(),
        "not an object",
    ]
    parsed = parse_key_set({"keys": members}, "https://id.example/jwks", 0.0)
    assert list(parsed.keys) == ["ec-1"]
    assert [s.split(":")[0] for s in parsed.skipped] == ["shared", "enc", "broken", "odd"]
    documents: list[Any] = [{"keys": []}, {"keys": "x"}, [], None]
    for document in documents:
        with pytest.raises(FetchFailed):
            parse_key_set(document, "https://id.example/jwks", 0.0)


def test_plain_http_is_refused_except_on_loopback() -> None:
    require_https("http://127.0.0.1:8080", "x")
    require_https("https://id.example", "x")
    with pytest.raises(ValueError, match="must be an https URL"):
        require_https("http://id.example", "the OIDC issuer")


def test_scope_mapping_reads_lists_strings_and_dotted_claims() -> None:
    config = OidcConfig("https://id.example", None, ("RS256",), scope_claims=SCOPES)
    claims = {"groups": "pim-admins", "scope": "openid pim.write", "realm_access": {"roles": 3}}
    assert scopes_for(claims, config) == ("admin", "write:Product")
    assert scopes_for({"groups": [1, None, "pim-readers"]}, config) == ("read:*",)
    assert scopes_for({}, config) == ()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "ES256", "none", "HS256"]) | JSON,
        "kid": st.sampled_from(["rsa-1", "ec-1"]) | JSON,
        "typ": JSON,
        "crit": JSON,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=HEADERS | JSON, claims=JSON, signature=st.text(max_size=40))
def test_any_hostile_token_is_a_refusal_never_an_error(
    issuer: Issuer, header: Any, claims: Any, signature: str
) -> None:
    verifier = hostile_verifier(issuer)
    token = f"{_b64json(header)}.{_b64json(claims)}.{signature}"
    with pytest.raises(TokenRefused):
        verifier.verify(token)


_VERIFIERS: dict[str, OidcVerifier] = {}


def hostile_verifier(issuer: Issuer) -> OidcVerifier:
    if issuer.url not in _VERIFIERS:
        _VERIFIERS[issuer.url] = verifier_for(issuer)
    return _VERIFIERS[issuer.url]


def _b64json(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
