"""CredentialsToolProvider: every credential type of the Alibaba Cloud Credentials tool, behind our provider contract.

The tool (``alibabacloud_credentials``) talks to the sources: STS AssumeRole and AssumeRoleWithOIDC, the ECS
instance metadata service (IMDSv2 tokens, v1 fallback), a credentials URI, profile files. This module adapts it
to :class:`~credentials.provider.RefreshingProvider`: one immutable :class:`Credentials` with its real expiry,
refreshed ahead of expiry (advisory and mandatory windows), single-flight forced ``refresh(stale=...)``.

What the adapter does differently from using the tool directly, and why:

* Caching is ours, by the real ``Expiration``. The tool re-fetches on *every* ``get_credentials()`` when a
  session lives 15 minutes or less; we ask the tool only when our windows say so.
* Every fetch asks a *new* tool provider instance. The tool has no public force-refresh and would hand back
  its cached key after the service rejected it; a fresh instance always goes to the source. How often that
  happens is bounded by RefreshingProvider (single flight, backoff after fetches that bring nothing new).
* Environment variables are read when the provider is constructed (the tool reads them once, at import).
* The tool's ECS metadata provider is built without its background scheduler thread, and can be pointed at
  another metadata host (``Config(host=...)`` or ``$ALIBABA_CLOUD_IMDS_ENDPOINT``); STS can be pointed at another
  endpoint with ``Config(sts_endpoint=...)`` or ``$ALIBABA_CLOUD_STS_ENDPOINT`` (the tool always uses https).
* Logging: importing the tool attaches three bare StreamHandlers to the logger named ``credentials`` (every line
  printed three times). They are removed at first use, so the tool's records reach the application's handlers
  once, through propagation; secrets in them are masked; and the records the tool emits during one of our
  fetches are dropped, since our layer reports that fetch's outcome itself (logger
  ``managed_credentials.credentials``, which is not a child of ``credentials``).

The tool is imported on first construction only: ``import credentials`` stays cheap.
"""
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import redaction
from .errors import ConfigError, CredentialsError
from .model import Credentials, mask
from .provider import INF, Fetched, RefreshingProvider

logger = logging.getLogger("managed_credentials.credentials")

TOOL_LOGGER = "credentials"  # the name the Credentials tool logs under (it collides with our package name)

#: The Credentials tool's types this provider accepts (``ram_role`` is an alias of ``ram_role_arn``).
TOOL_TYPES = ("access_key", "sts", "ram_role_arn", "ecs_ram_role", "oidc_role_arn", "credentials_uri")
_ALIASES = {"ram_role": "ram_role_arn", "ak": "access_key"}

#: The Config fields this provider reads (those of ``alibabacloud_credentials.models.Config``).
CONFIG_FIELDS = ("type", "access_key_id", "access_key_secret", "security_token", "role_arn", "role_session_name",
                 "role_session_expiration", "duration_seconds", "policy", "external_id", "sts_endpoint",
                 "role_name", "disable_imds_v1", "oidc_provider_arn", "oidc_token_file_path", "credentials_uri",
                 "host", "timeout", "connect_timeout", "proxy")

ENV_STS_ENDPOINT = "ALIBABA_CLOUD_STS_ENDPOINT"
ENV_IMDS_ENDPOINT = "ALIBABA_CLOUD_IMDS_ENDPOINT"


class CredentialsToolProvider(RefreshingProvider):
    """Credentials from the Alibaba Cloud Credentials tool, cached by real expiry and refreshed ahead of it.

        CredentialsToolProvider()                                    # the default chain
        CredentialsToolProvider(Config(type="ram_role_arn", access_key_id=..., access_key_secret=...,
                                       role_arn="acs:ram::123:role/app", role_session_name="app"))
        CredentialsToolProvider({"type": "ecs_ram_role", "role_name": "app"})   # a dict of Config fields

    ``config``: an ``alibabacloud_credentials.models.Config``, a mapping of its field names, or None for the
    default chain (environment variables, OIDC variables, ``~/.aliyun/config.json`` (``ALIBABA_CLOUD_PROFILE``),
    ``~/.alibabacloud/credentials.ini``, ECS instance metadata, ``ALIBABA_CLOUD_CREDENTIALS_URI``, in that order;
    the first source that answers is used from then on). Missing or contradictory fields raise ConfigError
    naming the field; nothing is fetched until the first ``get_credentials()``.
    """

    def __init__(self, config: Any = None, *, name: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                 **kwargs):
        env = dict(os.environ if environ is None else environ)
        if config is None:
            self.credentials_type = "default"
            self._sources = default_chain(env)
        else:
            spec = _spec_of(config)
            self.credentials_type = spec["type"]
            self._sources = [explicit_source(spec, env)]
        self._winner: Optional[_Source] = None
        super().__init__(name=name or f"credentials tool ({self.credentials_type})", **kwargs)
        _tool()  # import the tool now: a broken installation fails at construction, not at the first call

    @property
    def source(self) -> Optional[str]:
        """Which source answered last (for the default chain: the one it settled on), or None before a fetch."""
        winner = self._winner
        return winner.label if winner is not None else None

    def _fetch(self) -> Fetched:
        sources = [self._winner] if self._winner is not None else self._sources
        failures: List[Tuple[str, BaseException]] = []
        for source in sources:
            try:
                with _quiet_tool():
                    credentials = _convert(source.build().get_credentials())
            except Exception as exc:  # noqa: BLE001 - each source's failure is reported together below
                failures.append((source.label, exc))
                continue
            if self._winner is None and len(self._sources) > 1:
                logger.info("%s: using %s", self.name, source.label)
            self._winner = source
            logger.debug("%s: fetched %s from %s", self.name, mask(credentials.access_key_id), source.label)
            return Fetched(credentials, INF)  # RefreshingProvider derives the windows from credentials.expiration
        raise _fetch_error(self.name, failures, tried_all=len(sources) > 1 or not self._sources)

    def __repr__(self) -> str:
        where = self.source or ", ".join(s.label for s in self._sources) or "no source"
        return f"CredentialsToolProvider(type={self.credentials_type!r}, source={where!r})"


# --- sources ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    label: str  # says where, never a secret
    build: Callable[[], Any]  # a new tool ICredentialsProvider


def _spec_of(config: Any) -> Dict[str, Any]:
    if isinstance(config, Mapping):
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise ConfigError(f"unknown Config field; expected some of {', '.join(CONFIG_FIELDS)}", key=unknown[0])
        spec = {name: config.get(name) for name in CONFIG_FIELDS}
    elif hasattr(config, "type"):
        spec = {name: getattr(config, name, None) for name in CONFIG_FIELDS}
    else:
        raise ConfigError("expected an alibabacloud_credentials.models.Config, a dict of its fields, or None "
                          f"(the default chain), not {type(config).__name__}", key="config")
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


def _http_options(spec: Mapping[str, Any]):
    from alibabacloud_credentials.http import HttpOptions
    return HttpOptions(proxy=spec.get("proxy"), connect_timeout=spec.get("connect_timeout"),
                       read_timeout=spec.get("timeout"))


def _duration(spec: Mapping[str, Any]) -> Optional[int]:
    raw = spec.get("role_session_expiration") or spec.get("duration_seconds")
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 900:
        raise ConfigError("must be a whole number of seconds, at least 900 (the STS minimum)",
                          key="role_session_expiration")
    return value


def _check_policy(spec: Mapping[str, Any]) -> None:
    policy = spec.get("policy")
    if policy:
        import json
        try:
            json.loads(policy)
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
            text = text[len(scheme):]
    return text.rstrip("/") or None


def explicit_source(spec: Mapping[str, Any], env: Mapping[str, str]) -> _Source:
    """The one source a Config names; its fields are validated here, before any network call."""
    ctype = spec["type"]
    if ctype == "access_key":
        _need(spec, "access_key_id", "access_key_secret")
        if spec.get("security_token"):
            raise ConfigError("type=access_key takes no security token; use type=sts for an STS key",
                              key="security_token")
        return _Source("an AccessKey", lambda: _static(spec["access_key_id"], spec["access_key_secret"], None))
    if ctype == "sts":
        _need(spec, "access_key_id", "access_key_secret", "security_token")
        return _Source("an STS token", lambda: _static(spec["access_key_id"], spec["access_key_secret"],
                                                        spec["security_token"]))
    if ctype == "ram_role_arn":
        _need(spec, "access_key_id", "access_key_secret", "role_arn")
        _check_policy(spec)
        duration = _duration(spec)
        endpoint = host_of(spec.get("sts_endpoint")) or host_of(env.get(ENV_STS_ENDPOINT))
        sts_region, vpc = env.get("ALIBABA_CLOUD_STS_REGION"), _flag(env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"),
                                                                      "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED")

        def ram_role():
            from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider
            return RamRoleArnCredentialsProvider(
                credentials_provider=_static(spec["access_key_id"], spec["access_key_secret"],
                                             spec.get("security_token")),
                role_arn=spec["role_arn"], role_session_name=spec.get("role_session_name"),
                duration_seconds=duration, policy=spec.get("policy"), external_id=spec.get("external_id"),
                sts_endpoint=endpoint, sts_region_id=sts_region, enable_vpc=vpc, http_options=_http_options(spec))
        return _Source(f"STS AssumeRole {spec['role_arn']}", ram_role)
    if ctype == "oidc_role_arn":
        _need(spec, "role_arn", "oidc_provider_arn", "oidc_token_file_path")
        _check_policy(spec)
        return _oidc_source(spec["role_arn"], spec["oidc_provider_arn"], spec["oidc_token_file_path"],
                            spec.get("role_session_name"), _duration(spec), spec.get("policy"),
                            host_of(spec.get("sts_endpoint")), env, _http_options_lazy(spec))
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


def _static(access_key_id: str, access_key_secret: str, security_token: Optional[str]):
    from alibabacloud_credentials.provider import StaticAKCredentialsProvider, StaticSTSCredentialsProvider
    if security_token:
        return StaticSTSCredentialsProvider(access_key_id=access_key_id, access_key_secret=access_key_secret,
                                            security_token=security_token)
    return StaticAKCredentialsProvider(access_key_id=access_key_id, access_key_secret=access_key_secret)


def _oidc_source(role_arn: str, provider_arn: str, token_file: str, session_name: Optional[str],
                 duration: Optional[int], policy: Optional[str], endpoint: Optional[str], env: Mapping[str, str],
                 http_options: Callable[[], Any]) -> _Source:
    endpoint = endpoint or host_of(env.get(ENV_STS_ENDPOINT))
    sts_region = env.get("ALIBABA_CLOUD_STS_REGION")
    vpc = _flag(env.get("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED")

    def oidc():
        from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider
        return OIDCRoleArnCredentialsProvider(
            role_arn=role_arn, oidc_provider_arn=provider_arn, oidc_token_file_path=token_file,
            role_session_name=session_name, duration_seconds=duration, policy=policy, sts_endpoint=endpoint,
            sts_region_id=sts_region, enable_vpc=vpc, http_options=http_options())
    return _Source(f"STS AssumeRoleWithOIDC {role_arn} (token file {token_file})", oidc)


def _ecs_source(role_name: Optional[str], disable_imds_v1: bool, host: Optional[str],
                http_options: Callable[[], Any]) -> _Source:
    def ecs():
        return _ecs_provider(role_name, disable_imds_v1, host, http_options())
    where = f"ECS instance metadata{' at ' + host if host else ''}"
    return _Source(f"{where}, role {role_name}" if role_name else f"{where}, attached role", ecs)


_MANGLED_HOST = "_EcsRamRoleCredentialsProvider__metadata_service_host"


def _ecs_provider(role_name: Optional[str], disable_imds_v1: bool, host: Optional[str], http_options=None):
    from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider
    provider = EcsRamRoleCredentialsProvider(role_name=role_name or "", disable_imds_v1=disable_imds_v1,
                                             http_options=http_options, async_update_enabled=False)
    if host:
        if not hasattr(provider, _MANGLED_HOST):
            raise ConfigError("this version of the Credentials tool cannot be pointed at another metadata host; "
                              "use its proxy option instead", key="host")
        setattr(provider, _MANGLED_HOST, host)
    return provider


def _uri_source(uri: str, http_options: Callable[[], Any]) -> _Source:
    def url():
        from alibabacloud_credentials.provider import URLCredentialsProvider
        return URLCredentialsProvider(uri=uri, http_options=http_options())
    return _Source(f"credentials URI {_without_query(uri)}", url)


def _without_query(uri: str) -> str:
    return uri.split("?", 1)[0]


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or env.get("HOMEPATH") or os.path.expanduser("~")


def default_chain(env: Mapping[str, str]) -> List[_Source]:
    """The Credentials tool's default chain, in its order, from the environment as it is now."""
    sources: List[_Source] = []
    key_id, key_secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if key_id and key_secret:
        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        sources.append(_Source("environment variables ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET",
                               lambda: _static(key_id, key_secret, token)))
    role_arn, provider_arn = env.get("ALIBABA_CLOUD_ROLE_ARN"), env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
    token_file = env.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
    if role_arn and provider_arn and token_file:
        sources.append(_oidc_source(role_arn, provider_arn, token_file, env.get("ALIBABA_CLOUD_ROLE_SESSION_NAME"),
                                    None, None, None, env, lambda: None))
    profile = env.get("ALIBABA_CLOUD_PROFILE") or None
    sts_endpoint = host_of(env.get(ENV_STS_ENDPOINT))
    imds = host_of(env.get(ENV_IMDS_ENDPOINT))
    disable_v1 = (env.get("ALIBABA_CLOUD_IMDSV1_DISABLED") or "").lower() == "true"
    if (env.get("ALIBABA_CLOUD_CLI_PROFILE_DISABLED") or "").lower() != "true":
        path = os.path.join(_home(env), ".aliyun", "config.json")
        sources.append(_Source(f"profile {profile or '(current)'} of {path}",
                               lambda: _cli_profile(path, profile, sts_endpoint, imds, disable_v1)))
    ini = env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") or os.path.join(_home(env), ".alibabacloud", "credentials.ini")
    sources.append(_Source(f"profile {profile or 'default'} of {ini}",
                           lambda: _ini_profile(ini, profile or "default", sts_endpoint, imds, disable_v1)))
    if (env.get("ALIBABA_CLOUD_ECS_METADATA_DISABLED") or "").lower() != "true":
        sources.append(_ecs_source(env.get("ALIBABA_CLOUD_ECS_METADATA"), disable_v1, imds, lambda: None))
    uri = env.get("ALIBABA_CLOUD_CREDENTIALS_URI")
    if uri:
        sources.append(_uri_source(uri, lambda: None))
    return sources


class _SourceUnavailable(Exception):
    """A source of the chain that is not there (no file, no profile): the chain moves on."""


def _cli_profile(path: str, profile: Optional[str], sts_endpoint: Optional[str], imds: Optional[str],
                 disable_v1: bool):
    if not os.path.isfile(path):
        raise _SourceUnavailable(f"no file {path}")
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider
    from alibabacloud_credentials.provider.cli_profile import _load_config
    try:
        config = _load_config(path)
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
    inner = CLIProfileCredentialsProvider(profile_name=name, profile_file=path)._get_credentials_provider(config, name)
    return _with_sts_endpoint(inner, sts_endpoint)


def _ini_profile(path: str, profile: str, sts_endpoint: Optional[str], imds: Optional[str], disable_v1: bool):
    if not os.path.isfile(path):
        raise _SourceUnavailable(f"no file {path}")
    from alibabacloud_credentials.provider import ProfileCredentialsProvider
    from alibabacloud_credentials.provider.profile import _load_ini
    section = _load_ini(path).get(profile)
    if section is None:
        raise _SourceUnavailable(f"no profile [{profile}] in {path}")
    if section.get("type") == "ecs_ram_role":
        return _ecs_provider(section.get("role_name"), disable_v1, imds)
    inner = ProfileCredentialsProvider(profile_file=path, profile_name=profile)._get_credentials_provider(section)
    return _with_sts_endpoint(inner, sts_endpoint)


def _with_sts_endpoint(provider, endpoint: Optional[str]):
    """Profiles name only an STS region; $ALIBABA_CLOUD_STS_ENDPOINT (as the aliyun CLI honours it) wins."""
    node = provider
    while endpoint and node is not None:
        if hasattr(node, "_sts_endpoint"):
            node._sts_endpoint = endpoint
        node = getattr(node, "_credentials_provider", None)
    return provider


# --- results and errors --------------------------------------------------------------------------------------------

def _convert(tool_credentials) -> Credentials:
    if tool_credentials is None:
        raise CredentialsError("the source returned no credentials")
    key_id = tool_credentials.get_access_key_id()
    secret = tool_credentials.get_access_key_secret()
    if not key_id or not secret:
        raise CredentialsError("the source returned credentials without an AccessKey id or secret")
    getter = getattr(tool_credentials, "get_expiration", None)
    expiration = getter() if callable(getter) else None
    expiration = float(expiration) if isinstance(expiration, (int, float)) and expiration > 0 else None
    return Credentials(key_id, secret, tool_credentials.get_security_token() or None, expiration)


_CODE = re.compile(r'"Code"\s*:\s*"([^"]+)"')
_HTTP = re.compile(r"http_code[:=]\s*(\d{3})")


def _fetch_error(name: str, failures: List[Tuple[str, BaseException]], tried_all: bool) -> CredentialsError:
    if not failures:
        return CredentialsError("no credentials source is configured in the default chain (set environment "
                                "variables, a profile, ECS metadata or ALIBABA_CLOUD_CREDENTIALS_URI)",
                                secret_name=name)
    described = [f"{label}: {_describe(exc)}" for label, exc in failures]
    label, last = failures[-1]
    text = redact(str(last))
    code = getattr(last, "code", None)
    if not isinstance(code, str):
        match = _CODE.search(text) or _HTTP.search(text)
        code = (match.group(1) if match.re is _CODE else f"HTTP{match.group(1)}") if match else None
    if tried_all and len(failures) > 1:
        message = "no source of the default chain gave credentials: " + "; ".join(described)
    else:
        message = f"cannot get credentials from {described[0]}"
    error = CredentialsError(message, secret_name=name, code=code)
    if isinstance(last, CredentialsError):
        error.__cause__ = last
    return error


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _SourceUnavailable):
        return str(exc)
    text = redact(str(exc)).strip() or "(no message)"
    if len(text) > 600:
        text = text[:600] + "..."
    return f"{type(exc).__name__}: {text}"


# Secrets as they appear in the tool's messages (JSON bodies, query strings, Python reprs): one masking rule for
# every SDK's logs, in credentials/redaction.py.
redact = redaction.redact


# --- the tool's logging ------------------------------------------------------------------------------------------------

_local = threading.local()


class _quiet_tool:
    """While our fetch runs in this thread, the tool's own log records are dropped: we report the outcome."""

    def __enter__(self):
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc_info):
        _local.depth -= 1


class _ToolLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "depth", 0):
            return False
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: let logging report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(formatted), None
        return True


_tool_lock = threading.Lock()
_tool_ready = False


def tame_tool_logging() -> None:
    """Remove the bare StreamHandlers the tool attached to logger ``credentials`` and mask secrets in its records.

    Idempotent. Handlers the application configured itself (with a formatter or a level) are left alone.
    """
    tool_logger = logging.getLogger(TOOL_LOGGER)
    for handler in list(tool_logger.handlers):
        if type(handler) is logging.StreamHandler and handler.formatter is None and handler.level == logging.NOTSET:
            tool_logger.removeHandler(handler)
    if not any(isinstance(f, _ToolLogFilter) for f in tool_logger.filters):
        tool_logger.addFilter(_ToolLogFilter())


def _tool() -> None:
    """Import the Credentials tool (first use only) and tidy its logging."""
    global _tool_ready
    if _tool_ready:
        return
    with _tool_lock:
        if not _tool_ready:
            import alibabacloud_credentials.provider  # noqa: F401 - attaches the tool's handlers, removed next
            tame_tool_logging()
            redaction.install_sdk_log_redaction()
            _tool_ready = True
