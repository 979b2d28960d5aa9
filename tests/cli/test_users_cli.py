"""`pimhub users` against a fresh SQLite database: every command, passwords only from a
hidden prompt or stdin, and every refusal one clear line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from rich.text import Text
from typer.testing import CliRunner

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.errors import Unauthorized
from pimhub.cli import users as users_cli
from pimhub.cli.main import app
from pimhub.cli.server import DEMO_ADMIN_FILE, DemoAdmin, banner, demo_admin, initialize
from pimhub.settings import Settings
from pimhub.users.model import Role
from pimhub.users.service import UserService
from tests.cli.test_cli import init, invoke, one_line_error

PASSWORD = "a cli test password"


@pytest.fixture
def users(runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch) -> UserService:
    monkeypatch.setenv("PIMHUB_PASSWORD_MEMORY_KIB", "64")
    monkeypatch.setenv("PIMHUB_PASSWORD_TIME_COST", "1")
    init(runner)
    return bootstrap(Settings(database_url=db_url)).users


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["users", *args], input=stdin)
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_create_from_stdin_then_sign_in(runner: CliRunner, users: UserService) -> None:
    code, out, err = run(
        runner, "create", "Ada", "--role", "catalog-manager", "--display-name", "Ada L",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert "created user ada (catalog-manager)" in out and PASSWORD not in out + err
    user = users.authenticate("ada", PASSWORD)
    assert (user.display_name, user.role) == ("Ada L", Role.CATALOG_MANAGER)


def test_a_password_keeps_its_spaces_but_not_the_line_end(
    runner: CliRunner, users: UserService
) -> None:
    code, _, err = run(
        runner, "create", "bo", "--role", "viewer", "--password-stdin", stdin=" spaced out \r\n"
    )
    assert code == 0, err
    assert users.authenticate("bo", " spaced out ")


def test_create_prompts_twice_on_a_terminal(
    runner: CliRunner, users: UserService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users_cli, "_terminal", lambda: True)
    code, out, err = run(
        runner, "create", "cy", "--role", "viewer", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, err
    assert PASSWORD not in out  # hidden
    assert users.authenticate("cy", PASSWORD)


def test_without_a_terminal_the_password_must_come_on_stdin(
    runner: CliRunner, users: UserService
) -> None:
    code, _, err = run(runner, "create", "di", "--role", "viewer", stdin="")
    assert code == 2 and "--password-stdin" in err
    code, _, err = run(runner, "create", "di", "--role", "viewer", "--password-stdin", stdin="")
    assert code == 2 and "stdin held no password" in err
    assert users.all() == []


def test_a_password_is_never_an_argument(runner: CliRunner, users: UserService) -> None:
    code, _, err = run(runner, "create", "ed", "--role", "viewer", "--password", PASSWORD)
    assert code == 2 and "No such option" in err


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["create", "bad name", "--role", "viewer"], PASSWORD, "username"),
        (["create", "fay", "--role", "root"], PASSWORD, "'root' is not a role"),
        (["create", "fay", "--role", "viewer"], "short", "at least 10"),
        (["passwd", "nobody"], PASSWORD, "no user 'nobody'"),
        (["disable", "nobody"], None, "no user 'nobody'"),
        (["role", "viewer1", "admin"], None, "no user 'viewer1'"),
    ],
)
def test_refusals_are_one_line(
    runner: CliRunner, users: UserService, args: list[str], stdin: str | None, says: str
) -> None:
    extra = ["--password-stdin"] if stdin is not None else []
    code, _, err = run(runner, *args, *extra, stdin=(stdin + "\n") if stdin else None)
    assert code == 1
    assert says in one_line_error(code, err)


def test_a_taken_name_is_refused(runner: CliRunner, users: UserService) -> None:
    users.create("gus", PASSWORD, "viewer")
    code, _, err = run(
        runner, "create", "GUS", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert "exists already" in one_line_error(code, err)


def test_list_disable_enable_role_passwd(runner: CliRunner, users: UserService) -> None:
    users.create("hal", PASSWORD, "admin", display_name="Hal")
    users.create("ivy", PASSWORD, "viewer", display_name="Ivy V")
    _, token = users.start_session(users.get("ivy"))
    code, out, _ = run(runner, "disable", "ivy")
    assert code == 0 and "disabled ivy" in out
    assert users.session(token) is None
    code, out, _ = run(runner, "list")
    assert code == 0
    rows = {
        cells[0]: cells
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")])[0] in ("hal", "ivy")
    }
    assert rows["hal"][1:3] == ["Hal", "admin"] and rows["hal"][4] == "-"
    assert rows["ivy"][1:3] == ["Ivy V", "viewer"] and rows["ivy"][4] != "-"
    code, out, _ = run(runner, "list", "--json")
    listed = {u["username"]: u for u in json.loads(out)}
    assert listed["ivy"]["disabledAt"] and listed["hal"]["disabledAt"] is None
    assert "hash" not in out
    assert run(runner, "enable", "ivy")[0] == 0
    code, out, _ = run(runner, "role", "ivy", "integrator")
    assert code == 0 and "ivy is now integrator" in out
    code, _, err = run(runner, "passwd", "ivy", "--password-stdin", stdin="another password\n")
    assert code == 0, err
    assert users.authenticate("ivy", "another password").role == Role.INTEGRATOR
    with pytest.raises(Unauthorized):
        users.authenticate("ivy", PASSWORD)


def test_the_last_admin_is_kept(runner: CliRunner, users: UserService) -> None:
    users.create("jan", PASSWORD, "admin")
    for args in (["disable", "jan"], ["role", "jan", "viewer"]):
        code, _, err = run(runner, *args)
        assert "last active administrator" in one_line_error(code, err)
    assert users.get("jan").active and users.get("jan").role == Role.ADMIN


def test_users_is_listed_in_the_help(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "--help")
    assert code == 0 and "users" in out and "Manage the users of the admin UI." in out


# -- the demo's admin user -------------------------------------------------------------------


@pytest.fixture
def demo_hub(tmp_path: Path, db_url: str) -> Hub:
    hub = bootstrap(
        Settings(
            database_url=db_url,
            data_dir=tmp_path / "data",
            password_memory_kib=64,
            password_time_cost=1,
        )
    )
    initialize(hub)
    return hub


def admin_text(hub: Hub, admin: DemoAdmin) -> str:
    """The banner as printed (markup rendered away)."""
    lines = banner(hub, "phk_x", None, "http://127.0.0.1:8000", admin=admin)
    return "\n".join(Text.from_markup(line).plain for line in lines)


def test_the_demo_admin_is_made_once_and_printed_the_same(demo_hub: Hub) -> None:
    first = demo_admin(demo_hub)
    assert first.username == "admin" and first.problem is None
    assert demo_hub.users.authenticate("admin", first.password).role == Role.ADMIN
    saved = demo_hub.settings.data_dir / DEMO_ADMIN_FILE
    assert saved.read_text().strip() == first.password
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert demo_admin(demo_hub) == first  # a restart
    assert len(demo_hub.users.all()) == 1
    text = admin_text(demo_hub, first)
    assert "http://127.0.0.1:8000/admin/" in text
    assert "user admin" in text and f"password {first.password}" in text


def test_a_disabled_demo_admin_is_left_disabled_and_the_banner_says_how_to_enable(
    demo_hub: Hub, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = demo_admin(demo_hub)
    demo_hub.users.create("other", PASSWORD, "admin")
    demo_hub.users.disable("admin")
    again = demo_admin(demo_hub)
    assert again.problem == "disabled"
    assert not demo_hub.users.get("admin").active  # not silently re-enabled
    text = admin_text(demo_hub, again)
    assert first.password not in text and "was disabled" in text
    [fix] = [line.split() for line in text.splitlines() if "users enable" in line]
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(demo_hub.settings.data_dir))
    code, _, err = invoke(runner, *fix[1:])  # works as pasted
    assert code == 0, err
    assert demo_admin(demo_hub) == first


def test_a_changed_demo_admin_password_is_kept_and_the_banner_says_how_to_restore(
    demo_hub: Hub, runner: CliRunner
) -> None:
    first = demo_admin(demo_hub)
    demo_hub.users.set_password("admin", "chosen by the reader")
    again = demo_admin(demo_hub)
    assert again.problem == "password changed"
    assert demo_hub.users.authenticate("admin", "chosen by the reader")  # not reset
    text = admin_text(demo_hub, again)
    assert f"password {first.password}" not in text and "another password" in text
    [fix] = [line.strip() for line in text.splitlines() if "users passwd" in line]
    assert fix.endswith(f"--password-stdin < {demo_hub.settings.data_dir / DEMO_ADMIN_FILE}")
    command, _, file = fix.partition(" < ")
    code, _, err = run(runner, *command.split()[2:], stdin=Path(file).read_text())
    assert code == 0, err
    assert demo_admin(demo_hub) == first


def test_a_lost_demo_admin_file_does_not_reset_the_user(demo_hub: Hub) -> None:
    first = demo_admin(demo_hub)
    (demo_hub.settings.data_dir / DEMO_ADMIN_FILE).unlink()
    again = demo_admin(demo_hub)
    assert again.problem == "password changed" and again.password == ""
    assert demo_hub.users.authenticate("admin", first.password)
    assert "--password-stdin" not in admin_text(demo_hub, again)


def test_a_saved_password_makes_the_user_again_on_a_new_database(demo_hub: Hub) -> None:
    first = demo_admin(demo_hub)
    other = bootstrap(
        Settings(
            database_url=f"sqlite:///{demo_hub.settings.data_dir / 'other.db'}",
            data_dir=demo_hub.settings.data_dir,
            password_memory_kib=64,
            password_time_cost=1,
        )
    )
    initialize(other)
    assert demo_admin(other) == first
    assert other.users.authenticate("admin", first.password)
