"""`pimhub demo`'s key and banner: a restarted demo keeps the key it printed (or says why it
prints a new one), and the banner's webhook command is one the CLI accepts (the e2e tour test
runs it against the real demo)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.errors import Unauthorized
from pimhub.cli.server import banner, demo_key, initialize
from pimhub.settings import Settings
from tests.cli.test_cli import invoke


@pytest.fixture
def demo_hub(tmp_path: Path, db_url: str) -> Hub:
    hub = bootstrap(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    initialize(hub)
    return hub


def test_a_restarted_demo_prints_the_same_working_key(demo_hub: Hub) -> None:
    first, replaced = demo_key(demo_hub)
    assert replaced is None
    again, replaced = demo_key(demo_hub)  # the next start
    assert again == first and replaced is None
    assert demo_hub.access.authenticate(first).scopes == ("admin",)
    saved = demo_hub.settings.data_dir / "demo.key"
    assert saved.read_text().strip() == first
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_revoked_demo_key_is_replaced_and_the_banner_says_so(demo_hub: Hub) -> None:
    old, _ = demo_key(demo_hub)
    old_id = demo_hub.access.authenticate(old).key_id
    demo_hub.access.revoke(old_id)
    new, replaced = demo_key(demo_hub)
    assert new != old and replaced == old_id
    with pytest.raises(Unauthorized):
        demo_hub.access.authenticate(old)
    text = "\n".join(banner(demo_hub, new, replaced, "http://127.0.0.1:8000"))
    assert new in text and old_id in text and "no longer works" in text
    quiet = "\n".join(banner(demo_hub, new, None, "http://127.0.0.1:8000"))
    assert "no longer works" not in quiet and "the same after a restart" in quiet


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_a_lost_demo_key_file_revokes_the_key_it_held(demo_hub: Hub, damage: str) -> None:
    """The secret lived only in demo.key: once that is gone, its admin key must not stay
    active behind the reader's back; the banner names it."""
    old, _ = demo_key(demo_hub)
    old_id = demo_hub.access.authenticate(old).key_id
    saved = demo_hub.settings.data_dir / "demo.key"
    if damage == "delete":
        saved.unlink()
    else:
        saved.write_text("not a key\n")
    new, replaced = demo_key(demo_hub)
    assert new != old and replaced == old_id
    with pytest.raises(Unauthorized):
        demo_hub.access.authenticate(old)
    active = [k for k in demo_hub.access.all() if k.name == "demo" and k.revoked_at is None]
    assert [k.key_id for k in active] == [demo_hub.access.authenticate(new).key_id]


def test_the_banner_webhook_command_is_accepted(
    demo_hub: Hub, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    monkeypatch.setenv("PIMHUB_DATA_DIR", str(demo_hub.settings.data_dir))
    token, _ = demo_key(demo_hub)
    [advice] = [line for line in banner(demo_hub, token, None, "x") if "webhooks create" in line]
    words = advice.split()
    assert words[0] == "PIMHUB_WEBHOOKS_ALLOW_PRIVATE=true" and words[1].endswith("pimhub")
    url = words[words.index("--url") + 1]
    code, _, err = invoke(runner, "webhooks", "create", "--url", url)
    assert code != 0 and "public address" in err  # without the variable, loopback is refused
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")
    code, out, err = invoke(runner, *words[2:])
    assert code == 0, err
    assert "created endpoint" in out
