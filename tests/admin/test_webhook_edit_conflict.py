"""/admin/webhooks/{id}: the form carries the updatedAt it was made from; a save over a newer
one is refused (409) with the user's input kept and the stored values shown, and of many
saves from the same form exactly one wins. Enable/disable name no stamp and never conflict.
Both backends (the 20-way race on PostgreSQL only, where requests truly run in parallel)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

PUBLIC_URL = "http://93.184.216.34/hook"
STAMP = re.compile(r'name="updatedAt" value="([^"]+)"')
RACERS = 20


def _form(client: AdminClient, endpoint_id: str, description: str) -> dict[str, str]:
    page = client.get(f"/admin/webhooks/{endpoint_id}")
    assert page.status_code == 200
    stamp = STAMP.search(page.text)
    assert stamp is not None, "the form carries no updatedAt"
    return {"url": PUBLIC_URL, "description": description, "updatedAt": stamp.group(1)}


def _endpoint(hub: Hub, description: str = "first") -> str:
    return hub.webhooks.create({"url": PUBLIC_URL, "description": description}).endpoint.endpoint_id


def test_a_stale_save_is_refused_with_the_input_kept_and_the_newer_value_shown(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = _endpoint(users_hub)
    mine, theirs = signed_in("integrator"), signed_in("admin")
    my_form = _form(mine, endpoint_id, "mine")
    their_form = _form(theirs, endpoint_id, "theirs")
    assert theirs.post_form(f"/admin/webhooks/{endpoint_id}", their_form).status_code == 303
    stored = users_hub.webhooks.get(endpoint_id)

    refused = mine.post_form(f"/admin/webhooks/{endpoint_id}", {**my_form, "rateLimit": "7"})

    assert refused.status_code == 409, refused.text[:500]
    text = html.unescape(refused.text)
    assert "changed by someone else" in text
    assert stored.updated_at.strftime("%Y-%m-%d %H:%M:%S") in text
    assert 'id="description" name="description" value="mine"' in text  # my input kept
    assert 'id="rateLimit" name="rateLimit" inputmode="decimal" value="7"' in text
    assert re.search(r'id="description-theirs"><strong>Now stored:</strong> theirs<', text)
    after = users_hub.webhooks.get(endpoint_id)
    assert (after.spec.description, after.spec.rate_limit) == ("theirs", None)
    assert after.updated_at == stored.updated_at
    # The re-rendered form carries the newer stamp: saving again, having seen theirs, works.
    again = STAMP.search(refused.text)
    assert again is not None and again.group(1) == stored.updated_at.isoformat()
    resaved = mine.post_form(
        f"/admin/webhooks/{endpoint_id}", {**my_form, "updatedAt": again.group(1)}
    )
    assert resaved.status_code == 303
    assert users_hub.webhooks.get(endpoint_id).spec.description == "mine"


def test_a_save_naming_the_current_version_works_and_moves_the_stamp(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = _endpoint(users_hub)
    client = signed_in("integrator")
    before = users_hub.webhooks.get(endpoint_id).updated_at
    form = _form(client, endpoint_id, "second")
    assert form["updatedAt"] == before.isoformat()
    assert client.post_form(f"/admin/webhooks/{endpoint_id}", form).status_code == 303
    after = users_hub.webhooks.get(endpoint_id)
    assert after.spec.description == "second" and after.updated_at > before
    # The same form sent twice: the second is stale now.
    twice = client.post_form(f"/admin/webhooks/{endpoint_id}", {**form, "description": "x"})
    assert twice.status_code == 409
    assert users_hub.webhooks.get(endpoint_id).spec.description == "second"


def test_enable_and_disable_name_no_version_and_never_conflict(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = _endpoint(users_hub)
    client = signed_in("integrator")
    form = _form(client, endpoint_id, "old form")
    assert client.post_form(f"/admin/webhooks/{endpoint_id}/disable").status_code == 303
    assert client.post_form(f"/admin/webhooks/{endpoint_id}/enable").status_code == 303
    assert users_hub.webhooks.get(endpoint_id).spec.enabled
    # ... but they are changes: a form made before them is stale.
    assert client.post_form(f"/admin/webhooks/{endpoint_id}", form).status_code == 409
    assert users_hub.webhooks.get(endpoint_id).spec.description == "first"


def test_the_service_saves_against_a_stamp_in_one_step(users_hub: Hub) -> None:
    hooks = users_hub.webhooks
    endpoint_id = _endpoint(users_hub)
    seen = hooks.get(endpoint_id).updated_at
    saved = hooks.update(endpoint_id, {"description": "a"}, expected=seen)
    assert saved.updated_at != seen
    with pytest.raises(Exception, match="changed at") as refused:
        hooks.update(endpoint_id, {"description": "b"}, expected=seen)
    assert getattr(refused.value, "code", None) == "endpoint-changed"
    assert hooks.update(endpoint_id, {"description": "c"}).spec.description == "c"  # REST


def test_parallel_saves_from_one_form_exactly_one_wins(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    if users_hub.engine.dialect.name != "postgresql":
        pytest.skip("requests run truly in parallel on PostgreSQL only")
    endpoint_id = _endpoint(users_hub)
    clients = [signed_in("integrator") for _ in range(4)]
    form = _form(clients[0], endpoint_id, "unused")

    def save(i: int) -> tuple[int, str]:
        client = clients[i % len(clients)]
        answer = client.post_form(
            f"/admin/webhooks/{endpoint_id}", {**form, "description": f"racer {i}"}
        )
        return answer.status_code, answer.text

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(save, range(RACERS)))

    codes = [code for code, _ in answers]
    assert sorted(codes) == [303] + [409] * (RACERS - 1), codes
    winner = codes.index(303)
    assert users_hub.webhooks.get(endpoint_id).spec.description == f"racer {winner}"
    for code, text in answers:
        if code == 409:
            assert "Nothing of yours was saved" in text


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "2026-01-01T00:00:00"])
def test_a_save_that_names_no_version_is_refused_not_written(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], stamp: str | None
) -> None:
    endpoint_id = _endpoint(users_hub)
    client = signed_in("integrator")
    form = {"url": PUBLIC_URL, "description": "blind"}
    if stamp is not None:
        form["updatedAt"] = stamp
    refused = client.post_form(f"/admin/webhooks/{endpoint_id}", form)
    assert refused.status_code == 422
    assert "reload the page" in refused.text
    assert 'id="description" name="description" value="blind"' in refused.text
    assert re.search(r'id="description-theirs"><strong>Now stored:</strong> first<', refused.text)
    assert users_hub.webhooks.get(endpoint_id).spec.description == "first"
    # The page now carries the stored stamp: saving again, having seen them, works.
    again = STAMP.search(refused.text)
    assert again is not None
    resaved = client.post_form(
        f"/admin/webhooks/{endpoint_id}", {**form, "updatedAt": again.group(1)}
    )
    assert resaved.status_code == 303
    assert users_hub.webhooks.get(endpoint_id).spec.description == "blind"
