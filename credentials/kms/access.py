"""How this process authenticates to KMS: one builder per ``credentials_type``.

Each builder reads its own keys from the validated config and returns a
CredentialsProvider (whose key signs with HMAC), or for ``client_key`` the
ClientKey opened with the config (signs with RSA); a missing key is a
ConfigError naming it.
"""

import os
from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple, Union

from ..config import KmsConfig
from ..errors import ConfigError
from ..provider import CredentialsProvider
from ..static_provider import StaticCredentialsProvider

if TYPE_CHECKING:
    from ..config import ClientKey


def _access_key(config: KmsConfig) -> CredentialsProvider:
    return StaticCredentialsProvider(
        config.require("credentials_access_key_id"),
        config.require("credentials_access_secret"),
        name="KMS access (ak)",
    )


def _sts(config: KmsConfig) -> CredentialsProvider:
    """Upstream's ``sts`` assumes a role with an AccessKey; with ``credentials_security_token`` instead of a
    role ARN it is a fixed STS token."""
    if config.optional("credentials_role_arn"):
        return _ram_role(config)
    token = config.optional("credentials_security_token")
    if not token:
        raise ConfigError(
            "credentials_type=sts needs credentials_role_arn (to assume a role) or "
            "credentials_security_token (a fixed STS token)",
            file=config.file,
            key="credentials_role_arn",
        )
    return StaticCredentialsProvider(
        config.require("credentials_access_key_id"),
        config.require("credentials_access_secret"),
        token,
        name="KMS access (sts)",
    )


def _client_key(config: KmsConfig) -> "ClientKey":
    """The application client key, opened when the properties file was read (once per process)."""
    if config.client_key is not None:
        return config.client_key
    from ..config import load_client_key  # a KmsConfig built by hand: open it now

    return load_client_key(config.properties, config.file)


def _not_yet(config: KmsConfig) -> CredentialsProvider:
    raise ConfigError(
        f"credentials_type={config.credentials_type} is not supported in this version yet; "
        f"use one of {', '.join(sorted(BUILDERS))}",
        file=config.file,
        key="credentials_type",
    )


# --- the Credentials tool's types (credentials/tool/provider.py, imported only when one is configured) ----------

# Config field of the Credentials tool -> the properties key that sets it, so errors name the key to fix.
TOOL_KEYS = {
    "access_key_id": "credentials_access_key_id",
    "access_key_secret": "credentials_access_secret",
    "security_token": "credentials_security_token",
    "role_arn": "credentials_role_arn",
    "role_session_name": "credentials_role_session_name",
    "policy": "credentials_policy",
    "role_name": "credentials_role_name",
    "disable_imds_v1": "credentials_disable_imds_v1",
    "oidc_provider_arn": "credentials_oidc_provider_arn",
    "oidc_token_file_path": "credentials_oidc_token_file_path",
    "credentials_uri": "credentials_uri",
    "sts_endpoint": "credentials_sts_endpoint",
}


def _tool_provider(config: KmsConfig, spec: Optional[Dict[str, object]]) -> CredentialsProvider:
    from ..tool import CredentialsToolProvider

    try:
        return CredentialsToolProvider(spec, name=f"KMS access ({config.credentials_type})")
    except ConfigError as exc:
        if exc.file:
            raise
        key = TOOL_KEYS.get(exc.key or "", exc.key)
        message = str(exc).split(": ", 1)[1] if exc.key else str(exc)
        raise ConfigError(message, file=config.file, key=key) from None


# The Credentials tool's own HTTP timeouts (ms) for each type: STS 5 s connect / 10 s read, ECS metadata 1 s / 1 s.
_TOOL_TIMEOUTS_MS = {"ecs_ram_role": (1000, 1000)}
_DEFAULT_TOOL_TIMEOUTS_MS = (5000, 10000)


def _tool_timeouts(config: KmsConfig, tool_type: str) -> Dict[str, object]:
    """The tool's connect and read timeouts for the KMS caller's key, each at most a third of the start-up timeout.

    The first GetSecretValue is signed with that key, so its STS (or metadata) call happens inside the start-up
    deadline; the tool does not know that deadline, so without this an STS endpoint that never answers would hold
    a constructor for the tool's 5 s + 10 s whatever startup_timeout_seconds says.
    """
    third = max(1, int(config.startup_timeout * 1000 / 3))
    connect, read = _TOOL_TIMEOUTS_MS.get(tool_type, _DEFAULT_TOOL_TIMEOUTS_MS)
    return {"connect_timeout": min(connect, third), "timeout": min(read, third)}


def _tool_spec(
    config: KmsConfig, tool_type: str, required: Tuple[str, ...], optional: Tuple[str, ...] = ()
) -> Dict[str, object]:
    spec: Dict[str, object] = {"type": tool_type, **_tool_timeouts(config, tool_type)}
    for field_name in required:
        spec[field_name] = config.require(TOOL_KEYS[field_name])
    for field_name in optional:
        spec[field_name] = config.optional(TOOL_KEYS[field_name])
    return spec


def _ram_role(config: KmsConfig) -> CredentialsProvider:
    """Assume credentials_role_arn with the AccessKey (and its STS token, if any); the tool calls STS."""
    return _tool_provider(
        config,
        _tool_spec(
            config,
            "ram_role_arn",
            ("access_key_id", "access_key_secret", "role_arn", "role_session_name"),
            ("security_token", "policy", "sts_endpoint"),
        ),
    )


def _ecs_ram_role(config: KmsConfig) -> CredentialsProvider:
    """The instance's RAM role from ECS metadata (IMDSv2, v1 fallback unless credentials_disable_imds_v1=true).
    $ALIBABA_CLOUD_IMDS_ENDPOINT points at another metadata host."""
    return _tool_provider(config, _tool_spec(config, "ecs_ram_role", ("role_name",), ("disable_imds_v1",)))


def _oidc_role_arn(config: KmsConfig) -> CredentialsProvider:
    """RRSA: the OIDC token in credentials_oidc_token_file_path, exchanged with STS AssumeRoleWithOIDC."""
    spec = _tool_spec(
        config,
        "oidc_role_arn",
        ("role_arn", "oidc_provider_arn", "oidc_token_file_path"),
        ("role_session_name", "policy", "sts_endpoint"),
    )
    if not os.path.isfile(str(spec["oidc_token_file_path"])):
        raise ConfigError(
            "the OIDC token file does not exist (RRSA mounts it into the pod); check the path",
            file=config.file,
            key="credentials_oidc_token_file_path",
        )
    return _tool_provider(config, spec)


def _credentials_uri(config: KmsConfig) -> CredentialsProvider:
    return _tool_provider(config, _tool_spec(config, "credentials_uri", ("credentials_uri",)))


# Keys that pick a particular source: with credentials_type=default they contradict the chain.
_SOURCE_KEYS = (
    "credentials_access_key_id",
    "credentials_access_secret",
    "credentials_security_token",
    "credentials_role_arn",
    "credentials_role_name",
    "credentials_oidc_provider_arn",
    "credentials_oidc_token_file_path",
    "credentials_uri",
)


def _default(config: KmsConfig) -> CredentialsProvider:
    """The Credentials tool's default chain, from the environment of this process."""
    for key in _SOURCE_KEYS:
        if config.optional(key):
            raise ConfigError(
                "credentials_type=default takes its credentials from the environment (the "
                "Credentials tool's default chain); remove this key, or set the credentials_type "
                "it belongs to",
                file=config.file,
                key=key,
            )
    return _tool_provider(config, None)


BUILDERS: Dict[str, Callable[[KmsConfig], Union[CredentialsProvider, "ClientKey"]]] = {
    "ak": _access_key,
    "client_key": _client_key,
    "sts": _sts,
    "ram_role": _ram_role,
    "ecs_ram_role": _ecs_ram_role,
    "oidc_role_arn": _oidc_role_arn,
    "credentials_uri": _credentials_uri,
    "default": _default,
}


def kms_access_provider(config: KmsConfig) -> Union[CredentialsProvider, "ClientKey"]:
    """What signs this process's KMS requests: a provider's key, or the client key."""
    return BUILDERS.get(config.credentials_type, _not_yet)(config)
