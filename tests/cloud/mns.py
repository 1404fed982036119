"""Message Service (MNS), API version 2015-06-06: queues, messages, topics and queue subscriptions, XML in and out.

    PUT    /queues/{q}                                      CreateQueue        201 Location (204: it exists)
    DELETE /queues/{q}                                      DeleteQueue        204
    POST   /queues/{q}/messages      <Message> | <Messages>  SendMessage | BatchSendMessage   201
    GET    /queues/{q}/messages[?waitseconds=&numOfMessages=]  ReceiveMessage | BatchReceiveMessage  (404: none)
    DELETE /queues/{q}/messages?ReceiptHandle=H | <ReceiptHandles>  DeleteMessage | BatchDeleteMessage   204
    PUT    /queues/{q}/messages?ReceiptHandle=H&VisibilityTimeout=S  ChangeMessageVisibility  200
    PUT    /topics/{t}                                      CreateTopic        201
    POST   /topics/{t}/messages                             PublishMessage     201 (pushed into subscribed queues)
    PUT    /topics/{t}/subscriptions/{s}  <Subscription>    Subscribe          201   DELETE: Unsubscribe 204

Signature as aliyun-mns-sdk signs: `Authorization: MNS <AccessKeyId>:base64(HMAC-SHA1(secret, StringToSign))`,
StringToSign = VERB \\n content-md5 \\n content-type \\n date \\n "name:value\\n" per x-mns-* header (sorted) + the
request target as sent (path?query). An STS key's token is the (unsigned) `security-token` header. Errors are
<Error><Code/><Message/><RequestId/><HostId/></Error>: 403 InvalidAccessKeyId "The access Id you provided does not
exist." and 403 SignatureDoesNotMatch as the service answered aliyun/mns-nodejs-sdk's tests. The request is refused
before anything is stored: a send with a revoked key leaves the queue as it was.
"""

import base64
import calendar
import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from . import signing
from . import state as reasons
from .mns_store import MnsError, MnsStore
from .records import new_oss_request_id
from .rpc import apply_injected_fault
from .server import Request, Response, read_body_or_raise
from .state import CloudState

if TYPE_CHECKING:
    from .emulator import CloudEmulator

XMLNS = "http://mns.aliyuncs.com/doc/v1/"
API_VERSION = "2015-06-06"
MAX_SKEW = 15 * 60
MAX_BODY = 4 * 1024 * 1024
_NO_SUCH_KEY = (403, "InvalidAccessKeyId", "The access Id you provided does not exist.")
_BAD_TOKEN = (403, "InvalidSecurityToken", "The security token you provided is invalid.")
# check_key() reasons -> (HTTP status, code, message)
KEY_ERRORS = {
    reasons.KEY_NOT_FOUND: _NO_SUCH_KEY,
    reasons.KEY_INACTIVE: (403, "InvalidAccessKeyId", "The access Id you provided is disabled."),
    reasons.TOKEN_MISSING: _NO_SUCH_KEY,
    reasons.TOKEN_UNEXPECTED: _BAD_TOKEN,
    reasons.TOKEN_MISMATCH: _BAD_TOKEN,
    reasons.TOKEN_MALFORMED: _BAD_TOKEN,
    reasons.TOKEN_EXPIRED: (403, "SecurityTokenExpired", "The security token you provided has expired."),
}


def string_to_sign(method: str, headers: Dict[str, str], target: str) -> str:
    """headers: lower-case names -> values; target: path?query exactly as sent."""
    mns_headers = "".join("%s:%s\n" % (k, v) for k, v in sorted(headers.items()) if k.startswith("x-mns-"))
    parts = [method, headers.get("content-md5", ""), headers.get("content-type", ""), headers.get("date", "")]
    return "\n".join(parts + [mns_headers + target])


def signature(text: str, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()).decode()


def _xml(root: str, fields: List[Tuple[str, object]]) -> str:
    inner = "".join("<%s>%s</%s>" % (k, escape(str(v)), k) for k, v in fields)
    return '<%s xmlns="%s">%s</%s>' % (root, XMLNS, inner, root)


def _doc(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _message_fields(m) -> List[Tuple[str, object]]:
    return [
        ("MessageId", m.message_id),
        ("ReceiptHandle", m.receipt_handle),
        ("MessageBodyMD5", m.body_md5),
        ("MessageBody", m.body),
        ("EnqueueTime", m.enqueue_time),
        ("NextVisibleTime", m.next_visible),
        ("FirstDequeueTime", m.first_dequeue_time),
        ("DequeueCount", m.dequeue_count),
        ("Priority", m.priority),
    ]


class MnsService:
    name = "mns"
    server_header = "AliyunMQS"

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou") -> None:
        self.state = state
        self.region_id = region_id
        self.store = MnsStore()

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = new_oss_request_id()
        parts = [p for p in req.path.split("/") if p]
        params = dict(req.query_pairs)
        action = self._action(req.method, parts, params, req)
        headers = req.lower_headers()
        key_id = self._key_id(headers.get("authorization", ""))
        status, code = 200, "OK"
        try:
            failure = apply_injected_fault(self.state, self.name, req)
            if failure:
                raise MnsError(*failure)
            body = read_body_or_raise(req, MAX_BODY, MnsError, "InvalidArgument", (400, "InvalidArgument"))
            self._authenticate(req, headers, key_id, body)
            if action == "Unsupported":
                raise MnsError(400, "InvalidRequestURL", "Http request URL format invalid.")
            status, xml, extra = getattr(self, "_" + action)(parts, params, body, req)
            resp = Response(status, _doc(xml) if xml else b"", [("Content-Type", "text/xml;charset=utf-8")] + extra)
        except MnsError as err:
            status, code = err.status, err.code
            fields = [("Code", err.code), ("Message", err.message), ("RequestId", request_id)]
            xml = _xml("Error", fields + [("HostId", "http://" + req.host)])
            resp = Response(err.status, _doc(xml), [("Content-Type", "text/xml;charset=utf-8")])
        finally:
            self.state.log_call(self.name, action, key_id, status, code, req.path)
        resp.headers += [("x-mns-request-id", request_id), ("x-mns-version", API_VERSION)]
        return resp

    @staticmethod
    def _action(method: str, parts: List[str], params: Dict[str, str], req: Request) -> str:
        kind = (parts[0] if parts else "", len(parts), method)
        if kind[:2] == ("queues", 2):
            return {"PUT": "CreateQueue", "DELETE": "DeleteQueue"}.get(method, "Unsupported")
        if kind[:2] == ("queues", 3) and parts[2] == "messages":
            if method == "POST":
                return "SendMessage"  # or BatchSendMessage: decided by the body's root element
            if method == "GET":
                return "BatchReceiveMessage" if "numOfMessages" in params else "ReceiveMessage"
            if method == "DELETE":
                return "DeleteMessage" if "ReceiptHandle" in params else "BatchDeleteMessage"
            if method == "PUT" and "ReceiptHandle" in params:
                return "ChangeMessageVisibility"
        if kind == ("topics", 2, "PUT"):
            return "CreateTopic"
        if kind == ("topics", 3, "POST") and parts[2] == "messages":
            return "PublishMessage"
        if kind[:2] == ("topics", 4) and parts[2] == "subscriptions":
            return {"PUT": "Subscribe", "DELETE": "Unsubscribe"}.get(method, "Unsupported")
        return "Unsupported"

    @staticmethod
    def _key_id(authorization: str) -> Optional[str]:
        scheme, _, rest = authorization.partition(" ")
        return rest.rpartition(":")[0] or None if scheme == "MNS" else None

    def _authenticate(self, req: Request, headers: Dict[str, str], key_id: Optional[str], body: bytes) -> None:
        authorization = headers.get("authorization")
        if not authorization:
            raise MnsError(400, "MissingAuthorizationHeader", "Authorization header is required.")
        if key_id is None:
            raise MnsError(400, "InvalidAuthorizationHeader", "The Authorization header format is invalid.")
        try:
            when = calendar.timegm(time.strptime(headers.get("date", ""), "%a, %d %b %Y %H:%M:%S GMT"))
        except ValueError:
            raise MnsError(400, "InvalidDateHeader", "The Date header format is invalid.") from None
        if abs(time.time() - when) > MAX_SKEW:
            raise MnsError(403, "TimeExpired", "The http request you sent is expired.")
        key, problem = self.state.check_key(key_id, headers.get("security-token"))
        if problem is not None or key is None:
            raise MnsError(*KEY_ERRORS[problem or reasons.KEY_NOT_FOUND])
        target = req.path + ("?" + req.query_string if req.query_string else "")
        expected = signature(string_to_sign(req.method, headers, target), key.access_key_secret)
        if not signing.constant_time_equal(authorization.rpartition(":")[2], expected):
            raise MnsError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        if body and headers.get("content-md5") not in _md5_forms(body):
            raise MnsError(400, "InvalidDegist", "The Content-MD5 you specified is invalid.")

    # ---- queues ------------------------------------------------------------------------------------------------

    def _CreateQueue(self, parts, params, body, req):
        fields = _parse(body, "Queue") if body else {}
        created = self.store.create_queue(
            parts[1], int(fields.get("VisibilityTimeout", 30)), int(fields.get("DelaySeconds", 0))
        )
        return (201 if created else 204), "", [("Location", "http://%s/queues/%s" % (req.host, parts[1]))]

    def _DeleteQueue(self, parts, params, body, req):
        self.store.delete_queue(parts[1])
        return 204, "", []

    def _SendMessage(self, parts, params, body, req):
        root = _root(body)
        if root.tag == "{%s}Messages" % XMLNS:  # BatchSendMessage
            entries = [_fields(m) for m in root]
            sent = self.store.send(parts[1], [e.get("MessageBody", "") for e in entries])
            xml = "".join(_xml("Message", [("MessageId", m.message_id), ("MessageBodyMD5", m.body_md5)]) for m in sent)
            return 201, '<Messages xmlns="%s">%s</Messages>' % (XMLNS, xml.replace(' xmlns="%s"' % XMLNS, "")), []
        fields = _fields(root)
        delay = int(fields["DelaySeconds"]) if "DelaySeconds" in fields else None
        (m,) = self.store.send(parts[1], [fields.get("MessageBody", "")], delay, int(fields.get("Priority", 8)))
        return 201, _xml("Message", [("MessageId", m.message_id), ("MessageBodyMD5", m.body_md5)]), []

    def _ReceiveMessage(self, parts, params, body, req):
        count = int(params.get("numOfMessages", 1))
        deadline = time.monotonic() + float(params.get("waitseconds", 0))
        while True:
            taken = self.store.receive(parts[1], count)
            if taken or time.monotonic() >= deadline or not req.wait(0):
                break
            self.store.wait_for_message(parts[1], min(0.05, deadline - time.monotonic()))
        if not taken:
            raise MnsError(404, "MessageNotExist", "Message not exist.")
        if "numOfMessages" not in params:
            return 200, _xml("Message", _message_fields(taken[0])), []
        inner = "".join(_xml("Message", _message_fields(m)).replace(' xmlns="%s"' % XMLNS, "") for m in taken)
        return 200, '<Messages xmlns="%s">%s</Messages>' % (XMLNS, inner), []

    _BatchReceiveMessage = _ReceiveMessage

    def _DeleteMessage(self, parts, params, body, req):
        self.store.delete(parts[1], params["ReceiptHandle"])
        return 204, "", []

    def _BatchDeleteMessage(self, parts, params, body, req):
        for handle in _root(body):
            self.store.delete(parts[1], (handle.text or "").strip())
        return 204, "", []

    def _ChangeMessageVisibility(self, parts, params, body, req):
        m = self.store.change_visibility(parts[1], params["ReceiptHandle"], int(params.get("VisibilityTimeout", 0)))
        return (
            200,
            _xml("ChangeVisibility", [("ReceiptHandle", m.receipt_handle), ("NextVisibleTime", m.next_visible)]),
            [],
        )

    # ---- topics ------------------------------------------------------------------------------------------------

    def _CreateTopic(self, parts, params, body, req):
        created = self.store.create_topic(parts[1])
        return (201 if created else 204), "", [("Location", "http://%s/topics/%s" % (req.host, parts[1]))]

    def _PublishMessage(self, parts, params, body, req):
        m = self.store.publish(parts[1], _parse(body, "Message").get("MessageBody", ""))
        return 201, _xml("Message", [("MessageId", m.message_id), ("MessageBodyMD5", m.body_md5)]), []

    def _Subscribe(self, parts, params, body, req):
        self.store.subscribe(parts[1], parts[3], _parse(body, "Subscription").get("Endpoint", ""))
        location = "http://%s/topics/%s/subscriptions/%s" % (req.host, parts[1], parts[3])
        return 201, "", [("Location", location)]

    def _Unsubscribe(self, parts, params, body, req):
        self.store.unsubscribe(parts[1], parts[3])
        return 204, "", []


def _md5_forms(body: bytes) -> Tuple[str, str]:
    """The SDK sends base64 of the *hex* MD5; the API reference says base64 of the digest. Both are accepted."""
    digest = hashlib.md5(body)
    return base64.b64encode(digest.hexdigest().encode()).decode(), base64.b64encode(digest.digest()).decode()


def _root(body: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise MnsError(400, "InvalidArgument", "The XML you provided was not well-formed.") from None


def _fields(element: ElementTree.Element) -> Dict[str, str]:
    return {child.tag.rpartition("}")[2]: (child.text or "") for child in element}


def _parse(body: bytes, root: str) -> Dict[str, str]:
    element = _root(body)
    if element.tag.rpartition("}")[2] != root:
        raise MnsError(400, "InvalidArgument", "The root element must be %s." % root)
    return _fields(element)


def add_to(cloud: "CloudEmulator") -> MnsService:
    """Serve Message Service on its own port as `cloud.mns` (Account's host: cloud.mns_endpoint)."""
    service = MnsService(cloud.state, cloud.region_id)
    service.listener = cloud.add_service("mns", service)
    cloud.mns = service
    return service
