"""pytest fixture `cloud_emulator`: a started CloudEmulator per test, always stopped afterwards.

Use it from a test module with `from tests.cloud.pytest_fixture import cloud_emulator  # noqa: F401`,
or from a conftest with `pytest_plugins = ["tests.cloud.pytest_fixture"]`.
"""
import pytest

from .emulator import CloudEmulator


@pytest.fixture
def cloud_emulator():
    emulator = CloudEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
