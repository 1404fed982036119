"""KMS instance endpoints through the standard KMS API: a cache_client_region_id item naming an instance endpoint
(kst-....cryptoservice.kms.aliyuncs.com) with its own caFilePath, reached with the credentials of credentials_type
over TLS verified against that CA, which differs from the process's default ($ALIBABA_CLOUD_CA_BUNDLE)."""

import json
import logging
import os

import pytest
from aliyunsdkcore.acs_exception.exceptions import ClientException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from credentials import ConfigError, ConfigLoader, CredentialsError, registry
from credentials.config import read_config
from proxy import ProxyAcsClient
from tests.cloud.kms import KmsService
from tests.cloud.tls import test_ca
from tests.helpers import describe_regions, regions_of

TIMEOUT = 5
REGIONS = "cache_client_region_id"


@pytest.fixture
def use(monkeypatch):
    """Point the registry at a properties file; the default trust is the process's test CA, as a deployment's
    $ALIBABA_CLOUD_CA_BUNDLE would be: not the instance's CA."""
    monkeypatch.setenv("ALIBABA_CLOUD_CA_BUNDLE", test_ca().ca_file)

    def point_at(path):
        ConfigLoader.set_config_name(path)
        registry.reset()
        return path

    registry.reset()
    try:
        yield point_at
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


@pytest.fixture
def instance(cloud):
    """(host, ca_file) of KMS's standard API on an instance endpoint with a CA of its own."""
    host, ca_file = cloud.add_kms_instance("kms-instance")
    assert open(ca_file).read() != open(test_ca().ca_file).read()
    return host, ca_file


def ak_properties(cloud, path, regions):
    key_id, key_secret = cloud.kms_access_key
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            f"credentials_type=ak\ncredentials_access_key_id={key_id}\ncredentials_access_secret={key_secret}\n"
            f"{REGIONS}={json.dumps(regions)}\n"
        )
    return path


def write(cloud, tmp_path, access, regions):
    path = str(tmp_path / "managed_credentials_providers.properties")
    if access == "client_key":
        return cloud.write_client_key_properties(path, regions=regions)
    return ak_properties(cloud, path, regions)


def get_secret(host, name):
    request = CommonRequest(domain=host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("https")
    request.set_method("POST")
    request.add_query_param("SecretName", name)
    return request


# ---- the emulator, proven with the plain SDK ------------------------------------------------------------------------


def test_plain_sdk_reaches_the_instance_endpoint_only_when_it_trusts_the_instance_ca(cloud, instance, monkeypatch):
    host, ca_file = instance
    key_id, _ = cloud.create_secret("app-key")
    monkeypatch.delenv("ALIBABA_CLOUD_CA_BUNDLE", raising=False)
    trusting = AcsClient(*cloud.kms_access_key, "cn-hangzhou", verify=ca_file, timeout=TIMEOUT)
    body = json.loads(trusting.do_action_with_exception(get_secret(host, "app-key")))
    assert json.loads(body["SecretData"])["AccessKeyId"] == key_id
    other = AcsClient(*cloud.kms_access_key, "cn-hangzhou", verify=test_ca().ca_file, timeout=TIMEOUT, auto_retry=False)
    with pytest.raises(ClientException) as info:
        other.do_action_with_exception(get_secret(host, "app-key"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert cloud.count("GetSecretValue", service="kms-instance") == 1


# ---- the library ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("access", ["ak", "client_key"])
def test_an_instance_endpoint_with_its_own_ca_serves_the_proxies(cloud, instance, tmp_path, use, access):
    host, ca_file = instance
    key_id, _ = cloud.create_secret("app-key")
    use(write(cloud, tmp_path, access, [{"regionId": cloud.region_id, "endpoint": host, "caFilePath": ca_file}]))
    with ProxyAcsClient("app-key", region_id="cn-hangzhou") as client:
        assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        assert client.credentials_provider.get_credentials().access_key_id == key_id
        new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
        assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        assert client.credentials_provider.get_credentials().access_key_id == new_id
    assert cloud.count("GetSecretValue", service="kms-instance", code="OK") == 2
    assert cloud.count("GetSecretValue", service="kms") == 0


def test_each_endpoint_is_verified_against_its_own_trust(cloud, instance, tmp_path, use):
    """The instance with its caFilePath, then shared KMS over TLS trusted through $ALIBABA_CLOUD_CA_BUNDLE: a
    fetch after the instance goes down reaches the second with the default trust, not the instance's CA."""
    host, ca_file = instance
    service = KmsService(cloud.state, cloud.region_id)
    service.name = "kms-shared-tls"
    shared = cloud.add_service(service.name, service, tls=True, ssl_context=test_ca().server_context()).address
    cloud.create_secret("app-key")
    use(
        ak_properties(
            cloud,
            str(tmp_path / "m.properties"),
            [
                {"regionId": cloud.region_id, "endpoint": host, "caFilePath": ca_file},
                {"regionId": cloud.region_id, "endpoint": "https://" + shared},
            ],
        )
    )
    with ProxyAcsClient("app-key", region_id="cn-hangzhou") as client:
        client.do_action_with_exception(describe_regions(cloud))
        cloud.service_down("kms-instance")
        new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
        client.do_action_with_exception(describe_regions(cloud))
        assert client.credentials_provider.get_credentials().access_key_id == new_id
    assert cloud.count("GetSecretValue", service="kms-instance", code="OK") == 1
    assert cloud.count("GetSecretValue", service="kms-shared-tls", code="OK") == 1


def test_a_certificate_not_from_ca_file_path_is_a_final_error_naming_that_file(cloud, instance, tmp_path, use, caplog):
    caplog.set_level(logging.DEBUG)
    host, _ = instance
    cloud.create_secret("app-key")
    wrong_ca = test_ca().ca_file  # trusted by default, but not the CA the instance's certificate comes from
    use(
        ak_properties(
            cloud,
            str(tmp_path / "m.properties"),
            [{"regionId": cloud.region_id, "endpoint": host, "caFilePath": wrong_ca}],
        )
    )
    with pytest.raises(CredentialsError) as info:
        ProxyAcsClient("app-key").credentials_provider.get_credentials()
    message = str(info.value)
    assert info.value.code == "CertificateNotTrusted" and not info.value.retryable
    assert wrong_ca in message and "caFilePath" in message and host in message
    assert cloud.count("GetSecretValue") == 0  # the handshake failed: no signed request left


# ---- configuration mistakes -----------------------------------------------------------------------------------------


def _missing(tmp_path, host):
    missing = str(tmp_path / "PrivateKmsCA_kst-missing.pem")
    return {"endpoint": host, "caFilePath": missing}, [missing, "does not exist"]


def _not_pem(tmp_path, host):
    path = tmp_path / "clientKey_KAAP.x.json"
    path.write_text('{"KeyId": "KAAP.x"}')
    return {"endpoint": host, "caFilePath": str(path)}, [str(path), "no PEM certificate"]


def _not_a_string(tmp_path, host):
    return {"endpoint": host, "caFilePath": ["a.pem"]}, ["caFilePath must be a string"]


def _http_endpoint(tmp_path, host):
    """On loopback, where http:// is accepted (to another machine it is refused first: test_clear_text.py)."""
    return {"endpoint": "http://127.0.0.1:8443", "caFilePath": test_ca().ca_file}, ["caFilePath is for an https"]


@pytest.mark.parametrize(
    "mistake", [_missing, _not_pem, _not_a_string, _http_endpoint], ids=lambda f: f.__name__.strip("_")
)
def test_ca_file_path_mistakes_are_config_errors_naming_file_and_key(cloud, tmp_path, mistake):
    item, named = mistake(tmp_path, "kst-hzz6demo.cryptoservice.kms.aliyuncs.com")
    path = ak_properties(cloud, str(tmp_path / "m.properties"), [dict(item, regionId=cloud.region_id)])
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert info.value.key == REGIONS and info.value.file == os.path.abspath(path)
    for text in named + [path, REGIONS]:
        assert text in str(info.value), str(info.value)


def test_an_instance_endpoint_without_ca_file_path_keeps_the_default_trust(cloud, tmp_path):
    config = read_config(
        ak_properties(
            cloud,
            str(tmp_path / "m.properties"),
            [{"regionId": "cn-hangzhou", "endpoint": "kst-hzz6demo.cryptoservice.kms.aliyuncs.com"}],
        )
    )
    (endpoint,) = config.endpoints
    assert (endpoint.url, endpoint.ca_file) == ("https://kst-hzz6demo.cryptoservice.kms.aliyuncs.com", None)
