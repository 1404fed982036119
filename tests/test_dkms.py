"""Dedicated KMS instances: the upstream plugin's DKMS properties form, our gateway client over HTTPS against the
emulator's instance gateways (tests/cloud/dkms.py), failover with a cooldown, and every configuration mistake named
without the password. tests/wire/dkms_fidelity.py checks the wire against the official alibabacloud-dkms-gcs SDK."""

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest
import tenacity

from credentials import ConfigError, ConfigLoader, CredentialsError, get_secret_provider, registry
from credentials.config import read_config
from credentials.kms import KmsRequestError
from credentials.kms.dedicated.client import DkmsClient
from proxy import ProxyAcsClient
from tests.cloud.dkms import decode_message, encode_message
from tests.cloud.tls import TestCA
from tests.helpers import (
    DEADLINE,
    SilentPort,
    heal_acs_and_oss_through_a_revoking_rotation,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "cache_client_dkms_config_info"
UPSTREAM_ITEM_KEYS = {"regionId", "endpoint", "clientKeyFile", "passwordFromFilePath", "ignoreSslCerts", "caFilePath"}
FAST = tenacity.wait_random_exponential(multiplier=0.01, max=0.05)


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


@pytest.fixture
def dead_gateway():
    """A port that accepts TCP connections and drops them at once: a dead instance whose connections are counted."""
    gateway = DroppingPort()
    try:
        yield gateway
    finally:
        gateway.close()


class DroppingPort:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dropping-port", daemon=True)
        self._thread.start()

    @property
    def host(self):
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(DEADLINE)
        self.sock.close()


def edit_items(path, change):
    """Apply change(items) to the JSON list of cache_client_dkms_config_info in the properties file."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(KEY + "="):
            items = json.loads(line[len(KEY) + 1 :])
            change(items)
            lines[i] = KEY + "=" + json.dumps(items)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def properties(cloud, tmp_path, **options):
    return cloud.write_dkms_properties(str(tmp_path / "managed_credentials_providers.properties"), **options)


# ---- the upstream form, end to end -----------------------------------------------------------------------------------


def test_upstream_dkms_form_heals_acs_client_and_bucket_through_a_revoked_rotation(cloud, tmp_path, use, debug_logs):
    key_id, secret = cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    path = use(properties(cloud, tmp_path))
    text = open(path, encoding="utf-8").read()
    assert "credentials_type" not in text  # exactly the upstream plugin's documented DKMS form
    assert set(json.loads(text.split(KEY + "=", 1)[1])[0]) == UPSTREAM_ITEM_KEYS

    new_id, new_secret = heal_acs_and_oss_through_a_revoking_rotation(cloud, "app-key", key_id)
    assert cloud.count("GetSecretValue", service="dkms") == 1  # one fetch for every thread and both clients
    assert cloud.count("GetSecretValue", service="kms") == 0
    logged = debug_logs.text
    for value in (secret, new_secret, cloud.dkms.client_key.password):
        assert value not in logged


def test_cli_check_reaches_the_instance_and_masks_the_key(cloud, tmp_path):
    key_id, secret = cloud.create_secret("app-key")
    path = properties(cloud, tmp_path)
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
    assert "1 dedicated KMS instance(s)" in result.stdout
    assert f"{key_id[:4]}****{key_id[-4:]}" in result.stdout and "from dedicated KMS instance https://" in result.stdout
    for value in (secret, key_id, cloud.dkms.client_key.password):
        assert value not in result.stdout + result.stderr


# ---- configuration mistakes ------------------------------------------------------------------------------------------


def _wrong_password(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.password_file, "w", encoding="utf-8") as handle:
        handle.write("WRONG-password-canary")
    return [cloud.dkms.client_key.key_file, cloud.dkms.client_key.password_file, "does not open"]


def _missing_key_file(cloud, path, tmp_path, monkeypatch):
    missing = str(tmp_path / "clientKey_KAAP.missing.json")
    edit_items(path, lambda items: items[0].update(clientKeyFile=missing))
    return [missing, "does not exist"]


def _malformed_key_json(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.key_file, "w", encoding="utf-8") as handle:
        handle.write('{"KeyId": "KAAP.x", "PrivateKeyData": ')
    return [cloud.dkms.client_key.key_file, "not valid JSON"]


def _key_json_without_key(cloud, path, tmp_path, monkeypatch):
    with open(cloud.dkms.client_key.key_file, "w", encoding="utf-8") as handle:
        json.dump({"KeyId": "KAAP.x"}, handle)
    return [cloud.dkms.client_key.key_file, "lacks PrivateKeyData"]


def _no_password_source(cloud, path, tmp_path, monkeypatch):
    edit_items(path, lambda items: items[0].pop("passwordFromFilePath"))
    return ["passwordFromFilePath", "passwordFromEnvVariable", "client_key_password_from_file_path"]


def _unset_password_variable(cloud, path, tmp_path, monkeypatch):
    monkeypatch.delenv("DKMS_TEST_PASSWORD", raising=False)
    edit_items(
        path,
        lambda items: (
            items[0].pop("passwordFromFilePath"),
            items[0].update(passwordFromEnvVariable="DKMS_TEST_PASSWORD"),
        ),
    )
    return ["passwordFromEnvVariable", "DKMS_TEST_PASSWORD", "not set"]


def _missing_password_file(cloud, path, tmp_path, monkeypatch):
    missing = str(tmp_path / "nope_Password.txt")
    edit_items(path, lambda items: items[0].update(passwordFromFilePath=missing))
    return [missing, "does not exist"]


def _missing_ca_file(cloud, path, tmp_path, monkeypatch):
    missing = str(tmp_path / "PrivateKmsCA_missing.pem")
    edit_items(path, lambda items: items[0].update(caFilePath=missing))
    return [missing, "caFilePath"]


def _not_a_list(cloud, path, tmp_path, monkeypatch):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(KEY + '={"regionId":"cn-hangzhou"}\n')
    return ["non-empty JSON list"]


def _unknown_field(cloud, path, tmp_path, monkeypatch):
    edit_items(path, lambda items: items[0].update(caFilepath="/typo.pem"))
    return ["caFilepath", "unknown field"]


@pytest.mark.parametrize(
    "mistake",
    [
        _wrong_password,
        _missing_key_file,
        _malformed_key_json,
        _key_json_without_key,
        _no_password_source,
        _unset_password_variable,
        _missing_password_file,
        _missing_ca_file,
        _not_a_list,
        _unknown_field,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_configuration_mistake_is_a_config_error_naming_the_file_without_the_password(
    cloud, tmp_path, use, monkeypatch, caplog, mistake
):
    caplog.set_level(logging.DEBUG)
    cloud.create_secret("app-key")
    path = properties(cloud, tmp_path)
    password = cloud.dkms.client_key.password
    named = mistake(cloud, path, tmp_path, monkeypatch)
    use(path)
    with pytest.raises(ConfigError) as info:
        ProxyAcsClient("app-key")
    message = str(info.value)
    assert info.value.file == os.path.abspath(path) and path in message
    assert info.value.key == KEY and KEY in message
    for text in named:
        assert text in message, message
    for value in (password, "WRONG-password-canary"):
        assert value not in message and value not in caplog.text
    assert cloud.count("GetSecretValue") == 0  # found before any network call


def test_top_level_password_fallback_missing_file_names_that_key(cloud, tmp_path):
    path = properties(cloud, tmp_path, password="top-level")
    os.remove(cloud.dkms.client_key.password_file)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert info.value.key == "client_key_password_from_file_path"
    assert cloud.dkms.client_key.password_file in str(info.value)


def test_ca_mismatch_is_a_credentials_error_naming_the_ca_file(cloud, tmp_path, use, caplog):
    caplog.set_level(logging.DEBUG)
    foreign = cloud.dkms.add_instance("dkms-foreign", ca=TestCA())  # its certificate is not from caFilePath's CA
    cloud.create_secret("app-key")
    path = use(properties(cloud, tmp_path, names=[foreign]))
    with pytest.raises(CredentialsError) as info:
        ProxyAcsClient("app-key")
    message = str(info.value)
    assert info.value.code == "CertificateNotTrusted" and not info.value.retryable
    assert cloud.dkms.ca_file in message and path in message and "caFilePath" in message
    assert cloud.dkms.client_key.password not in message + caplog.text
    assert cloud.count("GetSecretValue", service=foreign) == 0  # the TLS handshake failed: no request was made


# ---- password sources ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["file", "env", "top-level", "python-plugin"])
def test_password_sources(cloud, tmp_path, monkeypatch, form):
    key = cloud.dkms.issue_client_key(str(tmp_path))
    if form == "python-plugin":  # the Python plugin's README: the item names properties keys
        path = properties(cloud, tmp_path, client_key=key, password=None)
        edit_items(path, lambda items: items[0].update(passwordFromFilePathName="client_key_password_from_file_path"))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"client_key_password_from_file_path={key.password_file}\n")
    else:
        monkeypatch.setenv("DKMS_CLIENT_KEY_PASSWORD", key.password)
        path = properties(cloud, tmp_path, client_key=key, password=form)
    (instance,) = read_config(path).dkms_instances
    assert instance.key_id == key.key_id
    assert key.password not in repr(instance) and instance.private_key not in repr(instance)


# ---- failover --------------------------------------------------------------------------------------------------------


def test_failover_to_the_second_instance_and_the_dead_one_is_not_retried_on_every_fetch(
    cloud, tmp_path, use, dead_gateway, caplog
):
    second = cloud.dkms.add_instance()
    key_id, _ = cloud.create_secret("app-key")
    path = properties(cloud, tmp_path, names=["dkms", second])
    edit_items(path, lambda items: items[0].update(endpoint=dead_gateway.host))
    use(path)
    provider = get_secret_provider("app-key")
    assert provider.get_credentials().access_key_id == key_id
    for _ in range(5):
        provider.refresh()
    assert dead_gateway.accepted == 1  # one connection, then the cooldown
    assert cloud.count("GetSecretValue", service=second, code="OK") == 6
    assert second != "dkms" and cloud.host_of(second) in registry.default_kms_client().describe_source()
    assert sum(dead_gateway.host in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == 1


def test_instance_in_cooldown_is_tried_again_after_it(cloud, tmp_path):
    second = cloud.dkms.add_instance()
    cloud.create_secret("app-key")
    config = read_config(properties(cloud, tmp_path, names=["dkms", second]))
    now = [1000.0]
    client = DkmsClient(config.dkms_instances, wait=FAST, cooldown=60.0, clock=lambda: now[0])
    cloud.dkms.fault("dkms", status=503)
    for _ in range(4):
        assert client.get_secret_value("app-key")["SecretName"] == "app-key"
    assert cloud.count("GetSecretValue", service="dkms") == 1
    assert cloud.count("GetSecretValue", service=second, code="OK") == 4
    cloud.clear_faults()
    now[0] += 61  # the cooldown is over: the first instance, first in the list, is used again
    client.get_secret_value("app-key")
    assert cloud.count("GetSecretValue", service="dkms", code="OK") == 1
    assert cloud.host_of("dkms") in client.describe_source()


def test_every_instance_failing_is_retried_with_backoff_then_raised(cloud, tmp_path):
    second = cloud.dkms.add_instance()
    cloud.create_secret("app-key")
    config = read_config(properties(cloud, tmp_path, names=["dkms", second]))
    cloud.dkms.fault("dkms", status=503)
    cloud.dkms.fault(second, status=500)
    client = DkmsClient(config.dkms_instances, wait=FAST, attempts=3)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("app-key")
    assert info.value.retryable and info.value.status in (500, 503)
    assert cloud.count("GetSecretValue", service="dkms") == 3 and cloud.count("GetSecretValue", service=second) == 3
    cloud.dkms.fault("dkms", status=400, code="Rejected.Throttling", times=1)
    cloud.state.clear_faults(second)
    assert client.get_secret_value("app-key")["SecretName"] == "app-key"


def test_the_dkms_client_deadline_covers_retries_and_every_attempt(cloud, tmp_path):
    """DkmsClient.get_secret_value(deadline=...), as the start-up timeout uses it: a gateway that accepts and never
    answers costs the time left, not 4 attempts x the 6 s read timeout; the same client works once it answers."""
    cloud.create_secret("app-key")
    client = DkmsClient(read_config(properties(cloud, tmp_path)).dkms_instances, wait=FAST, attempts=10)
    cloud.dkms.fault("dkms", status=None, delay=3600.0)  # held for an hour: "never answers"
    start = time.monotonic()
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("app-key", deadline=time.monotonic() + 0.4)
    assert time.monotonic() - start < 6.0  # under one read timeout: the deadline, not the SDK's timeouts, ended it
    assert info.value.retryable
    cloud.clear_faults()
    assert client.get_secret_value("app-key", deadline=time.monotonic() + 5.0)["SecretName"] == "app-key"


def test_the_dkms_client_starts_no_attempt_after_the_deadline(cloud, tmp_path):
    """The start-up deadline ends the dedicated KMS client's retries too: an instance that accepts connections and
    never answers (the TLS handshake waits), 10 attempts allowed, gets one connection, the one that waited until
    the deadline (the bug: 9 more after it, each with 1 ms timeouts)."""
    [instance] = read_config(properties(cloud, tmp_path)).dkms_instances
    port = SilentPort()
    try:
        client = DkmsClient([dataclasses.replace(instance, endpoint=port.host)], wait=FAST, attempts=10)
        with pytest.raises(KmsRequestError) as info:
            client.get_secret_value("app-key", deadline=time.monotonic() + 0.3)
        assert info.value.retryable and info.value.code == "SDK.HttpError"
        assert port.connections() == 1
    finally:
        port.close()


def test_final_errors_do_not_fail_over(cloud, tmp_path):
    second = cloud.dkms.add_instance()
    cloud.create_secret("app-key")
    config = read_config(properties(cloud, tmp_path, names=["dkms", second]))
    client = DkmsClient(config.dkms_instances, wait=FAST)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("no-such-secret")
    assert info.value.code == "Forbidden.ResourceNotFound" and not info.value.retryable
    cloud.dkms.revoke_client_key(cloud.dkms.client_key.key_id)
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value("app-key")
    assert info.value.code == "Unauthorized" and cloud.dkms.client_key.key_file in str(info.value)
    assert cloud.count("GetSecretValue", service=second) == 0


def test_the_gateway_checks_the_signature_against_the_issued_public_key(cloud, tmp_path):
    cloud.create_secret("app-key")
    mine, other = cloud.dkms.issue_client_key(str(tmp_path)), cloud.dkms.issue_client_key(str(tmp_path / "b"))
    with open(other.key_file, encoding="utf-8") as handle:
        other_data = json.load(handle)["PrivateKeyData"]
    with open(mine.key_file, "w", encoding="utf-8") as handle:  # my key id, someone else's private key
        json.dump({"KeyId": mine.key_id, "PrivateKeyData": other_data}, handle)
    with open(mine.password_file, "w", encoding="utf-8") as handle:
        handle.write(other.password)
    config = read_config(properties(cloud, tmp_path, client_key=mine))
    with pytest.raises(KmsRequestError) as info:
        DkmsClient(config.dkms_instances, wait=FAST).get_secret_value("app-key")
    assert info.value.code == "SignatureNotMatch" and info.value.status == 401 and not info.value.retryable
    assert cloud.count("GetSecretValue", access_key_id=mine.key_id, code="SignatureNotMatch") == 1


def test_the_client_key_is_parsed_once_not_for_every_request(cloud, tmp_path, monkeypatch):
    """The official SDK parsed the key's PEM for every request (about 40 ms of CPU each); ours loads it once."""
    from cryptography.hazmat.primitives import serialization

    cloud.create_secret("app-key")
    client = DkmsClient(read_config(properties(cloud, tmp_path)).dkms_instances, wait=FAST)
    parsed = []
    for name in ("load_der_private_key", "load_pem_private_key"):
        original = getattr(serialization, name)
        monkeypatch.setattr(serialization, name, lambda *a, _o=original, _n=name, **k: parsed.append(_n) or _o(*a, **k))
    for _ in range(5):
        assert client.get_secret_value("app-key")["SecretName"] == "app-key"
    assert parsed == [] and cloud.count("GetSecretValue", service="dkms", code="OK") == 5


# ---- TLS, logging, fork --------------------------------------------------------------------------------------------


def test_ignore_ssl_certs_logs_exactly_one_warning(cloud, tmp_path, use, caplog):
    caplog.set_level(logging.DEBUG)
    foreign = cloud.dkms.add_instance("dkms-foreign", ca=TestCA())  # would fail verification
    key_id, _ = cloud.create_secret("app-key")
    use(properties(cloud, tmp_path, names=[foreign], ignore_ssl=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        provider = get_secret_provider("app-key")
        for _ in range(3):
            provider.refresh()
    assert provider.get_credentials().access_key_id == key_id
    ours = [r for r in caplog.records if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING]
    assert len(ours) == 1 and "ignoreSslCerts=true" in ours[0].getMessage(), [r.getMessage() for r in ours]
    assert not [w for w in caught if "Unverified HTTPS" in str(w.message)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_new_http_sessions(cloud, tmp_path, use):
    cloud.create_secret("app-key")
    use(properties(cloud, tmp_path))
    client = registry.default_kms_client()
    client.get_secret_value("app-key")  # the parent now holds a pooled keep-alive connection
    parent_sessions = [gateway._session for gateway in client._gateways]
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        code = 1
        try:
            new = all(g._session is not s for g, s in zip(client._gateways, parent_sessions))
            code = 0 if new and client.get_secret_value("app-key")["SecretName"] == "app-key" else 2
        finally:
            os._exit(code)
    for _ in range(3):
        client.get_secret_value("app-key")  # meanwhile the parent uses its own pooled connection
    deadline = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child did not finish in time")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0


def test_secrets_never_in_logs_or_reprs(cloud, tmp_path, use, debug_logs):
    _, secret = cloud.create_secret("app-key")
    use(properties(cloud, tmp_path))
    config = registry.default_config()
    client = registry.default_kms_client()
    get_secret_provider("app-key").refresh()
    instance = config.dkms_instances[0]
    with open(instance.client_key_file, encoding="utf-8") as handle:
        pkcs12_data = json.load(handle)["PrivateKeyData"]
    shown = debug_logs.text + repr(config) + repr(client) + repr(instance)
    for value in (secret, cloud.dkms.client_key.password, instance.private_key, pkcs12_data):
        assert value not in shown


def test_the_dkms_modules_are_imported_only_when_configured(cloud, tmp_path):
    kms_file = cloud.write_properties(str(tmp_path / "kms.properties"))
    probe = (
        "import sys; import credentials, proxy; from credentials.config import read_config; "
        f"read_config({kms_file!r}); "
        "loaded = [m for m in ('google.protobuf', 'OpenSSL', 'credentials.kms.dedicated.client', "
        "'credentials.config.dedicated', 'credentials.kms.dedicated.gateway', 'credentials.kms.dedicated.protobuf') "
        "if m in sys.modules]; "
        "assert not loaded, loaded; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_application_modules_named_like_the_old_sdk_do_not_matter(cloud, tmp_path):
    """alibabacloud-dkms-gcs installed top-level modules named sdk, openapi and openapi_util, so an application's
    own `sdk` broke dedicated KMS; our client imports none of them."""
    cloud.create_secret("app-key")
    path = properties(cloud, tmp_path)
    for name in ("sdk", "openapi", "openapi_util"):
        shadow = tmp_path / "app" / name
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text("raise ImportError('the application's own module')\n")
    probe = (
        "from credentials.config import read_config; from credentials.kms.dedicated.client import DkmsClient\n"
        f"print(DkmsClient(read_config({path!r}).dkms_instances).get_secret_value('app-key')['SecretName'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "app"), ROOT])),
    )
    assert result.returncode == 0 and result.stdout.strip() == "app-key", result.stdout + result.stderr


# ---- the protobuf codecs (ours and the emulator's) against Google's protobuf runtime --------------------------------


def _reference_messages():
    """The SDK's api.proto messages (alibabacloud-dkms-gcs 1.0.2, openapi_util/protobuf/api_pb2.py), built with the
    protobuf runtime from their field numbers and types."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    string, boolean, int32, one, many = (
        field.TYPE_STRING,
        field.TYPE_BOOL,
        field.TYPE_INT32,
        field.LABEL_OPTIONAL,
        field.LABEL_REPEATED,
    )
    messages = {
        "GetSecretValueRequest": [
            ("SecretName", string, one),
            ("VersionStage", string, one),
            ("VersionId", string, one),
            ("FetchExtendedConfig", boolean, one),
        ],
        "GetSecretValueResponse": [
            (name, string, many if name == "VersionStages" else one)
            for name in (
                "SecretName",
                "SecretType",
                "SecretData",
                "SecretDataType",
                "VersionStages",
                "VersionId",
                "CreateTime",
                "RequestId",
                "LastRotationDate",
                "NextRotationDate",
                "ExtendedConfig",
                "AutomaticRotation",
                "RotationInterval",
            )
        ],
        "Error": [
            ("StatusCode", int32, one),
            ("ErrorCode", string, one),
            ("ErrorMessage", string, one),
            ("RequestId", string, one),
        ],
    }
    proto = descriptor_pb2.FileDescriptorProto(name="dkms_api_reference.proto", package="dkmsref", syntax="proto3")
    for name, fields in messages.items():
        message = proto.message_type.add(name=name)
        for number, (field_name, kind, label) in enumerate(fields, start=1):
            message.field.add(name=field_name, number=number, type=kind, label=label)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"dkmsref.{name}")) for name in messages}


def test_our_request_body_is_what_protobuf_serializes():
    from credentials.kms.dedicated.protobuf import encode_get_secret_value_request

    request = _reference_messages()["GetSecretValueRequest"]
    for name, stage, version, extended in [
        ("app-key", None, None, True),
        ("app-key", "ACSCurrent", None, False),
        ("s" * 300, "ACSPrevious", "v-ü-1", True),
        ("n", None, None, False),
    ]:
        expected = request(
            SecretName=name, VersionStage=stage or "", VersionId=version or "", FetchExtendedConfig=extended
        ).SerializeToString()
        assert encode_get_secret_value_request(name, stage, version, extended) == expected
    parsed = request()
    parsed.ParseFromString(encode_get_secret_value_request("app-key", fetch_extended_config=True))
    assert (parsed.SecretName, parsed.FetchExtendedConfig) == ("app-key", True)


def test_we_read_what_protobuf_and_the_emulator_write():
    from credentials.kms.dedicated.protobuf import decode_error, decode_get_secret_value_response

    messages = _reference_messages()
    answer = messages["GetSecretValueResponse"](
        SecretName="app-key",
        SecretData='{"AccessKeyId":"x"}',
        VersionStages=["ACSCurrent", "ACSPrevious"],
        VersionId="v1",
        RotationInterval="604800s",
        ExtendedConfig='{"ü":1}',
    )
    decoded = decode_get_secret_value_response(answer.SerializeToString())
    assert (
        decoded["SecretName"],
        decoded["SecretData"],
        decoded["VersionStages"],
        decoded["RotationInterval"],
        decoded["ExtendedConfig"],
        decoded["NextRotationDate"],
    ) == ("app-key", '{"AccessKeyId":"x"}', ["ACSCurrent", "ACSPrevious"], "604800s", '{"ü":1}', "")
    emulated = encode_message([(1, "app-key"), (3, "data"), (5, "ACSCurrent"), (5, "ACSPrevious"), (13, "604800s")])
    assert decode_get_secret_value_response(emulated)["VersionStages"] == ["ACSCurrent", "ACSPrevious"]
    reference = messages["GetSecretValueResponse"]()
    reference.ParseFromString(emulated)
    assert list(reference.VersionStages) == ["ACSCurrent", "ACSPrevious"] and reference.RotationInterval == "604800s"
    for status in (404, 401, 503, -1):
        error = messages["Error"](
            StatusCode=status, ErrorCode="Unauthorized", ErrorMessage="no such key", RequestId="RID"
        )
        assert decode_error(error.SerializeToString()) == {
            "StatusCode": status,
            "ErrorCode": "Unauthorized",
            "ErrorMessage": "no such key",
            "RequestId": "RID",
        }
    emulated_error = encode_message([(1, 404), (2, "Unauthorized"), (3, "no such key"), (4, "RID")])
    assert decode_error(emulated_error)["ErrorCode"] == "Unauthorized"
    assert decode_message(
        messages["GetSecretValueRequest"](SecretName="a", FetchExtendedConfig=True).SerializeToString()
    ) == {1: [b"a"], 4: [1]}


@pytest.mark.parametrize(
    "data", [b"\x0a\x05ab", b"\x0a", b"\x80", b"\x1a\x02\xff\xfe", b"\x08\x01", b"\x07", b"\x00\x00"]
)
def test_malformed_answers_are_value_errors(data):
    from credentials.kms.dedicated.protobuf import decode_get_secret_value_response

    with pytest.raises(ValueError):
        decode_get_secret_value_response(data)
