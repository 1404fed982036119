"""Redaction by structure (issue 19 d), as a property: whatever format an SDK puts a secret in, it is masked.

Hypothesis builds texts the way the SDKs do (json.dumps, JSON escaped inside a JSON string several levels deep, the
repr of the bytes aliyunsdkcore logs, XML, query strings made by urlencode and percent-encoded again, URL-encoded
JSON, lists of header tuples, dict reprs, header lines) around a secret under one of the names we mask, and checks
that the secret appears in no form (raw or percent-encoded) in ``redact()``'s output nor in a log record after the
filter, whether the text is the record's message, a str argument, a bytes argument or a dict argument. The same
texts built from names that are not secret come back unchanged: the very object, and a record untouched.
"""

import json
import logging
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credentials.masking.redaction import MASK, SdkLogRedactor, redact

SECRET_NAMES = [
    "AccessKeySecret",
    "accessKeySecret",
    "access_key_secret",
    "SecurityToken",
    "securityToken",
    "security_token",
    "security-token",
    "x-oss-security-token",
    "x-acs-security-token",
    "Signature",
    "x-oss-signature",
    "PrivateKeyData",
    "password",
    "auth_token",
    "oidc_token",
    "bearer_token",
    "client_secret",
]
PLAIN_NAMES = [
    "AccessKeyId",
    "RequestId",
    "SecretName",
    "VersionId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "x-oss-signature-version",
    "x-oss-date",
    "Expiration",
    "Action",
    "TokenType",
    "region",
    "name",
]
# A secret starts with "K" and is base64-like (+, /, =); plain values never hold "K", "+", "/" or "=", so a secret
# can only be found in an output where it was left unmasked; nor ":", so no plain value reads as "token: ...".
secrets = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=11, max_size=60).map(
    lambda s: "K" + s
)
plain_values = st.text("abcdefghijklmnopqrstuvwxyz0123456789 -_.", min_size=1, max_size=20)
plain_fields = st.dictionaries(st.sampled_from(PLAIN_NAMES), plain_values, max_size=4)


def forms(secret):
    """The secret as it may appear: raw, percent-encoded once (either way) or twice."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(quote(secret, safe=""), safe="")}


def in_json(fields, compact):
    return json.dumps(fields, separators=(",", ":") if compact else None)


def escaped(fields, levels):
    """JSON escaped inside a JSON string ``levels`` deep: {"SecretData": "{\\"AccessKeySecret\\": ...}"}."""
    text = json.dumps(fields)
    for _ in range(levels):
        text = json.dumps({"SecretData": text, "RequestId": "r"})
    return text


def in_xml(fields):
    return "<Response>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</Response>"


def header_tuples(fields):
    return repr(list(fields.items()))


def header_lines(fields):
    return "".join(f"\n> {k}: {v}" for k, v in fields.items())


def query(fields, encodings):
    text = "GET /?" + urlencode(fields)
    for _ in range(encodings):
        text = quote(text, safe="")
    return text


def url_encoded_json(fields, plus):
    return "q=" + (quote_plus if plus else quote)(json.dumps(fields), safe="") + "&x=1"


SHAPES = {
    "json": lambda f, d: in_json(f, d(st.booleans())),
    "escaped json": lambda f, d: escaped(f, d(st.integers(1, 3))),
    "bytes repr of escaped json": lambda f, d: repr(escaped(f, d(st.integers(1, 2))).encode()),
    "xml": lambda f, d: in_xml(f),
    "escaped xml": lambda f, d: json.dumps({"Body": in_xml(f)}).replace("<", "&lt;").replace(">", "&gt;"),
    "query": lambda f, d: query(f, d(st.integers(0, 2))),
    "url-encoded json": lambda f, d: url_encoded_json(f, d(st.booleans())),
    "header tuples": lambda f, d: header_tuples(f),
    "header lines": lambda f, d: header_lines(f),
    "dict repr": lambda f, d: repr(f),
}


@st.composite
def texts(draw, with_secret=True):
    fields = dict(draw(plain_fields))
    secret = None
    if with_secret:
        secret = draw(secrets)
        name = draw(st.sampled_from(SECRET_NAMES))
        items = list(fields.items())
        items.insert(draw(st.integers(0, len(items))), (name, secret))
        fields = dict(items)
    shape = draw(st.sampled_from(sorted(SHAPES)))
    return shape, SHAPES[shape](fields, draw), secret


LOGGER = logging.getLogger("aliyunsdkcore.client")


def filtered(text, how):
    """A record carrying ``text`` as aliyunsdkcore, oss2 or urllib3 would log it, after the filter."""
    msg, args = {
        "message": (text, ()),
        "str argument": ("Response received. Product:%s Response-body: %s", ("Kms", text)),
        "bytes argument": ("Response received. Product:%s Response-body: %s", ("Kms", text.encode())),
        "dict argument": ("Params: %s", ({"Body": text, "Action": "GetSecretValue"},)),
    }[how]
    record = LOGGER.makeRecord(LOGGER.name, logging.DEBUG, __file__, 1, msg, args, None)
    made = (record.msg, record.args)  # (logging unwraps a lone dict argument)
    assert SdkLogRedactor().filter(record) is True
    return record, made


HOW = st.sampled_from(["message", "str argument", "bytes argument", "dict argument"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), HOW)
def test_no_secret_survives_in_any_shape(text, how):
    shape, text, secret = text
    masked = redact(text)
    assert MASK in masked, shape
    assert not [form for form in forms(secret) if form in masked], (shape, masked)
    record, _ = filtered(text, how)
    message = record.getMessage()
    assert not [form for form in forms(secret) if form in message], (shape, how, message)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(with_secret=False), HOW)
def test_text_without_secrets_is_unchanged(text, how):
    shape, text, _ = text
    assert redact(text) is text, shape
    record, (msg, args) = filtered(text, how)
    assert record.msg is msg and record.args is args, (shape, how)
