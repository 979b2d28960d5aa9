"""Pure rules of the webhook side: endpoint specs, signing, destination checks (retries and the
circuit breaker are in test_policy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from pimhub.catalog.errors import SecretUnreadable
from pimhub.events.destinations import blocked_address
from pimhub.events.endpoints import EndpointSpec, PayloadMode, parse_spec, shaped_payload
from pimhub.events.errors import InvalidEndpoint
from pimhub.events.secret_box import SecretBox, key_file_passphrase
from pimhub.events.signing import generate_secret, secret_bytes, signature_header


def test_spec_filters() -> None:
    spec = EndpointSpec(
        url="https://x",
        event_types=("object.updated", "object.created"),
        classes=("Product",),
        changed_fields=("price", "stock"),
    )
    assert spec.wants("object.updated", "Product", ("price",))
    assert not spec.wants("object.updated", "Product", ("name",))
    assert spec.wants("object.created", "Product", ("name",))
    assert not spec.wants("object.updated", "Brand", ("price",))
    assert not spec.wants("object.deleted", "Product", ())
    assert EndpointSpec(url="https://x").wants("class.changed", "Product", ())


def test_parse_spec_patches_only_given_keys_and_reports_everything() -> None:
    base = parse_spec({"url": "https://a.example/h", "classes": ["Product"]})
    patched = parse_spec({"payload": "thin"}, base)
    assert patched.classes == ("Product",) and patched.payload == PayloadMode.THIN
    with pytest.raises(InvalidEndpoint) as caught:
        parse_spec(
            {
                "url": "https://u:p@a.example/",
                "rateLimit": 0,
                "enabled": "yes",
                "classes": "Product",
            }
        )
    assert {e.field for e in caught.value.errors} == {"url", "rateLimit", "enabled", "classes"}
    with pytest.raises(InvalidEndpoint) as missing:
        parse_spec({})
    assert [e.code for e in missing.value.errors] == ["required"]
    with pytest.raises(InvalidEndpoint):
        parse_spec(["https://a.example"])


def test_thin_payload_drops_only_the_object() -> None:
    full = {"type": "object.updated", "timestamp": "t", "data": {"uuid": "u", "object": {"a": 1}}}
    assert shaped_payload(full, PayloadMode.THIN) == {
        "type": "object.updated",
        "timestamp": "t",
        "data": {"uuid": "u"},
    }
    assert shaped_payload(full, PayloadMode.FULL) is full


def test_signatures_verify_with_the_reference_library_and_only_with_the_right_secret() -> None:
    secret, other = generate_secret(), generate_secret()
    body = b'{"type":"object.created"}'
    import time

    stamp = int(time.time())
    header = signature_header([secret_bytes(secret)], "evt_1", stamp, body)
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(stamp), "webhook-signature": header}
    assert Webhook(secret).verify(body, headers) == {"type": "object.created"}
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body + b" ", headers)
    both = signature_header([secret_bytes(secret), secret_bytes(other)], "evt_1", stamp, body)
    assert len(both.split(" ")) == 2
    Webhook(other).verify(body, {**headers, "webhook-signature": both})
    with pytest.raises(ValueError, match="whsec_"):
        secret_bytes("nope")


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("http://127.0.0.1/x", True),
        ("http://localhost:8080/x", True),
        ("http://10.0.0.8/x", True),
        ("http://192.168.1.1/x", True),
        ("http://169.254.169.254/latest/meta-data", True),
        ("http://[::1]/x", True),
        ("http://[fd00::1]/x", True),
        ("http://0.0.0.0/x", True),
        ("https://93.184.215.14/hook", False),
    ],
)
def test_internal_destinations_are_named(url: str, blocked: bool) -> None:
    assert (blocked_address(url) is not None) == blocked


def test_default_key_file_is_created_on_first_use_only_and_kept_private(tmp_path: Path) -> None:
    box = SecretBox(lambda: key_file_passphrase(tmp_path))
    assert not (tmp_path / "secret.key").exists()
    sealed = box.encrypt("whsec_abc")
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert SecretBox(key_file_passphrase(tmp_path)).decrypt(sealed) == "whsec_abc"
    with pytest.raises(SecretUnreadable, match="PIMHUB_SECRET_KEY") as caught:
        SecretBox("another").decrypt(sealed)
    assert caught.value.code == "secret-key-mismatch"
