"""The properties file: how this process reaches KMS, and which secrets to fetch at start.

Parsed and validated in one place so every mistake is reported with the file
and the key to fix, before any network call.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NoReturn, Optional, Tuple

from ..errors import ConfigError
from ..throttling import DEFAULT_REFRESH_WAIT  # seconds: credentials/throttling.py says why
from .endpoints import INSECURE_HTTP_KEY, KmsEndpoint, parse_regions, warn_clear_text
from .keys import SEE_EXAMPLE, unknown_key_errors
from .properties import Properties, joined_line_errors, parse_properties, without

if TYPE_CHECKING:
    from .client_key import ClientKey
    from .dedicated import DkmsInstance

DEFAULT_CONFIG_NAME = "managed_credentials_providers.properties"
CONFIG_ENV = "MANAGED_CREDENTIALS_PROVIDERS_CONFIG"

logger = logging.getLogger("managed_credentials.credentials")

# Every credentials_type the upstream plugin knows, plus the Credentials tool's own.
CREDENTIALS_TYPES = (
    "ak",
    "sts",
    "ram_role",
    "ecs_ram_role",
    "client_key",
    "oidc_role_arn",
    "credentials_uri",
    "default",
)

STARTUP_TIMEOUT_KEY = "startup_timeout_seconds"
DEFAULT_STARTUP_TIMEOUT = 10.0  # seconds (credentials/managed.py uses the same default)
MAX_STARTUP_TIMEOUT = 600.0
REFRESH_WAIT_KEY = "refresh_wait_seconds"
MAX_REFRESH_WAIT = 600.0


@dataclass(frozen=True)
class KmsConfig:
    """Everything the properties file says, validated. ``properties`` keeps the raw keys for the type builders.

    Not picklable: it holds the KMS caller's secret (or the client key)."""

    file: str
    credentials_type: str
    properties: Dict[str, str] = field(repr=False)
    endpoints: Tuple[KmsEndpoint, ...] = ()
    dkms_instances: Tuple["DkmsInstance", ...] = ()
    secret_names: Tuple[str, ...] = ()
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT  # seconds: see ManagedSecretProvider
    refresh_wait: float = DEFAULT_REFRESH_WAIT  # seconds: see ManagedSecretProvider
    client_key: Optional["ClientKey"] = None  # credentials_type=client_key: opened when the file is read

    def require(self, key: str) -> str:
        """A key that the chosen credentials_type needs; a ConfigError naming it when absent or empty."""
        value = self.properties.get(key, "").strip()
        if not value:
            raise ConfigError(
                f"credentials_type={self.credentials_type} needs this key; it is missing or empty",
                file=self.file,
                key=key,
            )
        return value

    def optional(self, key: str) -> Optional[str]:
        value = self.properties.get(key, "").strip()
        return value or None

    def __reduce__(self) -> NoReturn:  # pickling a secret into a queue or a cache file is almost always a leak
        raise TypeError("KmsConfig is not picklable: it holds the KMS caller's secret; read the file again instead")


def _parse_flag(properties: Dict[str, str], file: str, key: str) -> bool:
    raw = properties.get(key, "").strip().lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise ConfigError("expected true or false", file=file, key=key)


def _parse_secret_names(raw: str, file: str) -> Tuple[str, ...]:
    names = [name.strip() for name in raw.split(",")]
    if any(not name for name in names):
        raise ConfigError(
            "a secret name is empty; expected comma-separated names, e.g. secret-a,secret-b",
            file=file,
            key="secret_names",
        )
    return tuple(names)


def _parse_startup_timeout(properties: Dict[str, str], file: str) -> float:
    raw = properties.get(STARTUP_TIMEOUT_KEY, "").strip()
    if not raw:
        return DEFAULT_STARTUP_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_STARTUP_TIMEOUT:  # also false for nan
        raise ConfigError(
            f"expected a number of seconds above 0 and at most {MAX_STARTUP_TIMEOUT:g} (the longest a "
            f"client's constructor waits for the first key), e.g. 10; not {raw!r}",
            file=file,
            key=STARTUP_TIMEOUT_KEY,
        )
    return value


def _parse_refresh_wait(properties: Dict[str, str], file: str) -> float:
    raw = properties.get(REFRESH_WAIT_KEY, "").strip()
    if not raw:
        return DEFAULT_REFRESH_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_REFRESH_WAIT:  # also false for nan
        raise ConfigError(
            f"expected a number of seconds from 0 to {MAX_REFRESH_WAIT:g} (the longest a call whose key was "
            f"rejected waits for the new one while KMS is throttling; 0: never waits), e.g. 10; not {raw!r}",
            file=file,
            key=REFRESH_WAIT_KEY,
        )
    return value


def _parse_type(properties: Dict[str, str], file: str) -> str:
    ctype = properties.get("credentials_type", "").strip()
    dkms_given = bool(properties.get("cache_client_dkms_config_info", "").strip())
    if not ctype and not dkms_given:  # a dedicated instance needs none: its client key signs (upstream's DKMS form)
        raise ConfigError(f"missing; expected one of {', '.join(CREDENTIALS_TYPES)}", file=file, key="credentials_type")
    if not ctype and properties.get("cache_client_region_id", "").strip():
        raise ConfigError(
            "missing; cache_client_region_id beside cache_client_dkms_config_info names the regions "
            "fetched from when every dedicated KMS instance fails, and this key says how to reach them "
            f"(one of {', '.join(CREDENTIALS_TYPES)}); or remove cache_client_region_id",
            file=file,
            key="credentials_type",
        )
    if ctype and ctype not in CREDENTIALS_TYPES:
        raise ConfigError(
            f"unknown type {ctype!r}; expected one of {', '.join(CREDENTIALS_TYPES)}", file=file, key="credentials_type"
        )
    return ctype


def _parse_dkms(properties: Dict[str, str], file: str) -> Tuple["DkmsInstance", ...]:
    raw = properties.get("cache_client_dkms_config_info", "").strip()
    if not raw:
        return ()
    from .dedicated import parse_dkms_instances  # only configs that use a dedicated instance pay for it

    return parse_dkms_instances(raw, properties, file)


def _parse_client_key(properties: Dict[str, str], file: str) -> "ClientKey":
    from .client_key import load_client_key  # only configs that use a client key pay for cryptography

    return load_client_key(properties, file)


def parse_config(properties: Dict[str, str], file: str, problems: Optional[List[ConfigError]] = None) -> KmsConfig:
    """Validate the keys shared by every credentials_type; the type's own keys are checked by its builder.

    Raises the first mistake; given a ``problems`` list, appends every independent mistake to it instead (the
    check command reports them all) and returns what could be read. An unknown key is not fatal: without
    ``problems`` it is logged, one warning per key, naming the file and the closest known key; with ``problems``
    it is reported there (the check command fails on it).
    """
    for unknown in unknown_key_errors(properties, file):
        if problems is None:
            logger.warning("%s", unknown)
        else:
            problems.append(unknown)
    joined = joined_line_errors(properties, file)
    reported = {str(e.key) for e in joined}
    if joined:
        if problems is None:
            raise joined[0]
        problems.extend(joined)  # each said once, here; read as missing from here on, so no message shows it
        properties = without(properties, reported)

    def step(parse: Callable[[], Any], default: Any) -> Any:
        if problems is None:
            return parse()
        try:
            return parse()
        except ConfigError as exc:
            if exc.key not in reported:
                problems.append(exc)
            return default

    ctype = step(lambda: _parse_type(properties, file), "")
    allow_http = step(lambda: _parse_flag(properties, file, INSECURE_HTTP_KEY), False)
    regions_raw = properties.get("cache_client_region_id", "").strip()
    endpoints = step(lambda: parse_regions(regions_raw, file, allow_http) if regions_raw else (), None)
    dkms = step(lambda: _parse_dkms(properties, file), None)
    client_key = step(lambda: _parse_client_key(properties, file) if ctype == "client_key" else None, None)
    if endpoints == () and dkms == ():
        step(
            lambda: _fail(
                'missing; expected a JSON list such as [{"regionId":"cn-hangzhou"}] '
                "(or cache_client_dkms_config_info for a dedicated KMS instance)",
                file,
                "cache_client_region_id",
            ),
            None,
        )
    names_raw = properties.get("secret_names")
    names = step(
        lambda: _parse_secret_names(names_raw, file) if names_raw is not None and names_raw.strip() else (), ()
    )
    startup_timeout = step(lambda: _parse_startup_timeout(properties, file), DEFAULT_STARTUP_TIMEOUT)
    refresh_wait = step(lambda: _parse_refresh_wait(properties, file), DEFAULT_REFRESH_WAIT)
    warn_clear_text(endpoints or (), file)
    kept = Properties()
    kept.update(properties)
    return KmsConfig(
        file=file,
        credentials_type=ctype,
        properties=kept,  # its repr hides the secrets (a traceback with locals, a debugger)
        endpoints=endpoints or (),
        dkms_instances=dkms or (),
        secret_names=names,
        startup_timeout=startup_timeout,
        refresh_wait=refresh_wait,
        client_key=client_key,
    )


def _fail(message: str, file: str, key: str) -> NoReturn:
    raise ConfigError(message, file=file, key=key)


def read_properties_file(path: str) -> Dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_properties(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"the properties file does not exist; create it ({SEE_EXAMPLE}) or name another with "
            f"ConfigLoader.set_config_name() or ${CONFIG_ENV}",
            file=path,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the properties file: {exc.__class__.__name__}: {exc}", file=path) from None


def read_config(path: str, problems: Optional[List[ConfigError]] = None) -> KmsConfig:
    """The validated properties file at ``path``; see parse_config() for ``problems``."""
    return parse_config(read_properties_file(path), os.path.abspath(path), problems)


class ConfigLoader:
    """Finds the properties file: ``set_config_name()``, else ``$MANAGED_CREDENTIALS_PROVIDERS_CONFIG``, else the
    default name in the working directory (the upstream plugin's lookup)."""

    _lock = threading.Lock()
    _config_name: Optional[str] = None

    @classmethod
    def set_config_name(cls, path: Optional[str]) -> None:
        """Use this properties file from now on (None: back to the default lookup)."""
        with cls._lock:
            cls._config_name = path

    @classmethod
    def get_config_name(cls) -> str:
        with cls._lock:
            name = cls._config_name
        return name or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME

    @classmethod
    def load(cls) -> KmsConfig:
        return read_config(cls.get_config_name())


def _reset_lock_after_fork() -> None:
    ConfigLoader._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)
