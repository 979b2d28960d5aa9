"""Scheduled imports on both databases: checked when saved, run once when due (even with
two workers), from a file or over HTTP, and recorded as import jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pimhub.bootstrap import Hub
from pimhub.events.worker import Worker
from pimhub.transfer.fetching import FetchFailed, fetch
from pimhub.transfer.job_records import JobStatus
from pimhub.transfer.mapping import InvalidMapping
from pimhub.transfer.profiles import ImportProfile, ImportProfiles, InvalidProfile

MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def scheduled(hub: Hub, tmp_path: Path) -> tuple[ImportProfiles, Clock, Path]:
    hub.imports.folder = tmp_path / "imports"
    clock = Clock()
    profiles = ImportProfiles(hub.import_profiles.store, hub.imports, clock=clock)
    source = tmp_path / "nightly.csv"
    source.write_text("sku,name\nN-1,Nightly one\nN-2,Nightly two\n")
    return profiles, clock, source


def test_a_due_profile_runs_once_and_moves_to_its_next_time(
    hub: Hub, scheduled: tuple[ImportProfiles, Clock, Path]
) -> None:
    profiles, clock, source = scheduled
    profile = profiles.save("nightly", source=str(source), mapping=MAPPING, cron="0 2 * * *")
    assert profile.next_run_at == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert profiles.run_due() == []  # 01:00: not yet
    clock.now += timedelta(hours=1, minutes=1)
    other_worker = ImportProfiles(profiles.store, hub.imports, clock=clock)
    ran = profiles.run_due() + other_worker.run_due()
    assert len(ran) == 1 and ran[0].status == JobStatus.SUCCEEDED
    assert ran[0].summary is not None and ran[0].summary["created"] == 2
    saved = profiles.get("nightly")
    assert saved.next_run_at == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    assert saved.last_job_id == ran[0].id
    assert hub.imports.get(ran[0].id).author == "profile:nightly"
    assert profiles.run_due() == []


def test_profiles_are_checked_when_saved(scheduled: tuple[ImportProfiles, Clock, Path]) -> None:
    profiles, _, source = scheduled
    with pytest.raises(InvalidProfile) as caught:
        profiles.save("Bad Name", source="", mapping=MAPPING, cron="every night")
    assert [e.field for e in caught.value.errors] == ["name", "cron", "source"]
    with pytest.raises(InvalidMapping) as mapping_problem:
        profiles.save(
            "x",
            source=str(source),
            mapping="class: Product\nfields: {sku: {column: s, y: 1}}",
            cron="@daily",
        )
    assert mapping_problem.value.errors[0].field == "fields.sku.y"
    assert profiles.all() == []


def test_a_source_that_cannot_be_read_fails_its_job_only(
    scheduled: tuple[ImportProfiles, Clock, Path],
) -> None:
    profiles, _, source = scheduled
    profiles.save("gone", source=str(source), mapping=MAPPING, cron="@hourly")
    source.write_text("sku,sku\nA,B\n")  # broken after it was saved
    job = profiles.run("gone")
    assert job.status == JobStatus.FAILED and "twice" in (job.error or "")


def test_http_sources_are_downloaded(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/feed.csv"
        return httpx.Response(200, content=b"sku,name\nH-1,From the web\n")

    target = tmp_path / "feed.csv"
    fetch("https://erp.example.com/feed.csv", target, transport=httpx.MockTransport(answer))
    assert target.read_text().startswith("sku,name")

    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with pytest.raises(
        FetchFailed, match=r"^https://erp\.example\.com/feed\.csv answered HTTP 404$"
    ):
        fetch("https://erp.example.com/feed.csv", target, transport=httpx.MockTransport(missing))


def test_the_worker_runs_scheduled_imports_while_it_delivers() -> None:
    calls: list[int] = []

    class Idle:
        async def run(self, stop: asyncio.Event) -> None:
            await stop.wait()

    class NothingToPrune:
        def prune(self, retention: timedelta) -> tuple[int, int]:
            return 0, 0

    worker = Worker(
        Idle(),  # type: ignore[arg-type]
        NothingToPrune(),  # type: ignore[arg-type]
        retention=timedelta(days=1),
        scheduled_imports=lambda: calls.append(1),
        schedule_every=timedelta(milliseconds=10),
    )

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await task

    asyncio.run(run_briefly())
    assert len(calls) >= 3


def test_a_source_that_cannot_be_fetched_is_a_failed_job(
    scheduled: tuple[ImportProfiles, Clock, Path],
) -> None:
    profiles, _, source = scheduled
    profiles.save("vanishing", source=str(source), mapping=MAPPING, cron="@hourly")
    source.unlink()
    job = profiles.run("vanishing")
    assert job.status == JobStatus.FAILED and "could not be stored" in (job.error or "")
    assert profiles.get("vanishing").last_job_id == job.id
    assert not (profiles.jobs.folder / job.id).exists()


def test_http_sources_get_the_profiles_headers_with_secrets_from_the_environment(
    hub: Hub, scheduled: tuple[ImportProfiles, Clock, Path]
) -> None:
    profiles, clock, source = scheduled
    sent: list[httpx.Headers] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers)
        return httpx.Response(200, content=source.read_bytes())

    def download(url: str, target: Path, headers: Mapping[str, str]) -> None:
        fetch(url, target, headers, transport=httpx.MockTransport(answer))

    environ = {"PIMHUB_IMPORT_TOKEN": "s3cret"}
    erp = ImportProfiles(
        profiles.store, hub.imports, clock=clock, fetcher=download, environ=environ
    )
    headers = {"Authorization": "Bearer ${PIMHUB_IMPORT_TOKEN}", "X-Tenant": "eu-1"}
    saved = erp.save(
        "erp",
        source="https://erp.example.com/export/products.csv",
        mapping=MAPPING,
        cron="@daily",
        options={"headers": headers},
    )
    # Listed with references as written and literal text (perhaps a secret) hidden.
    assert saved.to_dict()["options"]["headers"] == {
        "Authorization": "(hidden) ${PIMHUB_IMPORT_TOKEN}",
        "X-Tenant": "(hidden)",
    }
    assert erp.get("erp").headers == headers  # stored as written, resolved at each run
    job = erp.run("erp")
    assert job.status == JobStatus.SUCCEEDED
    assert (sent[0]["authorization"], sent[0]["x-tenant"]) == ("Bearer s3cret", "eu-1")
    environ["PIMHUB_IMPORT_TOKEN"] = "rotated"
    erp.run("erp")
    assert sent[1]["authorization"] == "Bearer rotated"
    # A value that cannot be sent, or no value: a failed job naming the variable, not the value.
    for value, problem in [
        ("l3aked\n", "holds a line break or characters a header cannot carry"),
        ("l3aked-\u00e9", "holds a line break or characters a header cannot carry"),
        (None, "is not set in the worker's environment"),
    ]:
        if value is None:
            del environ["PIMHUB_IMPORT_TOKEN"]
        else:
            environ["PIMHUB_IMPORT_TOKEN"] = value
        failed = erp.run("erp")
        assert failed.status == JobStatus.FAILED
        assert f"header Authorization: ${{PIMHUB_IMPORT_TOKEN}} {problem}" in (failed.error or "")
        assert "l3aked" not in (failed.error or "")
    assert len(sent) == 2  # nothing was requested without a usable token


def test_headers_are_checked_when_saved(scheduled: tuple[ImportProfiles, Clock, Path]) -> None:
    profiles, _, source = scheduled
    url = "https://erp.example.com/feed.csv"
    cases = [
        (url, {"Bad Name": "x"}, "options.headers.Bad Name"),
        (url, {"X-A": "one\r\nX-Injected: two"}, "options.headers.X-A"),
        (url, {"X-A": "caf\u00e9 \u2603"}, "options.headers.X-A"),
        (url, ["Authorization: x"], "options.headers"),
        (str(source), {"X-A": "x"}, "options.headers"),  # a file is not requested
        # Only PIMHUB_IMPORT_ variables: not the worker's database URL or secret key.
        (url, {"X-A": "${PIMHUB_SECRET_KEY}"}, "options.headers.X-A"),
    ]
    for where, headers, field in cases:
        with pytest.raises(InvalidProfile) as caught:
            profiles.save(
                "h", source=where, mapping=MAPPING, cron="@daily", options={"headers": headers}
            )
        assert [e.field for e in caught.value.errors] == [field]
    assert profiles.all() == []


def test_redirects_are_followed_within_the_sources_site_only(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("x-api-key")))
        if request.url.path == "/old.csv":
            return httpx.Response(302, headers={"location": "/new.csv"})
        if request.url.path == "/moved.csv":
            return httpx.Response(302, headers={"location": "https://cdn.example.net/f.csv"})
        if request.url.path == "/loop.csv":
            return httpx.Response(302, headers={"location": "/loop.csv"})
        return httpx.Response(200, content=b"sku\nA\n")

    target, key = tmp_path / "f.csv", {"X-Api-Key": "s3cret"}
    mock = httpx.MockTransport(answer)
    fetch("https://erp.example.com/old.csv", target, key, transport=mock)
    assert seen == [
        ("https://erp.example.com/old.csv", "s3cret"),
        ("https://erp.example.com/new.csv", "s3cret"),
    ]
    assert target.read_text() == "sku\nA\n"
    seen.clear()
    with pytest.raises(
        FetchFailed, match=r"redirects to https://cdn\.example\.net/f\.csv, another"
    ):
        fetch("https://erp.example.com/moved.csv", target, key, transport=mock)
    assert [url for url, _ in seen] == ["https://erp.example.com/moved.csv"]
    fetch("https://erp.example.com/moved.csv", target, {}, transport=mock)  # nothing to leak
    assert seen[-1] == ("https://cdn.example.net/f.csv", None)
    with pytest.raises(FetchFailed, match="more than 5 times"):
        fetch("https://erp.example.com/loop.csv", target, key, transport=mock)


def test_fetch_errors_name_no_credentials_and_downloads_are_bounded(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    target = tmp_path / "f.csv"
    with pytest.raises(FetchFailed) as caught:
        fetch(
            "https://erp:s3cret@erp.example.com/f.csv?sig=abc",
            target,
            transport=httpx.MockTransport(refuse),
        )
    assert str(caught.value) == "https://erp.example.com/f.csv: ConnectError"

    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 5000)

    mock = httpx.MockTransport(big)
    with pytest.raises(FetchFailed, match="larger than 4,096 bytes"):
        fetch("https://erp.example.com/f.csv", target, transport=mock, max_bytes=4096)
    with pytest.raises(FetchFailed, match="longer than its deadline"):
        fetch("https://erp.example.com/f.csv", target, transport=mock, deadline=-1)
    fetch("https://erp.example.com/f.csv", target, transport=mock, max_bytes=5000)
    assert target.stat().st_size == 5000


def test_internal_addresses_are_not_fetched_unless_allowed(tmp_path: Path) -> None:
    def inside(request: httpx.Request) -> httpx.Response:
        if request.url.host == "erp.example.com":
            return httpx.Response(302, headers={"location": "http://127.0.0.1:9/secrets.csv"})
        return httpx.Response(200, content=b"sku\nA\n")

    target, mock = tmp_path / "f.csv", httpx.MockTransport(inside)
    with pytest.raises(FetchFailed, match=r"127\.0\.0\.1, which is not a public address"):
        fetch("https://erp.example.com/f.csv", target, transport=mock, allow_private=False)
    fetch("https://erp.example.com/f.csv", target, transport=mock, allow_private=True)
    assert target.read_text() == "sku\nA\n"


def test_a_profile_that_cannot_be_claimed_does_not_stop_the_others(
    hub: Hub, scheduled: tuple[ImportProfiles, Clock, Path]
) -> None:
    profiles, clock, source = scheduled
    for name in ("a-broken", "b-fine"):
        profiles.save(name, source=str(source), mapping=MAPPING, cron="0 2 * * *")
    real_claim = profiles.store.claim

    def claim(profile: ImportProfile, next_run_at: datetime) -> bool:
        if profile.name == "a-broken":
            raise RuntimeError("the database hiccupped")
        return real_claim(profile, next_run_at)

    profiles.store.claim = claim  # type: ignore[method-assign]
    clock.now += timedelta(hours=2)
    ran = profiles.run_due()
    assert [j.author for j in ran] == ["profile:b-fine"]
