"""Unknown properties keys (issue 11 e): one warning per key naming the file, the key and the closest known key;
`managed-credentials check` lists them and exits 1; the older plugin's keys we ignore are accepted silently."""

import logging

from credentials import ConfigLoader, registry
from credentials.config import read_config
from credentials.config.keys import IGNORED_LEGACY_KEYS, KNOWN_KEYS, unknown_keys
from proxy import ProxyAcsClient
from tests.cloud.records import write_properties_file
from tests.helpers import describe_regions
from tests.test_cli import run_check

TYPOS = ["secret_name=app-key", "foo=1", "credential_type=ak"]


def emulator_lines(cloud):
    key_id, key_secret = cloud.kms_access_key
    return [
        "credentials_type=ak",
        f"credentials_access_key_id={key_id}",
        f"credentials_access_secret={key_secret}",
        f'cache_client_region_id=[{{"regionId":"{cloud.region_id}","endpoint":"{cloud.kms_endpoint}"}}]',
    ]


def unknown_key_warnings(caplog):
    return [r for r in caplog.records if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING]


def test_each_unknown_key_is_one_warning_naming_the_file_the_key_and_the_closest_known_key(cloud, tmp_path, caplog):
    """Through a proxy constructor, as a deployment meets it: the file is read once, three typos give exactly three
    warnings, and the client works (an unknown key is ignored, not fatal)."""
    cloud.create_secret("app-key")
    path = write_properties_file(str(tmp_path / "typos.properties"), emulator_lines(cloud) + TYPOS)
    ConfigLoader.set_config_name(path)
    registry.reset()
    caplog.set_level(logging.WARNING, logger="managed_credentials")
    try:
        client = ProxyAcsClient("app-key", timeout=5)
        client.do_action_with_exception(describe_regions(cloud))
        ProxyAcsClient("app-key").shutdown()  # the file is not read (nor reported) again
        client.shutdown()
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)
    messages = [r.getMessage() for r in unknown_key_warnings(caplog)]
    assert [r.levelno for r in unknown_key_warnings(caplog)] == [logging.WARNING] * 3, messages
    assert all(path in m for m in messages), messages
    assert "key 'secret_name'" in messages[0] and "did you mean secret_names?" in messages[0]
    assert "key 'foo'" in messages[1] and "did you mean" not in messages[1]
    assert "key 'credential_type'" in messages[2] and "did you mean credentials_type?" in messages[2]


def test_check_lists_unknown_keys_and_exits_1(cloud, tmp_path):
    cloud.create_secret("app-key")
    path = write_properties_file(str(tmp_path / "typos.properties"), emulator_lines(cloud) + TYPOS)
    result = run_check("--config", path, "app-key")
    assert result.returncode == 1, result.stdout + result.stderr
    listed = [line for line in result.stdout.splitlines() if "unknown key" in line]
    assert len(listed) == 3 and all(path in line for line in listed), result.stdout
    assert any("'secret_name'" in line and "did you mean secret_names?" in line for line in listed)


def test_the_older_plugins_ignored_keys_and_a_dkms_password_key_are_accepted_silently(cloud, tmp_path, caplog):
    dkms = (
        'cache_client_dkms_config_info=[{"regionId":"cn-hangzhou","endpoint":"kst-a.example",'
        '"clientKeyFile":"/k.json","passwordFromFilePathName":"my_password_path"}]'
    )
    lines = emulator_lines(cloud) + [f"{key}=1" for key in IGNORED_LEGACY_KEYS]
    properties = dict(line.split("=", 1) for line in lines + [dkms, "my_password_path=/p.txt"])
    assert unknown_keys(properties) == []
    path = write_properties_file(str(tmp_path / "legacy.properties"), lines)
    caplog.set_level(logging.DEBUG, logger="managed_credentials")
    read_config(path)
    assert unknown_key_warnings(caplog) == []
    cloud.create_secret("app-key")
    assert run_check("--config", path, "app-key").returncode == 0
    assert not set(IGNORED_LEGACY_KEYS) & set(KNOWN_KEYS)


def test_the_example_file_lists_every_ignored_key():
    from tests.test_docs import read

    example = read("managed_credentials_providers.properties.example")
    assert all(key in example for key in IGNORED_LEGACY_KEYS)
