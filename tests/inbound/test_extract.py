"""Reading a message's id, type and key with a JMESPath path: metered like transforms, so a
path that multiplies the body is refused as unreadable instead of building it."""

from __future__ import annotations

import pytest

from pimhub.inbound.errors import InvalidMessage
from pimhub.inbound.extract import expression_problem, raw_value
from pimhub.inbound.sources import Extract

BODY = {"data": {"id": "A-1", "note": "v" * 1000, "lines": [{"sku": "x"}, {"sku": "y"}]}}


def test_a_multiplying_path_is_unreadable_not_built() -> None:
    path = "data.note|" + "|".join(["[@,@][]"] * 60) + "|length(@)"
    assert expression_problem(path) is None
    with pytest.raises(InvalidMessage) as caught:
        raw_value(Extract(path=path), {}, BODY, "hash")
    assert "the result is larger than 1048576 bytes" in str(caught.value)
    assert [e.code for e in caught.value.errors] == ["unreadable"]


def test_ordinary_paths_still_read() -> None:
    assert raw_value(Extract(path="data.lines[1].sku"), {}, BODY, "h") == "y"
    assert raw_value(Extract(path="data.id"), {}, BODY, "h") == "A-1"
    assert raw_value(Extract(path="join('-', data.lines[*].sku)"), {}, BODY, "h") == "x-y"
