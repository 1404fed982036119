"""credentials_type=client_key: shared KMS reached with an application client key, signed SHA256withRSA by
aliyunsdkcore's own RPC composer and RSA algorithm: a revoking rotation healed, the key opened once and never
shown, every password source, every configuration mistake named. (The emulator's side and the wire fidelity:
test_client_key_wire.py.)"""

import base64
import json
import logging
import os
import pickle

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from credentials import ConfigError, ConfigLoader, CredentialsError, get_secret_provider, registry
from credentials.config import KmsEndpoint, read_config
from credentials.config.client_key import ClientKey
from credentials.kms.client import KmsClient
from proxy import ProxyAcsClient
from tests.client_key_helpers import pkcs8_of
from tests.helpers import (
    describe_regions,
    heal_acs_and_oss_through_a_revoking_rotation,
)

KEY_PATH = "client_key_private_key_path"


@pytest.fixture
def use():
    """Point the registry at a properties file; the registry is emptied afterwards."""

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


# ---- the library ----------------------------------------------------------------------------------------------------


def test_client_key_access_heals_acs_client_and_bucket_through_a_revoked_rotation(cloud, tmp_path, use, debug_logs):
    key_id, secret = cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    use(cloud.write_client_key_properties(str(tmp_path / "managed_credentials_providers.properties")))
    client_key = cloud.dkms.client_key
    new_id, new_secret = heal_acs_and_oss_through_a_revoking_rotation(cloud, "app-key", key_id)
    assert cloud.count("GetSecretValue", service="kms", access_key_id=client_key.key_id, code="OK") == 1
    assert cloud.count("GetSecretValue", service="dkms") == 0
    with open(client_key.key_file, encoding="utf-8") as handle:
        private_data = json.load(handle)["PrivateKeyData"]
    for value in (
        secret,
        new_secret,
        client_key.password,
        private_data[100:160],
        pkcs8_of(client_key)[100:160],
        "PRIVATE KEY",
    ):
        assert value not in debug_logs.text


def test_a_revoked_client_key_fails_the_fetch_with_the_service_code(cloud, tmp_path, use):
    cloud.create_secret("app-key")
    use(cloud.write_client_key_properties(str(tmp_path / "m.properties")))
    cloud.dkms.revoke_client_key(cloud.dkms.client_key.key_id)
    with pytest.raises(CredentialsError) as info:
        get_secret_provider("app-key").get_credentials()
    assert info.value.code == "InvalidAccessKeyId.NotFound"
    assert cloud.count("GetSecretValue", code="InvalidAccessKeyId.NotFound") == 1  # final: not retried


def test_the_pkcs12_is_opened_once_per_process(cloud, tmp_path, use, monkeypatch):
    opened = []
    real = pkcs12.load_key_and_certificates
    monkeypatch.setattr(pkcs12, "load_key_and_certificates", lambda *a, **k: opened.append(1) or real(*a, **k))
    for name in ("a", "b", "c"):
        cloud.create_secret(name)
    use(cloud.write_client_key_properties(str(tmp_path / "m.properties")))
    assert len(opened) == 0  # writing the file opened nothing; reading it opens the key
    clients = [ProxyAcsClient(name, region_id="cn-hangzhou") for name in ("a", "b", "c")]
    for client in clients:
        client.credentials_provider.refresh()
        client.do_action_with_exception(describe_regions(cloud))
    assert len(opened) == 1
    assert cloud.count("GetSecretValue", access_key_id=cloud.dkms.client_key.key_id, code="OK") >= 6
    for client in clients:
        client.shutdown()


def test_the_client_key_never_shows_its_private_key(cloud, tmp_path):
    config = read_config(cloud.write_client_key_properties(str(tmp_path / "m.properties")))
    key = config.client_key
    assert isinstance(key, ClientKey) and key.key_id == cloud.dkms.client_key.key_id
    for text in (repr(key), str(key), repr(config)):
        assert key.private_key not in text and key.private_key[100:160] not in text and "KAAP****" in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize("source", ["file", "env", "legacy-env", "env-unset-falls-back-to-file"])
def test_password_sources(cloud, tmp_path, monkeypatch, source):
    monkeypatch.delenv("client_key_password", raising=False)
    cloud.create_secret("app-key")
    path = str(tmp_path / "m.properties")
    if source == "file":
        cloud.write_client_key_properties(path, password="file")
    elif source == "env":
        cloud.write_client_key_properties(path, password="env", env_variable="MY_CK_PASSWORD")
        monkeypatch.setenv("MY_CK_PASSWORD", cloud.dkms.client_key.password)
    elif source == "legacy-env":  # the older client's last resort: a variable literally named client_key_password
        cloud.write_client_key_properties(path, password=None)
        monkeypatch.setenv("client_key_password", cloud.dkms.client_key.password)
    else:
        cloud.write_client_key_properties(path, password="file")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("client_key_password_from_env_variable=UNSET_CK_PASSWORD\n")
        monkeypatch.delenv("UNSET_CK_PASSWORD", raising=False)
    config = read_config(path)
    assert config.client_key.key_id == cloud.dkms.client_key.key_id
    value = KmsClient(config.endpoints, config.client_key, attempts=1).get_secret_value("app-key")
    assert json.loads(value["SecretData"])["AccessKeyId"] == cloud.current_key("app-key")[0]


def test_the_password_variable_wins_over_the_password_file(cloud, tmp_path, monkeypatch):
    """Upstream's order (FIELD_NOTES): the environment variable client_key_password_from_env_variable names, when
    set, else client_key_password_from_file_path. With both set, the variable's password is the one used: right
    variable + wrong file opens the key; wrong variable + right file is a ConfigError naming the variable."""
    monkeypatch.delenv("client_key_password", raising=False)
    cloud.create_secret("app-key")
    path = cloud.write_client_key_properties(str(tmp_path / "m.properties"), password="file")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("client_key_password_from_env_variable=CK_PASSWORD_FIRST\n")
    right = cloud.dkms.client_key.password
    with open(cloud.dkms.client_key.password_file, "w", encoding="utf-8") as handle:
        handle.write("WRONG-password-canary")
    monkeypatch.setenv("CK_PASSWORD_FIRST", right)
    config = read_config(path)
    value = KmsClient(config.endpoints, config.client_key, attempts=1).get_secret_value("app-key")
    assert json.loads(value["SecretData"])["AccessKeyId"] == cloud.current_key("app-key")[0]

    with open(cloud.dkms.client_key.password_file, "w", encoding="utf-8") as handle:
        handle.write(right)
    monkeypatch.setenv("CK_PASSWORD_FIRST", "WRONG-password-canary")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert "the environment variable CK_PASSWORD_FIRST" in str(info.value) and "does not open" in str(info.value)
    assert "WRONG-password-canary" not in str(info.value) and right not in str(info.value)


# ---- configuration mistakes -----------------------------------------------------------------------------------------


def _rewrite(path, key, value):
    lines = [line for line in open(path, encoding="utf-8").read().splitlines() if not line.startswith(key + "=")]
    if value is not None:
        lines.append(f"{key}={value}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _wrong_password(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.password_file, "w", encoding="utf-8") as handle:
        handle.write("WRONG-password-canary")
    return KEY_PATH, [cloud.dkms.client_key.key_file, cloud.dkms.client_key.password_file, "does not open"]


def _missing_key_file(cloud, path, tmp_path, monkeypatch):
    missing = str(tmp_path / "clientKey_KAAP.missing.json")
    _rewrite(path, KEY_PATH, missing)
    return KEY_PATH, [missing, "does not exist"]


def _no_key_path(cloud, path, tmp_path, monkeypatch):
    _rewrite(path, KEY_PATH, None)
    return KEY_PATH, ["missing or empty"]


def _malformed_key_json(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.key_file, "w", encoding="utf-8") as handle:
        handle.write('{"KeyId": "KAAP.x", "PrivateKeyData": ')
    return KEY_PATH, [cloud.dkms.client_key.key_file, "not valid JSON"]


def _key_json_without_key(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.key_file, "w", encoding="utf-8") as handle:
        json.dump({"KeyId": "KAAP.x"}, handle)
    return KEY_PATH, [cloud.dkms.client_key.key_file, "lacks PrivateKeyData"]


def _not_pkcs12(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.key_file, "w", encoding="utf-8") as handle:
        json.dump({"KeyId": "KAAP.x", "PrivateKeyData": base64.b64encode(b"not a PKCS#12").decode()}, handle)
    return KEY_PATH, [cloud.dkms.client_key.key_file, "does not open"]


def _no_password_source(cloud, path, tmp_path, monkeypatch):
    _rewrite(path, "client_key_password_from_file_path", None)
    return "client_key_password_from_file_path", ["client_key_password_from_env_variable", "client_key_password"]


def _unset_password_variable(cloud, path, tmp_path, monkeypatch):
    monkeypatch.delenv("CK_TEST_PASSWORD", raising=False)
    _rewrite(path, "client_key_password_from_file_path", None)
    _rewrite(path, "client_key_password_from_env_variable", "CK_TEST_PASSWORD")
    return "client_key_password_from_env_variable", ["CK_TEST_PASSWORD", "not set"]


def _missing_password_file(cloud, path, tmp_path, monkeypatch):
    missing = str(tmp_path / "nope_Password.txt")
    _rewrite(path, "client_key_password_from_file_path", missing)
    return "client_key_password_from_file_path", [missing, "does not exist"]


@pytest.mark.parametrize(
    "mistake",
    [
        _wrong_password,
        _missing_key_file,
        _no_key_path,
        _malformed_key_json,
        _key_json_without_key,
        _not_pkcs12,
        _no_password_source,
        _unset_password_variable,
        _missing_password_file,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_configuration_mistake_is_a_config_error_naming_file_and_key_without_the_password(
    cloud, tmp_path, use, monkeypatch, caplog, mistake
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("client_key_password", raising=False)
    cloud.create_secret("app-key")
    path = cloud.write_client_key_properties(str(tmp_path / "managed_credentials_providers.properties"))
    password = cloud.dkms.client_key.password
    key, named = mistake(cloud, path, tmp_path, monkeypatch)
    use(path)
    with pytest.raises(ConfigError) as info:
        ProxyAcsClient("app-key")
    message = str(info.value)
    assert info.value.file == os.path.abspath(path) and path in message
    assert info.value.key == key and key in message
    for text in named:
        assert text in message, message
    for value in (password, "WRONG-password-canary"):
        assert value not in message and value not in caplog.text
    assert cloud.count("GetSecretValue") == 0  # found before any network call


def test_a_kms_client_given_a_client_key_uses_no_other_credential(cloud, tmp_path):
    """The KeyId signs alone: no SecurityToken, no AccessKey of the process leaks into the request."""
    cloud.create_secret("app-key")
    files = cloud.dkms.issue_client_key(str(tmp_path))
    key = ClientKey(files.key_id, pkcs8_of(files), files.key_file)
    client = KmsClient([KmsEndpoint(cloud.region_id, cloud.kms_host, "http")], key, attempts=1)
    client.get_secret_value("app-key")
    assert [c.access_key_id for c in cloud.calls] == [files.key_id]
