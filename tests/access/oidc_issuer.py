"""A stand-in OIDC issuer for tests: RSA and EC signing keys, tokens signed with them, and
its discovery document and key set served over HTTP on a loopback port.

A test module takes the shared fixtures by naming them: `served = oidc_issuer.served` and
`issuer = oidc_issuer.issuer` (one issuer per module, reset for each test, keys RSA and EC).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "pimhub"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Issuer:
    """The issuer's state, changed by tests while its server runs."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    status: int = 200  # what the key set answers (500: the issuer is down)
    extra_members: list[dict[str, Any]] = field(default_factory=list)
    announced_issuer: str | None = None  # the discovery document's issuer, if not `url`
    hits: Counter[str] = field(default_factory=Counter)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-42",
            "preferred_username": "ada",
            "groups": ["pim-readers"],
            "iat": now,
            "exp": now + 300,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(
        self, key: SigningKey | None = None, *, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm=key.alg,
            headers={"kid": key.kid, **(headers or {})},
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys] + self.extra_members}


def unsigned_token(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with the header given and no signature (`alg: none`)."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hmac_token(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 token keyed with `secret` (the key-confusion attack: the public key's PEM)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@contextmanager
def serve_issuer(issuer: Issuer) -> Iterator[Issuer]:
    """Serve `issuer` on 127.0.0.1 (a thread); sets issuer.url for the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.hits[self.path] += 1
            if self.path == "/.well-known/openid-configuration":
                body = {
                    "issuer": issuer.announced_issuer or issuer.url,
                    "jwks_uri": issuer.url + "/jwks.json",
                }
                self._answer(200, body)
            elif self.path == "/jwks.json":
                self._answer(issuer.status, issuer.jwks() if issuer.status == 200 else {})
            else:
                self._answer(404, {})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()


RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")


@pytest.fixture(scope="module")
def served() -> Iterator[Issuer]:
    with serve_issuer(Issuer(keys=[RSA, EC])) as issuer:
        yield issuer


@pytest.fixture
def issuer(served: Issuer) -> Issuer:
    """The module's issuer as new: keys RSA and EC, answering 200, no hits yet."""
    served.keys = [RSA, EC]
    served.status = 200
    served.extra_members = []
    served.announced_issuer = None
    served.hits.clear()
    return served


def wait_for(condition: Callable[[], object], deadline: float = 30.0) -> None:
    """Wait until `condition()` is true (a background fetch); CI machines can be slow."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)
