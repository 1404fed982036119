"""The properties file: syntax, lookup order, and an error that names the file and the key for every mistake."""

import os

import pytest

from credentials import ConfigError, ConfigLoader
from credentials.config import read_config
from credentials.config.properties import parse_properties
from credentials.kms.access import kms_access_provider

CANARY_SECRET = "CANARY-properties-secret-9f8e7d"


def write(tmp_path, text, name="managed_credentials_providers.properties"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_java_properties_syntax():
    lines = [
        "# comment",
        "! also a comment",
        "",
        "   ",
        "  a = 1  ",
        "b:2",
        "c 3",
        "d=first\\",
        "   second",
        'e=[{"regionId":"cn-hangzhou"}]',
        "empty=",
        "f=trailing\\\\",
    ]
    assert parse_properties(lines) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "firstsecond",
        "e": '[{"regionId":"cn-hangzhou"}]',
        "empty": "",
        "f": "trailing\\\\",
    }


def test_valid_ak_config(tmp_path):
    path = write(
        tmp_path,
        f"""
credentials_type=ak
credentials_access_key_id=AKID
credentials_access_secret={CANARY_SECRET}
cache_client_region_id=[{{"regionId":"cn-hangzhou"}},{{"regionId":"local","endpoint":"http://127.0.0.1:8080"}}]
secret_names=a, b
""",
    )
    config = read_config(path)
    assert config.credentials_type == "ak"
    assert [(e.region_id, e.host, e.protocol) for e in config.endpoints] == [
        ("cn-hangzhou", "kms.cn-hangzhou.aliyuncs.com", "https"),
        ("local", "127.0.0.1:8080", "http"),
    ]
    assert config.secret_names == ("a", "b")
    assert kms_access_provider(config).get_credentials().access_key_id == "AKID"
    assert CANARY_SECRET not in repr(config)


REGIONS = 'cache_client_region_id=[{"regionId":"cn-hangzhou"}]'


@pytest.mark.parametrize(
    "text, key",
    [
        (f"{REGIONS}\n", "credentials_type"),
        (f"credentials_type=magic\n{REGIONS}\n", "credentials_type"),
        ("credentials_type=ak\ncredentials_access_key_id=A\ncredentials_access_secret=S\n", "cache_client_region_id"),
        ('credentials_type=ak\ncache_client_region_id=[{"region":"x"}]\n', "cache_client_region_id"),
        ('credentials_type=ak\ncache_client_region_id={"regionId":"x"}\n', "cache_client_region_id"),
        ('credentials_type=ak\ncache_client_region_id=[{"regionId":"x"\n', "cache_client_region_id"),
        ("credentials_type=ak\ncache_client_region_id=[]\n", "cache_client_region_id"),
        (f"credentials_type=ak\n{REGIONS}\nsecret_names=a,,b\n", "secret_names"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert info.value.key == key and info.value.file == os.path.abspath(path)
    assert path in str(info.value) and key in str(info.value)


@pytest.mark.parametrize("missing", ["credentials_access_key_id", "credentials_access_secret"])
def test_missing_type_key_is_named(tmp_path, missing):
    keys = {"credentials_access_key_id": "AKID", "credentials_access_secret": CANARY_SECRET}
    del keys[missing]
    body = "".join(f"{k}={v}\n" for k, v in keys.items())
    path = write(tmp_path, f"credentials_type=ak\n{REGIONS}\n{body}")
    with pytest.raises(ConfigError) as info:
        kms_access_provider(read_config(path))
    assert info.value.key == missing and path in str(info.value)
    assert CANARY_SECRET not in str(info.value)


def test_sts_with_fixed_token(tmp_path):
    path = write(
        tmp_path,
        f"credentials_type=sts\n{REGIONS}\ncredentials_access_key_id=STS.ID\n"
        f"credentials_access_secret={CANARY_SECRET}\ncredentials_security_token=TOKEN\n",
    )
    creds = kms_access_provider(read_config(path)).get_credentials()
    assert (creds.access_key_id, creds.security_token) == ("STS.ID", "TOKEN")


def test_sts_without_token_or_role_is_named(tmp_path):
    path = write(
        tmp_path, f"credentials_type=sts\n{REGIONS}\ncredentials_access_key_id=A\ncredentials_access_secret=S\n"
    )
    with pytest.raises(ConfigError) as info:
        kms_access_provider(read_config(path))
    assert info.value.key == "credentials_role_arn"


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.properties")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert path in str(info.value) and "does not exist" in str(info.value)


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MANAGED_CREDENTIALS_PROVIDERS_CONFIG", raising=False)
    ConfigLoader.set_config_name(None)
    assert ConfigLoader.get_config_name() == "managed_credentials_providers.properties"
    monkeypatch.setenv("MANAGED_CREDENTIALS_PROVIDERS_CONFIG", "/from/env.properties")
    assert ConfigLoader.get_config_name() == "/from/env.properties"
    try:
        ConfigLoader.set_config_name("/explicit.properties")
        assert ConfigLoader.get_config_name() == "/explicit.properties"
    finally:
        ConfigLoader.set_config_name(None)
