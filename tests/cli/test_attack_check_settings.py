"""Attack findings on `pimhub check` and CLI start-up: an OIDC setting the hub refuses must
end `check` (and any command) with one line naming it and exit 2 (a failure), not a
traceback the deploy step shows as a crash."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import invoke


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PIMHUB_OIDC_ISSUER": "http://pim.example.com"},
            "invalid setting: the OIDC issuer must be an https URL, got 'http://pim.example.com'",
        ),
        (
            {
                "PIMHUB_OIDC_ISSUER": "https://pim.example.com",
                "PIMHUB_OIDC_AUDIENCE": "pimhub",
                "PIMHUB_OIDC_SCOPE_CLAIMS": '{"groups": {"ops": ["bogus"]}}',
            },
            "invalid setting: oidc_scope_claims groups='ops': 'bogus' is not a scope",
        ),
        (
            {
                "PIMHUB_OIDC_ISSUER": "https://pim.example.com",
                "PIMHUB_OIDC_AUDIENCE": "pimhub",
                "PIMHUB_OIDC_ALGORITHMS": '["HS256"]',
            },
            "invalid setting: oidc_algorithms may not hold 'HS256'",
        ),
        (
            {"PIMHUB_OIDC_ISSUER": "https://pim.example.com", "PIMHUB_PROFILE": "production"},
            "invalid setting: PIMHUB_OIDC_AUDIENCE is required in the production profile",
        ),
    ],
)
@pytest.mark.parametrize("command", [("check",), ("init",)])
def test_a_refused_oidc_setting_is_one_line_and_exit_2(
    runner: CliRunner,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    expected: str,
    command: tuple[str, ...],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = invoke(runner, *command)
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(expected), lines[0]
