"""/admin/brokers: broker destinations listed with their health, created and edited with the
service's refusals inline (the password never shown back), a stale edit refused with the input
kept, a connection test against the real RabbitMQ (off the event loop), enable/disable and
delete; integrators and admins only. Both backends."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

PUBLIC_AMQP = "amqp://93.184.216.34/shop"  # a global address literal: no DNS needed
PASSWORD = "s3cret-broker-pass"
VERSION = re.compile(r'name="version" value="([^"]*)"')
RACERS = 12


def _form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "rabbit",
        "url": PUBLIC_AMQP,
        "username": "pim",
        "password": PASSWORD,
        "exchange": "pim.events",
        "exchangeType": "topic",
        "declare": "yes",
        "mandatory": "yes",
        "routingKeyPrefix": "shop1",
        "eventTypes": "object.updated, magento.*",
        "classes": ["Product"],
        "transform": "data",
    }
    form.update(changes)
    return form


def _add(hub: Hub, name: str = "rabbit", url: str = PUBLIC_AMQP, **body: Any) -> None:
    hub.brokers.add({"name": name, "url": url, **body}, {"username": "pim", "password": PASSWORD})


def _edit_form(client: AdminClient, name: str) -> dict[str, Any]:
    page = client.get(f"/admin/brokers/{name}")
    assert page.status_code == 200
    found = VERSION.search(page.text)
    assert found is not None, "the form carries no version"
    return {
        "url": PUBLIC_AMQP,
        "username": "pim",
        "exchange": "pim.events",
        "exchangeType": "topic",
        "declare": "yes",
        "mandatory": "yes",
        "version": found.group(1),
    }


@pytest.mark.parametrize("role", ["integrator", "admin"])
def test_integrators_and_admins_see_the_broker_pages(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    _add(users_hub, eventTypes=["object.updated"])
    client = signed_in(role)
    listing = client.get("/admin/brokers")
    assert listing.status_code == 200
    assert "rabbit" in listing.text and PUBLIC_AMQP in listing.text
    assert "object.updated" in listing.text and "active" in listing.text
    assert 'href="/admin/brokers"' in listing.text.split("<main", 1)[0]  # in the navigation
    assert client.get("/admin/brokers/new").status_code == 200
    page = client.get("/admin/brokers/rabbit")
    assert page.status_code == 200
    assert PASSWORD not in page.text  # the password is never shown back
    assert 'name="password" type="password" value=""' in page.text
    assert 'id="username" name="username" value="pim"' in page.text


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_are_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    _add(users_hub)
    client = signed_in(role)
    for path in ("/brokers", "/brokers/new", "/brokers/rabbit", "/brokers/rabbit/delete"):
        assert client.get("/admin" + path).status_code == 403, path
    for path in ("/brokers/rabbit/disable", "/brokers/rabbit/delete", "/brokers/rabbit/test"):
        assert client.post_form("/admin" + path).status_code == 403, path
    assert users_hub.brokers.get("rabbit").enabled
    assert "Brokers" not in client.get("/admin/").text.split("<main", 1)[0]


def test_create_stores_the_settings_and_the_credentials_apart(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    answer = client.post_form("/admin/brokers/new", _form())
    assert answer.status_code == 303, answer.text[:800]
    assert answer.headers["location"] == "/admin/brokers/rabbit"
    stored = users_hub.brokers.get("rabbit")
    config = stored.config
    assert (config["url"], config["exchange"], config["exchangeType"]) == (
        PUBLIC_AMQP,
        "pim.events",
        "topic",
    )
    assert config["routingKeyPrefix"] == "shop1" and config["transform"] == "data"
    assert config["eventTypes"] == ["object.updated", "magento.*"]
    assert config["classes"] == ["Product"]
    assert PASSWORD not in str(config)
    credentials = users_hub.brokers.credentials("rabbit")
    assert (credentials.username, credentials.password) == ("pim", PASSWORD)
    page = client.get("/admin/brokers/rabbit")
    assert PASSWORD not in page.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": "http://example.com/"}, "url", "amqp://"),
        ({"url": "amqp://user:pw@93.184.216.34/"}, "url", "credentials"),
        ({"exchangeType": "circular"}, "exchangeType", "must be one of"),
        ({"password": ""}, "password", "is required"),
        ({"transform": "data.[[["}, "transform", ""),
        ({"routingKeyPrefix": "a..b"}, "routingKeyPrefix", "dot-separated"),
    ],
)
def test_a_bad_setting_is_refused_inline_with_the_input_kept(
    users_hub: Hub,
    signed_in: Callable[[str], AdminClient],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    client = signed_in("integrator")
    answer = client.post_form("/admin/brokers/new", _form(**changes))
    assert answer.status_code == 422, answer.text[:800]
    text = html.unescape(answer.text)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', text)
    assert error is not None, text[:3000]
    assert message in error.group(1)
    assert 'value="pim.events"' in answer.text  # the input is kept
    assert PASSWORD not in answer.text  # but never the password
    assert users_hub.brokers.all() == []


def test_hostile_input_is_a_4xx_page(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub)
    client = signed_in("integrator")
    nul = client.post_form("/admin/brokers/new", _form(url="amqp://a\x00b/"))
    assert nul.status_code == 400 and "NUL" in nul.text
    huge = client.post_form("/admin/brokers/new", _form(exchange="x" * 300_000))
    assert huge.status_code == 422
    digits = client.post_form(
        "/admin/brokers/rabbit", {**_edit_form(client, "rabbit"), "version": "²"}
    )
    assert digits.status_code == 422 and "digits 0-9" in digits.text
    big = client.post_form(
        "/admin/brokers/rabbit", {**_edit_form(client, "rabbit"), "version": "9" * 400}
    )
    assert big.status_code == 422
    for path in ("/admin/brokers/%00", "/admin/brokers/%ED%A0%80", "/admin/brokers/" + "a" * 300):
        assert 400 <= client.get(path).status_code < 500, path  # 404, or 400 for a NUL
    assert users_hub.brokers.get("rabbit").version == 1


def test_a_save_without_a_version_is_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub)
    client = signed_in("integrator")
    form = {**_edit_form(client, "rabbit"), "version": "", "exchange": "other"}
    answer = client.post_form("/admin/brokers/rabbit", form)
    assert answer.status_code == 422
    assert users_hub.brokers.get("rabbit").config["exchange"] != "other"


def test_an_edit_keeps_the_password_unless_one_is_typed(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub)
    client = signed_in("integrator")
    form = {**_edit_form(client, "rabbit"), "exchange": "renamed", "classes": ["Brand"]}
    assert client.post_form("/admin/brokers/rabbit", form).status_code == 303
    stored = users_hub.brokers.get("rabbit")
    assert stored.config["exchange"] == "renamed" and stored.config["classes"] == ["Brand"]
    assert users_hub.brokers.credentials("rabbit").password == PASSWORD
    user_only = {**_edit_form(client, "rabbit"), "username": "other"}
    refused = client.post_form("/admin/brokers/rabbit", user_only)
    assert refused.status_code == 422 and "type the password too" in refused.text
    new = {**_edit_form(client, "rabbit"), "username": "other", "password": "new-pass"}
    assert client.post_form("/admin/brokers/rabbit", new).status_code == 303
    credentials = users_hub.brokers.credentials("rabbit")
    assert (credentials.username, credentials.password) == ("other", "new-pass")


def test_a_stale_save_is_refused_with_the_input_kept_and_theirs_shown(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub)
    mine, theirs = signed_in("integrator"), signed_in("admin")
    my_form = _edit_form(mine, "rabbit")
    their_form = {**_edit_form(theirs, "rabbit"), "exchange": "theirs.events"}
    assert theirs.post_form("/admin/brokers/rabbit", their_form).status_code == 303
    stored = users_hub.brokers.get("rabbit")

    refused = mine.post_form("/admin/brokers/rabbit", {**my_form, "exchange": "mine.events"})

    assert refused.status_code == 409, refused.text[:500]
    text = html.unescape(refused.text)
    assert "Someone else saved this broker" in text
    assert 'id="exchange" name="exchange" value="mine.events"' in text
    assert re.search(r'id="exchange-theirs"><strong>Now stored:</strong> theirs.events<', text)
    assert users_hub.brokers.get("rabbit").config["exchange"] == "theirs.events"
    again = VERSION.search(refused.text)
    assert again is not None and again.group(1) == str(stored.version)
    resaved = mine.post_form(
        "/admin/brokers/rabbit", {**my_form, "exchange": "mine.events", "version": again.group(1)}
    )
    assert resaved.status_code == 303
    assert users_hub.brokers.get("rabbit").config["exchange"] == "mine.events"


def test_enable_disable_and_delete_after_a_confirmation(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub)
    client = signed_in("integrator")
    assert client.post_form("/admin/brokers/rabbit/disable").status_code == 303
    assert not users_hub.brokers.get("rabbit").enabled
    assert "disabled" in client.get("/admin/brokers").text
    assert client.post_form("/admin/brokers/rabbit/enable").status_code == 303
    assert users_hub.brokers.get("rabbit").enabled
    confirm = client.get("/admin/brokers/rabbit/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert users_hub.brokers.all() != []  # asking changes nothing
    gone = client.post_form("/admin/brokers/rabbit/delete")
    assert gone.status_code == 303 and gone.headers["location"] == "/admin/brokers"
    assert users_hub.brokers.all() == []
    assert client.get("/admin/brokers/rabbit").status_code == 404


def on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_the_connection_test_passes_against_rabbitmq_and_reads_nothing_on_the_loop(
    users_hub: Hub,
    signed_in: Callable[[str], AdminClient],
    amqp_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parts = urlsplit(amqp_url)
    url = f"amqp://{parts.hostname}:{parts.port or 5672}/"
    users_hub.brokers.add(
        {"name": "local", "url": url, "exchange": "pimhub.admin-test"},
        {"username": parts.username or "guest", "password": parts.password or "guest"},
    )
    repo = users_hub.brokers.repository
    calls: list[tuple[str, bool]] = []
    for name in ("get", "sealed_secret"):
        real = getattr(repo, name)

        def spied(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append((_name, on_loop()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(repo, name, spied)
    client = signed_in("integrator")
    answer = client.post_form("/admin/brokers/local/test")
    assert answer.status_code == 200
    assert "passed" in answer.text and "read it back" in answer.text
    assert {name for name, _ in calls} == {"get", "sealed_secret"}
    assert [name for name, looped in calls if looped] == []


def test_a_failing_connection_test_says_why(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _add(users_hub, name="nowhere", url="amqp://127.0.0.1:1/")
    answer = signed_in("integrator").post_form("/admin/brokers/nowhere/test")
    assert answer.status_code == 200
    assert "failed" in answer.text and "Error:" in answer.text


def test_parallel_saves_of_one_form_one_wins(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    if users_hub.engine.dialect.name != "postgresql":
        pytest.skip("requests truly run in parallel on PostgreSQL only")
    _add(users_hub)
    clients = [signed_in("integrator") for _ in range(RACERS)]
    form = _edit_form(clients[0], "rabbit")

    def save(i: int) -> int:
        data = {**form, "exchange": f"racer{i}"}
        return int(clients[i].post_form("/admin/brokers/rabbit", data).status_code)

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = sorted(pool.map(save, range(RACERS)))
    assert statuses == [303] + [409] * (RACERS - 1)
    assert users_hub.brokers.get("rabbit").version == 2
