"""Secrets masked in the SDKs' own log records: security tokens, AccessKey secrets, signatures, passwords.

With DEBUG on, the SDKs log what they send and receive: aliyunsdkcore the query parameters (``SecurityToken`` of an
STS key), the server's string to sign and whole response bodies (a KMS ``GetSecretValue`` answer carries the managed
key as JSON escaped inside ``SecretData``), oss2 its string to sign (``x-oss-security-token:...``) and request
headers, urllib3 (under oss2 and tea-openapi) every URL with its query (tea's RPC style puts ``SecurityToken`` and
``Signature`` there), tea / darabonba every header when ``DEBUG=sdk`` is set, and the Credentials tool STS answers.
``redact()`` masks, as ``****``, the *value* that follows a sensitive name (security tokens, AccessKey and client
secrets, ``Signature`` / ``x-oss-signature``, OIDC, bearer, auth, access, session and metadata tokens, passwords,
``PrivateKeyData``), the signature part of ``Authorization`` headers, and the password of a URL's userinfo. The
name is found by the structure around it, not by one fixed spelling:

* ``key=v``, ``key: v``, ``'key': 'v'``, ``"key":"v"`` (dict reprs, JSON, query strings, header lines);
* JSON escaped inside a string, at any depth (``\\"AccessKeySecret\\":\\"v\\"``, and the ``\\\\"`` of its repr);
* percent-encoded, once or twice (``SecurityToken%3Dv``, ``%22AccessKeySecret%22%3A%22v%22``);
* lists of header tuples (``('x-oss-security-token', 'v')``) and XML elements (``<SecurityToken>v</SecurityToken>``,
  also escaped as ``&lt;...&gt;``).

Where it is attached, and why there. A filter on a logger sees only the records logged on that very logger, not
those of its children (propagation skips the parents' filters), and the application's handlers are not ours to
touch. So the filter goes on every logger the SDKs log on, by exact name (credentials/masking/sdk_loggers.py), and at
installation every logger that already exists under one of ``SDK_PREFIXES`` gets it too. tea and darabonba log
``DEBUG=sdk`` output through their own StreamHandler on those loggers (to stderr); a logger's filters run before
its handlers, so that output is masked too.

A record is changed only when its text holds something to mask: then its message template and arguments are
masked one by one (their shape kept: a str stays a str, bytes stay bytes, a dict a dict), or, when a secret only
appears once they are put together, the record carries the masked text with no arguments. Level, name, time and
everything else stay as they were. Text known to be secret whatever its names (the query string of a
``credentials_uri``, known_secrets.py) is masked in the records logged in a thread while it is hidden.

Cost: nothing on a call's success path (the filter runs only on records the SDKs emit, which at the default WARNING
level are next to none); the patterns are compiled at first use, so importing this module costs no regex compile.
``install_sdk_log_redaction()`` is idempotent and thread-safe; the proxies call it at their first construction.
Installing it is process-wide by nature (logging is), like the registry.
"""

import logging
import os
import re
import threading
from typing import Any, Dict, Iterable, Mapping

from . import known_secrets
from .known_secrets import MASK, hide
from .reissued import lower_if_reissued
from .sdk_loggers import SDK_LOGGERS, SDK_PREFIXES

# A sensitive name. "Signature" only capitalised: oss2 writes "Make signature: string to be signed = ...".
_NAMES = (
    r"(?:(?i:x-(?:oss|acs)-security-token|security[_-]?token|access[_-]?key[_-]?secret|client[_-]?secret"
    r"|x-oss-signature|x-ots-signature(?:v4)?|(?:x-ots-)?sts[_-]?token"  # Tablestore's headers
    r"|(?:oidc|bearer|auth|access|refresh|session|id|api|metadata)[_-]?token|token"
    r"|password|passwd|private[_-]?key(?:[_-]?data)?)|Signature)"
)
_NAME_START = r"(?:(?<![A-Za-z_])|(?<=%[0-9A-Fa-f]{2})|(?<=%25[0-9A-Fa-f]{2}))"  # a word's start, or after %3F
_NAME_WORDS = ("token", "secret", "signature", "passw", "private")  # every name holds one (lower case)
_QUOTE = r"""(?:\\*["']|%(?:25)*2[27]|&quot;|&\#3[49];|&apos;)"""  # a quote at any level of escaping
_SPACE = r"(?:[ \t]|%(?:25)*20)*"
_SEPARATOR = (
    rf"{_QUOTE}?{_SPACE}(?:[:=]|%(?:25)*3[aAdD]){_SPACE}(?:(?:\+|%(?:25)*2[bB])(?=%(?:25)*22))?"  # key=v, "k":"v"
    r"""(?:[bBuU](?=["']))?(?:(?P<dq>(?<!\\)")|(?P<sq>(?<!\\)')|"""  # the value's opening quote, if any
    rf"{_QUOTE})?"
)
# An unquoted value (or one whose quotes are escaped) ends at a delimiter, escaped or percent-encoded ones included;
# inside plain quotes it ends at the closing quote.
_DELIMITER = r"(?:25)*(?:0[aAdD]|2[0267-9cC]|3[bBcCeE]|5[bBcCdD]|7[bBdD])"
_BARE = rf"""(?:\\+/|\\+u[0-9a-fA-F]{{4}}|[^\s"'\\,;&<>{{}}\[\]()%]|%(?!{_DELIMITER}))+"""
_TEMPLATE = r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdrifxXeEgGc](?![\w%+/=])"  # a %s of a log template: no value
_VALUE = rf"""(?:{_TEMPLATE}|(?(dq)(?:[^"\\\n]|\\.)+|(?(sq)(?:[^'\\\n]|\\.)+|{_BARE})))"""
_NOT_SECRETS = frozenset({"null", "None", "none", "true", "false", "True", "False", "undefined"})


# Each pattern is compiled at its first use (up to a few milliseconds each), not at import, and only those a record's
# words call for: the one a healed rotation logs (the SDK's ERROR record of the rejected request) usually needs none,
# and it is logged on the slowest call of the rotation.
_SOURCES = {
    "named": rf"{_NAME_START}(?P<name>{_NAMES})(?P<sep>{_SEPARATOR})(?P<value>{_VALUE})",
    # ('x-oss-security-token', 'v'), as in a list of headers
    "header_tuple": rf"(?P<head>\(\s*{_QUOTE}{_NAMES}{_QUOTE}\s*,\s*[bBuU]?{_QUOTE})(?P<value>[^\s\\\x22']+)",
    "xml": rf"(?P<head>(?:<|&lt;)(?:[\w.-]+:)?{_NAMES}(?:\s[^<>]*)?(?:>|&gt;))(?P<value>[^<&\s][^<&]*)",
    # oss2, aliyunsdkcore ROA, Log Service, Message Service, Tablestore's answers
    "authorization": r"(?<![\w-])(?P<head>(?:OSS|acs|LOG|MNS|OTS)\s+[\w.\-]+:)(?P<value>[A-Za-z0-9+/]{16,}={0,2})",
    "bearer": r"(?<![\w-])(?P<head>(?i:bearer)\s+)(?P<value>[A-Za-z0-9+/=._\-]{16,})",
    "userinfo": r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:)(?P<value>[^/\s@'\"]+)(?=@)",
    "template": rf"^{_TEMPLATE}$",
    "sensitive_key": rf"^{_NAMES}$",
}
_compiled: Dict[str, "re.Pattern[str]"] = {}


def _pattern(name: str) -> "re.Pattern[str]":
    """The compiled pattern ``name`` of _SOURCES (two threads compiling it at once compile equal ones)."""
    compiled = _compiled.get(name)
    if compiled is None:
        compiled = _compiled[name] = re.compile(_SOURCES[name])
    return compiled


def _mask_named(match: "re.Match[str]") -> str:
    value = match.group("value")
    if not value.strip("*") or value in _NOT_SECRETS or _pattern("template").match(value):
        return match.group(0)  # masked already, not a value (null), or a %s of a log template
    return f"{match.group('name')}{match.group('sep')}{MASK}"


def _mask_tail(match: "re.Match[str]") -> str:
    return f"{match.group('head')}{MASK}"


def redact(text: str) -> str:
    """``text`` with every secret-looking value masked; the same string object when there is none."""
    if not isinstance(text, str):
        return text
    lowered = text.lower()  # each pattern runs only where its words occur: most SDK records hold none
    masked = text
    if any(word in lowered for word in _NAME_WORDS):
        masked = _pattern("named").sub(_mask_named, masked)
        masked = _pattern("xml").sub(_mask_tail, _pattern("header_tuple").sub(_mask_tail, masked))
    if "bearer" in lowered:
        masked = _pattern("bearer").sub(_mask_tail, masked)
    if "OSS" in masked or "acs" in masked or "MNS" in masked or "OTS" in masked or "LOG" in masked:
        masked = _pattern("authorization").sub(_mask_tail, masked)
    if "://" in masked:
        masked = _pattern("userinfo").sub(_mask_tail, masked)
    return text if masked == text else masked


def _redact_bytes(data: bytes) -> bytes:
    text = data.decode("utf-8", "surrogateescape")
    masked = redact(text)
    return data if masked is text else masked.encode("utf-8", "surrogateescape")


def is_sensitive_name(name: object) -> bool:
    """Whether ``name`` (a dict key, a header name) is one whose value is masked."""
    return isinstance(name, str) and _pattern("sensitive_key").match(name) is not None


class _Masked:
    """An argument of any type, formatted as its masked text (``%s`` and ``%r`` alike)."""

    def __init__(self, text: str, representation: str):
        self._text, self._representation = text, representation

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._representation


def _redact_value(value: Any, depth: int = 0) -> Any:
    """``value`` masked, in its own shape where that is a str, bytes, dict, list or tuple; itself if clean."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return _redact_bytes(value)
    if depth < 4 and isinstance(value, Mapping):
        items = {
            key: (
                MASK
                if is_sensitive_name(key) and isinstance(item, (str, bytes)) and item
                else _redact_value(item, depth + 1)
            )
            for key, item in value.items()
        }
        changed = any(items[key] is not value[key] for key in value)
        return (dict(items) if type(value) is dict else _Masked(str(items), repr(items))) if changed else value
    if depth < 4 and isinstance(value, (list, tuple)):
        elements = [_redact_value(item, depth + 1) for item in value]
        if all(a is b for a, b in zip(elements, value)):
            return value
        if type(value) is list:
            return elements
        return tuple(elements) if type(value) is tuple else _Masked(str(elements), repr(elements))
    text, representation = str(value), repr(value)
    masked, masked_repr = redact(text), redact(representation)
    return value if masked is text and masked_repr is representation else _Masked(masked, masked_repr)


def _redact_args(args: Any) -> Any:
    if isinstance(args, tuple):
        masked = tuple(_redact_value(arg) for arg in args)
        return args if all(a is b for a, b in zip(masked, args)) else masked
    if isinstance(args, Mapping):
        return _redact_value(args)
    return args


# --- log records -----------------------------------------------------------------------------------------------------


def redact_record(record: logging.LogRecord) -> None:
    """Mask the secrets of one record in place (see the module docstring); a clean record is left untouched."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record: logging reports it as usual
        return
    known = known_secrets.in_this_thread()
    if known and hide(message, known) is not message:  # text secret whatever its names: the record shows it masked
        message = record.msg = hide(message, known)
        record.args = ()
    if redact(message) is not message:
        msg, args = (redact(record.msg) if isinstance(record.msg, str) else record.msg), _redact_args(record.args)
        try:
            formatted = (msg % args) if args else str(msg)
        except Exception:  # noqa: BLE001 - the masked pieces no longer fit together: keep the masked text
            formatted = None
        if formatted is not None and redact(formatted) is formatted:
            record.msg, record.args = msg, args
        else:
            record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) is not text:
            record.exc_text = redact(text)  # Formatter uses exc_text as it is; exc_info stays for other uses
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class SdkLogRedactor(logging.Filter):
    """The one filter on the SDKs' loggers: lowers to DEBUG a record of an attempt that a proxy re-issues
    (reissued.py; dropped, as a DEBUG record would be, when its logger does not log DEBUG), and masks secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if not lower_if_reissued(record):
                return False
            redact_record(record)
        except Exception:  # noqa: BLE001 - this filter must never break the application's logging
            pass
        return True


_lock = threading.Lock()
_FILTER = SdkLogRedactor()
_installed = False


def install_sdk_log_redaction(extra: Iterable[str] = ()) -> None:
    """Attach the filter to every SDK logger (idempotent; after the first call, free unless ``extra`` is given):
    the listed names, the existing ones under the SDK prefixes, and ``extra``."""
    global _installed
    if _installed and not extra:
        return
    with _lock:
        existing = [
            name
            for name in list(logging.root.manager.loggerDict)
            if any(
                name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "-")
                for prefix in SDK_PREFIXES
            )
        ]
        for name in (*SDK_LOGGERS, *existing, *extra):
            sdk_logger = logging.getLogger(name)
            if not any(isinstance(f, SdkLogRedactor) for f in sdk_logger.filters):
                sdk_logger.addFilter(_FILTER)
        _installed = True


def covered(name: str) -> bool:
    """Whether records logged on ``name`` are masked (after install_sdk_log_redaction())."""
    return any(isinstance(f, SdkLogRedactor) for f in logging.getLogger(name).filters)


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)
