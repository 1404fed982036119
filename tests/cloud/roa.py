"""The shared machinery of an Alibaba Cloud ROA-style API (resource paths, like CS or the OpenSearch APIs).

aliyunsdkcore signs a ROA request (`RoaRequest`, or `CommonRequest` with a `uri_pattern`) in a header:

    Authorization: acs <AccessKeyId>:base64(HMAC-SHA1(secret, StringToSign))
    StringToSign = METHOD \\n Accept \\n Content-MD5 \\n Content-Type \\n Date \\n
                   one "name:value\\n" per x-acs-* header (lower-case names, sorted)
                   path ? k1=v1&k2=v2 (query sorted by name, values not encoded; `k` alone for a valueless key)

with `x-acs-signature-method: HMAC-SHA1`, `x-acs-signature-version: 1.0`, `x-acs-version`, `Date` (RFC 2616)
and, for an STS key, `x-acs-security-token`. A subclass sets `name`, `version`, `product` and `routes`
(method, path with `{Name}` placeholders, action name) and defines `action_<Name>(call) -> (status, body)`.
Errors are JSON with Code, Message, RequestId (what aliyunsdkcore parses into a ServerException), and revoked,
disabled and unknown keys get the same codes as the RPC APIs (rpc.KEY_ERRORS).
"""

import base64
import email.utils
import hashlib
import hmac
import json
import re
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote, unquote_plus

from . import signing
from .records import AccessKey, new_request_id
from .rpc import KEY_ERRORS, MAX_SKEW, RpcError, apply_injected_fault, error_document
from .server import BodyTooLarge, IncompleteBody, Request, Response
from .state import KEY_NOT_FOUND, CloudState

ROA_SIGNATURE_METHOD = "HMAC-SHA1"
ROA_SIGNATURE_VERSION = "1.0"
Route = Tuple[str, str, str]  # (HTTP method, path pattern with {Name} placeholders, action name)


def parse_roa_authorization(value: str) -> Optional[Tuple[str, str]]:
    """`acs <AccessKeyId>:<Signature>` -> (id, signature)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "acs":
        return None
    access_key_id, sep, signature = rest.strip().rpartition(":")
    if not sep or not access_key_id or not signature:
        return None
    return access_key_id, signature


def raw_query_pairs(query_string: str) -> List[Tuple[str, Optional[str]]]:
    """The query as the signer saw it: `k=v` -> (k, v) decoded, a bare `k` -> (k, None)."""
    pairs: List[Tuple[str, Optional[str]]] = []
    for part in query_string.split("&") if query_string else ():
        name, sep, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value) if sep else None))
    return pairs


def roa_string_to_sign(
    method: str, headers: Dict[str, str], path: str, query: Sequence[Tuple[str, Optional[str]]]
) -> str:
    """headers: lower-case names -> values; path decoded; query as raw_query_pairs gives it."""
    acs_headers = sorted((k, v) for k, v in headers.items() if k.startswith("x-acs-"))
    canonical_headers = "".join(k + ":" + v + "\n" for k, v in acs_headers)
    resource = path
    if query:
        resource += "?" + "&".join(k if v is None else k + "=" + v for k, v in sorted(query, key=lambda p: p[0]))
    return "\n".join(
        [
            method.upper(),
            headers.get("accept", ""),
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            headers.get("date", ""),
            canonical_headers + resource,
        ]
    )


def roa_signature(string_to_sign: str, access_key_secret: str) -> str:
    digest = hmac.new(access_key_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


class RoaCall:
    """One parsed ROA request, handed to action_<Name>()."""

    def __init__(self, request: Request, body: bytes, request_id: str) -> None:
        self.request = request
        self.body = body
        self.request_id = request_id
        self.path = unquote(request.path or "/")
        self.query = raw_query_pairs(request.query_string)
        self.headers = request.lower_headers()
        self.action: Optional[str] = None
        self.path_params: Dict[str, str] = {}
        parsed = parse_roa_authorization(self.headers.get("authorization", ""))
        self.access_key_id: Optional[str] = parsed[0] if parsed else None
        self.signature: Optional[str] = parsed[1] if parsed else None
        self.security_token = self.headers.get("x-acs-security-token")
        self.key: Optional[AccessKey] = None  # set once authenticated

    def param(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return next((v for k, v in self.query if k == name), default)

    def json_body(self) -> dict:
        try:
            value = json.loads(self.body.decode("utf-8") or "{}")
        except ValueError:
            raise RpcError(400, "InvalidParameter", "The request body is not valid JSON.")
        if not isinstance(value, dict):
            raise RpcError(400, "InvalidParameter", "The request body must be a JSON object.")
        return value


def _compile(pattern: str) -> "re.Pattern[str]":
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$")


class RoaService:
    name = "roa"
    version = ""
    product = ""
    server_header = "Tengine"
    routes: Sequence[Route] = ()

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou") -> None:
        self.state = state
        self.region_id = region_id
        self._routes = [(method, _compile(pattern), action) for method, pattern, action in self.routes]

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        call: Optional[RoaCall] = None
        status, code = 200, "OK"
        try:
            call = self._parse(request, request_id)
            failure = apply_injected_fault(self.state, self.name, request)
            if failure:
                raise RpcError(*failure)
            action = self._resolve(call)
            self._authenticate(call)
            status, result = action(call)
            return self._json(status, result, request_id)
        except RpcError as err:
            status, code = err.status, err.code
            return self._json(err.status, error_document(err, request, request_id, self.product), request_id)
        finally:
            self.state.log_call(
                self.name, call.action if call else None, call.access_key_id if call else None, status, code
            )

    # ---- steps -------------------------------------------------------------------------------------------------

    def _parse(self, request: Request, request_id: str) -> RoaCall:
        try:
            body = request.read_body(max_bytes=4 * 1024 * 1024)
        except IncompleteBody as exc:
            raise RpcError(400, "IncompleteBody", "The request body is incomplete: %s" % exc)
        except BodyTooLarge:
            raise RpcError(413, "RequestEntityTooLarge", "The request body is too large.")
        return RoaCall(request, body, request_id)

    def _resolve(self, call: RoaCall) -> Callable[[RoaCall], Tuple[int, object]]:
        for method, pattern, action in self._routes:
            match = pattern.match(call.path)
            if match and method == call.request.method:
                call.action, call.path_params = action, match.groupdict()
                return getattr(self, "action_" + action)
        raise RpcError(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")

    def _authenticate(self, call: RoaCall) -> None:
        h = call.headers
        if "authorization" not in h:
            raise RpcError(
                400,
                "MissingAuthorization",
                "The Authorization header that is mandatory for processing this request is not supplied.",
            )
        if call.access_key_id is None:
            raise RpcError(400, "IncompleteSignature", "The Authorization header is malformed.")
        if h.get("x-acs-version") != self.version:
            raise RpcError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if h.get("x-acs-signature-method") != ROA_SIGNATURE_METHOD:
            raise RpcError(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        if h.get("x-acs-signature-version") != ROA_SIGNATURE_VERSION:
            raise RpcError(400, "InvalidSignatureVersion", "Specified signature version is not supported.")
        self._check_date(h.get("date"))
        key, problem = self.state.check_key(call.access_key_id, call.security_token)
        if problem is not None or key is None:
            raise RpcError(*KEY_ERRORS[problem or KEY_NOT_FOUND])
        string_to_sign = roa_string_to_sign(call.request.method, h, call.path, call.query)
        expected = roa_signature(string_to_sign, key.access_key_secret)
        if not signing.constant_time_equal(call.signature or "", expected):
            raise RpcError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:" + string_to_sign,
            )
        if call.body and "content-md5" in h:
            actual = base64.b64encode(hashlib.md5(call.body).digest()).decode()
            if h["content-md5"] != actual:
                raise RpcError(
                    400, "InvalidContent.MD5Mismatch", "The Content-MD5 you specified does not match the body received."
                )
        call.key = key

    @staticmethod
    def _check_date(text: Optional[str]) -> None:
        try:
            when = email.utils.parsedate_to_datetime(text or "").timestamp()
        except (TypeError, ValueError):
            raise RpcError(400, "InvalidDate.Format", "Specified Date header is not valid.") from None
        if abs(time.time() - when) > MAX_SKEW:
            raise RpcError(400, "InvalidTimeStamp.Expired", "Specified Date header is expired.")

    # ---- helpers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, body: object, request_id: str) -> Response:
        data = json.dumps(body).encode("utf-8")
        return Response(
            status, data, [("Content-Type", "application/json;charset=utf-8"), ("x-acs-request-id", request_id)]
        )
