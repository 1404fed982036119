"""Dedicated instances falling back to the regions' shared KMS: both configured, every instance failing, fetches
go to the regions (with credentials_type's key), one warning; back to the instances when they answer, one info."""

import logging
import os
import subprocess
import sys

import pytest
import tenacity

from credentials import ConfigError, ConfigLoader, get_secret_provider, registry
from credentials.config import read_config
from credentials.kms import KmsClient, KmsRequestError
from credentials.kms.access import kms_access_provider
from credentials.kms.dedicated.client import DkmsClient
from credentials.kms.fallback import FallbackKmsClient
from proxy import ProxyAcsClient
from tests.helpers import describe_regions, regions_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = tenacity.wait_random_exponential(multiplier=0.01, max=0.05)


def both(cloud, tmp_path, credentials_type=True):
    """The upstream DKMS form for every gateway, plus the emulator's KMS as cache_client_region_id."""
    path = cloud.write_dkms_properties(str(tmp_path / "managed_credentials_providers.properties"))
    kms_lines = open(cloud.write_properties(str(tmp_path / "kms.properties")), encoding="utf-8").read().splitlines()
    wanted = ("cache_client_region_id=", "credentials_") if credentials_type else ("cache_client_region_id=",)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in kms_lines if line.startswith(wanted)))
    return path


def fallback_client(cloud, path, clock):
    config = read_config(path)
    return FallbackKmsClient(
        DkmsClient(config.dkms_instances, attempts=1, cooldown=60.0, clock=clock),
        KmsClient(config.endpoints, kms_access_provider(config), attempts=1),
        wait=FAST,
    )


def messages(caplog, level):
    return [r.getMessage() for r in caplog.records if r.name.startswith("managed_credentials") and r.levelno == level]


def test_every_instance_failing_goes_to_the_regions_then_back_to_the_instances(cloud, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="managed_credentials")
    second = cloud.dkms.add_instance()
    key_id, _ = cloud.create_secret("app-key")
    now = [1000.0]
    client = fallback_client(cloud, both(cloud, tmp_path), lambda: now[0])
    assert client.get_secret_value("app-key")["SecretName"] == "app-key"
    assert (
        cloud.count("GetSecretValue", service="dkms", code="OK") == 1
        and cloud.count("GetSecretValue", service="kms") == 0
    )
    cloud.service_down("dkms")  # connection refused
    cloud.dkms.fault(second, status=503)
    for _ in range(4):
        assert client.get_secret_value("app-key")["SecretData"]
    assert cloud.count("GetSecretValue", service="kms", code="OK") == 4  # signed with credentials_type's key
    assert cloud.count("GetSecretValue", service=second) == 1  # tried once, then its cooldown
    assert "shared KMS" in client.describe_source() and cloud.kms_endpoint in client.describe_source()
    warned = messages(caplog, logging.WARNING)
    assert len(warned) == 1 and "every dedicated KMS instance failed" in warned[0] and "503" in warned[0], warned
    assert messages(caplog, logging.INFO) == []

    cloud.service_up("dkms")
    cloud.clear_faults()
    now[0] += 61  # the cooldown is over: the instances are asked again, and answer
    for _ in range(3):
        client.get_secret_value("app-key")
    assert (
        cloud.count("GetSecretValue", service="dkms", code="OK") == 4
        and cloud.count("GetSecretValue", service="kms") == 4
    )
    assert cloud.host_of("dkms") in client.describe_source()
    told = messages(caplog, logging.INFO)
    assert len(told) == 1 and "answers again" in told[0] and cloud.host_of("dkms") in told[0], told
    assert len(messages(caplog, logging.WARNING)) == 1


def test_instances_answering_again_during_the_cooldown_are_not_asked_until_it_ends(cloud, tmp_path):
    cloud.create_secret("app-key")
    now = [1000.0]
    client = fallback_client(cloud, both(cloud, tmp_path), lambda: now[0])
    cloud.dkms.fault("dkms", status=500)
    client.get_secret_value("app-key")
    cloud.clear_faults()
    now[0] += 30
    client.get_secret_value("app-key")
    assert cloud.count("GetSecretValue", service="dkms") == 1 and cloud.count("GetSecretValue", service="kms") == 2
    now[0] += 31
    client.get_secret_value("app-key")
    assert cloud.count("GetSecretValue", service="dkms", code="OK") == 1


def test_a_final_answer_from_an_instance_is_not_asked_of_the_regions(cloud, tmp_path):
    cloud.create_secret("app-key")
    client = fallback_client(cloud, both(cloud, tmp_path), lambda: 0.0)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("no-such-secret")
    assert info.value.code == "Forbidden.ResourceNotFound"
    cloud.dkms.revoke_client_key(cloud.dkms.client_key.key_id)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("app-key")
    assert info.value.code == "Unauthorized" and cloud.count("GetSecretValue", service="kms") == 0


def test_instances_and_regions_all_failing_is_retried_then_raised(cloud, tmp_path):
    cloud.create_secret("app-key")
    client = fallback_client(cloud, both(cloud, tmp_path), lambda: 0.0)
    cloud.dkms.fault("dkms", status=503)
    cloud.kms_fault(status=503)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("app-key")
    assert info.value.retryable and info.value.status == 503
    assert cloud.count("GetSecretValue", service="kms") == 4 and cloud.count("GetSecretValue", service="dkms") == 1


def test_proxies_keep_working_through_the_registry_with_every_instance_down(cloud, tmp_path, caplog):
    key_id, _ = cloud.create_secret("app-key")
    ConfigLoader.set_config_name(both(cloud, tmp_path))
    registry.reset()
    try:
        cloud.service_down("dkms")
        with ProxyAcsClient("app-key", region_id=cloud.region_id) as client:
            assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
            assert get_secret_provider("app-key").get_credentials().access_key_id == key_id
        assert isinstance(registry.default_kms_client(), FallbackKmsClient)
        assert cloud.count("GetSecretValue", service="kms", code="OK") == 1
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


def test_regions_beside_instances_need_a_credentials_type(cloud, tmp_path):
    path = both(cloud, tmp_path, credentials_type=False)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert info.value.key == "credentials_type" and "cache_client_region_id" in str(info.value)
    assert path in str(info.value)


def test_cli_check_names_the_fallback_and_where_the_secret_came_from(cloud, tmp_path):
    cloud.create_secret("app-key")
    path = both(cloud, tmp_path)
    cloud.service_down("dkms")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("MANAGED_CREDENTIALS_PROVIDERS_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "credentials", "check", "--config", path, "app-key"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 dedicated KMS instance(s), then 1 region(s) with credentials_type=ak" in result.stdout
    assert f"from shared KMS {cloud.kms_endpoint}" in result.stdout, result.stdout
