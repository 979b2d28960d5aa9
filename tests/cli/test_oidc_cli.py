"""`pimhub oidc status` and `pimhub oidc inspect` against a stand-in issuer on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from pimhub.cli.main import app
from tests.access.oidc_issuer import AUDIENCE, Issuer, ec_key, rsa_key, serve_issuer
from tests.cli.test_cli import invoke, one_line_error

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")


@pytest.fixture(scope="module")
def served() -> Iterator[Issuer]:
    with serve_issuer(Issuer(keys=[RSA, EC])) as issuer:
        yield issuer


@pytest.fixture
def issuer(served: Issuer, monkeypatch: pytest.MonkeyPatch) -> Issuer:
    served.status = 200
    served.extra_members = [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"}]
    monkeypatch.setenv("PIMHUB_OIDC_ISSUER", served.url)
    monkeypatch.setenv("PIMHUB_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PIMHUB_OIDC_SCOPE_CLAIMS", '{"groups": {"pim-readers": ["read"]}}')
    return served


def test_status_shows_the_configuration_and_the_fetched_keys(
    runner: CliRunner, issuer: Issuer
) -> None:
    code, out, err = invoke(runner, "oidc", "status")
    assert code == 0, err
    assert f"issuer:      {issuer.url}" in out and "audience:    pimhub" in out
    assert f"key set:     {issuer.url}/jwks.json" in out  # discovered
    assert "pim-readers" in out and "read:*" not in out  # the mapping as configured
    assert "rsa-1" in out and "ec-1" in out and "P-256" in out
    assert "skipped key shared: key type 'oct' is not a public signing key" in err
    code, out, err = invoke(runner, "oidc", "status", "--json")
    report = json.loads(out)
    assert [k["kid"] for k in report["keys"]] == ["rsa-1", "ec-1"] and report["error"] is None


def test_status_fails_when_the_keys_cannot_be_fetched_or_oidc_is_off(
    runner: CliRunner, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer.status = 500
    code, out, err = invoke(runner, "oidc", "status")
    # The fetch's log line goes to stderr, never into the report on stdout. Where on stderr
    # depends on when structlog first bound its logger in this process (the runner's capture
    # or the real stream), so only its absence from stdout is asserted.
    assert "oidc_keys_fetch_failed" not in out
    err = "\n".join(line for line in err.splitlines() if "oidc_keys_fetch_failed" not in line)
    assert one_line_error(code, err) == (
        f"error: the issuer's keys could not be fetched: {issuer.url}/jwks.json answered HTTP 500"
    )
    monkeypatch.setenv("PIMHUB_OIDC_ALGORITHMS", '["RS256", "HS256"]')
    code, _, err = invoke(runner, "oidc", "status")
    assert one_line_error(code, err).startswith(
        "error: OIDC configuration: oidc_algorithms may not hold 'HS256'"
    )
    monkeypatch.delenv("PIMHUB_OIDC_ISSUER")
    code, _, err = invoke(runner, "oidc", "status")
    assert "OIDC is off" in one_line_error(code, err)


def test_status_and_inspect_json_print_the_error_as_json(
    runner: CliRunner, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer.status = 500
    code, out, _ = invoke(runner, "oidc", "status", "--json")
    assert code == 1 and "answered HTTP 500" in json.loads(out)["error"]
    monkeypatch.setenv("PIMHUB_OIDC_ALGORITHMS", '["HS256"]')
    code, out, _ = invoke(runner, "oidc", "status", "--json")
    assert code == 1 and json.loads(out)["error"].startswith("OIDC configuration:")
    monkeypatch.delenv("PIMHUB_OIDC_ISSUER")
    for args in (["status"], ["inspect", "a.b.c"]):
        code, out, err = invoke(runner, "oidc", *args, "--json")
        assert code == 1 and json.loads(out)["error"].startswith("OIDC is off"), (out, err)


def test_inspect_names_the_principal_or_the_reason(runner: CliRunner, issuer: Issuer) -> None:
    token = issuer.token(EC)
    code, out, err = invoke(runner, "oidc", "inspect", token)
    assert code == 0, err
    assert "accepted: oidc:user-42 (ada) with scopes read:*" in out
    assert "kid:     ec-1" in out and token not in out + err
    result = runner.invoke(app, ["oidc", "inspect", "-", "--json"], input=token + "\n")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["accepted"] and body["principal"]["scopes"] == ["read:*"]
    assert body["token"]["groups"] == ["pim-readers"]

    wrong = issuer.token(aud="crm")
    code, out, err = invoke(runner, "oidc", "inspect", wrong)
    assert one_line_error(code, err) == (
        "error: refused: wrong audience: the token is for 'crm', this hub is 'pimhub'"
    )
    assert "aud:     crm" in out and wrong not in out + err


def test_only_serve_and_worker_prefetch_the_issuers_keys(
    runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pimhub.access.jwks import JwksCache
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    started: list[str] = []
    monkeypatch.setattr(JwksCache, "refresh_in_background", lambda self: started.append("x"))
    monkeypatch.setenv("PIMHUB_OIDC_ISSUER", "https://issuer.invalid")
    monkeypatch.setenv("PIMHUB_OIDC_AUDIENCE", AUDIENCE)
    for args in (["init"], ["classes", "list"], ["keys", "list"]):
        code, _, err = invoke(runner, *args)
        assert code == 0, err
    assert started == []  # a command that needs no token never reaches for the issuer
    bootstrap(Settings(), oidc_prefetch=True).close()  # as serve and worker build theirs
    assert started == ["x"]
