"""The `pimhub` command against a fresh SQLite database: every command works, and every
error is one clear line with a non-zero exit and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pimhub.access.keys import Action
from pimhub.bootstrap import bootstrap
from pimhub.catalog.errors import Unauthorized
from pimhub.cli.main import app
from pimhub.cli.server import seed_demo
from pimhub.settings import Settings


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    return lines[0]


def init(runner: CliRunner) -> str:
    code, out, _ = invoke(runner, "init")
    assert code == 0, out
    token: str = out.strip().splitlines()[-1]
    return token


def test_init_migrates_installs_the_model_and_prints_an_admin_key(
    runner: CliRunner, db_url: str
) -> None:
    token = init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    assert {c.name for c in hub.classes.all()} == {"Brand", "Category", "Product"}
    assert hub.access.authenticate(token).scopes == ("admin",)
    code, out, _ = invoke(runner, "init")  # again: nothing to do, no second admin key
    assert code == 0 and "phk_" not in out


@pytest.mark.parametrize("profile", ["development", "production"])
def test_init_gives_the_admin_key_the_environment_of_the_profile(
    runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    monkeypatch.setenv("PIMHUB_PROFILE", profile)
    token = init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    assert hub.access.authenticate(token).environment == profile


def test_db_upgrade_is_idempotent(runner: CliRunner, db_url: str) -> None:
    for _ in range(2):
        code, out, _ = invoke(runner, "db", "upgrade")
        assert code == 0 and "revision" in out
    code, out, _ = invoke(runner, "db", "current")
    assert code == 0 and out.strip()


def test_commands_on_an_uninitialized_database_say_what_to_do(
    runner: CliRunner, db_url: str
) -> None:
    code, _, err = invoke(runner, "keys", "list")
    assert "pimhub init" in one_line_error(code, err)


def test_keys_create_list_revoke(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, out, _ = invoke(
        runner, "keys", "create", "--name", "erp-prod", "--env", "production",
        "--scopes", "read,write:Product",
    )  # fmt: skip
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("phk_")
    code, out, _ = invoke(runner, "keys", "list")
    assert code == 0 and "erp-prod" in out and token not in out
    hub = bootstrap(Settings(database_url=db_url))
    key = hub.access.authenticate(token)
    assert key.allows(Action.WRITE, "Product") and not key.allows(Action.WRITE, "Brand")
    code, out, _ = invoke(runner, "keys", "revoke", "erp-prod")
    assert code == 0 and "revoked" in out
    with pytest.raises(Unauthorized):
        hub.access.authenticate(token)


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--name", "x", "--scopes", "read:product"),
        ("keys", "create", "--name", "x", "--scopes", "read", "--env", "moon"),
        ("keys", "revoke", "nobody"),
    ],
)
def test_key_errors_are_one_line(runner: CliRunner, db_url: str, args: tuple[str, ...]) -> None:
    init(runner)
    code, _, err = invoke(runner, *args)
    one_line_error(code, err)


def test_classes_export_then_apply_round_trips(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    exported = tmp_path / "classes.yaml"
    code, _, _ = invoke(runner, "classes", "export", "-o", str(exported))
    assert code == 0
    assert {c["name"] for c in yaml.safe_load(exported.read_text())["classes"]} == {
        "Brand",
        "Category",
        "Product",
    }
    code, out, _ = invoke(runner, "classes", "apply", str(exported))
    assert code == 0
    assert out.count("unchanged") == 3


def test_breaking_apply_names_the_field(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    exported = tmp_path / "classes.yaml"
    invoke(runner, "classes", "export", "-o", str(exported), "--class", "Brand")
    data = yaml.safe_load(exported.read_text())
    data["classes"][0]["fields"] = [f for f in data["classes"][0]["fields"] if f["name"] != "name"]
    exported.write_text(yaml.safe_dump(data))
    code, _, err = invoke(runner, "classes", "apply", str(exported))
    assert "name" in one_line_error(code, err)


def test_yaml_syntax_errors_say_file_and_line(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    broken = tmp_path / "broken.yaml"
    broken.write_text("classes:\n  - name: Brand\n    fields: [unclosed\n")
    code, _, err = invoke(runner, "classes", "apply", str(broken))
    line = one_line_error(code, err)
    assert "broken.yaml" in line and "line" in line
    code, _, err = invoke(runner, "classes", "apply", str(tmp_path / "missing.yaml"))
    assert "missing.yaml" in one_line_error(code, err)


@pytest.mark.parametrize("command", [(), ("keys",), ("classes",), ("db",), ("demo",), ("serve",)])
def test_help(runner: CliRunner, command: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_demo_seed_is_deterministic_and_skipped_when_present(db_url: str) -> None:
    hub = bootstrap(Settings(database_url=db_url))
    from pimhub.cli.server import initialize

    initialize(hub)
    seed_demo(hub, 30)
    first = hub.catalog.get_object("Product", "PH-00030", include_drafts=True)
    seed_demo(hub, 30)  # already there: no new versions
    again = hub.catalog.get_object("Product", "PH-00030", include_drafts=True)
    assert again.version == first.version == 1
    assert hub.catalog.product("PH-00030", language=None, include_drafts=True)["brand"]
