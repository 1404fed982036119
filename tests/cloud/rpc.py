"""The shared machinery of an Alibaba Cloud RPC-style API (KMS, ECS, STS, ...).

Accepts both ways the SDKs send RPC calls:
* signature V1: `Signature`, `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`, `SignatureNonce`,
  `AccessKeyId`, `Timestamp`, optional `SecurityToken`, as query and/or form parameters (aliyunsdkcore,
  tea-openapi with signature_algorithm='v2');
* the same with an application client key: `SignatureMethod=SHA256withRSA`, `SignatureType=PRIVATEKEY`,
  `AccessKeyId=<KeyId>`, an RSA signature checked against the client key's public half (services that take
  client keys, i.e. KMS, override `client_public_key`);
* ACS3-HMAC-SHA256 in the Authorization header, x-acs-* headers (tea-openapi's default).

A subclass sets `name`, `version`, `product` and defines `action_<Name>(call) -> dict`; it may override
`authorize(call)` for per-service permissions. Errors are JSON shaped like the real gateway's.
"""

import base64
import calendar
import hashlib
import json
import re
import threading
import time
from typing import Callable, Dict, Optional, Tuple, Union
from urllib.parse import parse_qsl

from . import signing
from .records import AccessKey, new_request_id
from .server import BodyTooLarge, IncompleteBody, Request, Response
from .state import (
    KEY_INACTIVE,
    KEY_NOT_FOUND,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_MISMATCH,
    TOKEN_MISSING,
    TOKEN_UNEXPECTED,
    CloudState,
)

MAX_SKEW = 15 * 60
RSA_METHOD = "SHA256withRSA"  # an application client key's SignatureMethod
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$")

# check_key() reasons -> (HTTP status, code, message)
KEY_ERRORS = {
    KEY_NOT_FOUND: (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
    KEY_INACTIVE: (400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."),
    TOKEN_MISSING: (
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "Specified SecurityToken mismatch with the AccessKey: this access key needs its security token.",
    ),
    TOKEN_MISMATCH: (
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "Specified SecurityToken mismatch with the AccessKey.",
    ),
    TOKEN_MALFORMED: (400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed."),
    TOKEN_UNEXPECTED: (
        400,
        "InvalidSecurityToken.Malformed",
        "Specified SecurityToken is malformed: this access key takes no security token.",
    ),
    TOKEN_EXPIRED: (400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."),
}

DEFAULT_FAULT_CODES = {
    400: "Throttling",
    429: "Throttling",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "ServiceTimeout",
}


def apply_injected_fault(state: CloudState, service: str, request: Request) -> Optional[Tuple[int, str, str]]:
    """Take the service's next injected fault: wait its delay, and return (status, code, message) when the
    request must fail."""
    failure = injected_failure(state, service, request)
    return failure[:3] if failure else None


def injected_failure(
    state: CloudState, service: str, request: Request
) -> Optional[Tuple[int, str, str, Tuple[Tuple[str, str], ...]]]:
    """apply_injected_fault, with the headers the error answer carries (a throttling fault's Retry-After)."""
    fault = state.take_fault(service)
    if fault is None:
        return None
    if fault.gate is not None:
        hold_at_gate(state, service, request, fault.gate, fault.delay or 60.0)
    elif fault.delay:
        request.wait(fault.delay)
    if not fault.status:
        return None
    return (
        fault.status,
        fault.code or DEFAULT_FAULT_CODES.get(fault.status, "InternalError"),
        fault.message or "The request has failed due to a temporary failure of the server (injected fault).",
        (("Retry-After", fault.retry_after),) if fault.retry_after else (),
    )


def hold_at_gate(state: CloudState, service: str, request: Request, gate: threading.Event, limit: float) -> None:
    """Keep the request unanswered until the test sets `gate`, the listener stops, or `limit` seconds pass."""
    state.count_held(service, +1)
    try:
        end = time.monotonic() + limit
        while not gate.wait(0.01) and request.wait(0) and time.monotonic() < end:
            pass
    finally:
        state.count_held(service, -1)


def error_document(err: "RpcError", request: Request, request_id: str, product: str) -> Dict[str, str]:
    """The JSON error body of Alibaba Cloud's RPC and ROA gateways (aliyunsdkcore reads Code and Message)."""
    return {
        "RequestId": request_id,
        "HostId": request.host,
        "Code": err.code,
        "Message": err.message,
        "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=%s&requestId=%s"
        % (err.code, product, request_id),
    }


class RpcError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Tuple[Tuple[str, str], ...] = ()):
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message
        self.headers = headers  # extra headers of the error answer (Retry-After)


class RpcCall:
    """One parsed RPC request, handed to action_<Name>()."""

    def __init__(self, request: Request, params: Dict[str, str], body: bytes, request_id: str):
        self.request = request
        self.params = params  # query + form parameters (the action's input)
        self.body = body
        self.request_id = request_id
        self.authorization = request.header("Authorization") or ""
        self.acs3 = signing.parse_acs3_authorization(self.authorization) if self.authorization else None
        if self.acs3 is not None:
            self.action = request.header("x-acs-action")
            self.version = request.header("x-acs-version")
            self.access_key_id = self.acs3.get("Credential")
            self.security_token = request.header("x-acs-security-token")
        else:
            self.action = params.get("Action") or request.header("x-acs-action")
            self.version = params.get("Version") or request.header("x-acs-version")
            self.access_key_id = params.get("AccessKeyId")
            self.security_token = params.get("SecurityToken")
        self.key: Optional[AccessKey] = None  # set once authenticated with an AccessKey
        self.client_key_id: Optional[str] = None  # set once authenticated with a client key

    def param(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.params.get(name, default)


def parse_timestamp(text: Optional[str]) -> Optional[float]:
    m = _TIMESTAMP.match(text or "")
    if not m:
        return None
    try:
        return calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))
    except (ValueError, OverflowError):
        return None


class RpcService:
    name = "rpc"
    version = ""
    product = ""
    server_header = "Tengine"

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou"):
        self.state = state
        self.region_id = region_id

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        call: Optional[RpcCall] = None
        status, code = 200, "OK"
        try:
            call = self._parse(request, request_id)
            self._apply_fault(request)
            action = self._resolve(call)
            self._authenticate(call)
            self.authorize(call)
            result = action(call)
            if isinstance(result, Response):  # an answer the test set byte for byte
                return result
            return self._json(200, dict({"RequestId": request_id}, **result), request_id)
        except RpcError as err:
            status, code = err.status, err.code
            answer = self._json(err.status, error_document(err, request, request_id, self.product), request_id)
            answer.headers.extend(err.headers)
            return answer
        finally:
            self.state.log_call(
                self.name, call.action if call else None, call.access_key_id if call else None, status, code
            )

    def authorize(self, call: RpcCall) -> None:
        """Per-service permission check after authentication; raise RpcError to refuse."""

    def client_public_key(self, key_id: Optional[str]):
        """The RSA public key of a live application client key, or None: this service takes AccessKeys only."""
        return None

    # ---- steps -------------------------------------------------------------------------------------------------

    def _parse(self, request: Request, request_id: str) -> RpcCall:
        try:
            body = request.read_body(max_bytes=4 * 1024 * 1024)
        except IncompleteBody as exc:
            raise RpcError(400, "IncompleteBody", "The request body is incomplete: %s" % exc)
        except BodyTooLarge:
            raise RpcError(413, "RequestEntityTooLarge", "The request body is too large.")
        params = dict(request.query_pairs)
        content_type = (request.header("Content-Type") or "").lower()
        if body and content_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return RpcCall(request, params, body, request_id)

    def _apply_fault(self, request: Request) -> None:
        failure = injected_failure(self.state, self.name, request)
        if failure:
            raise RpcError(*failure)

    def _resolve(self, call: RpcCall) -> Callable[[RpcCall], Union[dict, Response]]:
        if not call.action:
            raise RpcError(
                400,
                "MissingParameter",
                'The input parameter "Action" that is mandatory for processing this request is not supplied.',
            )
        action = getattr(self, "action_" + call.action, None)
        if action is None:
            raise RpcError(
                404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
            )
        if call.version != self.version:
            raise RpcError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        return action

    def _authenticate(self, call: RpcCall) -> None:
        if call.acs3 is None and "Signature" not in call.params:
            if call.authorization:
                raise RpcError(400, "IncompleteSignature", "The Authorization header is malformed.")
            raise RpcError(
                400,
                "MissingParameter",
                'The input parameter "Signature" that is mandatory for processing this request is not supplied.',
            )
        if not call.access_key_id:
            raise RpcError(
                400,
                "MissingParameter",
                'The input parameter "AccessKeyId" that is mandatory for processing this request is not supplied.',
            )
        if call.acs3 is None and call.params.get("SignatureMethod") == RSA_METHOD:
            self._authenticate_client_key(call)
            return
        key, problem = self.state.check_key(call.access_key_id, call.security_token)
        if problem is not None:
            raise RpcError(*KEY_ERRORS[problem])
        if call.acs3 is not None:
            self._verify_acs3(call, key)
        else:
            self._verify_v1(call, key)
        call.key = key

    def _check_time(self, text: Optional[str], name: str) -> None:
        when = parse_timestamp(text)
        if when is None:
            raise RpcError(400, "InvalidTimeStamp.Format", "Specified %s is not valid." % name)
        if abs(time.time() - when) > MAX_SKEW:
            raise RpcError(400, "InvalidTimeStamp.Expired", "Specified %s or Date header is expired." % name)

    def _check_v1_params(self, p: Dict[str, str]) -> None:
        if p.get("SignatureVersion") != "1.0":
            raise RpcError(400, "InvalidSignatureVersion", "Specified signature version is not supported.")
        if not p.get("SignatureNonce"):
            raise RpcError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        self._check_time(p.get("Timestamp"), "Timestamp")

    def _authenticate_client_key(self, call: RpcCall) -> None:
        """SHA256withRSA: an unknown or revoked client key is refused as an unknown AccessKey is."""
        p = call.params
        public_key = self.client_public_key(call.access_key_id)
        if public_key is None:
            raise RpcError(*KEY_ERRORS[KEY_NOT_FOUND])
        if p.get("SignatureType") != "PRIVATEKEY":
            raise RpcError(
                400,
                "InvalidSignatureMethod",
                "Specified signature type is not supported with SHA256withRSA (expected PRIVATEKEY).",
            )
        self._check_v1_params(p)
        try:
            signature = base64.b64decode(p.get("Signature", ""), validate=True)
        except ValueError:
            raise RpcError(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards: it is not base64.",
            )
        string_to_sign = signing.rpc_v1_string_to_sign(call.request.method, p)
        if not signing.rpc_rsa_signature_valid(string_to_sign, signature, public_key):
            raise RpcError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:" + string_to_sign,
            )
        call.client_key_id = call.access_key_id

    def _verify_v1(self, call: RpcCall, key: AccessKey) -> None:
        p = call.params
        if p.get("SignatureMethod") != "HMAC-SHA1":
            raise RpcError(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        self._check_v1_params(p)
        string_to_sign = signing.rpc_v1_string_to_sign(call.request.method, p)
        expected = signing.rpc_v1_signature(string_to_sign, key.access_key_secret)
        if not signing.constant_time_equal(p.get("Signature", ""), expected):
            raise RpcError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:" + string_to_sign,
            )

    def _verify_acs3(self, call: RpcCall, key: AccessKey) -> None:
        auth, req = call.acs3, call.request
        if auth["algorithm"] != signing.ACS3_ALGORITHM:
            raise RpcError(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        signed = [h.strip().lower() for h in auth["SignedHeaders"].split(";") if h.strip()]
        required = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}
        required |= {h for h in ("x-acs-content-sha256", "x-acs-security-token") if req.header(h) is not None}
        missing = sorted(required - set(signed))
        if missing:
            raise RpcError(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun "
                "standards: header(s) %s must be signed." % ", ".join(missing),
            )
        if not req.header("x-acs-signature-nonce"):
            raise RpcError(400, "MissingSignatureNonce", "x-acs-signature-nonce is mandatory for this action.")
        self._check_time(req.header("x-acs-date"), "x-acs-date")
        canonical = signing.acs3_canonical_request(
            req.method,
            req.path or "/",
            req.query_pairs,
            req.header_values,
            sorted(signed),
            hashlib.sha256(call.body).hexdigest(),
        )
        string_to_sign = signing.acs3_string_to_sign(canonical, auth["algorithm"])
        expected = signing.acs3_signature(string_to_sign, key.access_key_secret)
        if not signing.constant_time_equal(auth["Signature"].lower(), expected):
            raise RpcError(
                400,
                "SignatureDoesNotMatch",
                "The request signature does not conform to Aliyun "
                "standards. server string to sign is:" + string_to_sign,
            )

    # ---- helpers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, body: dict, request_id: str) -> Response:
        data = json.dumps(body).encode("utf-8")
        return Response(
            status, data, [("Content-Type", "application/json;charset=utf-8"), ("x-acs-request-id", request_id)]
        )

    @staticmethod
    def require(call: RpcCall, name: str) -> str:
        value = call.params.get(name)
        if value is None or value == "":
            raise RpcError(
                400,
                "MissingParameter",
                'The input parameter "%s" that is mandatory for processing this request is not supplied.' % name,
            )
        return value
