"""Fixtures: a fresh local cloud per test, and the process's registry pointed at it."""

import logging

import pytest
import tenacity

from credentials import ConfigLoader, StaticCredentialsProvider, registry
from credentials.config import KmsEndpoint
from credentials.kms.client import KmsClient

pytest_plugins = ["tests.cloud.pytest_fixture"]


@pytest.fixture
def cloud(cloud_emulator):
    """A started emulator, stopped after the test."""
    return cloud_emulator


@pytest.fixture
def kms_client(cloud):
    """A KMS client for the emulator that retries without sleeping much."""
    return KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
        read_timeout=3.0,
    )


@pytest.fixture
def configured(cloud, tmp_path):
    """The properties file points at the emulator; the registry starts empty and is emptied afterwards."""
    path = cloud.write_properties(str(tmp_path / "managed_credentials_providers.properties"))
    ConfigLoader.set_config_name(path)
    registry.reset()
    try:
        yield path
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


@pytest.fixture
def debug_logs(caplog):
    """Everything at DEBUG, the SDKs' loggers included: for asserting that no secret is ever logged."""
    caplog.set_level(logging.DEBUG)
    for name in ("aliyunsdkcore", "oss2", "managed_credentials", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog
