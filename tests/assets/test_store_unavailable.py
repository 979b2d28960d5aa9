"""A blob store that cannot answer (S3 down or throttling, a full or failing disk) is a 503
service-unavailable problem with Retry-After, through the REST API and /assets, never a 500.
The S3 cases run against a moto server of their own, stopped halfway."""

from __future__ import annotations

import errno
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pimhub.api.app import create_app
from pimhub.assets.filesystem import FilesystemBlobStore
from pimhub.assets.s3 import S3BlobStore
from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.errors import StoreUnavailable
from pimhub.settings import Settings
from tests.assets.conftest import _FAKE_CREDENTIALS, _free_port
from tests.assets.test_thumbnails import image_bytes
from tests.conftest import bearer, empty_database

PNG = image_bytes((64, 64))


class ShortLivedS3:
    """moto's S3 server on a free port with one bucket, and a client that tries once and
    waits at most a second, so that a stopped server fails fast."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config
        from moto.server import ThreadedMotoServer

        port = _free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        self.server.start()
        self.running = True
        self.client = boto3.session.Session(
            aws_access_key_id=_FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=_FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
        )
        self.client.create_bucket(Bucket="down")

    def stop(self) -> None:
        if self.running:
            self.server.stop()
            self.running = False


@pytest.fixture
def short_s3() -> Iterator[ShortLivedS3]:
    s3 = ShortLivedS3()
    try:
        yield s3
    finally:
        s3.stop()


def test_a_stopped_s3_server_is_store_unavailable(short_s3: ShortLivedS3) -> None:
    store = S3BlobStore("down", client=short_s3.client)
    store.put("blobs/ab/x", io.BytesIO(b"abc"), 3, "text/plain")
    short_s3.stop()
    calls: list[Any] = [
        lambda: store.size("blobs/ab/x"),
        lambda: store.exists("blobs/ab/x"),
        lambda: store.read("blobs/ab/x"),
        lambda: store.put("blobs/ab/y", io.BytesIO(b"abc"), 3, "text/plain"),
        lambda: store.touch("blobs/ab/x"),
        lambda: list(store.keys("blobs/")),
        lambda: store.delete_prefix("thumbnails/"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert "retry later" in caught.value.detail
        assert "127.0.0.1" not in caught.value.detail  # the endpoint stays in the log


class _Refusing:
    """A client whose every call fails with S3's answer `code` (HTTP `status`)."""

    def __init__(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def __getattr__(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        def fail(*args: Any, **kwargs: Any) -> Any:
            error = {"Error": {"Code": self.code, "Message": "no"}}
            raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": self.status}}, name)

        return fail


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("SlowDown", 400)]
)
def test_throttling_and_5xx_are_store_unavailable(code: str, status: int) -> None:
    store = S3BlobStore("b", client=_Refusing(code, status))
    with pytest.raises(StoreUnavailable):
        store.size("blobs/ab/x")
    with pytest.raises(StoreUnavailable):
        store.put("blobs/ab/x", io.BytesIO(b"abc"), 3, "text/plain")


def test_a_refusal_that_is_not_an_outage_stays_what_it_is() -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        S3BlobStore("b", client=_Refusing("AccessDenied", 403)).size("blobs/ab/x")


def _hub(engine: Engine, tmp_path: Path, **settings: Any) -> Hub:
    empty_database(engine)
    return bootstrap(
        Settings(
            database_url=str(engine.url),
            secret_key="test-passphrase",
            data_dir=tmp_path / "data",
            assets_dir=tmp_path / "assets",
            **settings,
        ),
        engine=engine,
    )


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    if response.request.method == "HEAD":
        return
    body = response.json()
    assert body["code"] == "service-unavailable" and "asset store" in body["detail"]


def test_rest_and_asset_urls_answer_503_while_s3_is_down(
    engine: Engine, tmp_path: Path, short_s3: ShortLivedS3, s3_env: None
) -> None:
    hub = _hub(engine, tmp_path, assets_store="s3", assets_s3_bucket="down")
    store = hub.assets.store
    assert isinstance(store, S3BlobStore)
    store.client = short_s3.client
    client = TestClient(create_app(hub))
    writer = bearer(hub, "read", "write", name="writer")
    stored = client.put("/api/v1/assets/p/a.png", content=PNG, headers=writer)
    assert stored.status_code == 201, stored.text
    short_s3.stop()

    _unavailable(client.put("/api/v1/assets/p/b.png", content=PNG, headers=writer))
    _unavailable(client.put("/api/v1/assets/p/a.png", content=image_bytes((8, 8)), headers=writer))
    _unavailable(client.get("/assets/p/a.png"))
    _unavailable(client.head("/assets/p/a.png"))
    _unavailable(client.get("/assets/p/a.png?thumbnail=thumbnail"))
    # What the database alone answers still works.
    assert client.get("/api/v1/assets/p/a.png", headers=writer).status_code == 200
    assert client.get("/api/v1/assets/p/b.png", headers=writer).status_code == 404


def test_a_full_disk_is_503(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _hub(engine, tmp_path)
    client = TestClient(create_app(hub))
    writer = bearer(hub, "read", "write", name="writer")

    def no_space(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pimhub.assets.filesystem.tempfile.mkstemp", no_space)
    response = client.put("/api/v1/assets/p/a.png", content=PNG, headers=writer)
    _unavailable(response)
    assert "No space left on device" in response.json()["detail"]
    assert client.get("/api/v1/assets/p/a.png", headers=writer).status_code == 404


def test_a_failing_disk_read_is_store_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FilesystemBlobStore(tmp_path)
    store.put("blobs/ab/x", io.BytesIO(b"abc"), 3, "text/plain")

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Path, "open", failing)
    with pytest.raises(StoreUnavailable) as caught:
        store.read("blobs/ab/x")
    assert "Input/output error" in caught.value.detail
    monkeypatch.setattr(Path, "stat", failing)
    with pytest.raises(StoreUnavailable):
        store.size("blobs/ab/x")


def test_graphql_names_it_service_unavailable() -> None:
    from pimhub.api.graphql.errors import error_code

    assert error_code(StoreUnavailable("the asset store cannot be reached now")) == (
        "SERVICE_UNAVAILABLE"
    )
