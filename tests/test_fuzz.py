"""Whatever the properties file or SecretData holds, only ConfigError / CredentialsError ever escape."""

import json
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credentials import ConfigError, CredentialsError
from credentials.config.loader import parse_config, read_config
from credentials.config.properties import parse_properties
from credentials.kms.access import kms_access_provider
from credentials.secret import next_refresh_at, parse_secret_value

KEYS = [
    "credentials_type",
    "credentials_access_key_id",
    "credentials_access_secret",
    "credentials_security_token",
    "credentials_role_arn",
    "cache_client_region_id",
    "cache_client_dkms_config_info",
    "secret_names",
]
TYPES = ["ak", "sts", "ram_role", "ecs_ram_role", "client_key", "oidc_role_arn", "credentials_uri", "default"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
property_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(TYPES),
    json_values.map(json.dumps),
    st.just('[{"regionId":"cn-hangzhou","endpoint":"http://127.0.0.1:1"}]'),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=60), max_size=20))
def test_properties_parser_never_crashes(lines):
    result = parse_properties(lines)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), property_values, max_size=len(KEYS)))
def test_config_only_raises_config_error(properties):
    try:
        config = parse_config(properties, "/fuzz.properties")
        kms_access_provider(config)
    except ConfigError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_file_bytes_only_raise_config_error(data):
    with tempfile.NamedTemporaryFile("wb", suffix=".properties", delete=False) as handle:
        handle.write(data)
    try:
        read_config(handle.name)
    except ConfigError:
        pass
    finally:
        os.unlink(handle.name)


secret_data = st.one_of(
    st.text(max_size=80),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {}, optional={"AccessKeyId": json_values, "AccessKeySecret": json_values, "GenerateTimestamp": json_values}
    ).map(json.dumps),
)


@settings(max_examples=400, deadline=None)
@given(
    secret_data,
    st.dictionaries(st.sampled_from(["RotationInterval", "NextRotationDate", "VersionId"]), json_values, max_size=3),
)
def test_secret_data_only_raises_credentials_error(raw, extra):
    document = dict(extra, SecretData=raw)
    try:
        value = parse_secret_value(document, "fuzzed")
    except CredentialsError as exc:
        assert "fuzzed" in str(exc)
        return
    assert value.credentials.access_key_id and value.credentials.access_key_secret
    assert next_refresh_at(value, 1_700_000_000.0) > 1_700_000_000.0
