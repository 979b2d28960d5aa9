"""Fixtures for tests that need a Magento: the contract double, in process or over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .double import MagentoDouble
from .server import DoubleServer


@pytest.fixture
def magento_double() -> Iterator[MagentoDouble]:
    """A fresh double. Every request body sent to it must validate against Adobe's schema."""
    double = MagentoDouble()
    yield double
    assert double.violations == [], "requests that do not match Magento's published schema"


@pytest.fixture
def magento_server(magento_double: MagentoDouble) -> Iterator[DoubleServer]:
    """The same double served by uvicorn on a free loopback port."""
    with DoubleServer(magento_double) as server:
        yield server
