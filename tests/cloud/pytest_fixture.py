"""pytest fixtures `cloud_emulator` (a started CloudEmulator per test) and `shared_cloud_emulator` (one per test
module, for fast tables of tests that each make their own keys, secrets and buckets), always stopped afterwards;
`loopback_names` (names ending in ".127.0.0.1" resolve to 127.0.0.1 during the test: Log Service's
"<project>.127.0.0.1:PORT", see loopback_names.py).

Use them from a test module with `from tests.cloud.pytest_fixture import cloud_emulator  # noqa: F401`,
or from a conftest with `pytest_plugins = ["tests.cloud.pytest_fixture"]`.
"""

from typing import Iterator

import pytest

from . import loopback_names as _names
from .emulator import CloudEmulator


def _running() -> Iterator[CloudEmulator]:
    emulator = CloudEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def cloud_emulator() -> Iterator[CloudEmulator]:
    yield from _running()


@pytest.fixture(scope="module")
def shared_cloud_emulator() -> Iterator[CloudEmulator]:
    yield from _running()


@pytest.fixture
def loopback_names() -> Iterator[None]:
    with _names.loopback_names():
        yield
