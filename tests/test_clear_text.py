"""Clear text only to loopback (issue 19 f): an http:// KMS endpoint on another machine would carry the managed key
in clear text, so it is a ConfigError naming the file and the key, unless the file says allow_insecure_http=true
(then one warning). http:// to 127.0.0.0/8, ::1 or localhost (a local emulator) is accepted as before."""

import json
import logging
import os

import pytest

from credentials import ConfigError, ConfigLoader, registry
from credentials.config import read_config
from credentials.kms.client import KmsClient
from credentials.static_provider import StaticCredentialsProvider
from proxy import ProxyAcsClient
from tests.cloud.records import write_properties_file
from tests.test_cli import run_check

KEY = "cache_client_region_id"
OFF_THIS_MACHINE = [
    "http://kms.cn-hangzhou.aliyuncs.com",
    "http://kms-vpc.cn-shanghai.aliyuncs.com:80/",
    "HTTP://10.0.0.5:8080",
    "http://localhost.example.com",
    "http://127.0.0.1.example.com",
    "http://[fe80::1]:8080",
    "http://[::ffff:10.0.0.5]",
]
LOOPBACK = ["http://127.0.0.1:8080", "http://127.8.9.10:1", "http://localhost:1", "http://LOCALHOST", "http://[::1]:1"]


def ak_file(tmp_path, endpoints, *extra):
    regions = [{"regionId": "cn-hangzhou", "endpoint": endpoint} for endpoint in endpoints]
    lines = [
        "credentials_type=ak",
        "credentials_access_key_id=AKID",
        "credentials_access_secret=CANARY-clear-text-secret",
        "%s=%s" % (KEY, json.dumps(regions)),
        *extra,
    ]
    return write_properties_file(str(tmp_path / "managed_credentials_providers.properties"), lines)


def warnings_of(caplog):
    return [r for r in caplog.records if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("endpoint", OFF_THIS_MACHINE)
def test_http_to_another_machine_is_a_config_error_naming_the_file_and_the_key(tmp_path, endpoint):
    path = ak_file(tmp_path, [endpoint])
    with pytest.raises(ConfigError) as info:
        read_config(path)
    message = str(info.value)
    assert info.value.key == KEY and info.value.file == os.path.abspath(path), message
    assert "clear text" in message and "allow_insecure_http=true" in message and endpoint in message


def test_a_proxy_constructor_and_check_refuse_it_too(cloud, tmp_path):
    cloud.create_secret("app-key")
    path = ak_file(tmp_path, [cloud.kms_endpoint, "http://kms.cn-hangzhou.aliyuncs.com"])
    ConfigLoader.set_config_name(path)
    registry.reset()
    try:
        with pytest.raises(ConfigError) as info:
            ProxyAcsClient("app-key")
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)
    assert info.value.key == KEY and "clear text" in str(info.value)
    assert cloud.count("GetSecretValue") == 0
    result = run_check("--config", path, "app-key")
    assert result.returncode == 1 and f"key '{KEY}'" in result.stdout and "clear text" in result.stdout, result.stdout


@pytest.mark.parametrize("endpoint", LOOPBACK)
def test_http_to_a_loopback_address_is_accepted_without_a_warning(tmp_path, caplog, endpoint):
    caplog.set_level(logging.DEBUG)
    config = read_config(ak_file(tmp_path, [endpoint]))
    assert [e.protocol for e in config.endpoints] == ["http"]
    assert warnings_of(caplog) == []


def test_http_to_the_emulator_on_loopback_still_fetches(cloud, tmp_path):
    """API.md: an endpoint's http:// is honoured for local emulators (the properties file as written by
    tests.cloud, then a real GetSecretValue over http)."""
    cloud.create_secret("app-key")
    config = read_config(cloud.write_properties(str(tmp_path / "m.properties")))
    assert config.endpoints[0].url == cloud.kms_endpoint and cloud.kms_endpoint.startswith("http://127.0.0.1:")
    client = KmsClient(config.endpoints, StaticCredentialsProvider(*cloud.kms_access_key), attempts=1)
    assert (
        json.loads(client.get_secret_value("app-key")["SecretData"])["AccessKeyId"] == cloud.current_key("app-key")[0]
    )


def test_allow_insecure_http_accepts_it_with_one_warning_naming_the_endpoints(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    far = ["http://kms.cn-hangzhou.aliyuncs.com", "http://10.0.0.5:8080"]
    path = ak_file(
        tmp_path, [*far, "http://127.0.0.1:8080", "kms.cn-shanghai.aliyuncs.com"], "allow_insecure_http=true"
    )
    config = read_config(path)
    assert [e.protocol for e in config.endpoints] == ["http", "http", "http", "https"]
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert records[0].levelno == logging.WARNING and os.path.abspath(path) in message
    assert "allow_insecure_http=true" in message and "clear text" in message
    assert all(url in message for url in far) and "127.0.0.1" not in message
    assert "CANARY-clear-text-secret" not in caplog.text


@pytest.mark.parametrize(
    "value, accepted", [("false", False), ("FALSE", False), ("", False), ("yes", None), ("1", None)]
)
def test_allow_insecure_http_takes_true_or_false(tmp_path, value, accepted):
    path = ak_file(tmp_path, ["http://kms.cn-hangzhou.aliyuncs.com"], f"allow_insecure_http={value}")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    expected_key = KEY if accepted is False else "allow_insecure_http"
    assert info.value.key == expected_key, str(info.value)


def test_an_instance_gateway_stays_https_only_whatever_allow_insecure_http_says(tmp_path):
    item = {
        "regionId": "cn-hangzhou",
        "endpoint": "http://kst-hzz6xxx.cryptoservice.kms.aliyuncs.com",
        "clientKeyFile": str(tmp_path / "clientKey.json"),
        "passwordFromFilePath": str(tmp_path / "password.txt"),
    }
    lines = ["cache_client_dkms_config_info=" + json.dumps([item]), "allow_insecure_http=true"]
    path = write_properties_file(str(tmp_path / "m.properties"), lines)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert info.value.key == "cache_client_dkms_config_info" and "https only" in str(info.value)
