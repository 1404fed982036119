"""cache_client_dkms_config_info: dedicated KMS instances (instance gateways) and the client keys that sign for them.

Every item is validated and its client key opened here, while the properties
file is read, so a wrong password, a missing or malformed client key file or a
missing password source is a ConfigError naming the file and the key before any
network call. The password is used to open the key and then dropped; no error
message ever contains it, and while it is held it is a ``Password`` (repr ``Password(****)``), so a traceback
printed with its frames' locals does not show it either.

The keys of an item are the upstream plugins': ``regionId``, ``endpoint``,
``clientKeyFile``, ``passwordFromFilePath`` or ``passwordFromEnvVariable``,
``ignoreSslCerts``, ``caFilePath``; also ``passwordFromFilePathName`` (the
Python plugin's spelling: it names a properties key that holds the password
file's path). Without a password source of its own an item uses the top-level
``client_key_password_from_env_variable`` / ``client_key_password_from_file_path``.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, NoReturn, Optional, Tuple, cast

from ..errors import ConfigError
from ..json_limits import JsonTooDeep, loads
from ..masking import Password
from .client_key import Fail, _read_password, open_client_key
from .endpoints import parse_endpoint

KEY = "cache_client_dkms_config_info"
ENV_KEY = "client_key_password_from_env_variable"
FILE_KEY = "client_key_password_from_file_path"
ITEM_KEYS = (
    "regionId",
    "endpoint",
    "clientKeyFile",
    "passwordFromFilePath",
    "passwordFromFilePathName",
    "passwordFromEnvVariable",
    "ignoreSslCerts",
    "caFilePath",
)
EXAMPLE = (
    '[{"regionId":"cn-hangzhou","endpoint":"kst-xxx.cryptoservice.kms.aliyuncs.com",'
    '"clientKeyFile":"/path/clientKey_xxx.json","passwordFromFilePath":"/path/clientKey_xxx_Password.txt",'
    '"ignoreSslCerts":false,"caFilePath":"/path/PrivateKmsCA_kst-xxx.pem"}]'
)


@dataclass(frozen=True)
class DkmsInstance:
    """One instance gateway and its opened client key. The private key never shows in a repr, nor is pickled."""

    region_id: str
    endpoint: str  # host[:port]; the gateway speaks https only
    client_key_file: str
    key_id: str
    private_key: str = field(repr=False, compare=False)  # base64 PKCS#1 DER; kms/dedicated/gateway.py loads it once
    ca_file: Optional[str] = None
    ignore_ssl_certs: bool = False
    file: str = ""  # the properties file
    item: int = 0

    @property
    def url(self) -> str:
        return f"https://{self.endpoint}"

    @property
    def where(self) -> str:
        """Where this instance is configured, for messages."""
        return f"item {self.item} of {KEY} in {self.file}"

    def __reduce__(self) -> NoReturn:  # pickling a private key into a queue or a cache file is almost always a leak
        raise TypeError("DkmsInstance is not picklable: it holds the client key's private key")


def parse_dkms_instances(raw: str, properties: Dict[str, str], file: str) -> Tuple[DkmsInstance, ...]:
    """The validated instances, in the order given (tried in that order)."""
    try:
        items = loads(raw)
    except JsonTooDeep as exc:
        raise ConfigError(f"{exc}; expected e.g. {EXAMPLE}", file=file, key=KEY) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON ({exc.msg} at position {exc.pos}); expected e.g. {EXAMPLE}", file=file, key=KEY
        ) from None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"not a non-empty JSON list; expected e.g. {EXAMPLE}", file=file, key=KEY)
    return tuple(_parse_item(i, item, properties, file) for i, item in enumerate(items))


def _parse_item(i: int, item: Any, properties: Dict[str, str], file: str) -> DkmsInstance:
    def fail(message: str, key: str = KEY) -> ConfigError:
        return ConfigError(f"item {i}: {message}" if key == KEY else message, file=file, key=key)

    if not isinstance(item, dict):
        raise fail("not a JSON object")
    unknown = sorted(set(item) - set(ITEM_KEYS))
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(ITEM_KEYS)}")
    region_id = cast(str, _string(item, "regionId", fail, required=True))
    endpoint_text = cast(str, _string(item, "endpoint", fail, required=True))
    endpoint = parse_endpoint(endpoint_text, region_id, file, KEY, allow_insecure_http=True)  # refused below
    if endpoint.protocol != "https":
        raise fail(f"endpoint {endpoint_text!r}: an instance gateway is reached over https only")
    key_file = cast(str, _string(item, "clientKeyFile", fail, required=True))
    ignore_ssl = item.get("ignoreSslCerts", False)
    if isinstance(ignore_ssl, str) and ignore_ssl.strip().lower() in ("true", "false"):
        ignore_ssl = ignore_ssl.strip().lower() == "true"
    if not isinstance(ignore_ssl, bool):
        raise fail("ignoreSslCerts must be true or false")
    ca_file = _string(item, "caFilePath", fail)
    if ca_file and not ignore_ssl and not os.path.isfile(ca_file):
        raise fail(
            f"caFilePath {ca_file} does not exist; it is the instance's CA certificate "
            "(PrivateKmsCA_kst-xxx.pem from the console)"
        )
    password, source = _password(item, properties, fail)
    key_id, private_key = open_client_key(key_file, password, source, fail)
    return DkmsInstance(region_id, endpoint.host, key_file, key_id, private_key, ca_file or None, ignore_ssl, file, i)


def _string(item: Dict[str, Any], name: str, fail: Fail, required: bool = False) -> Optional[str]:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise fail(f"{name} is missing or empty")
        return None
    if not isinstance(value, str):
        raise fail(f"{name} must be a string")
    return value.strip()


def _password(item: Dict[str, Any], properties: Dict[str, str], fail: Fail) -> Tuple[Password, str]:
    """(password, where it came from): the item's own source first (environment variable, then file, as
    upstream), else the top-level keys."""
    env_name = _string(item, "passwordFromEnvVariable", fail)
    path = _string(item, "passwordFromFilePath", fail)
    path_key = _string(item, "passwordFromFilePathName", fail)
    if path_key and not path:
        path = properties.get(path_key, "").strip()
        if not path:
            raise fail(
                f"passwordFromFilePathName names the properties key {path_key!r}, which is missing or "
                "empty; set it to the password file's path"
            )
    if env_name or path:
        if env_name and properties.get(env_name, "").strip():
            env_name = properties[env_name].strip()  # the Python plugin's form: a key holding the variable's name
        return _read_password(
            env_name,
            path,
            lambda m: fail(f"passwordFromEnvVariable: {m}"),
            lambda m: fail(f"passwordFromFilePath: {m}"),
            "passwordFromEnvVariable",
            "passwordFromFilePath",
        )
    env_name = properties.get(ENV_KEY, "").strip() or None
    path = properties.get(FILE_KEY, "").strip() or None
    if not env_name and not path:
        raise fail(
            "no client key password source: set passwordFromFilePath or passwordFromEnvVariable in the "
            f"item, or {FILE_KEY} / {ENV_KEY} (shared by all items)"
        )
    return _read_password(env_name, path, lambda m: fail(m, ENV_KEY), lambda m: fail(m, FILE_KEY), ENV_KEY, FILE_KEY)
