"""/admin/import-profiles/{name}: the form carries the updatedAt it was made from; a save over
a newer one is refused (409) with the input kept and the stored values shown, and of many
saves from one form exactly one wins. REST and the CLI name no stamp and never conflict.
Both backends (the parallel race on PostgreSQL only, where requests truly run in parallel)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from pimhub.bootstrap import Hub
from pimhub.transfer.profiles import ProfileChanged
from tests.admin.conftest import AdminClient

URL = "https://erp.example.com/export/products.csv"
MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"
STAMP = re.compile(r'name="updatedAt" value="([^"]+)"')
RACERS = 12
PAGE = "/admin/import-profiles/erp"


def _profile(hub: Hub) -> None:
    hub.import_profiles.save("erp", source=URL, mapping=MAPPING, cron="0 2 * * *")


def _form(client: AdminClient, cron: str) -> dict[str, str]:
    page = client.get(PAGE)
    assert page.status_code == 200
    stamp = STAMP.search(page.text)
    assert stamp is not None, "the form carries no updatedAt"
    return {
        "source": URL,
        "mapping": MAPPING,
        "cron": cron,
        "mode": "upsert",
        "on_error": "skip",
        "enabled": "on",
        "updatedAt": stamp.group(1),
    }


def test_a_stale_save_is_refused_with_the_input_kept_and_theirs_surviving(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _profile(users_hub)
    mine, theirs = signed_in("integrator"), signed_in("admin")
    my_form = _form(mine, "15 4 * * *")
    their_form = _form(theirs, "30 3 * * 1")
    assert theirs.post_form(PAGE, their_form).status_code == 303
    stored = users_hub.import_profiles.get("erp")

    refused = mine.post_form(PAGE, my_form)

    assert refused.status_code == 409, refused.text[:500]
    text = html.unescape(refused.text)
    assert "Someone else saved this scheduled import" in text
    assert 'id="cron" name="cron" required value="15 4 * * *"' in text  # my input kept
    assert '<dd id="cron-theirs">30 3 * * 1</dd>' in text  # theirs shown
    after = users_hub.import_profiles.get("erp")
    assert after.cron == "30 3 * * 1" and after.updated_at == stored.updated_at
    # The re-rendered form carries the newer stamp: saving again, having seen theirs, works.
    again = STAMP.search(refused.text)
    assert stored.updated_at is not None
    assert again is not None and again.group(1) == stored.updated_at.isoformat()
    assert mine.post_form(PAGE, {**my_form, "updatedAt": again.group(1)}).status_code == 303
    assert users_hub.import_profiles.get("erp").cron == "15 4 * * *"


def test_a_current_save_works_and_the_same_form_twice_is_stale(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    _profile(users_hub)
    client = signed_in("integrator")
    before = users_hub.import_profiles.get("erp").updated_at
    assert before is not None
    form = _form(client, "30 3 * * 1")
    assert form["updatedAt"] == before.isoformat()
    assert client.post_form(PAGE, form).status_code == 303
    after = users_hub.import_profiles.get("erp")
    assert after.cron == "30 3 * * 1" and after.updated_at is not None
    assert after.updated_at > before
    assert client.post_form(PAGE, {**form, "cron": "0 5 * * *"}).status_code == 409
    assert users_hub.import_profiles.get("erp").cron == "30 3 * * 1"


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "2026-01-01T00:00:00"])
def test_a_save_naming_no_version_is_refused_not_written(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], stamp: str | None
) -> None:
    _profile(users_hub)
    client = signed_in("integrator")
    form = _form(client, "0 5 * * *")
    del form["updatedAt"]
    if stamp is not None:
        form["updatedAt"] = stamp
    refused = client.post_form(PAGE, form)
    assert refused.status_code == 422
    assert "reload the page" in refused.text
    assert users_hub.import_profiles.get("erp").cron == "0 2 * * *"
    again = STAMP.search(refused.text)
    assert again is not None
    assert client.post_form(PAGE, {**form, "updatedAt": again.group(1)}).status_code == 303


def test_the_service_and_rest_name_no_stamp_and_never_conflict(users_hub: Hub) -> None:
    _profile(users_hub)
    profiles = users_hub.import_profiles
    seen = profiles.get("erp").updated_at
    assert seen is not None
    fields = {"source": URL, "mapping": MAPPING}
    saved, created = profiles.save_reporting_creation(
        "erp", cron="0 3 * * *", expected=seen, **fields
    )
    assert not created and saved.updated_at != seen
    with pytest.raises(ProfileChanged):
        profiles.save_reporting_creation("erp", cron="0 4 * * *", expected=seen, **fields)
    assert profiles.get("erp").cron == "0 3 * * *"
    assert profiles.save("erp", cron="0 6 * * *", **fields).cron == "0 6 * * *"  # REST, CLI


def test_parallel_saves_from_one_form_exactly_one_wins(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    if users_hub.engine.dialect.name != "postgresql":
        pytest.skip("requests run truly in parallel on PostgreSQL only")
    _profile(users_hub)
    clients = [signed_in("integrator") for _ in range(4)]
    form = _form(clients[0], "0 2 * * *")

    def save(i: int) -> int:
        answer = clients[i % len(clients)].post_form(PAGE, {**form, "cron": f"{i} 3 * * *"})
        return answer.status_code

    with ThreadPoolExecutor(RACERS) as pool:
        codes = list(pool.map(save, range(RACERS)))

    assert sorted(codes) == [303] + [409] * (RACERS - 1), codes
    assert users_hub.import_profiles.get("erp").cron == f"{codes.index(303)} 3 * * *"
