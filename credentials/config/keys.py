"""The keys a properties file may hold: the ones this library reads, the older plugin's that it ignores on
purpose, and the report of any other key (a typo goes unnoticed until the day it matters).

``KNOWN_KEYS`` is the one list: the configuration page of the docs and the .example file document the same keys
(tests/test_docs.py checks both). The example file is installed with the package, beside this module; an error that
sends the reader to it names the command that prints it (``SEE_EXAMPLE``), which works from any installation.
"""

from typing import Dict, List, Optional, Set, Tuple

from ..errors import ConfigError
from ..json_limits import loads

EXAMPLE_FILE = "managed_credentials_providers.properties.example"  # installed beside this module
#: How a message points to the example file: a command that prints it, wherever the package is installed.
SEE_EXAMPLE = "`managed-credentials example` prints an example file with every key, commented"


def example_text() -> str:
    """The example properties file: every key, commented (the installed copy of the repository's root file)."""
    from importlib.resources import files  # here: only the command that prints it pays for importlib.resources

    return (files(__package__) / EXAMPLE_FILE).read_text(encoding="utf-8")


#: Every key this library reads, in the order docs/configuration.md and the .example file document them. The one list: a
#: branch that reads a new key adds it here (and to both documents; tests/test_docs.py checks them).
KNOWN_KEYS: Tuple[str, ...] = (
    "credentials_type",
    "credentials_access_key_id",
    "credentials_access_secret",
    "credentials_security_token",
    "credentials_role_arn",
    "credentials_role_session_name",
    "credentials_policy",
    "credentials_sts_endpoint",
    "credentials_role_name",
    "credentials_disable_imds_v1",
    "credentials_oidc_provider_arn",
    "credentials_oidc_token_file_path",
    "credentials_uri",
    "client_key_private_key_path",
    "client_key_password_from_env_variable",
    "client_key_password_from_file_path",
    "cache_client_region_id",
    "cache_client_dkms_config_info",
    "allow_insecure_http",
    "secret_names",
    "startup_timeout_seconds",
    "refresh_wait_seconds",
)

#: Keys the older plugin (0.1.4) reads that we accept and deliberately ignore (documented in the .example file):
#: credentials_type=token's pair (a type we do not offer: it is a ConfigError of credentials_type), and the
#: monitor periods of its own background scheduler, which this library does not have.
IGNORED_LEGACY_KEYS: Tuple[str, ...] = (
    "credentials_access_token_id",
    "credentials_access_token",
    "monitor_period_milliseconds",
    "monitor_customer_milliseconds",
)


def unknown_keys(properties: Dict[str, str]) -> List[Tuple[str, Optional[str]]]:
    """(key, the closest known key or None) for each key this library does not read, in file order.

    Keys named by a dedicated instance's ``passwordFromFilePathName`` are known: that item reads them.
    """
    known = set(KNOWN_KEYS) | set(IGNORED_LEGACY_KEYS) | _keys_named_by_dkms_items(properties)
    return [(key, _closest(key)) for key in properties if key not in known]


def _closest(key: str) -> Optional[str]:
    import difflib  # here, not at the top: only a file with an unknown key pays for it (1.3 ms)

    matches = difflib.get_close_matches(key.lower(), KNOWN_KEYS, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _keys_named_by_dkms_items(properties: Dict[str, str]) -> Set[str]:
    try:
        items = loads(properties.get("cache_client_dkms_config_info", "") or "[]")
    except ValueError:  # JsonTooDeep too: parse_config reports it
        return set()
    if not isinstance(items, list):
        return set()
    return {
        item["passwordFromFilePathName"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("passwordFromFilePathName"), str)
    }


def unknown_key_errors(properties: Dict[str, str], file: str) -> List[ConfigError]:
    errors = []
    for key, closest in unknown_keys(properties):
        hint = f"; did you mean {closest}?" if closest else ""
        errors.append(
            ConfigError(
                f"unknown key, ignored{hint} ({SEE_EXAMPLE})",
                file=file,
                key=key,
            )
        )
    return errors


def properties_keys() -> List[str]:
    """The keys this library reads (documented in the .example file): KNOWN_KEYS."""
    return list(KNOWN_KEYS)
