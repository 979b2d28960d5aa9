"""`pimhub oidc`: the single sign-on configuration, the issuer's keys, and what a token
maps to. Needs no database: only the oidc_* settings and the issuer."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pimhub.cli.common import JsonFlag, console, err_console, fail, print_json, print_table

if TYPE_CHECKING:
    from pimhub.access.oidc import OidcVerifier

app = typer.Typer(help="Single sign-on: OIDC configuration and token checks.", no_args_is_help=True)


def _verifier(as_json: bool = False) -> OidcVerifier:
    """The configured verifier, or exit 1 with why there is none (with --json, also as a
    JSON object on stdout, as the other failures of these commands are)."""
    from pimhub.bootstrap import oidc_verifier
    from pimhub.settings import Settings

    try:
        verifier = oidc_verifier(Settings(), prefetch=False)
    except ValueError as exc:  # a setting the verifier refuses (algorithms, scope mapping)
        raise _no_verifier(f"OIDC configuration: {exc}", as_json) from None
    if verifier is None:
        message = "OIDC is off: set PIMHUB_OIDC_ISSUER (and PIMHUB_OIDC_AUDIENCE) to enable it"
        raise _no_verifier(message, as_json)
    return verifier


def _no_verifier(message: str, as_json: bool) -> typer.Exit:
    if as_json:
        print_json({"error": message})
    return fail(message)


@app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """Show the configuration and fetch the issuer's signing keys now (exit 1 if that fails)."""
    from pimhub.access.jwks import JwksCache

    verifier = _verifier(as_json)
    keys = verifier.keys
    assert isinstance(keys, JwksCache)
    config = verifier.config
    # stdout is the report: a warning the fetch logs (the issuer down) goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        fetched = keys.refresh()
    report: dict[str, Any] = {
        "issuer": config.issuer,
        "audience": config.audience,
        "algorithms": list(config.algorithms),
        "leewaySeconds": config.leeway_seconds,
        "nameClaim": config.name_claim,
        "scopeClaims": {c: dict(v) for c, v in config.scope_claims.items()},
        "jwksUrl": keys.jwks_url,
        "keys": [_key_row(jwk) for jwk in fetched.keys.values()] if fetched else [],
        "skipped": list(fetched.skipped) if fetched else [],
        "error": keys.last_error,
    }
    if as_json:
        print_json(report)
    else:
        _print_status(report)
    if fetched is None:
        raise fail(f"the issuer's keys could not be fetched: {keys.last_error}")


def _key_row(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: jwk.get(name) for name in ("kid", "kty", "alg", "crv", "use")}


def _print_status(report: dict[str, Any]) -> None:
    audience = report["audience"] or "(any: set PIMHUB_OIDC_AUDIENCE, or tokens issued for "
    if not report["audience"]:
        audience += "other applications of this issuer are accepted too)"
    lines = [
        ("issuer", report["issuer"]),
        ("audience", audience),
        ("algorithms", ", ".join(report["algorithms"])),
        ("leeway", f"{report['leewaySeconds']:g} s"),
        ("name claim", report["nameClaim"]),
        ("key set", report["jwksUrl"] or "(not discovered)"),
    ]
    for label, value in lines:
        console.print(f"{label + ':':<12} {escape(str(value))}", highlight=False)
    mapping = [
        (claim, value, ", ".join(scopes))
        for claim, values in report["scopeClaims"].items()
        for value, scopes in values.items()
    ]
    if mapping:
        console.print("scopes granted by claims:", highlight=False)
        print_table(("claim", "value", "scopes"), mapping, ids=2)
    else:
        console.print("scopes granted by claims: none (every token is refused)", style="yellow")
    if report["keys"]:
        console.print("signing keys (fetched now):", highlight=False)
        rows = [
            [str(k[c] or "") for c in ("kid", "kty", "alg", "crv", "use")] for k in report["keys"]
        ]
        print_table(("kid", "kty", "alg", "crv", "use"), rows)
    for skipped in report["skipped"]:
        err_console.print(f"skipped key {escape(skipped)}", style="yellow", highlight=False)


@app.command("inspect")
def inspect(
    token: Annotated[str, typer.Argument(help="The JWT, or - to read it from stdin")],
    as_json: JsonFlag = False,
) -> None:
    """Check TOKEN as the API would: which principal and scopes it maps to, or why it is
    refused (exit 1). The token itself is never printed."""
    from pimhub.access.jwks import KeysUnavailable
    from pimhub.access.oidc import TokenRefused, unverified_parts

    if token == "-":
        token = sys.stdin.read().strip()
    verifier = _verifier(as_json)
    header, claims = unverified_parts(token)
    seen = {
        "alg": header.get("alg"),
        "kid": header.get("kid"),
        **{c: claims.get(c) for c in ("iss", "aud", "sub", "iat", "nbf", "exp")},
        **{c: claims.get(c) for c in verifier.config.scope_claims if c in claims},
    }
    try:
        key = verifier.verify(token)
    except (TokenRefused, KeysUnavailable) as exc:
        if as_json:
            print_json({"token": seen, "accepted": False, "reason": exc.detail})
        else:
            _print_seen(seen)
        raise fail(f"refused: {exc.detail}") from None
    principal = {
        "keyId": key.key_id,
        "name": key.name,
        "scopes": list(key.scopes),
        "expiresAt": key.expires_at.isoformat() if key.expires_at else None,
    }
    if as_json:
        print_json({"token": seen, "accepted": True, "principal": principal})
        return
    _print_seen(seen)
    console.print(
        f"accepted: {escape(key.key_id)} ({escape(key.name)}) with scopes "
        f"{escape(', '.join(key.scopes))}; expires {principal['expiresAt']}",
        highlight=False,
    )


def _print_seen(seen: dict[str, Any]) -> None:
    """The token's header and claims as read, unverified (so labelled)."""
    console.print("token (as read, before any check):", highlight=False)
    for name, value in seen.items():
        if value is None:
            continue
        shown = str(value)
        if name in ("iat", "nbf", "exp") and isinstance(value, int | float):
            with contextlib.suppress(OverflowError, OSError, ValueError):
                shown = f"{value} ({datetime.fromtimestamp(value, UTC).isoformat()})"
        console.print(f"  {name + ':':<8} {escape(shown[:200])}", highlight=False)
