"""Where a CredentialsToolProvider gets its key: the one source a Config names, or the tool's default chain.

Each source builds a *new* tool provider per fetch (the tool has no public force-refresh). The ECS metadata
provider is built without its background scheduler thread and can be pointed at another metadata host; profiles
can be pointed at another STS endpoint.
"""

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional

from ..errors import ConfigError
from ..masking import hide, url_secrets
from ._compat import cli_profile_provider, ini_profile_provider, load_ini, set_metadata_host, with_sts_endpoint
from .config import ENV_IMDS_ENDPOINT, ENV_STS_ENDPOINT, _check_policy, _duration, _flag, _need, host_of


@dataclass(frozen=True)
class _Source:
    label: str  # says where, never a secret
    build: Callable[[], Any]  # a new tool ICredentialsProvider
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # secret text, whatever its names -> shown


def _http_options(spec: Mapping[str, Any]) -> Any:
    from alibabacloud_credentials.http import HttpOptions

    return HttpOptions(
        proxy=spec.get("proxy"), connect_timeout=spec.get("connect_timeout"), read_timeout=spec.get("timeout")
    )


def explicit_source(spec: Mapping[str, Any], env: Mapping[str, str]) -> _Source:
    """The one source a Config names; its fields are validated here, before any network call."""
    ctype = spec["type"]
    if ctype == "access_key":
        _need(spec, "access_key_id", "access_key_secret")
        if spec.get("security_token"):
            raise ConfigError(
                "type=access_key takes no security token; use type=sts for an STS key", key="security_token"
            )
        return _Source("an AccessKey", lambda: _static(spec["access_key_id"], spec["access_key_secret"], None))
    if ctype == "sts":
        _need(spec, "access_key_id", "access_key_secret", "security_token")
        return _Source(
            "an STS token", lambda: _static(spec["access_key_id"], spec["access_key_secret"], spec["security_token"])
        )
    if ctype == "ram_role_arn":
        _need(spec, "access_key_id", "access_key_secret", "role_arn")
        _check_policy(spec)
        duration = _duration(spec)
        endpoint = host_of(spec.get("sts_endpoint")) or host_of(env.get(ENV_STS_ENDPOINT))
        sts_region, vpc = (
            env.get("ALIBABA_CLOUD_STS_REGION"),
            _flag(env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
        )

        def ram_role() -> Any:
            from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider

            return RamRoleArnCredentialsProvider(
                credentials_provider=_static(
                    spec["access_key_id"], spec["access_key_secret"], spec.get("security_token")
                ),
                role_arn=spec["role_arn"],
                role_session_name=spec.get("role_session_name"),
                duration_seconds=duration,
                policy=spec.get("policy"),
                external_id=spec.get("external_id"),
                sts_endpoint=endpoint,
                sts_region_id=sts_region,
                enable_vpc=vpc,
                http_options=_http_options(spec),
            )

        return _Source(f"STS AssumeRole {spec['role_arn']}", ram_role)
    if ctype == "oidc_role_arn":
        _need(spec, "role_arn", "oidc_provider_arn", "oidc_token_file_path")
        _check_policy(spec)
        return _oidc_source(
            spec["role_arn"],
            spec["oidc_provider_arn"],
            spec["oidc_token_file_path"],
            spec.get("role_session_name"),
            _duration(spec),
            spec.get("policy"),
            host_of(spec.get("sts_endpoint")),
            env,
            _http_options_lazy(spec),
        )
    if ctype == "ecs_ram_role":
        disable_v1 = _flag(spec.get("disable_imds_v1"), "disable_imds_v1")
        host = host_of(spec.get("host")) or host_of(env.get(ENV_IMDS_ENDPOINT))
        return _ecs_source(spec.get("role_name"), bool(disable_v1), host, _http_options_lazy(spec))
    # credentials_uri
    _need(spec, "credentials_uri")
    uri = spec["credentials_uri"]
    if not re.match(r"^https?://[^/\s]+", uri, re.IGNORECASE):
        raise ConfigError("expected an http:// or https:// URL", key="credentials_uri")
    return _uri_source(uri, _http_options_lazy(spec))


def _http_options_lazy(spec: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: _http_options(spec)


def _static(access_key_id: str, access_key_secret: str, security_token: Optional[str]) -> Any:
    from alibabacloud_credentials.provider import StaticAKCredentialsProvider, StaticSTSCredentialsProvider

    if security_token:
        return StaticSTSCredentialsProvider(
            access_key_id=access_key_id, access_key_secret=access_key_secret, security_token=security_token
        )
    return StaticAKCredentialsProvider(access_key_id=access_key_id, access_key_secret=access_key_secret)


def _oidc_source(
    role_arn: str,
    provider_arn: str,
    token_file: str,
    session_name: Optional[str],
    duration: Optional[int],
    policy: Optional[str],
    endpoint: Optional[str],
    env: Mapping[str, str],
    http_options: Callable[[], Any],
) -> _Source:
    endpoint = endpoint or host_of(env.get(ENV_STS_ENDPOINT))
    sts_region = env.get("ALIBABA_CLOUD_STS_REGION")
    vpc = _flag(env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED")

    def oidc() -> Any:
        from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider

        return OIDCRoleArnCredentialsProvider(
            role_arn=role_arn,
            oidc_provider_arn=provider_arn,
            oidc_token_file_path=token_file,
            role_session_name=session_name,
            duration_seconds=duration,
            policy=policy,
            sts_endpoint=endpoint,
            sts_region_id=sts_region,
            enable_vpc=vpc,
            http_options=http_options(),
        )

    return _Source(f"STS AssumeRoleWithOIDC {role_arn} (token file {token_file})", oidc)


def _ecs_source(
    role_name: Optional[str], disable_imds_v1: bool, host: Optional[str], http_options: Callable[[], Any]
) -> _Source:
    def ecs() -> Any:
        return _ecs_provider(role_name, disable_imds_v1, host, http_options())

    where = f"ECS instance metadata{' at ' + host if host else ''}"
    return _Source(f"{where}, role {role_name}" if role_name else f"{where}, attached role", ecs)


def _ecs_provider(
    role_name: Optional[str], disable_imds_v1: bool, host: Optional[str], http_options: Any = None
) -> Any:
    from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider

    provider = EcsRamRoleCredentialsProvider(
        role_name=role_name or "",
        disable_imds_v1=disable_imds_v1,
        http_options=http_options,
        async_update_enabled=False,
    )
    if host and not set_metadata_host(provider, host):
        raise ConfigError(
            "this version of the Credentials tool cannot be pointed at another metadata host; "
            "use its proxy option instead",
            key="host",
        )
    return provider


def _uri_source(uri: str, http_options: Callable[[], Any]) -> _Source:
    def url() -> Any:
        from alibabacloud_credentials.provider import URLCredentialsProvider

        return URLCredentialsProvider(uri=uri, http_options=http_options())

    secrets = url_secrets(uri)  # a token in the query, a password in the userinfo: masked in label, errors and logs
    return _Source(f"credentials URI {hide(uri, secrets)}", url, secrets)


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or env.get("HOMEPATH") or os.path.expanduser("~")


def default_chain(env: Mapping[str, str]) -> List[_Source]:
    """The Credentials tool's default chain, in its order, from the environment as it is now."""
    sources: List[_Source] = []
    key_id, key_secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if key_id and key_secret:
        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        sources.append(
            _Source(
                "environment variables ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET", lambda: _static(key_id, key_secret, token)
            )
        )
    role_arn, provider_arn = env.get("ALIBABA_CLOUD_ROLE_ARN"), env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
    token_file = env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
    if role_arn and provider_arn and token_file:
        sources.append(
            _oidc_source(
                role_arn,
                provider_arn,
                token_file,
                env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME"),
                None,
                None,
                None,
                env,
                lambda: None,
            )
        )
    profile = env.get("ALIBABA_CLOUD_PROFILE") or None
    sts_endpoint = host_of(env.get(ENV_STS_ENDPOINT))
    imds = host_of(env.get(ENV_IMDS_ENDPOINT))
    disable_v1 = (env.get("ALIBABA_CLOUD_IMDSV1_DISABLED") or "").lower() == "true"
    if (env.get("ALIBABA_CLOUD_CLI_PROFILE_DISABLED") or "").lower() != "true":
        path = os.path.join(_home(env), ".aliyun", "config.json")
        sources.append(
            _Source(
                f"profile {profile or '(current)'} of {path}",
                lambda: _cli_profile(path, profile, sts_endpoint, imds, disable_v1),
            )
        )
    ini = env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") or os.path.join(_home(env), ".alibabacloud", "credentials.ini")
    sources.append(
        _Source(
            f"profile {profile or 'default'} of {ini}",
            lambda: _ini_profile(ini, profile or "default", sts_endpoint, imds, disable_v1),
        )
    )
    if (env.get("ALIBABA_CLOUD_ECS_METADATA_DISABLED") or "").lower() != "true":
        sources.append(_ecs_source(env.get("ALIBABA_CLOUD_ECS_METADATA"), disable_v1, imds, lambda: None))
    uri = env.get("ALIBABA_CLOUD_CREDENTIALS_URI")
    if uri:
        sources.append(_uri_source(uri, lambda: None))
    return sources


class _SourceUnavailable(Exception):
    """A source of the chain that is not there (no file, no profile): the chain moves on."""


def _cli_profile(
    path: str, profile: Optional[str], sts_endpoint: Optional[str], imds: Optional[str], disable_v1: bool
) -> Any:
    if not os.path.isfile(path):
        raise _SourceUnavailable(f"no file {path}")
    try:
        config = _read_json(path)
    except (OSError, ValueError) as exc:
        raise _SourceUnavailable(f"cannot read {path}: {type(exc).__name__}") from None
    name = profile or (config.get("current") if isinstance(config, dict) else None)
    if not name:
        raise _SourceUnavailable(f"{path} names no current profile")
    entry = next((p for p in config.get("profiles") or [] if isinstance(p, dict) and p.get("name") == name), None)
    if entry is None:
        raise _SourceUnavailable(f"no profile {name!r} in {path}")
    if entry.get("mode") == "EcsRamRole":  # built here: no scheduler thread, our metadata host
        return _ecs_provider(entry.get("ram_role_name"), disable_v1, imds)
    return with_sts_endpoint(cli_profile_provider(path, name, config), sts_endpoint)


def _ini_profile(path: str, profile: str, sts_endpoint: Optional[str], imds: Optional[str], disable_v1: bool) -> Any:
    if not os.path.isfile(path):
        raise _SourceUnavailable(f"no file {path}")
    section = load_ini(path).get(profile)
    if section is None:
        raise _SourceUnavailable(f"no profile [{profile}] in {path}")
    if section.get("type") == "ecs_ram_role":
        return _ecs_provider(section.get("role_name"), disable_v1, imds)
    return with_sts_endpoint(ini_profile_provider(path, profile, section), sts_endpoint)


def _read_json(path: str) -> Any:
    """config.json as the tool reads it (its private ``cli_profile._load_config`` is these three lines)."""
    with open(path, mode="r") as handle:
        content = handle.read()
    return json.loads(content)
