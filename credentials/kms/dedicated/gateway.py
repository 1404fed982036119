"""One dedicated KMS instance gateway: GetSecretValue over HTTPS, signed with the client key, no vendor SDK.

The wire protocol is the one the official alibabacloud-dkms-gcs 1.0.2 SDK speaks (read from its sources,
openapi/client.py and openapi_util/client.py; tests/wire/dkms_fidelity.py checks, against that SDK in a venv of
its own, that both send the same headers, string to sign and body):

    POST https://<endpoint>/                 body: protobuf GetSecretValueRequest (protobuf.py)
    accept, content-type: application/x-protobuf     content-sha256: upper-case hex SHA-256 of the body
    date: RFC 1123      x-kms-apiversion: dkms-gcs-0.2      x-kms-apiname: GetSecretValue
    x-kms-signaturemethod: RSA_PKCS1_SHA_256      x-kms-acccesskeyid: the client key's KeyId (sic, three c's)
    authorization: Bearer base64(RSA-PKCS1v1.5-SHA256(string_to_sign))

Why not the SDK: it pins protobuf<4 and pyOpenSSL<23.3 (so cryptography<42, with published PKCS#12 advisories),
and it parses the private key's PEM again for every request (tens of ms of CPU per fetch). Here the key is
loaded once, when the gateway object is made, and the HTTP goes through ``requests`` (already installed with
oss2 and the tea SDKs), one pooled session per gateway, verified against ``caFilePath``.
"""

import base64
import email.utils
import hashlib
import logging
import platform
import re
import ssl
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...config import DkmsInstance
from ..errors import RETRYABLE_CODES, KmsRequestError, exception_chain
from ..retrying import remaining
from .protobuf import decode_error, decode_get_secret_value_response, encode_get_secret_value_request

logger = logging.getLogger("managed_credentials.credentials")

API_VERSION = "dkms-gcs-0.2"
SIGNATURE_METHOD = "RSA_PKCS1_SHA_256"
CONTENT_TYPE = "application/x-protobuf"
RETRYABLE_DKMS_CODES = RETRYABLE_CODES | {"Rejected.Throttling"}
KEY_CODES = frozenset({"SignatureNotMatch", "Unauthorized", "InvalidAccessKeyId", "Forbidden.NoPermission"})
# Optional fields of the gateway's answer, kept (when not empty) under the names KMS GetSecretValue uses.
OPTIONAL_FIELDS = (
    "RotationInterval",
    "NextRotationDate",
    "LastRotationDate",
    "ExtendedConfig",
    "AutomaticRotation",
    "SecretType",
    "SecretDataType",
    "CreateTime",
    "RequestId",
)


def rfc1123_date() -> str:
    """The ``date`` header, as the SDK writes it (alibabacloud_tea_util's get_date_utcstring)."""
    return email.utils.formatdate(usegmt=True)


def string_to_sign(method: str, headers: Dict[str, str]) -> str:
    """method, content-sha256, content-type, date, then every x-kms-* header sorted by name, then the path "/"
    (the SDK's get_string_to_sign: its canonical resource is "/" whenever a path is set, query or not)."""
    head = (
        f"{method}\n{headers.get('content-sha256', '')}\n{headers.get('content-type', '')}\n{headers.get('date', '')}\n"
    )
    canonical = "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers) if name.startswith("x-kms-"))
    return head + canonical + "/"


def user_agent() -> str:
    """The SDK's form (platform and Python), naming this library instead of the SDK."""
    from importlib import metadata

    try:
        ours = metadata.version("managed-credentials-sdk-proxy")
    except metadata.PackageNotFoundError:  # a source checkout on sys.path, not installed
        ours = "dev"
    return (
        f"AlibabaCloud ({platform.system()}; {platform.machine()}) Python/{platform.python_version()} "
        f"managed-credentials-sdk-proxy/{ours}"
    )


class DkmsGateway:
    """GetSecretValue against one instance: one attempt, no retry (DkmsClient retries and fails over)."""

    def __init__(
        self,
        instance: DkmsInstance,
        *,
        timeouts: Tuple[float, float] = (3.0, 6.0),
        date: Callable[[], str] = rfc1123_date,
    ):
        self.instance = instance
        self._timeouts = timeouts
        self._date = date
        self._key = _load_key(instance)  # once: the SDK re-parses the PEM on every request
        self._verify: Union[bool, str] = False if instance.ignore_ssl_certs else (instance.ca_file or True)
        self._user_agent = user_agent()
        self._session = requests.Session()
        if instance.ignore_ssl_certs:
            _ignore_unverified_warnings(instance)

    def headers_for(self, body: bytes, api_name: str = "GetSecretValue") -> Dict[str, str]:
        """Every header of the request, signed; in the order the SDK sets them."""
        headers = {
            "accept": CONTENT_TYPE,
            "host": self.instance.endpoint,
            "date": self._date(),
            "user-agent": self._user_agent,
            "x-kms-apiversion": API_VERSION,
            "x-kms-apiname": api_name,
            "x-kms-signaturemethod": SIGNATURE_METHOD,
            "x-kms-acccesskeyid": self.instance.key_id,
            "content-type": CONTENT_TYPE,
            "content-length": str(len(body)),
            "content-sha256": hashlib.sha256(body).hexdigest().upper(),
        }
        signature = self._key.sign(string_to_sign("POST", headers).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        headers["authorization"] = "Bearer " + base64.b64encode(signature).decode("ascii")
        return headers

    def get_secret_value(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """The secret (with its extended config) shaped like KMS GetSecretValue JSON, or a KmsRequestError; with
        ``deadline`` (time.monotonic()), the connect and read timeouts are cut to the time left."""
        body = encode_get_secret_value_request(secret_name, fetch_extended_config=True)
        connect, read = self._timeouts
        status, answer = self._post(body, secret_name, (remaining(deadline, connect), remaining(deadline, read)))
        if 200 <= status < 300:
            try:
                return _document(decode_get_secret_value_response(answer))
            except ValueError:
                raise KmsRequestError(
                    f"dedicated KMS instance {self.instance.url} sent an answer that cannot be "
                    "read (not a GetSecretValueResponse)",
                    secret_name=secret_name,
                    code="MalformedResponse",
                    status=status,
                    retryable=True,
                ) from None
        raise self._refusal(status, answer, secret_name)

    def _post(self, body: bytes, secret_name: str, timeouts: Tuple[float, float]) -> Tuple[int, bytes]:
        request = requests.Request("POST", self.instance.url + "/", headers=self.headers_for(body), data=body)
        prepared = request.prepare()  # session.send: no session-level headers are added, as with the SDK
        session = self._session
        try:
            settings = session.merge_environment_settings(str(prepared.url), {}, False, self._verify, None)
            response = session.send(prepared, timeout=timeouts, allow_redirects=False, **settings)
            answer = response.content
        except (requests.RequestException, OSError) as exc:
            raise self._connection_error(exc, secret_name) from None
        return response.status_code, answer

    def _refusal(self, status: int, answer: bytes, secret_name: str) -> KmsRequestError:
        instance = self.instance
        try:
            error = decode_error(answer)
        except ValueError:
            error = {}
        code = str(error.get("ErrorCode") or f"HTTP{status}")
        message = str(error.get("ErrorMessage") or "")
        detail = f": {message}" if message and code != "SignatureNotMatch" else ""
        hint = f"; check clientKeyFile {instance.client_key_file} ({instance.where})" if code in KEY_CODES else ""
        return KmsRequestError(
            f"dedicated KMS instance {instance.url} refused GetSecretValue with HTTP {status}{detail}{hint}",
            secret_name=secret_name,
            code=code,
            status=status,
            retryable=status >= 500 or status == 429 or code in RETRYABLE_DKMS_CODES,
        )

    def _connection_error(self, exc: BaseException, secret_name: str) -> KmsRequestError:
        instance = self.instance
        causes = list(exception_chain(exc))
        refused = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
        if refused is not None:
            trust = f"caFilePath {instance.ca_file}" if instance.ca_file else "the default CA bundle (no caFilePath)"
            return KmsRequestError(
                f"the TLS certificate of dedicated KMS instance {instance.url} does not verify "
                f"against {trust} ({refused.verify_message or 'verification failed'}; "
                f"{instance.where}); set caFilePath to this instance's CA certificate",
                secret_name=secret_name,
                code="CertificateNotTrusted",
                status=None,
                retryable=False,
            )
        reason = next(
            (
                type(c).__name__
                for c in causes
                if isinstance(c, OSError) and type(c).__module__ in ("builtins", "ssl", "socket")
            ),
            type(exc).__name__,
        )
        return KmsRequestError(
            f"cannot reach dedicated KMS instance {instance.url}: {reason}",
            secret_name=secret_name,
            code="SDK.HttpError",
            status=None,
            retryable=True,
        )

    def after_fork_in_child(self) -> None:
        """A new session: a keep-alive socket shared with the parent crosses answers (the old one is dropped, not
        closed: closing would talk TLS on the parent's socket)."""
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"DkmsGateway({self.instance.url}, key {self.instance.key_id})"


def _load_key(instance: DkmsInstance) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(base64.b64decode(instance.private_key), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - config/client_key.py open_client_key checked it
        raise TypeError(f"the client key of {instance.where} is not an RSA key")
    return key


def _document(fields: Dict[str, Union[str, List[str]]]) -> Dict[str, Any]:
    """The gateway's answer in the shape of KMS GetSecretValue JSON (empty protobuf fields left out)."""
    document: Dict[str, Any] = {
        "SecretName": fields["SecretName"],
        "SecretData": fields["SecretData"],
        "VersionId": fields["VersionId"],
        "VersionStages": {"VersionStage": list(fields["VersionStages"])},
    }
    for name in OPTIONAL_FIELDS:
        if fields.get(name):
            document[name] = fields[name]
    return document


def _ignore_unverified_warnings(instance: DkmsInstance) -> None:
    """ignoreSslCerts=true: say so once, here, instead of urllib3's warning on every request to that host."""
    host = instance.endpoint.rsplit(":", 1)[0] if instance.endpoint.count(":") == 1 else instance.endpoint
    logger.warning(
        "dedicated KMS instance %s (%s): ignoreSslCerts=true, so its TLS certificate is NOT verified; "
        "use caFilePath outside of tests",
        instance.url,
        instance.where,
    )
    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings(
        "ignore",
        message=re.escape(f"Unverified HTTPS request is being made to host '{host}'"),
        category=InsecureRequestWarning,
    )
