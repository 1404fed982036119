"""Every reach into the Credentials tool's (alibabacloud-credentials) private parts, one small named function each.

The tool (1.0.x) has no public way to point its ECS metadata provider at another host, to read a credentials.ini
the way it does, to build the provider a profile names without also caching it, or to point a profile's STS
provider at another endpoint. What we need of those lives here, so an upgrade that moves one of them fails
tests/test_compat.py with a message naming this module. The tool is imported on first use only.
"""

from typing import Any, Dict, Optional

#: EcsRamRoleCredentialsProvider keeps its metadata host (hard-coded 100.100.100.200) in a name-mangled attribute.
METADATA_HOST_ATTRIBUTE = "_EcsRamRoleCredentialsProvider__metadata_service_host"


def set_metadata_host(provider: Any, host: str) -> bool:
    """Point an EcsRamRoleCredentialsProvider at another metadata host (``host[:port]``); False when this version
    of the tool keeps the host elsewhere. Reaches the name-mangled ``__metadata_service_host``."""
    if not hasattr(provider, METADATA_HOST_ATTRIBUTE):
        return False
    setattr(provider, METADATA_HOST_ATTRIBUTE, host)
    return True


def load_ini(path: str) -> Dict[str, Dict[str, str]]:
    """credentials.ini as the tool reads it (its comment and whitespace rules): section -> key -> value.
    Reaches ``alibabacloud_credentials.provider.profile._load_ini``."""
    from alibabacloud_credentials.provider.profile import _load_ini

    return _load_ini(path)


def ini_profile_provider(path: str, profile: str, section: Dict[str, str]) -> Any:
    """A new tool provider for one credentials.ini section, without the caching wrapper around it. Reaches
    ``ProfileCredentialsProvider._get_credentials_provider``."""
    from alibabacloud_credentials.provider import ProfileCredentialsProvider

    return ProfileCredentialsProvider(profile_file=path, profile_name=profile)._get_credentials_provider(section)


def cli_profile_provider(path: str, name: str, config: Dict[str, Any]) -> Any:
    """A new tool provider for one profile of the aliyun CLI's config.json, without the caching wrapper around it.
    Reaches ``CLIProfileCredentialsProvider._get_credentials_provider``."""
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider

    return CLIProfileCredentialsProvider(profile_name=name, profile_file=path)._get_credentials_provider(config, name)


def with_sts_endpoint(provider: Any, endpoint: Optional[str]) -> Any:
    """Profiles name only an STS region; $ALIBABA_CLOUD_STS_ENDPOINT (as the aliyun CLI honours it) wins.

    Reaches ``_sts_endpoint`` of the tool's STS providers (RamRoleArn, OIDCRoleArn) and ``_credentials_provider``,
    the provider a RamRoleArn provider signs its AssumeRole with (a chain of them, for chained profiles)."""
    node = provider
    while endpoint and node is not None:
        if hasattr(node, "_sts_endpoint"):
            node._sts_endpoint = endpoint
        node = getattr(node, "_credentials_provider", None)
    return provider
