"""credentials_type=client_key: shared KMS requests signed with an application client key (SHA256withRSA).

aliyunsdkcore ships both halves of this signature: its RPC composer and the RSA algorithm
``aliyunsdkcore.auth.algorithm.sha_hmac256`` (RSA despite its name: ``SignatureMethod=SHA256withRSA``,
``SignatureType=PRIVATEKEY``, ``SignatureVersion=1.0``, the key as base64 DER PKCS#8). We hand the SDK the
client key's KeyId as ``AccessKeyId`` and its private key; we write no signature code.

The console's client key file (JSON ``{"KeyId", "PrivateKeyData": base64 PKCS#12}``) is opened here once, while
the properties file is read (``dkms_config.open_client_key``, shared with dedicated instances), so a wrong
password, a missing or malformed file or a missing password source is a ConfigError naming the file and the key
before any network call. The password opens the key and is then dropped; no message ever contains it, and while
it is held it is a ``Password`` whose repr is ``Password(****)`` (a traceback printed with locals shows that).
"""

import base64
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

from aliyunsdkcore.auth.signers.signer import Signer

from .errors import ConfigError
from .model import mask
from .password import Password

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


class ClientKeySigner(Signer):
    """Signs with the client key through the request's own composer; the request carries the RSA algorithm."""

    def __init__(self, client_key: ClientKey):
        self.client_key = client_key

    def sign(self, region_id: str, request: Any) -> Tuple[Dict[str, str], str]:
        key = self.client_key
        header = request.get_signed_header(region_id, key.key_id, key.private_key)
        url = request.get_url(region_id, key.key_id, key.private_key)
        return header, url


def load_client_key(properties: Dict[str, str], file: str) -> ClientKey:
    """The client key that ``client_key_private_key_path`` and its password source name, opened."""
    from .dkms_config import open_client_key

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
    from .dkms_config import _read_password

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
