"""The world the authorization matrix runs in (tests/access/test_authorization_matrix.py):
one hub per backend with a small catalog, two datahub configurations, an api-key inbound
source, an asset, one credential per principal, and the request each surface sends."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy import Engine

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from pimhub.users.passwords import Argon2Passwords
from tests.access.oidc_issuer import AUDIENCE, Issuer, rsa_key
from tests.conftest import empty_database

# Tokens map to scopes through their `groups` claim (docs/security.md, Single sign-on).
OIDC_SCOPES = {
    "groups": {
        "pim-editors": ["read-drafts", "write", "delete", "datahub:shop"],
        "pim-readers": ["read"],
    }
}
SIGNING = rsa_key("rsa-1")
STRANGER = rsa_key("rsa-1")  # the issuer's key id, another key: a forged signature
ROLES = ("admin", "catalog-manager", "integrator", "viewer")
PASSWORD = "matrix-test-password"
DATAHUB_CLASSES = {
    "Product": {"fields": ["sku", "name", "stock"], "operations": ["read", "update"]}
}
MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Credential:
    """How a principal authenticates: request headers, and query parameters (`?apikey=`)."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    csrf: str = ""  # an admin session's form token


@dataclass
class World:
    hub: Hub
    client: TestClient
    issuer: Issuer
    credentials: dict[str, Credential] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=itertools.count)

    def fresh(self, prefix: str) -> str:
        return f"{prefix}-{next(self.serial)}"


@contextmanager
def world(engine: Engine, tmp: Path, issuer: Issuer) -> Iterator[World]:
    empty_database(engine)
    settings = Settings(
        database_url=str(engine.url),
        secret_key="test-passphrase",
        data_dir=tmp / "data",
        assets_dir=tmp / "assets",
        # Limits are not what this module tests: ~700 requests from one address in seconds.
        rate_limit_per_key="off",
        rate_limit_per_address="off",
        webhooks_allow_private=True,  # endpoints on 127.0.0.1, never called here
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_scope_claims=OIDC_SCOPES,
    )
    hub = bootstrap(settings, engine=engine)
    try:
        hub.imports.folder = tmp / "imports"
        seed(hub)
        client = TestClient(create_app(hub), base_url="http://testserver")
        built = World(hub, client, issuer)
        built.credentials = principals(hub, issuer)
        admin = built.credentials["admin"].headers
        stored = client.put("/api/v1/assets/shop/seed.png", content=png(), headers=admin)
        assert stored.status_code == 201, stored.text
        yield built
    finally:
        hub.close()


def seed(hub: Hub) -> None:
    hub.classes.apply(commerce_model(), author="test")
    catalog = hub.catalog
    catalog.create("Category", {"code": "men", "name": {"en": "Men"}}, author="test")
    product = {"name": {"en": "Tee"}, "price": {"amount": 9, "currency": "EUR"}, "stock": 1}
    catalog.create("Product", {"sku": "TS-1", **product}, author="test")
    catalog.create("Product", {"sku": "TS-2", **product}, published=False, author="test")
    hub.datahub.create({"name": "shop", "classes": DATAHUB_CLASSES}, author="test")
    hub.datahub.create({"name": "other", "classes": DATAHUB_CLASSES}, author="test")
    hub.inbound.add_source(
        {"name": "erp", "scheme": "api-key", "eventType": {"value": "erp.stock.changed"}}
    )


def principals(hub: Hub, issuer: Issuer) -> dict[str, Credential]:
    """The request headers of each principal (the matrix's rows)."""
    access = hub.access

    def key(
        name: str, *scopes: str, expires_in_days: int | None = None, networks: tuple[str, ...] = ()
    ) -> str:
        made = access.create(
            name,
            list(scopes),
            environment="test",
            expires_in_days=expires_in_days,
            allowed_networks=networks,
        )
        return made[1]

    revoked = key("revoked", "admin")
    access.revoke("revoked")
    real = access.clock
    access.clock = lambda: real() - timedelta(days=3)
    expired = key("expired", "admin", expires_in_days=1)
    # Rotated two hours ago with an overlap of one: the previous secret ended an hour ago.
    access.clock = lambda: real() - timedelta(hours=2)
    after_overlap = key("rotated-old", "admin")
    access.rotate("rotated-old", timedelta(hours=1))
    access.clock = real
    in_overlap = key("rotated-overlap", "read")
    access.rotate("rotated-overlap", timedelta(hours=24))
    admin = key("admin", "admin")
    prefix, _, secret = admin.rpartition("_")
    wrong = f"{prefix}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    tokens = {
        "none": None,
        "malformed": "phk_not-a-key",
        "wrong-secret": wrong,
        "revoked": revoked,
        "expired": expired,
        "rotated-old": after_overlap,
        "rotated-overlap": in_overlap,
        "reader": key("reader", "read"),
        "class-a": key("class-a", "read:Category"),
        "writer-only": key("writer-only", "write:Product"),
        "asset-writer": key("asset-writer", "write:Asset"),
        "editor": key("editor", "read-drafts", "write", "delete"),
        "dh-other": key("dh-other", "datahub:other"),
        "dh-shop": key("dh-shop", "datahub:shop"),
        "outside-net": key("outside-net", "admin", networks=("10.0.0.0/8",)),
        "admin": admin,
        "integrate": key("integrate", "integrate"),
        "inbound-other": key("inbound-other", "inbound:other"),
        "inbound-erp": key("inbound-erp", "inbound:erp"),
        "oidc-editor": issuer.token(SIGNING, groups=["pim-editors"]),
        "oidc-reader": issuer.token(SIGNING, groups=["pim-readers"]),
        "oidc-expired": issuer.token(
            SIGNING, groups=["pim-editors"], iat=_ago(7200), exp=_ago(3600)
        ),
        "oidc-audience": issuer.token(SIGNING, groups=["pim-editors"], aud="crm"),
        "oidc-issuer": issuer.token(SIGNING, groups=["pim-editors"], iss="https://idp.invalid"),
        "oidc-unknown-key": issuer.token(STRANGER, groups=["pim-editors"]),
        "oidc-no-scope": issuer.token(SIGNING, groups=["pim-strangers"]),
    }
    out = {
        name: Credential({"Authorization": f"Bearer {token}"} if token else {})
        for name, token in tokens.items()
    }
    # The other ways to send a key: X-API-Key everywhere, ?apikey= on GraphQL only.
    out["reader-x-api-key"] = Credential({"X-API-Key": key("reader-x", "read")})
    out["admin-x-api-key"] = Credential({"X-API-Key": key("admin-x", "admin")})
    out["admin-query-key"] = Credential(params={"apikey": key("admin-q", "admin")})
    hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    for role in ROLES:
        user = hub.users.create(f"ui-{role}", PASSWORD, role)
        session, cookie = hub.users.start_session(user)
        headers = {"Cookie": f"pimhub_session={cookie}"}
        out[f"ui-{role}"] = Credential(headers, csrf=session.csrf_token)
        if role == "admin":  # its forms posted without the session's CSRF token
            out["ui-admin-no-csrf"] = Credential(headers)
    # Disabling a user ends their sessions at once (docs/admin.md).
    gone = hub.users.create("ui-disabled", PASSWORD, "viewer")
    session, cookie = hub.users.start_session(gone)
    hub.users.disable("ui-disabled")
    out["ui-disabled"] = Credential({"Cookie": f"pimhub_session={cookie}"}, csrf=session.csrf_token)
    return out


def _ago(seconds: int) -> int:
    return int(time.time()) - seconds


# --- the surfaces: each sends its one request as the principal given -------------------

Send = Callable[[World, Credential], Response]


def _get(path: str) -> Send:
    return lambda w, c: w.client.get(
        path, headers=c.headers, params=c.params, follow_redirects=False
    )


def _create(w: World, c: Credential) -> Response:
    fields = {
        "sku": w.fresh("NEW"),
        "name": {"en": "New"},
        "price": {"amount": 1, "currency": "EUR"},
    }
    response: Response = w.client.post(
        "/api/v1/objects/Product", json={"fields": fields}, headers=c.headers, params=c.params
    )
    return response


def _patch(w: World, c: Credential) -> Response:
    response: Response = w.client.patch(
        "/api/v1/objects/Product/TS-1",
        json={"fields": {"stock": 3}},
        headers=c.headers,
        params=c.params,
    )
    return response


def _delete(w: World, c: Credential) -> Response:
    sku = w.fresh("DEL")
    product = {"sku": sku, "name": {"en": "Gone"}, "price": {"amount": 1, "currency": "EUR"}}
    w.hub.catalog.create("Product", product, author="test")
    response: Response = w.client.delete(
        f"/api/v1/objects/Product/{sku}", headers=c.headers, params=c.params
    )
    return response


def _class_dry_run(w: World, c: Credential) -> Response:
    definition = {
        "name": "Thing",
        "fields": [{"name": "code", "type": "text"}],
        "businessKey": "code",
    }
    params = {**c.params, "dryRun": "true"}
    response: Response = w.client.post(
        "/api/v1/classes", json=definition, headers=c.headers, params=params
    )
    return response


def _endpoint(w: World, c: Credential) -> Response:
    body = {"url": f"http://127.0.0.1:9/{w.fresh('hook')}"}
    response: Response = w.client.post(
        "/api/v1/webhooks/endpoints", json=body, headers=c.headers, params=c.params
    )
    return response


def _connector_check(w: World, c: Credential) -> Response:
    # An empty configuration: a caller allowed to check it is told what is missing (422).
    response: Response = w.client.post(
        "/api/v1/connectors/check", json={"config": {}}, headers=c.headers, params=c.params
    )
    return response


def _graphql(query: str) -> Send:
    return lambda w, c: w.client.post(
        "/graphql/shop", json={"query": query}, headers=c.headers, params=c.params
    )


def _inbound(w: World, c: Credential) -> Response:
    headers = {**c.headers, "Content-Type": "application/json", "Idempotency-Key": w.fresh("m")}
    body = b'{"sku": "TS-1", "stock": 4}'
    response: Response = w.client.post(
        "/inbound/erp", content=body, headers=headers, params=c.params
    )
    return response


def _asset_upload(w: World, c: Credential) -> Response:
    path = f"/api/v1/assets/matrix/{w.fresh('a')}.png"
    response: Response = w.client.put(path, content=png(), headers=c.headers, params=c.params)
    return response


def _import(w: World, c: Credential) -> Response:
    files = {"file": ("products.csv", b"sku,name\nIMP-1,Imported\n", "text/csv")}
    data = {"mapping": MAPPING, "dryRun": "true"}
    response: Response = w.client.post(
        "/api/v1/imports", data=data, files=files, headers=c.headers, params=c.params
    )
    return response


def _form(path: str, **fields: str) -> Callable[[World, Credential, str], Response]:
    def send(w: World, c: Credential, target: str) -> Response:
        data = {**fields, **({"csrf_token": c.csrf} if c.csrf else {})}
        if "/objects/" in path:  # the editor's forms name the version they showed
            shown = w.hub.catalog.get_object("Product", target, include_drafts=True)
            data["version"] = str(shown.version)
        response: Response = w.client.post(
            path.format(target), data=data, headers=c.headers, follow_redirects=False
        )
        return response

    return send


def _ui_publish(w: World, c: Credential) -> Response:
    return _form("/admin/objects/Product/{}/publish")(w, c, "TS-1")


def _ui_delete(w: World, c: Credential) -> Response:
    sku = w.fresh("UIDEL")
    product = {"sku": sku, "name": {"en": "Gone"}, "price": {"amount": 1, "currency": "EUR"}}
    w.hub.catalog.create("Product", product, author="test")
    return _form("/admin/objects/Product/{}/delete", confirm="yes")(w, c, sku)


def _ui_revoke(w: World, c: Credential) -> Response:
    made, _ = w.hub.access.create(w.fresh("doomed"), ["read"], environment="test")
    return _form("/admin/keys/{}/revoke")(w, c, made.key_id)


SURFACES: dict[str, Send] = {
    "product": _get("/api/v1/products/TS-1"),
    "draft": _get("/api/v1/products/TS-2"),
    "list": _get("/api/v1/objects/Product"),
    "draft-obj": _get("/api/v1/objects/Product/TS-2"),
    "create": _create,
    "patch": _patch,
    "delete": _delete,
    "class": _get("/api/v1/classes/Product"),
    "class+": _class_dry_run,
    "asset+": _asset_upload,
    "asset": _get("/api/v1/assets/shop/seed.png"),
    "import": _import,
    "keys": _get("/api/v1/keys"),
    "audit": _get("/api/v1/audit"),
    "hooks": _get("/api/v1/webhooks/endpoints"),
    "hooks+": _endpoint,
    "conns": _get("/api/v1/connectors"),
    "conn-check": _connector_check,
    "gql": _graphql('{ getProduct(sku: "TS-1") { sku } }'),
    "gql-m": _graphql(
        'mutation { updateProduct(sku: "TS-1", input: {stock: 5}) { success code } }'
    ),
    "search": _get("/simple-rest/shop/search?class=Product"),
    "inbound": _inbound,
    "ui-home": _get("/admin/"),
    "ui-classes": _get("/admin/classes"),
    "ui-draft": _get("/admin/objects/Product/TS-2"),
    "ui-keys": _get("/admin/keys"),
    "ui-users": _get("/admin/users"),
    "ui-audit": _get("/admin/audit"),
    "ui-hooks": _get("/admin/webhooks"),
    "ui-datahub": _get("/admin/datahub"),
    "ui-inbound": _get("/admin/inbound"),
    "ui-brokers": _get("/admin/brokers"),
    "ui-profiles": _get("/admin/import-profiles"),
    "ui-publish": _ui_publish,
    "ui-delete": _ui_delete,
    "ui-revoke": _ui_revoke,
}
