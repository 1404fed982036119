"""The console's client key files and their passwords: credentials_type=client_key, and each dedicated instance.

A client key signs this process's KMS requests: shared KMS with SHA256withRSA (``credentials_type=client_key``,
signed by kms/signers.py's ClientKeySigner), a dedicated instance's gateway with its own RSA signature.

The console's client key file (JSON ``{"KeyId", "PrivateKeyData": base64 PKCS#12}``) is opened here once, while
the properties file is read (``open_client_key``, shared with dedicated instances: config/dedicated.py), so a wrong
password, a missing or malformed file or a missing password source is a ConfigError naming the file and the key
before any network call. The password opens the key and is then dropped; no message ever contains it, and while
it is held it is a ``Password`` whose repr is ``Password(****)`` (a traceback printed with locals shows that).
"""

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from ..errors import ConfigError
from ..json_limits import JsonTooDeep, loads
from ..masking import Password
from ..model import mask

Fail = Callable[..., ConfigError]  # builds the ConfigError for a message (and a key)
KEY_PATH = "client_key_private_key_path"
ENV_KEY = "client_key_password_from_env_variable"
FILE_KEY = "client_key_password_from_file_path"
LEGACY_ENV = "client_key_password"  # the older client's last resort: an environment variable of this very name


@dataclass(frozen=True)
class ClientKey:
    """An opened client key: what signs this process's KMS requests. The private key never shows in a repr."""

    key_id: str
    private_key: str = field(repr=False, compare=False)  # base64 DER PKCS#8: what sha_hmac256 takes
    key_file: str = ""

    def __repr__(self) -> str:
        return f"ClientKey(key_id={mask(self.key_id)!r}, key_file={self.key_file!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling a private key into a queue or a cache file is almost always a leak
        raise TypeError("ClientKey is not picklable")


def load_client_key(properties: Dict[str, str], file: str) -> ClientKey:
    """The client key that ``client_key_private_key_path`` and its password source name, opened."""
    path = properties.get(KEY_PATH, "").strip()
    if not path:
        raise ConfigError(
            "credentials_type=client_key needs the client key file the KMS console issues "
            "(clientKey_xxx.json); this key is missing or empty",
            file=file,
            key=KEY_PATH,
        )
    password, source = _password(properties, file)

    def fail(message: str) -> ConfigError:
        return ConfigError(message, file=file, key=KEY_PATH)

    key_id, pkcs1 = open_client_key(path, password, source, fail, path_field=KEY_PATH)
    return ClientKey(key_id, _pkcs8(pkcs1), os.path.abspath(path))


def _password(properties: Dict[str, str], file: str) -> Tuple[Password, str]:
    """(password, where it came from), as the older client looks: the environment variable that
    client_key_password_from_env_variable names, then client_key_password_from_file_path, then the environment
    variable client_key_password."""
    env_name = properties.get(ENV_KEY, "").strip()
    path = properties.get(FILE_KEY, "").strip()
    if env_name and os.environ.get(env_name):
        return Password(os.environ[env_name]), f"the environment variable {env_name} ({ENV_KEY})"
    if path:

        def fail(message: str) -> ConfigError:
            return ConfigError(message, file=file, key=FILE_KEY)

        return _read_password(None, path, fail, fail, ENV_KEY, FILE_KEY)
    if os.environ.get(LEGACY_ENV):
        return Password(os.environ[LEGACY_ENV]), f"the environment variable {LEGACY_ENV}"
    if env_name:
        raise ConfigError(
            f"the environment variable {env_name} holding the client key password is not set or "
            f"empty (nor is {LEGACY_ENV})",
            file=file,
            key=ENV_KEY,
        )
    raise ConfigError(
        f"credentials_type=client_key needs the client key password: set {FILE_KEY} (the console's "
        f"clientKey_xxx_Password.txt) or {ENV_KEY} (an environment variable's name), or the "
        f"environment variable {LEGACY_ENV}",
        file=file,
        key=FILE_KEY,
    )


def _pkcs8(pkcs1_base64: str) -> str:
    """open_client_key gives PKCS#1 (what the DKMS SDK signs with); aliyunsdkcore's RSA algorithm documents PKCS#8."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(base64.b64decode(pkcs1_base64), password=None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode("ascii")


def _read_password(
    env_name: Optional[str], path: Optional[str], fail_env: Fail, fail_path: Fail, env_field: str, path_field: str
) -> Tuple[Password, str]:
    """(password, where it came from): the environment variable ``env_name`` when set, else the file ``path``."""
    if env_name:
        value = Password(os.environ.get(env_name, ""))
        if value:
            return value, f"the environment variable {env_name} ({env_field})"
        if not path:
            raise fail_env(f"the environment variable {env_name} holding the client key password is not set or empty")
    try:
        with open(str(path), encoding="utf-8") as handle:
            value = Password(handle.read().strip())
    except FileNotFoundError:
        raise fail_path(f"the client key password file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail_path(f"cannot read the client key password file {path}: {exc.__class__.__name__}") from None
    if not value:
        raise fail_path(f"the client key password file {path} is empty")
    return value, f"the password file {path} ({path_field})"


def open_client_key(
    path: str, password: Password, source: str, fail: Fail, path_field: str = "clientKeyFile"
) -> Tuple[str, str]:
    """(KeyId, private key as base64 PKCS#1 DER) from the console's client key JSON and its password; ``path_field``
    is the field that gave the path, for messages (credentials_type=client_key passes its own key)."""
    expected = 'expected the JSON the KMS console issues: {"KeyId": "KAAP.…", "PrivateKeyData": "<base64 PKCS#12>"}'
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise fail(f"{path_field} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {path_field} {path}: {exc.__class__.__name__}") from None
    try:
        document = loads(text)
    except JsonTooDeep as exc:
        raise fail(f"{path_field} {path} is {exc}; {expected}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{path_field} {path} is not valid JSON ({exc.msg} at line {exc.lineno}); {expected}") from None
    if not isinstance(document, dict):
        raise fail(f"{path_field} {path} is not a JSON object; {expected}")
    for name in ("KeyId", "PrivateKeyData"):
        if not isinstance(document.get(name), str) or not document[name].strip():
            raise fail(f"{path_field} {path} lacks {name}; {expected}")
    try:
        pkcs12_data = base64.b64decode(document["PrivateKeyData"], validate=True)
    except (binascii.Error, ValueError):
        raise fail(f"{path_field} {path}: PrivateKeyData is not base64; {expected}") from None
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise fail(
            "dedicated KMS instances need the DKMS extra: pip install 'managed-credentials-sdk-proxy[dkms]'"
        ) from None
    try:
        key, _cert, _more = pkcs12.load_key_and_certificates(pkcs12_data, password.encoded())
    except ValueError:
        raise fail(
            f"{path_field} {path}: the password from {source} does not open its PKCS#12 key (a wrong "
            "password, or not this key's password file)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise fail(f"{path_field} {path}: the PKCS#12 holds no RSA private key")
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return document["KeyId"].strip(), base64.b64encode(der).decode("ascii")
