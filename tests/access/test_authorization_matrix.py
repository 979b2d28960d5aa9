"""The authorization matrix (issue 20, item 6): every principal against every surface, each
cell the status and problem code the documentation promises (docs/api.md, docs/security.md,
docs/graphql.md, docs/search.md, docs/inbound.md, docs/assets.md, docs/import.md,
docs/admin.md), never what the code happens to answer. One hub per backend for the module.

Cells: `200`/`201`/`202`/`204` the surface's success (`303` an admin form's redirect back
to its page); otherwise the status and a letter, for the problem `code` or the answer:

  U unauthorized         T invalid-token (an OIDC token refused)   F forbidden
  N object-not-found     A address-not-allowed (the key's networks) I inbound-unverified
  C invalid-connector (a connector check of an empty configuration: allowed, and refused)
  P the admin UI's error page (HTML): a role without the right, or a form without the
    session's CSRF token
  L a redirect to the admin sign-in form
  S the admin UI's plain-text "Your session has ended" to a form posted without a session

On GraphQL the code is `extensions.code`: 401 is UNAUTHENTICATED, 403 FORBIDDEN.

Principals: keys (`none` sends no credentials; `malformed` is no key at all; `wrong-secret`
the admin key's id with another secret; `revoked`, `expired` and `rotated-old` (the previous
secret after an overlap of 0) were admin keys; `rotated-overlap` is a `read` key's previous
secret within its 24 h overlap; `reader` holds `read` (no drafts), `class-a` `read:Category`,
`writer-only` `write:Product` (a write answers no body), `asset-writer` `write:Asset`,
`editor` `read-drafts write delete`, `dh-*` `datahub:<config>`, `outside-net` an admin key
allowed from 10.0.0.0/8 only, `inbound-*` `inbound:<source>`; `*-x-api-key` send the key as
`X-API-Key`, `admin-query-key` as `?apikey=`, which only GraphQL takes), OIDC tokens
(`oidc-editor` maps to `read-drafts write delete datahub:shop`, `oidc-reader` to `read`; the
others are expired, for another audience, from another issuer, signed by a key the issuer
does not hold, or mapping to no scope), and admin UI sessions (`ui-<role>`: the session
cookie alone, which signs in to the admin pages and never authenticates the API;
`ui-admin-no-csrf` posts the admin's forms without the session's CSRF token; `ui-disabled`
is a session of a user disabled since). Forms: publish a published product,
delete a product (confirmed), revoke a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import Engine

from pimhub.access.jwks import JwksCache
from tests.access.authorization_world import SIGNING, SURFACES, World, world
from tests.access.oidc_issuer import Issuer, serve_issuer

CATALOG = """
principal          product draft list draft-obj create patch delete class class+ asset+ asset import
none               401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
malformed          401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
wrong-secret       401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
revoked            401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
expired            401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
rotated-old        401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
rotated-overlap    200     404N  200  404N      403F   403F  403F   200   403F   403F   200   403F
reader             200     404N  200  404N      403F   403F  403F   200   403F   403F   200   403F
reader-x-api-key   200     404N  200  404N      403F   403F  403F   200   403F   403F   200   403F
class-a            403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
writer-only        403F    403F  403F 403F      201    204   403F   403F  403F   403F   403F  202
asset-writer       403F    403F  403F 403F      403F   403F  403F   403F  403F   201    403F  403F
editor             200     200   200  200       201    200   204    200   403F   201    200   202
dh-other           403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
dh-shop            403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
outside-net        403A    403A  403A 403A      403A   403A  403A   403A  403A   403A   403A  403A
admin              200     200   200  200       201    200   204    200   200    201    200   202
admin-x-api-key    200     200   200  200       201    200   204    200   200    201    200   202
admin-query-key    401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
integrate          403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
inbound-other      403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
inbound-erp        403F    403F  403F 403F      403F   403F  403F   403F  403F   403F   403F  403F
oidc-editor        200     200   200  200       201    200   204    200   403F   201    200   202
oidc-reader        200     404N  200  404N      403F   403F  403F   200   403F   403F   200   403F
oidc-expired       401T    401T  401T 401T      401T   401T  401T   401T  401T   401T   401T  401T
oidc-audience      401T    401T  401T 401T      401T   401T  401T   401T  401T   401T   401T  401T
oidc-issuer        401T    401T  401T 401T      401T   401T  401T   401T  401T   401T   401T  401T
oidc-unknown-key   401T    401T  401T 401T      401T   401T  401T   401T  401T   401T   401T  401T
oidc-no-scope      401T    401T  401T 401T      401T   401T  401T   401T  401T   401T   401T  401T
ui-admin           401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
ui-catalog-manager 401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
ui-integrator      401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
ui-viewer          401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
ui-admin-no-csrf   401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
ui-disabled        401U    401U  401U 401U      401U   401U  401U   401U  401U   401U   401U  401U
"""


INTEGRATION = """
principal          keys audit hooks hooks+ conns conn-check gql  gql-m search inbound
none               401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
malformed          401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
wrong-secret       401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
revoked            401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
expired            401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
rotated-old        401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
rotated-overlap    403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
reader             403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
reader-x-api-key   403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
class-a            403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
writer-only        403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
asset-writer       403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
editor             403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
dh-other           403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
dh-shop            403F 403F  403F  403F   403F  403F       200  200   200    401I
outside-net        403A 403A  403A  403A   403A  403A       403A 403A  403A   403A
admin              200  200   200   201    200   422C       200  200   200    202
admin-x-api-key    200  200   200   201    200   422C       200  200   200    202
admin-query-key    401U 401U  401U  401U   401U  401U       200  200   401U   401I
integrate          403F 403F  200   201    200   422C       403F 403F  403F   401I
inbound-other      403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
inbound-erp        403F 403F  403F  403F   403F  403F       403F 403F  403F   202
oidc-editor        403F 403F  403F  403F   403F  403F       200  200   200    401I
oidc-reader        403F 403F  403F  403F   403F  403F       403F 403F  403F   401I
oidc-expired       401T 401T  401T  401T   401T  401T       401T 401T  401T   401I
oidc-audience      401T 401T  401T  401T   401T  401T       401T 401T  401T   401I
oidc-issuer        401T 401T  401T  401T   401T  401T       401T 401T  401T   401I
oidc-unknown-key   401T 401T  401T  401T   401T  401T       401T 401T  401T   401I
oidc-no-scope      401T 401T  401T  401T   401T  401T       401T 401T  401T   401I
ui-admin           401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
ui-catalog-manager 401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
ui-integrator      401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
ui-viewer          401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
ui-admin-no-csrf   401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
ui-disabled        401U 401U  401U  401U   401U  401U       401U 401U  401U   401I
"""


ADMIN_PAGES = """
principal          ui-home ui-classes ui-draft ui-keys ui-users ui-audit
none               303L    303L       303L     303L    303L     303L
malformed          303L    303L       303L     303L    303L     303L
wrong-secret       303L    303L       303L     303L    303L     303L
revoked            303L    303L       303L     303L    303L     303L
expired            303L    303L       303L     303L    303L     303L
rotated-old        303L    303L       303L     303L    303L     303L
rotated-overlap    303L    303L       303L     303L    303L     303L
reader             303L    303L       303L     303L    303L     303L
reader-x-api-key   303L    303L       303L     303L    303L     303L
class-a            303L    303L       303L     303L    303L     303L
writer-only        303L    303L       303L     303L    303L     303L
asset-writer       303L    303L       303L     303L    303L     303L
editor             303L    303L       303L     303L    303L     303L
dh-other           303L    303L       303L     303L    303L     303L
dh-shop            303L    303L       303L     303L    303L     303L
outside-net        403A    403A       403A     403A    403A     403A
admin              303L    303L       303L     303L    303L     303L
admin-x-api-key    303L    303L       303L     303L    303L     303L
admin-query-key    303L    303L       303L     303L    303L     303L
integrate          303L    303L       303L     303L    303L     303L
inbound-other      303L    303L       303L     303L    303L     303L
inbound-erp        303L    303L       303L     303L    303L     303L
oidc-editor        303L    303L       303L     303L    303L     303L
oidc-reader        303L    303L       303L     303L    303L     303L
oidc-expired       303L    303L       303L     303L    303L     303L
oidc-audience      303L    303L       303L     303L    303L     303L
oidc-issuer        303L    303L       303L     303L    303L     303L
oidc-unknown-key   303L    303L       303L     303L    303L     303L
oidc-no-scope      303L    303L       303L     303L    303L     303L
ui-admin           200     200        200      200     200      200
ui-catalog-manager 200     200        200      403P    403P     403P
ui-integrator      200     200        200      403P    403P     403P
ui-viewer          200     200        200      403P    403P     403P
ui-admin-no-csrf   200     200        200      200     200      200
ui-disabled        303L    303L       303L     303L    303L     303L
"""


ADMIN_INTEGRATION_PAGES = """
principal          ui-hooks ui-datahub ui-inbound ui-brokers ui-profiles
none               303L     303L       303L       303L       303L
malformed          303L     303L       303L       303L       303L
wrong-secret       303L     303L       303L       303L       303L
revoked            303L     303L       303L       303L       303L
expired            303L     303L       303L       303L       303L
rotated-old        303L     303L       303L       303L       303L
rotated-overlap    303L     303L       303L       303L       303L
reader             303L     303L       303L       303L       303L
reader-x-api-key   303L     303L       303L       303L       303L
class-a            303L     303L       303L       303L       303L
writer-only        303L     303L       303L       303L       303L
asset-writer       303L     303L       303L       303L       303L
editor             303L     303L       303L       303L       303L
dh-other           303L     303L       303L       303L       303L
dh-shop            303L     303L       303L       303L       303L
outside-net        403A     403A       403A       403A       403A
admin              303L     303L       303L       303L       303L
admin-x-api-key    303L     303L       303L       303L       303L
admin-query-key    303L     303L       303L       303L       303L
integrate          303L     303L       303L       303L       303L
inbound-other      303L     303L       303L       303L       303L
inbound-erp        303L     303L       303L       303L       303L
oidc-editor        303L     303L       303L       303L       303L
oidc-reader        303L     303L       303L       303L       303L
oidc-expired       303L     303L       303L       303L       303L
oidc-audience      303L     303L       303L       303L       303L
oidc-issuer        303L     303L       303L       303L       303L
oidc-unknown-key   303L     303L       303L       303L       303L
oidc-no-scope      303L     303L       303L       303L       303L
ui-admin           200      200        200        200        200
ui-catalog-manager 403P     403P       403P       403P       403P
ui-integrator      200      200        200        200        200
ui-viewer          403P     403P       403P       403P       403P
ui-admin-no-csrf   200      200        200        200        200
ui-disabled        303L     303L       303L       303L       303L
"""


ADMIN_FORMS = """
principal          ui-publish ui-delete ui-revoke
none               403S       403S      403S
malformed          403S       403S      403S
wrong-secret       403S       403S      403S
revoked            403S       403S      403S
expired            403S       403S      403S
rotated-old        403S       403S      403S
rotated-overlap    403S       403S      403S
reader             403S       403S      403S
reader-x-api-key   403S       403S      403S
class-a            403S       403S      403S
writer-only        403S       403S      403S
asset-writer       403S       403S      403S
editor             403S       403S      403S
dh-other           403S       403S      403S
dh-shop            403S       403S      403S
outside-net        403A       403A      403A
admin              403S       403S      403S
admin-x-api-key    403S       403S      403S
admin-query-key    403S       403S      403S
integrate          403S       403S      403S
inbound-other      403S       403S      403S
inbound-erp        403S       403S      403S
oidc-editor        403S       403S      403S
oidc-reader        403S       403S      403S
oidc-expired       403S       403S      403S
oidc-audience      403S       403S      403S
oidc-issuer        403S       403S      403S
oidc-unknown-key   403S       403S      403S
oidc-no-scope      403S       403S      403S
ui-admin           303        303       303
ui-catalog-manager 303        303       403P
ui-integrator      303        403P      403P
ui-viewer          403P       403P      403P
ui-admin-no-csrf   403P       403P      403P
ui-disabled        403S       403S      403S
"""

CODES = {
    "U": "unauthorized",
    "T": "invalid-token",
    "F": "forbidden",
    "N": "object-not-found",
    "A": "address-not-allowed",
    "I": "inbound-unverified",
    "C": "invalid-connector",
}
GRAPHQL_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN"}
# Each refused principal is refused for its own reason (docs/api.md, docs/security.md): the
# REST detail says which.
REASONS = {
    "none": "an API key is required",
    "malformed": "not valid",
    "wrong-secret": "not valid",
    "revoked": "revoked",
    "expired": "expired",
    "rotated-old": "previous secret expired at",
    "oidc-expired": "the token expired at",
    "oidc-audience": "wrong audience",
    "oidc-issuer": "issuer mismatch",
    "oidc-unknown-key": "signature does not verify",
    "oidc-no-scope": "no scopes mapped",
}


def cells(table: str) -> list[tuple[str, str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    out = []
    for row in rows:
        assert len(row) == len(header) + 1, row
        out += [(row[0], surface, cell) for surface, cell in zip(header, row[1:], strict=True)]
    return out


SURFACES_REST = {s for _, s, _ in cells(CATALOG)} | {
    *("keys", "audit", "hooks", "hooks+", "conns", "conn-check", "search")
}
MATRIX = [
    *cells(CATALOG),
    *cells(INTEGRATION),
    *cells(ADMIN_PAGES),
    *cells(ADMIN_INTEGRATION_PAGES),
    *cells(ADMIN_FORMS),
]


def test_the_matrix_covers_every_principal_and_surface() -> None:
    principals = {p for p, _, _ in MATRIX}
    assert len(MATRIX) == len(principals) * len(SURFACES) == 35 * 36
    assert {s for _, s, _ in MATRIX} == set(SURFACES)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_issuer(Issuer(keys=[SIGNING])) as served:
        yield served


@pytest.fixture(scope="module")
def matrix_world(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, issuer: Issuer
) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("matrix"))
    with world(engine, tmp, issuer) as built:
        keys = built.hub.access.tokens.keys  # type: ignore[union-attr]
        # bootstrap fetches the issuer's keys on a thread; on SQLite a token sent before
        # they came would be a 503 (docs/security.md), which is not what a cell asks.
        assert isinstance(keys, JwksCache)
        assert keys.refresh() is not None, keys.last_error
        yield built


@pytest.mark.parametrize(("principal", "surface", "expected"), MATRIX)
def test_cell(matrix_world: World, principal: str, surface: str, expected: str) -> None:
    response = SURFACES[surface](matrix_world, matrix_world.credentials[principal])
    check(response, surface, expected)
    if expected.startswith("401") and principal in REASONS and surface in SURFACES_REST:
        assert REASONS[principal] in response.json()["detail"], response.text
    if principal == "writer-only" and surface in ("create", "patch"):
        assert response.content == b"", "a key that may only write is shown nothing (api.md)"


def check(response: Response, surface: str, expected: str) -> None:
    status, letter = int(expected[:3]), expected[3:]
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    if letter == "L":
        assert response.headers["location"].startswith("/admin/login"), where
    elif status == 303:  # a form's answer: back to a page of the admin, not to sign in
        location = response.headers["location"]
        assert location.startswith("/admin/") and "/login" not in location, where
    elif letter == "P":
        assert response.headers["content-type"].startswith("text/html"), where
    elif letter == "S":
        assert response.text.startswith("Your session has ended"), where
    elif surface.startswith("gql"):
        body = response.json()
        if letter:
            assert body["errors"][0]["extensions"]["code"] == GRAPHQL_CODES[status], body
        else:
            assert "errors" not in body, body
            if surface == "gql-m":
                assert body["data"]["updateProduct"]["success"] is True, body
    elif letter:
        assert response.headers["content-type"].startswith("application/problem+json"), where
        assert response.json()["code"] == CODES[letter], f"{where}: {response.text}"
    if status == 401 and not surface.startswith(("gql", "inbound")):
        assert "www-authenticate" in response.headers, where


def api_routes(world: World) -> list[tuple[str, str]]:
    """Every (method, path) of the REST API as its OpenAPI document lists them, path
    parameters filled with `x`."""
    document = world.client.get("/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        if path.startswith(("/api/v1/", "/simple-rest/")):
            filled = re.sub(r"\{[^}]+\}", "x", path)
            found += [(method.upper(), filled) for method in operations if method != "head"]
    return found


def test_no_route_answers_anything_but_401_without_credentials(matrix_world: World) -> None:
    """docs/api.md: a missing key gets 401, whatever else is wrong with the request (an
    unknown query parameter, a missing body), so nothing about a route is told to a caller
    without a key."""
    wrong = []
    routes = api_routes(matrix_world)
    assert len(routes) > 60
    for method, path in routes:
        response = matrix_world.client.request(method, path, params={"bogus": "1"})
        if response.status_code != 401 or response.json().get("code") != "unauthorized":
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


# What a key without a route's scope gets instead of 403, where the docs say so.
NOT_FORBIDDEN = {
    ("GET", "/api/v1/classes"): 200,  # the classes the key may read: none (api.md)
    ("GET", "/api/v1/imports"): 200,  # jobs of the classes the key may write: none (import.md)
    ("GET", "/api/v1/imports/1"): 404,  # a job of such a class reads as missing
    ("POST", "/api/v1/objects/1/1/transitions/1"): 404,  # unknown-class (workflows.md)
    ("GET", "/simple-rest/1/search"): 404,  # unknown-datahub-config (search.md)
    ("GET", "/simple-rest/1/objects/1"): 404,
}


def test_a_key_without_the_scope_is_refused_on_every_route(matrix_world: World) -> None:
    """docs/api.md: a valid key without the needed scope gets 403, before the route looks
    at its path (a malformed inbound source or broker name was a 404 first)."""
    wrong = []
    headers = matrix_world.credentials["dh-other"].headers  # no REST scope at all
    for method, path in api_routes(matrix_world):
        path = path.replace("/x", "/1")
        response = matrix_world.client.request(method, path, headers=headers)
        wanted = NOT_FORBIDDEN.get((method, path), 403)
        if response.status_code != wanted:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
        elif wanted == 403 and response.json()["code"] != "forbidden":
            wrong.append(f"{method} {path}: {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_a_transition_does_not_list_the_classes_to_a_key_without_scope(
    matrix_world: World,
) -> None:
    path = "/api/v1/objects/Nope/k/transitions/publish"
    refused = matrix_world.client.post(path, headers=matrix_world.credentials["dh-other"].headers)
    assert refused.status_code == 404 and refused.json()["code"] == "unknown-class"
    assert "Product" not in refused.json()["detail"], refused.text
    told = matrix_world.client.post(path, headers=matrix_world.credentials["admin"].headers)
    assert "Product" in told.json()["detail"], told.text
