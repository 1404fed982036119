"""The Config a CredentialsToolProvider is given: its field names and types, validated before any network call.

Every mistake is a ConfigError naming the field to fix.
"""

from typing import Any, Dict, Mapping, Optional

from ..errors import ConfigError

#: The Credentials tool's types this provider accepts (``ram_role`` is an alias of ``ram_role_arn``).
TOOL_TYPES = ("access_key", "sts", "ram_role_arn", "ecs_ram_role", "oidc_role_arn", "credentials_uri")
_ALIASES = {"ram_role": "ram_role_arn", "ak": "access_key"}

#: The Config fields this provider reads (those of ``alibabacloud_credentials.models.Config``).
CONFIG_FIELDS = (
    "type",
    "access_key_id",
    "access_key_secret",
    "security_token",
    "role_arn",
    "role_session_name",
    "role_session_expiration",
    "duration_seconds",
    "policy",
    "external_id",
    "sts_endpoint",
    "role_name",
    "disable_imds_v1",
    "oidc_provider_arn",
    "oidc_token_file_path",
    "credentials_uri",
    "host",
    "timeout",
    "connect_timeout",
    "proxy",
)

ENV_STS_ENDPOINT = "ALIBABA_CLOUD_STS_ENDPOINT"
ENV_IMDS_ENDPOINT = "ALIBABA_CLOUD_IMDS_ENDPOINT"


def _spec_of(config: Any) -> Dict[str, Any]:
    if isinstance(config, Mapping):
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise ConfigError(f"unknown Config field; expected some of {', '.join(CONFIG_FIELDS)}", key=unknown[0])
        spec = {name: config.get(name) for name in CONFIG_FIELDS}
    elif hasattr(config, "type"):
        spec = {name: getattr(config, name, None) for name in CONFIG_FIELDS}
    else:
        raise ConfigError(
            "expected an alibabacloud_credentials.models.Config, a dict of its fields, or None "
            f"(the default chain), not {type(config).__name__}",
            key="config",
        )
    for name, value in spec.items():
        if isinstance(value, str):
            spec[name] = value.strip() or None
    ctype = spec["type"]
    if not ctype:
        raise ConfigError(f"missing; expected one of {', '.join(TOOL_TYPES)}", key="type")
    ctype = _ALIASES.get(ctype, ctype)
    if ctype not in TOOL_TYPES:
        raise ConfigError(f"unsupported type {ctype!r}; expected one of {', '.join(TOOL_TYPES)}", key="type")
    spec["type"] = ctype
    return spec


def _need(spec: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if not spec.get(name):
            raise ConfigError(f"type={spec['type']} needs this field; it is missing or empty", key=name)


def _duration(spec: Mapping[str, Any]) -> Optional[int]:
    raw = spec.get("role_session_expiration") or spec.get("duration_seconds")
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 900:
        raise ConfigError(
            "must be a whole number of seconds, at least 900 (the STS minimum)", key="role_session_expiration"
        )
    return value


def _check_policy(spec: Mapping[str, Any]) -> None:
    policy = spec.get("policy")
    if policy:
        from ..json_limits import loads  # depth-bounded: a nesting bomb is a ValueError, not a RecursionError

        try:
            loads(policy)
        except ValueError:
            raise ConfigError("not a JSON policy document", key="policy") from None


def _flag(value: Any, key: str) -> Optional[bool]:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"expected true or false, not {value!r}", key=key)


def host_of(endpoint: Optional[str]) -> Optional[str]:
    """``http://127.0.0.1:8080/`` -> ``127.0.0.1:8080`` (the tool takes a host[:port])."""
    if not endpoint:
        return None
    text = endpoint.strip()
    for scheme in ("http://", "https://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    return text.rstrip("/") or None
