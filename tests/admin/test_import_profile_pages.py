"""Scheduled import profiles in the admin on both backends: integrators (and admins) manage
them, managers and viewers get 403; create, edit, enable/disable, run now and delete do
what they say (checked through the service), and bad input is refused field by field."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from pimhub.bootstrap import Hub
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
    changed = client.post_form(
        "/admin/import-profiles/erp", {**FORM, "cron": "30 3 * * 1", "headers": ""}
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
