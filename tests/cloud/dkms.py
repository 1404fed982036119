"""Dedicated KMS instance gateways (KMS 3.0 "DKMS"): GetSecretValue over HTTPS, protobuf, signed with a client key.

The protocol as the official alibabacloud-dkms-gcs SDK sends it (read from its source, written here without it):

    POST https://<instance>/            body: protobuf GetSecretValueRequest
    content-type: application/x-protobuf      content-sha256: upper-case hex SHA-256 of the body
    date: RFC 1123                            x-kms-apiversion: dkms-gcs-0.2     x-kms-apiname: GetSecretValue
    x-kms-signaturemethod: RSA_PKCS1_SHA_256  x-kms-acccesskeyid: <client key id>  (sic, three c's)
    authorization: Bearer base64(RSA-PKCS1v1.5-SHA256(string_to_sign)), where string_to_sign is
        "POST\\n" + content-sha256 + "\\n" + content-type + "\\n" + date + "\\n"
        + "name:value\\n" for every x-kms-* header, sorted by name + "/"

Answers are protobuf too: GetSecretValueResponse, or Error{StatusCode, ErrorCode, ErrorMessage, RequestId}
with the HTTP status. The signature is checked against the public key of a client key that `issue_client_key`
made (the console's JSON file {"KeyId", "PrivateKeyData": base64 PKCS#12} plus a password file). Secrets, their
rotation and the call log are the emulator's CloudState, shared with the KMS endpoint.

    cloud.dkms.host()                         # 127.0.0.1:PORT of the first gateway ("dkms"), over TLS
    cloud.dkms.add_instance()                 # another gateway ("dkms-2") on the same secrets
    key = cloud.dkms.issue_client_key(folder) # key.key_file, key.password_file, key.key_id, key.password
    cloud.write_dkms_properties(path)         # the upstream plugin's DKMS form, for every gateway
    cloud.dkms.fault("dkms", status=503)      # or cloud.service_down("dkms"): connection refused
    cloud.dkms.start_recording()              # cloud.dkms.recorded: every request's headers and body, as sent
    cloud.count("GetSecretValue", service="dkms-2")

Standard library only, except `cryptography` (already needed by tls.py), imported when keys are made or checked.
"""

import base64
import email.utils
import hashlib
import json
import os
import secrets as _random
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .kms import find_version, secret_value
from .protobuf_wire import decode_message, encode_message
from .records import Fault, new_request_id, random_text, write_private_file, write_properties_file
from .rpc import apply_injected_fault
from .server import BodyTooLarge, IncompleteBody, Request, Response
from .state import CloudState
from .tls import TestCA, test_ca

API_VERSION = "dkms-gcs-0.2"
SIGNATURE_METHOD = "RSA_PKCS1_SHA_256"
MAX_SKEW = 15 * 60

# Field numbers of the gateway's protobuf messages (api.proto in the SDK).
REQUEST_FIELDS = {1: "SecretName", 2: "VersionStage", 3: "VersionId", 4: "FetchExtendedConfig"}
RESPONSE_FIELDS = (
    "SecretName",
    "SecretType",
    "SecretData",
    "SecretDataType",
    "VersionStages",
    "VersionId",
    "CreateTime",
    "RequestId",
    "LastRotationDate",
    "NextRotationDate",
    "ExtendedConfig",
    "AutomaticRotation",
    "RotationInterval",
)  # numbered 1..13


# ---- client keys ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientKeyFiles:
    """What the console hands out for an application access point: the key file and its password file."""

    key_id: str
    key_file: str
    password_file: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a gateway received it (cloud.dkms.start_recording()): for wire comparisons."""

    gateway: str
    method: str
    path: str
    headers: Tuple[Tuple[str, str], ...]  # as sent: names in the client's case, in the client's order
    body: bytes
    string_to_sign: str  # what the emulator verifies the signature over


class DkmsError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


class DkmsGatewayService:
    """One instance gateway (one listener); the client keys and the secrets are shared by all of them."""

    server_header = "DKMS-Gateway"

    def __init__(self, name: str, gateways: "DkmsGateways"):
        self.name = name
        self._gateways = gateways
        self.state: CloudState = gateways.state

    def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        api_name = request.header("x-kms-apiname")
        key_id = request.header("x-kms-acccesskeyid")
        status, code = 200, "OK"
        try:
            body = self._read(request)
            self._gateways.record(self.name, request, body)
            self._apply_fault(request)
            self._authenticate(request, body)
            if api_name != "GetSecretValue":
                raise DkmsError(400, "UnsupportedOperation", "This API is not served by the emulated gateway.")
            return self._protobuf(200, self._get_secret_value(body, request_id), request_id)
        except DkmsError as err:
            status, code = err.status, err.code
            error = encode_message([(1, err.status), (2, err.code), (3, err.message), (4, request_id)])
            return self._protobuf(err.status, error, request_id)
        finally:
            self.state.log_call(self.name, api_name, key_id, status, code)

    # ---- steps ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _read(request: Request) -> bytes:
        if request.method != "POST" or request.path != "/":
            raise DkmsError(404, "NotFound", "The gateway answers POST / only.")
        try:
            return request.read_body(max_bytes=1024 * 1024)
        except IncompleteBody as exc:
            raise DkmsError(400, "IncompleteBody", "The request body is incomplete: %s" % exc)
        except BodyTooLarge:
            raise DkmsError(413, "RequestEntityTooLarge", "The request body is too large.")

    def _apply_fault(self, request: Request) -> None:
        failure = apply_injected_fault(self.state, self.name, request)
        if failure:
            raise DkmsError(*failure)

    def _authenticate(self, request: Request, body: bytes) -> None:
        headers = request.lower_headers()
        if headers.get("x-kms-apiversion") != API_VERSION:
            raise DkmsError(400, "InvalidApiVersion", "Specified x-kms-apiversion is not supported.")
        if headers.get("x-kms-signaturemethod") != SIGNATURE_METHOD:
            raise DkmsError(400, "InvalidSignatureMethod", "Specified x-kms-signaturemethod is not supported.")
        if headers.get("content-sha256") != hashlib.sha256(body).hexdigest().upper():
            raise DkmsError(400, "InvalidContentSha256", "The content-sha256 header does not match the body.")
        try:
            sent = email.utils.parsedate_to_datetime(headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            raise DkmsError(400, "InvalidDate", "The date header is missing or not RFC 1123.")
        if abs(time.time() - sent) > MAX_SKEW:
            raise DkmsError(400, "RequestTimeTooSkewed", "The date header is too far from the server's time.")
        public_key = self._gateways.public_key(headers.get("x-kms-acccesskeyid", ""))
        if public_key is None:
            raise DkmsError(404, "Unauthorized", "The client key is unknown or revoked.")
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            raise DkmsError(401, "SignatureNotMatch", "The authorization header is not 'Bearer <signature>'.")
        try:
            signature = base64.b64decode(authorization[len("Bearer ") :], validate=True)
        except ValueError:
            raise DkmsError(401, "SignatureNotMatch", "The signature is not base64.")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            public_key.verify(
                signature, string_to_sign(request.method, headers).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise DkmsError(401, "SignatureNotMatch", "The request signature does not match.")

    def _get_secret_value(self, body: bytes, request_id: str) -> bytes:
        try:
            fields = decode_message(body)
            params = {
                REQUEST_FIELDS[n]: (v[-1].decode("utf-8") if isinstance(v[-1], bytes) else v[-1])
                for n, v in fields.items()
                if n in REQUEST_FIELDS
            }
        except (ValueError, UnicodeDecodeError):
            raise DkmsError(400, "InvalidParameter", "The request body is not a GetSecretValueRequest.")
        name = params.get("SecretName")
        if not name:
            raise DkmsError(400, "MissingParameter", "SecretName is mandatory.")
        secret = self.state.get_secret(name)
        version = find_version(secret, params.get("VersionId"), params.get("VersionStage"))
        if version is None:
            raise DkmsError(404, "Forbidden.ResourceNotFound", "The resource not exists.")
        values = secret_value(secret, version, bool(params.get("FetchExtendedConfig")))
        values["RequestId"] = request_id
        out = []
        for number, name_ in enumerate(RESPONSE_FIELDS, start=1):
            if name_ == "VersionStages":
                out.extend((number, stage) for stage in sorted(version.stages))
            else:
                out.append((number, values.get(name_, "")))
        return encode_message(out)

    @staticmethod
    def _protobuf(status: int, body: bytes, request_id: str) -> Response:
        return Response(status, body, [("Content-Type", "application/x-protobuf"), ("x-kms-requestid", request_id)])


def string_to_sign(method: str, headers: Dict[str, str]) -> str:
    """The published algorithm: method, content-sha256, content-type, date, the sorted x-kms-* headers, "/"."""
    head = "%s\n%s\n%s\n%s\n" % (
        method,
        headers.get("content-sha256", ""),
        headers.get("content-type", ""),
        headers.get("date", ""),
    )
    canonical = "".join(
        "%s:%s\n" % (name, headers[name].strip()) for name in sorted(headers) if name.startswith("x-kms-")
    )
    return head + canonical + "/"


class DkmsGateways:
    """`cloud.dkms`: the emulated instance gateways and the client keys they accept."""

    def __init__(self, cloud):
        self._cloud = cloud
        self.state: CloudState = cloud.state
        self._lock = threading.Lock()
        self.names: List[str] = []
        self.client_key: Optional[ClientKeyFiles] = None  # the last one write_properties issued
        self.recorded: Optional[List[RecordedRequest]] = None  # None: not recording

    # ---- recording -----------------------------------------------------------------------------------------------

    def start_recording(self) -> List[RecordedRequest]:
        """Keep every request the gateways receive from now on (headers and body), in `recorded`."""
        with self._lock:
            self.recorded = []
            return self.recorded

    def record(self, gateway: str, request: Request, body: bytes) -> None:
        with self._lock:
            if self.recorded is not None:
                self.recorded.append(
                    RecordedRequest(
                        gateway,
                        request.method,
                        request.path,
                        tuple(request.headers.items()),
                        body,
                        string_to_sign(request.method, request.lower_headers()),
                    )
                )

    # ---- instances -----------------------------------------------------------------------------------------------

    def add_instance(self, name: Optional[str] = None, ca: Optional[TestCA] = None) -> str:
        """Another gateway on its own TLS port (certificate from `ca`, default the process's test CA)."""
        with self._lock:
            name = name or ("dkms" if not self.names else "dkms-%d" % (len(self.names) + 1))
            self.names.append(name)
        self._cloud.add_service(
            name, DkmsGatewayService(name, self), tls=True, ssl_context=(ca or test_ca()).server_context()
        )
        return name

    def host(self, name: str = "dkms") -> str:
        """127.0.0.1:PORT: the `endpoint` of a cache_client_dkms_config_info item."""
        return self._cloud.host_of(name)

    @property
    def ca_file(self) -> str:
        """The CA certificate the gateways' certificates come from (the `caFilePath`)."""
        return test_ca().ca_file

    def fault(
        self,
        name: str = "dkms",
        status: Optional[int] = 503,
        code: Optional[str] = None,
        times: Optional[int] = None,
        delay: Optional[float] = None,
    ) -> None:
        """The next `times` requests to that gateway (None: until cloud.clear_faults()) fail with `status`."""
        self.state.set_fault(name, Fault(status=status, code=code, delay=delay, remaining=times))

    # ---- client keys ---------------------------------------------------------------------------------------------

    def issue_client_key(self, folder: str, password: Optional[str] = None) -> ClientKeyFiles:
        """A new client key, written as the console's download is: clientKey_<id>.json, clientKey_<id>_Password.txt."""
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
        from cryptography.x509.oid import NameOID

        key_id = "KAAP.%s-%s" % (random_text(8).lower(), random_text(12).lower())
        password = password if password is not None else _random.token_hex(16)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key_id)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(private_key, hashes.SHA256())
        )
        data = pkcs12.serialize_key_and_certificates(
            key_id.encode(), private_key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
        os.makedirs(folder, exist_ok=True)
        key_file = os.path.join(folder, "clientKey_%s.json" % key_id)
        password_file = os.path.join(folder, "clientKey_%s_Password.txt" % key_id)
        write_private_file(key_file, json.dumps({"KeyId": key_id, "PrivateKeyData": base64.b64encode(data).decode()}))
        write_private_file(password_file, password)
        self.state.add_client_key(key_id, private_key.public_key())  # shared KMS accepts it too (rpc.py)
        return ClientKeyFiles(key_id, key_file, password_file, password)

    def revoke_client_key(self, key_id: str) -> None:
        """The gateways answer 404 Unauthorized to this key from now on (shared KMS InvalidAccessKeyId.NotFound)."""
        self.state.revoke_client_key(key_id)

    def public_key(self, key_id: str):
        return self.state.client_public_key(key_id)

    # ---- configuration for the library under test ----------------------------------------------------------------

    def write_properties(
        self,
        path: str,
        names: Optional[Iterable[str]] = None,
        client_key: Optional[ClientKeyFiles] = None,
        password: Optional[str] = "file",
        env_variable: str = "DKMS_CLIENT_KEY_PASSWORD",
        ignore_ssl: bool = False,
        ca_file: Optional[str] = None,
        secret_names: Union[None, str, Iterable[str]] = None,
    ) -> str:
        """A managed_credentials_providers.properties in the upstream plugin's DKMS form (no credentials_type),
        one item per gateway in `names` (default: all), all with one client key (issued beside `path` if None).

        password: "file" (passwordFromFilePath), "env" (passwordFromEnvVariable=env_variable; the caller sets
        the variable), "top-level" (client_key_password_from_file_path), or None (no password source)."""
        if client_key is None:
            client_key = self.client_key = self.issue_client_key(os.path.dirname(os.path.abspath(path)))
        items = []
        for name in list(names) if names is not None else list(self.names):
            item = {
                "regionId": self._cloud.region_id,
                "endpoint": self.host(name),
                "clientKeyFile": client_key.key_file,
            }
            if password == "file":
                item["passwordFromFilePath"] = client_key.password_file
            elif password == "env":
                item["passwordFromEnvVariable"] = env_variable
            item["ignoreSslCerts"] = ignore_ssl
            item["caFilePath"] = ca_file or self.ca_file
            items.append(item)
        lines = [
            "# written by tests.cloud.CloudEmulator (dedicated KMS instances)",
            "cache_client_dkms_config_info=%s" % json.dumps(items, separators=(",", ":")),
        ]
        if password == "top-level":
            lines.append("client_key_password_from_file_path=%s" % client_key.password_file)
        return write_properties_file(path, lines, secret_names)


def add_to(cloud) -> DkmsGateways:
    """`cloud.dkms`, with one gateway ("dkms") over TLS; add more with cloud.dkms.add_instance()."""
    cloud.dkms = DkmsGateways(cloud)
    cloud.dkms.add_instance("dkms")
    return cloud.dkms
