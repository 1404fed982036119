"""Hostile JSON from KMS (issue 19 j): a nesting bomb, NaN, a key twice, a top level that is not an object, numbers
and strings of any length, in the GetSecretValue answer, in the SecretData inside it, from a dedicated KMS gateway
and from a credentials URI. Each is a CredentialsError with a code (MalformedResponse for the answer,
MalformedSecretData for SecretData) naming what is wrong without showing it; never RecursionError, never "failed
unexpectedly"; the last good key stays in use.

The answers are set byte for byte in the emulator (cloud.set_kms_answer), behind the same signature check and
authorisation as a real answer; the first test proves with the plain SDK that the bytes arrive as set.
"""

import json

import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from credentials import CredentialsError
from credentials.config import read_config
from credentials.json_limits import JsonRejected, loads_bounded
from credentials.kms.dedicated.client import DkmsClient
from credentials.kms.errors import exception_chain
from credentials.managed import ManagedSecretProvider
from credentials.tool.provider import CredentialsToolProvider
from tests.test_dkms import FAST, properties

SECRET = "app-key"
BOMB = "[" * 100_000
OBJECT_BOMB = '{"a":' * 100_000
SMALL_BOMB = "[" * 60_000  # fits in SecretData's 64 KiB; json.loads needs far fewer levels to raise RecursionError

# A GetSecretValue answer (the whole HTTP body) and what the error says about it.
HOSTILE_ANSWERS = {
    "array-bomb": (BOMB, "it is nested deeper than 32 levels"),
    "object-bomb": (OBJECT_BOMB, "it is nested deeper than 32 levels"),
    "nan": ('{"SecretName": "app-key", "SecretData": NaN}', "it has NaN, which is not a JSON number"),
    "infinity": ('{"SecretName": "app-key", "Size": 1e999}', "it has a number too large for a float"),
    "duplicate-key": (
        '{"SecretName": "app-key", "SecretData": "{}", "SecretData": "{}"}',
        "it has the same key twice in one object",
    ),
    "top-level-array": ("[]", "it is not a JSON object"),
    "top-level-string": ('"SecretData"', "it is not a JSON object"),
    "huge-number": ('{"SecretName": "app-key", "Size": %s}' % ("9" * 5000), "it has a number of 5000 digits"),
    "huge-string": (
        '{"SecretName": "app-key", "SecretData": "%s"}' % ("x" * 2_000_000),
        "it is 2000043 characters long (at most 1048576 are read)",
    ),
    "not-utf-8": (b'{"SecretData": "\xff"}', "it is not UTF-8"),
}


def _body(raw):
    return raw if isinstance(raw, bytes) else raw.encode("utf-8")


def _assert_typed(error, code, reason):
    """A CredentialsError with the code and the reason; nothing on its chain is a RecursionError."""
    assert isinstance(error, CredentialsError) and error.code == code, (type(error), error)
    assert reason in str(error) and "unexpectedly" not in str(error)
    assert not [e for e in exception_chain(error) if isinstance(e, RecursionError)]


def test_the_emulator_answers_get_secret_value_with_the_bytes_set(cloud):
    """Proven with the plain SDK: the body set with set_kms_answer() is what a signed GetSecretValue receives."""
    cloud.create_secret(SECRET)
    cloud.set_kms_answer(SECRET, b"[[[ not json")
    client = AcsClient(*cloud.kms_access_key, region_id=cloud.region_id)
    request = CommonRequest(domain=cloud.kms_host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("http")
    request.set_method("POST")
    request.add_query_param("SecretName", SECRET)
    assert client.do_action_with_exception(request) == b"[[[ not json"
    cloud.set_kms_answer(SECRET, None)
    assert json.loads(client.do_action_with_exception(request))["SecretName"] == SECRET


@pytest.mark.parametrize("raw, reason", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
def test_a_hostile_kms_answer_is_a_malformed_response_and_the_last_good_key_stays(cloud, kms_client, raw, reason):
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    good = provider.get_credentials()
    cloud.set_kms_answer(SECRET, _body(raw))
    assert provider.refresh(stale=good) is good  # the failure is recorded; the key the caller holds is kept
    _assert_typed(provider.last_error(), "MalformedResponse", reason)


def test_a_nesting_bomb_before_the_first_key_reaches_the_caller_as_a_malformed_response(cloud, kms_client):
    cloud.create_secret(SECRET)
    cloud.set_kms_answer(SECRET, BOMB.encode())
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    with pytest.raises(CredentialsError) as info:
        provider.get_credentials()
    _assert_typed(info.value, "MalformedResponse", "it is nested deeper than 32 levels")


# SecretData inside a well-formed answer, and what the error says about it.
HOSTILE_SECRET_DATA = {
    "array-bomb": (SMALL_BOMB, "SecretData is nested deeper than 32 levels"),
    "object-bomb": ('{"a":' * 10_000, "SecretData is nested deeper than 32 levels"),
    "nan": ('{"AccessKeyId": NaN, "AccessKeySecret": "x"}', "SecretData has NaN, which is not a JSON number"),
    "duplicate-key": (
        '{"AccessKeyId": "LTAI5tFirst", "AccessKeyId": "LTAI5tSecond", "AccessKeySecret": "x"}',
        "SecretData has the same key twice in one object",
    ),
    "top-level-array": ('["LTAI5tOnlyTheId", "x"]', "SecretData is not a JSON object"),
    "huge-number": ('{"AccessKeyId": %s, "AccessKeySecret": "x"}' % ("1" * 5000), "SecretData has a number of 5000"),
    "huge-id": (
        json.dumps({"AccessKeyId": "LTAI" + "x" * 1000, "AccessKeySecret": "x"}),
        "SecretData field AccessKeyId is 1004 characters long (an AccessKey has fewer than 256)",
    ),
    "huge-secret-data": (
        '{"AccessKeyId": "%s"}' % ("x" * 100_000),
        "SecretData is 100019 characters long (at most 65536 are read)",
    ),
}


@pytest.mark.parametrize("raw, reason", HOSTILE_SECRET_DATA.values(), ids=HOSTILE_SECRET_DATA.keys())
def test_hostile_secret_data_is_malformed_secret_data(cloud, kms_client, raw, reason):
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    good = provider.get_credentials()
    cloud.set_secret_data(SECRET, raw)
    assert provider.refresh(stale=good) is good
    _assert_typed(provider.last_error(), "MalformedSecretData", reason)
    assert "LTAI5tFirst" not in str(provider.last_error()) and "xxxxxxxx" not in str(provider.last_error())


def test_a_nesting_bomb_in_secret_data_from_a_dedicated_kms_instance_is_malformed_secret_data(cloud, tmp_path):
    cloud.create_secret(SECRET)
    cloud.set_secret_data(SECRET, SMALL_BOMB)
    instances = read_config(properties(cloud, tmp_path)).dkms_instances
    provider = ManagedSecretProvider(SECRET, DkmsClient(instances, wait=FAST), background=False)
    with pytest.raises(CredentialsError) as info:
        provider.get_credentials()
    _assert_typed(info.value, "MalformedSecretData", "SecretData is nested deeper than 32 levels")


@pytest.mark.parametrize("raw", [BOMB, OBJECT_BOMB], ids=["array-bomb", "object-bomb"])
def test_a_nesting_bomb_from_a_credentials_uri_is_a_malformed_response(cloud, raw):
    """The Credentials tool parses the URI's answer itself; its RecursionError becomes our error with a code."""
    cloud.credentials_uri.respond_with(200, raw)
    provider = CredentialsToolProvider({"type": "credentials_uri", "credentials_uri": cloud.credentials_uri.url})
    with pytest.raises(CredentialsError) as info:
        provider.get_credentials()
    assert info.value.code == "MalformedResponse", info.value
    assert "unexpectedly" not in str(info.value)


def test_the_bounded_reader_takes_what_kms_sends_and_refuses_the_rest():
    answer = {
        "RequestId": "r",
        "SecretData": json.dumps({"AccessKeyId": "LTAI5tId", "AccessKeySecret": "s"}),
        "VersionStages": {"VersionStage": ["ACSCurrent"]},
        "RotationInterval": "604800s",
        "Number": -1.5e3,
        "Flag": True,
        "Nothing": None,
    }
    assert loads_bounded(json.dumps(answer).encode()) == answer
    assert loads_bounded("[" * 32 + "]" * 32) is not None  # 32 levels: the bound itself is allowed
    assert loads_bounded('"' + "[" * 1000 + '"') == "[" * 1000  # brackets inside a string do not nest
    for raw in ("[" * 33 + "]" * 33, "", "{", "[1,]", "Infinity", '{"a": -Infinity}'):
        with pytest.raises(JsonRejected):
            loads_bounded(raw)
