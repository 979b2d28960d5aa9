"""Scheduled import profiles in the admin on both backends: integrators (and admins) manage
them, managers and viewers get 403; create, edit, enable/disable, run now and delete do
what they say (checked through the service), and bad input is refused field by field."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from pimhub.admin.web import form_status
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Conflict, InvalidInput, NotFound
from pimhub.transfer.profiles import RunGoing
from tests.admin.conftest import AdminClient

URL = "https://erp.example.com/export/products.csv"
MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"
FORM = {
    "name": "erp",
    "source": URL,
    "mapping": MAPPING,
    "cron": "0 2 * * *",
    "mode": "upsert",
    "on_error": "skip",
    "headers": "Authorization: Bearer ${PIMHUB_IMPORT_T}",
    "enabled": "on",
}


@pytest.fixture
def profiles_hub(users_hub: Hub, tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    """Requests the profiles' fetcher was asked for; it answers with a two-row CSV."""
    users_hub.imports.folder = tmp_path / "imports"
    users_hub.import_profiles.environ = {"PIMHUB_IMPORT_T": "t0ken"}
    asked: list[tuple[str, dict[str, str]]] = []

    def fetch(source: str, target: Path, headers: Mapping[str, str]) -> None:
        asked.append((source, dict(headers)))
        target.write_text("sku,name\nPR-1,From the ERP\nPR-2,Also\n")

    users_hub.import_profiles.fetcher = fetch
    return asked


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_integrators_and_admins_manage_profiles(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
    role: str,
) -> None:
    users_hub.import_profiles.save("erp", source=URL, mapping=MAPPING, cron="0 2 * * *")
    client = signed_in(role)
    for path in (
        "/admin/import-profiles",
        "/admin/import-profiles/new",
        "/admin/import-profiles/erp",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post_form("/admin/import-profiles/new", FORM).status_code == 403
    for action in ("run", "disable", "delete"):
        answer = client.post_form(f"/admin/import-profiles/erp/{action}")
        assert answer.status_code == 403, action
    assert users_hub.import_profiles.get("erp").enabled  # untouched
    assert "/import-profiles" not in client.get("/admin/imports").text if role != "viewer" else True


def test_an_integrator_creates_edits_switches_runs_and_deletes_a_profile(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
) -> None:
    client = signed_in("integrator")
    assert client.get("/admin/import-profiles/new").status_code == 200
    created = client.post_form("/admin/import-profiles/new", FORM)
    assert created.status_code == 303, created.text
    profile = users_hub.import_profiles.get("erp")
    assert (profile.source, profile.cron, profile.enabled) == (URL, "0 2 * * *", True)
    assert profile.headers == {"Authorization": "Bearer ${PIMHUB_IMPORT_T}"}
    listed = client.get("/admin/import-profiles").text
    assert "erp" in listed and "never" in listed and "0 2 * * *" in listed

    # Edited with the headers left empty: the stored ones are kept.
    edit = client.get("/admin/import-profiles/erp")
    assert edit.status_code == 200 and "Authorization: (hidden) ${PIMHUB_IMPORT_T}" in edit.text
    stamp = re.search(r'name="updatedAt" value="([^"]+)"', edit.text)
    assert stamp is not None
    changed = client.post_form(
        "/admin/import-profiles/erp",
        {**FORM, "cron": "30 3 * * 1", "headers": "", "updatedAt": stamp.group(1)},
    )
    assert changed.status_code == 303, changed.text
    profile = users_hub.import_profiles.get("erp")
    assert profile.cron == "30 3 * * 1"
    assert profile.headers == {"Authorization": "Bearer ${PIMHUB_IMPORT_T}"}

    assert client.post_form("/admin/import-profiles/erp/disable").status_code == 303
    assert not users_hub.import_profiles.get("erp").enabled
    assert client.post_form("/admin/import-profiles/erp/enable").status_code == 303
    assert users_hub.import_profiles.get("erp").enabled

    ran = client.post_form("/admin/import-profiles/erp/run")
    assert ran.status_code == 303
    job_url = ran.headers["location"]
    assert job_url.startswith("/admin/imports/imp_")
    deadline = time.monotonic() + 20
    while "hx-trigger" in (status := client.get(job_url + "/progress").text):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)
    assert '<span class="badge ok">succeeded</span>' in status
    assert profiles_hub == [(URL, {"Authorization": "Bearer t0ken"})]
    assert users_hub.catalog.get_object("Product", "PR-2", include_drafts=True).version == 1
    assert "succeeded" in client.get("/admin/import-profiles").text  # its last run

    assert client.post_form("/admin/import-profiles/erp/delete").status_code == 303
    assert users_hub.import_profiles.all() == []


def test_bad_profiles_are_refused_field_by_field_with_the_input_kept(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
) -> None:
    client = signed_in("integrator")
    bad = {
        **FORM,
        "name": "Bad Name",
        "cron": "every day",
        "source": "/etc/passwd",
        "mapping": "class: Product\nfields:\n  sku: {colum: sku}\n",
    }
    page = client.post_form("/admin/import-profiles/new", bad)
    assert page.status_code == 422
    text = page.text
    for field in ("name", "cron", "source"):
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in text, field
    assert "add file sources with the CLI" in text
    assert "every day" in text and "{colum: sku}" in text  # kept
    assert users_hub.import_profiles.all() == []
    mapping = client.post_form("/admin/import-profiles/new", {**FORM, "mapping": bad["mapping"]})
    assert mapping.status_code == 422 and "unknown step" in mapping.text
    assert re.search(r'id="mapping"[^>]*aria-invalid="true"', mapping.text)
    headers = client.post_form("/admin/import-profiles/new", {**FORM, "headers": "no colon"})
    assert headers.status_code == 422 and "line 1" in headers.text

    assert client.post_form("/admin/import-profiles/new", FORM).status_code == 303
    taken = client.post_form("/admin/import-profiles/new", {**FORM, "source": URL + "?2"})
    assert taken.status_code == 409
    assert users_hub.import_profiles.get("erp").source == URL  # not replaced


def test_unknown_profiles_and_hostile_input_are_4xx(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
) -> None:
    client = signed_in("admin")
    assert client.get("/admin/import-profiles/nope").status_code == 404
    assert client.post_form("/admin/import-profiles/nope/run").status_code == 404
    assert client.post_form("/admin/import-profiles/nope/delete").status_code == 404
    nul = client.post_form("/admin/import-profiles/new", {**FORM, "source": URL + "\x00"})
    assert nul.status_code in (400, 422)
    huge = client.post_form("/admin/import-profiles/new", {**FORM, "cron": "*" * 100_000})
    assert huge.status_code == 422
    assert users_hub.import_profiles.all() == []


def _in_parallel(calls: list[Callable[[], object]]) -> list[object]:
    """Each call in its own thread, all released at once."""
    barrier = threading.Barrier(len(calls))

    def go(call: Callable[[], object]) -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def test_parallel_creates_of_one_name_create_it_once(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
) -> None:
    """Of parallel 'create' submits with one name, one creates it and the others get 409:
    none replaces the profile the first one created."""
    clients = [signed_in("integrator") for _ in range(8)]
    forms = [{**FORM, "name": "raceprof", "cron": f"{minute} 2 * * *"} for minute in range(8)]
    answers = _in_parallel(
        [
            partial(client.post_form, "/admin/import-profiles/new", form)
            for client, form in zip(clients, forms, strict=True)
        ]
    )
    codes = sorted(a.status_code for a in answers)  # type: ignore[attr-defined]
    assert codes == [303] + [409] * 7, codes
    winner = next(f for f, a in zip(forms, answers, strict=True) if a.status_code == 303)  # type: ignore[attr-defined]
    assert users_hub.import_profiles.get("raceprof").cron == winner["cron"]
    assert [p.name for p in users_hub.import_profiles.all()] == ["raceprof"]
    loser = next(a for a in answers if a.status_code == 409)  # type: ignore[attr-defined]
    assert "there is an import profile named raceprof" in loser.text


def test_run_now_while_a_run_is_going_is_409_with_the_job(
    users_hub: Hub,
    profiles_hub: list[tuple[str, dict[str, str]]],
    signed_in: Callable[[str], AdminClient],
) -> None:
    """Double-clicking 'run now': one job; the other clicks get 409 naming it, until it ends."""
    users_hub.import_profiles.save("erp", source=URL, mapping=MAPPING, cron="0 2 * * *")
    release = threading.Event()
    fetch = users_hub.import_profiles.fetcher

    def slow_fetch(source: str, target: Path, headers: Mapping[str, str]) -> None:
        assert release.wait(30)
        fetch(source, target, headers)

    users_hub.import_profiles.fetcher = slow_fetch
    clients = [signed_in("integrator") for _ in range(6)]
    try:
        answers = _in_parallel(
            [partial(c.post_form, "/admin/import-profiles/erp/run") for c in clients]
        )
        codes = sorted(a.status_code for a in answers)  # type: ignore[attr-defined]
        assert codes == [303] + [409] * 5, codes
        started = next(a for a in answers if a.status_code == 303)  # type: ignore[attr-defined]
        job_id = started.headers["location"].rsplit("/", 1)[-1]
        for refused in (a for a in answers if a.status_code == 409):  # type: ignore[attr-defined]
            assert f"a run of erp is already going: job {job_id}" in refused.text
            assert f'href="/admin/imports/{job_id}"' in refused.text
        # The service refuses as the page does (REST run-now uses it).
        with pytest.raises(RunGoing):
            users_hub.import_profiles.start("erp")
    finally:
        release.set()
    users_hub.imports.wait()
    profile_jobs = [j for j in users_hub.imports.recent(50) if j.author == "profile:erp"]
    assert [j.id for j in profile_jobs] == [job_id]
    again = clients[0].post_form("/admin/import-profiles/erp/run")  # finished: runs again
    assert again.status_code == 303, again.text
    users_hub.imports.wait()


def test_form_status_is_409_for_a_conflict_else_422() -> None:
    """The one rule the import and profile forms answer a refused submit with."""
    assert form_status(Conflict("taken")) == 409
    assert form_status(RunGoing("going", "imp_1")) == 409
    assert form_status(InvalidInput("bad", [])) == 422
    assert form_status(NotFound("gone")) == 422


def test_the_profile_form_and_the_upload_form_share_their_option_inputs(
    signed_in: Callable[[str], AdminClient], profiles_hub: object
) -> None:
    """One macro for the class and options inputs: the two forms cannot drift apart."""
    client = signed_in("admin")
    shared = re.compile(
        r'<label for="class">.*?</select>|<fieldset>\s*<legend>Options.*?</fieldset>', re.S
    )
    profile = shared.findall(client.get("/admin/import-profiles/new").text)
    upload = shared.findall(client.get("/admin/imports/new").text)
    assert len(profile) == 2
    assert profile == upload
    assert "skip it, import the rest" in profile[1]
