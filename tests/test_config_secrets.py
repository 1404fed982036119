"""Configuration text that is hostile or slightly wrong (issue 19 j, k): a nesting bomb in any JSON the properties
file holds or names is a ConfigError naming the file and the key, never a RecursionError; no configuration object
holding a secret pickles; the client key password is not in any frame's locals a traceback prints; a value that a
trailing backslash joined to the next line (a secret, most often) is reported without its content."""

import base64
import json
import logging
import os
import pickle
import traceback

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from credentials import ConfigError, ConfigLoader, Credentials, registry
from credentials.config import read_config
from credentials.config.properties import parse_properties
from credentials.json_limits import JsonTooDeep, loads
from credentials.kms.access import kms_access_provider
from credentials.masking.password import Password
from proxy import ProxyAcsClient
from tests.cloud.records import write_properties_file
from tests.test_cli import run_check

SECRET = "CANARY-wrapped-secret-5e4d3c"
PASSWORD = "CANARY-client-key-password-7f3a"
REGIONS = 'cache_client_region_id=[{"regionId":"cn-hangzhou","endpoint":"http://127.0.0.1:1"}]'
BOMBS = {"arrays": "[" * 100_000, "objects": '{"a":' * 100_000}


def write(tmp_path, lines, name="managed_credentials_providers.properties"):
    return write_properties_file(str(tmp_path / name), list(lines))


def ak_lines(*extra):
    return ["credentials_type=ak", "credentials_access_key_id=AKID", f"credentials_access_secret={SECRET}", *extra]


def client_key_files(tmp_path, document, password=PASSWORD):
    """A client key file holding `document` (a dict, or raw text) and its password file."""
    key_file, password_file = tmp_path / "clientKey_KAAP.test.json", tmp_path / "clientKey_KAAP.test_Password.txt"
    key_file.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    password_file.write_text(password, encoding="utf-8")
    return str(key_file), str(password_file)


def ec_client_key(tmp_path):
    """A console-shaped client key whose PKCS#12 opens with PASSWORD but holds an EC key: the loader fails after
    the right password has been read, while it is still held."""
    data = pkcs12.serialize_key_and_certificates(
        b"KAAP.ec", ec.generate_private_key(ec.SECP256R1()), None, None, BestAvailableEncryption(PASSWORD.encode())
    )
    return client_key_files(tmp_path, {"KeyId": "KAAP.ec", "PrivateKeyData": base64.b64encode(data).decode()})


def client_key_lines(key_file, password_file, env_variable=None):
    """credentials_type=client_key; the password from `env_variable` when given (checked before the file)."""
    lines = [
        "credentials_type=client_key",
        f"client_key_private_key_path={key_file}",
        f"client_key_password_from_file_path={password_file}",
        REGIONS,
    ]
    return lines + ([f"client_key_password_from_env_variable={env_variable}"] if env_variable else [])


def dkms_lines(key_file, password_file, env_variable=None):
    """One dedicated instance; its password from the item's own `env_variable` when given, else its file."""
    item = {"regionId": "cn-hangzhou", "endpoint": "127.0.0.1:1", "clientKeyFile": key_file, "ignoreSslCerts": True}
    item.update({"passwordFromEnvVariable": env_variable} if env_variable else {"passwordFromFilePath": password_file})
    return ["cache_client_dkms_config_info=" + json.dumps([item])]


def with_locals(error):
    """The traceback as `traceback` prints it with capture_locals=True (loguru's diagnose and rich's show_locals
    print the same reprs), from the library's first frame (not the test's own)."""
    printed = traceback.TracebackException(type(error), error, error.__traceback__.tb_next, capture_locals=True)
    return "".join(printed.format())


# ---- j: nesting bombs ------------------------------------------------------------------------------------------------


NESTED = "nested deeper than 64 levels"


def _regions(tmp_path, bomb):
    return ak_lines("cache_client_region_id=" + bomb), "cache_client_region_id", NESTED


def _dkms_items(tmp_path, bomb):
    return ["cache_client_dkms_config_info=" + bomb], "cache_client_dkms_config_info", NESTED


def _policy(tmp_path, bomb):  # read by the Credentials tool's config (credentials/tool/config.py), in its words
    lines = ak_lines(REGIONS, "credentials_role_arn=acs:ram::1:role/r", "credentials_role_session_name=s")
    return ["credentials_type=ram_role", *lines[1:], "credentials_policy=" + bomb], "credentials_policy", "not a JSON"


def _client_key_file(tmp_path, bomb):
    key_file, password_file = client_key_files(tmp_path, '{"KeyId": "KAAP.x", "PrivateKeyData": ' + bomb)
    return client_key_lines(key_file, password_file), "client_key_private_key_path", f"{key_file} is {NESTED}"


def _dkms_client_key_file(tmp_path, bomb):
    key_file, password_file = client_key_files(tmp_path, bomb)
    return dkms_lines(key_file, password_file), "cache_client_dkms_config_info", f"{key_file} is {NESTED}"


@pytest.mark.parametrize("shape", sorted(BOMBS))
@pytest.mark.parametrize(
    "where", [_regions, _dkms_items, _policy, _client_key_file, _dkms_client_key_file], ids=lambda f: f.__name__[1:]
)
def test_a_nesting_bomb_is_a_config_error_naming_the_file_and_the_key(tmp_path, where, shape):
    lines, key, said = where(tmp_path, BOMBS[shape])
    path = write(tmp_path, lines)
    with pytest.raises(ConfigError) as info:
        kms_access_provider(read_config(path))
    assert info.value.key == key and info.value.file == os.path.abspath(path), str(info.value)
    assert said in str(info.value) and "[[[[" not in str(info.value)


def test_the_depth_limit_is_counted_not_left_to_the_interpreter():
    """credentials/json_limits.py: the limit holds below the recursion limit (65 levels are refused although json
    parses them), brackets inside strings do not count, and a RecursionError is never what comes out."""
    assert loads("[" * 64 + "]" * 64) == loads("[" * 64 + "]" * 64)  # at the limit: parsed
    with pytest.raises(JsonTooDeep):
        loads("[" * 65 + "]" * 65)
    assert loads(json.dumps(["[" * 500, {"a": "{" * 500}])) == ["[" * 500, {"a": "{" * 500}]
    assert loads(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(JsonTooDeep):  # a limit above the interpreter's: json's own RecursionError, turned into ours
        loads("[" * 100_000, max_depth=10**6)


def test_check_reports_a_nesting_bomb_and_exits_1(tmp_path):
    path = write(tmp_path, ak_lines("cache_client_region_id=" + BOMBS["arrays"]))
    result = run_check("--config", path)
    assert result.returncode == 1 and "RecursionError" not in result.stdout + result.stderr
    assert "key 'cache_client_region_id'" in result.stdout and "nested deeper than" in result.stdout, result.stdout


# ---- k: pickling -----------------------------------------------------------------------------------------------------


def _kms_config(tmp_path):
    return read_config(write(tmp_path, ak_lines(REGIONS))), SECRET


def _client_key_config(tmp_path, cloud):
    config = read_config(cloud.write_client_key_properties(str(tmp_path / "m.properties")))
    return config, config.client_key.private_key[100:160]


def _client_key(tmp_path, cloud):
    key = _client_key_config(tmp_path, cloud)[0].client_key
    return key, key.private_key[100:160]


def _dkms_instance(tmp_path, cloud):
    instance = read_config(cloud.write_dkms_properties(str(tmp_path / "m.properties"))).dkms_instances[0]
    return instance, instance.private_key[100:160]


@pytest.mark.parametrize(
    "build, cls",
    [
        (lambda tmp_path, cloud: _kms_config(tmp_path), "KmsConfig"),
        (_client_key_config, "KmsConfig"),
        (_client_key, "ClientKey"),
        (_dkms_instance, "DkmsInstance"),
        (lambda tmp_path, cloud: (Password(PASSWORD), PASSWORD), "Password"),
        (lambda tmp_path, cloud: (Credentials("AKID", SECRET), SECRET), "Credentials"),
    ],
    ids=["KmsConfig-ak", "KmsConfig-client-key", "ClientKey", "DkmsInstance", "Password", "Credentials"],
)
def test_configuration_objects_holding_a_secret_refuse_to_pickle(cloud, tmp_path, build, cls):
    value, secret = build(tmp_path, cloud)
    assert type(value).__name__ == cls
    with pytest.raises(TypeError, match=f"{cls}.* not picklable") as info:
        pickle.dumps(value)
    assert secret not in str(info.value) and secret not in repr(value)


# ---- k: the client key password in frame locals ----------------------------------------------------------------------


@pytest.mark.parametrize("form", [client_key_lines, dkms_lines], ids=["client_key", "dkms"])
@pytest.mark.parametrize("failure", ["wrong-password", "right-password-not-an-rsa-key"])
def test_a_traceback_with_locals_shows_no_client_key_password(tmp_path, form, failure):
    if failure == "wrong-password":
        key_file, password_file = ec_client_key(tmp_path)
        with open(password_file, "w", encoding="utf-8") as handle:
            handle.write("CANARY-WRONG-password-1b2c")
        expected, passwords = "does not open", ("CANARY-WRONG-password-1b2c", PASSWORD)
    else:
        key_file, password_file = ec_client_key(tmp_path)
        expected, passwords = "no RSA private key", (PASSWORD,)
    path = write(tmp_path, form(key_file, password_file))
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert expected in str(info.value)
    printed = with_locals(info.value)
    assert "password = Password(****)" in printed  # the frames that held it were printed, with their locals
    for password in passwords:
        assert password not in printed and password not in str(info.value)


@pytest.mark.parametrize("form", [client_key_lines, dkms_lines], ids=["client_key", "dkms"])
def test_the_password_from_an_environment_variable_is_not_in_the_locals_either(tmp_path, monkeypatch, form):
    key_file, password_file = ec_client_key(tmp_path)
    monkeypatch.setenv("CK_PASSWORD_FOR_LOCALS", "CANARY-WRONG-env-password-9d8c")
    with pytest.raises(ConfigError) as info:
        read_config(write(tmp_path, form(key_file, password_file, "CK_PASSWORD_FOR_LOCALS")))
    assert "environment variable CK_PASSWORD_FOR_LOCALS" in str(info.value) and "does not open" in str(info.value)
    assert "CANARY-WRONG-env-password-9d8c" not in with_locals(info.value)


def test_a_traceback_with_locals_shows_no_access_key_secret_of_the_file(tmp_path):
    """The raw keys are in the locals of every frame that reads the file: their repr hides the secret ones."""
    path = write(tmp_path, ak_lines('cache_client_region_id=[{"region":"x"}]', "credentials_security_token=CANARY-tok"))
    with pytest.raises(ConfigError) as info:
        read_config(path)
    printed = with_locals(info.value)
    assert "properties = Properties(" in printed and "'credentials_access_key_id': 'AKID'" in printed
    assert SECRET not in printed and "CANARY-tok" not in printed


# ---- k: a line joined onto the next ----------------------------------------------------------------------------------


WRAPPED = [
    ["credentials_type=ak\\", f"credentials_access_secret={SECRET}", "credentials_access_key_id=AKID", REGIONS],
    ["credentials_type=ak", "credentials_access_key_id=AKID\\", f"  credentials_access_secret={SECRET}", REGIONS],
    [*ak_lines(REGIONS)[:2], "secret_names=app-key\\", f"credentials_access_secret: {SECRET}"],
    ["credential_type=ak\\", f"credentials_access_secret={SECRET}", "credentials_access_key_id=AKID", REGIONS],
    [*ak_lines(REGIONS), "startup_timeout_seconds=10\\", f"credentials_security_token={SECRET}"],
]


@pytest.mark.parametrize("lines", WRAPPED, ids=["type", "key-id", "secret-names", "unknown-key", "timeout"])
def test_check_names_a_line_joined_onto_the_next_without_its_content(tmp_path, lines):
    path = write(tmp_path, lines)
    result = run_check("--config", path)
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr, result.stdout
    joined_key = next(line for line in lines if line.endswith("\\")).split("=")[0]
    said = [line for line in result.stdout.splitlines() if f"key '{joined_key}'" in line and "backslash" in line]
    assert len(said) == 1 and "ends with a backslash" in said[0] and "credentials_" in said[0], result.stdout


@pytest.mark.parametrize("lines", WRAPPED, ids=["type", "key-id", "secret-names", "unknown-key", "timeout"])
def test_a_proxy_constructor_and_its_warnings_name_a_joined_line_without_its_content(cloud, tmp_path, caplog, lines):
    caplog.set_level(logging.DEBUG)
    ConfigLoader.set_config_name(write(tmp_path, lines))
    registry.reset()
    try:
        with pytest.raises(ConfigError) as info:
            ProxyAcsClient("app-key")
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)
    assert "ends with a backslash" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert cloud.count("GetSecretValue") == 0


def test_the_unknown_key_warning_of_a_joined_line_shows_no_value(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="managed_credentials")
    with pytest.raises(ConfigError):
        read_config(write(tmp_path, WRAPPED[3]))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "key 'credential_type'" in warned[0] and "did you mean credentials_type?" in warned[0]
    assert SECRET not in caplog.text


def test_a_wrapped_value_that_sets_no_key_is_still_one_value():
    """Java-properties continuation keeps working: a JSON value or a base64 value over several lines."""
    lines = ['cache_client_region_id=[{"regionId":\\', '   "cn-hangzhou"}]', "credentials_access_secret=abc\\", "DEF=="]
    parsed = parse_properties(lines)
    assert parsed == {"cache_client_region_id": '[{"regionId":"cn-hangzhou"}]', "credentials_access_secret": "abcDEF=="}
    assert parsed.joined == {}
    assert "abcDEF" not in repr(parsed)
