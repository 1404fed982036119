"""How this process authenticates to KMS: one builder per ``credentials_type``.

Each builder reads its own keys from the validated config and returns a
CredentialsProvider; a missing key is a ConfigError naming it.
"""
from typing import Callable, Dict

from .config import KmsConfig
from .errors import ConfigError
from .provider import CredentialsProvider, StaticCredentialsProvider


def _access_key(config: KmsConfig) -> CredentialsProvider:
    return StaticCredentialsProvider(config.require("credentials_access_key_id"),
                                     config.require("credentials_access_secret"))


def _sts(config: KmsConfig) -> CredentialsProvider:
    """Upstream's ``sts`` assumes a role with an AccessKey; with ``credentials_security_token`` instead of a
    role ARN it is a fixed STS token."""
    if config.optional("credentials_role_arn"):
        return _ram_role(config)
    token = config.optional("credentials_security_token")
    if not token:
        raise ConfigError("credentials_type=sts needs credentials_role_arn (to assume a role) or "
                          "credentials_security_token (a fixed STS token)", file=config.file,
                          key="credentials_role_arn")
    return StaticCredentialsProvider(config.require("credentials_access_key_id"),
                                     config.require("credentials_access_secret"), token)


def _not_yet(config: KmsConfig) -> CredentialsProvider:
    raise ConfigError(f"credentials_type={config.credentials_type} is not supported in this version yet; "
                      "use ak or sts", file=config.file, key="credentials_type")


_ram_role = _not_yet

BUILDERS: Dict[str, Callable[[KmsConfig], CredentialsProvider]] = {
    "ak": _access_key,
    "sts": _sts,
}


def kms_access_provider(config: KmsConfig) -> CredentialsProvider:
    """The provider whose key signs this process's KMS requests."""
    return BUILDERS.get(config.credentials_type, _not_yet)(config)
