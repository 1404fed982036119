"""Secrets masked in the SDKs' own log records: security tokens, AccessKey secrets, signatures.

With DEBUG on, the SDKs log what they send: aliyunsdkcore the query parameters (``SecurityToken`` of an STS key)
and the server's string to sign, oss2 its string to sign (``x-oss-security-token:...``) and request headers
(``authorization: OSS <id>:<signature>``), urllib3 (under oss2 and tea-openapi) every URL with its query
(tea's RPC style puts ``SecurityToken`` and ``Signature`` there), tea / darabonba every header when
``DEBUG=sdk`` is set, and the Credentials tool STS answers. ``SdkLogRedactor`` masks the *values* of
``SecurityToken``, ``x-oss-security-token``, ``x-acs-security-token``, ``AccessKeySecret``, ``Signature`` /
``x-oss-signature``, OIDC and bearer tokens, and the signature part of ``Authorization`` headers, whatever the
shape (dict repr, JSON, query string, URL-encoded string to sign, header lines), as ``****``.

Where it is attached, and why there. A filter on a logger sees only the records logged on that very logger, not
those of its children (propagation skips the parents' filters), and the application's handlers are not ours to
touch. So the filter goes on every logger the SDKs log on, by exact name: ``SDK_LOGGERS`` lists them (each SDK
module's ``getLogger(__name__)``, tea's ``alibabacloud-tea`` and ``darabonba-core``, the tool's ``credentials``),
and at installation every logger that already exists under one of ``SDK_PREFIXES`` gets it too. A logger
created later under a name not listed would be missed: tests/test_sdk_log_redaction.py reads the installed SDKs'
sources for every logger name they use and fails, naming it, when an upgrade adds one. tea and darabonba log
``DEBUG=sdk`` output through their own StreamHandler on those loggers (to stderr); a logger's filters run before
its handlers, so that output is masked too.

A record is changed only when its text holds something to mask: then its message template and arguments are
masked one by one (their shape kept), or, when a secret only appears once they are put together, the record
carries the masked text with no arguments. Level, name, time and everything else stay as they were.
``install_sdk_log_redaction()`` is idempotent and thread-safe; the proxies call it at their first construction.
Installing it is process-wide by nature (logging is), like the registry.
"""

import logging
import os
import re
import threading
from typing import Any, Iterable, Mapping, Tuple

MASK = "****"

#: The names the SDKs log on. Loggers are per module, so each module that logs is listed.
SDK_LOGGERS: Tuple[str, ...] = (
    # aliyunsdkcore (and the copy of requests/urllib3 it vendors)
    "aliyunsdkcore",
    "aliyunsdkcore.client",
    "aliyunsdkcore.http.http_response",
    "aliyunsdkcore.retry.retry_condition",
    "aliyunsdkcore.auth.signers.access_key_signer",
    "aliyunsdkcore.auth.signers.sts_token_signer",
    "aliyunsdkcore.auth.signers.rsa_key_pair_signer",
    "aliyunsdkcore.auth.signers.ecs_ram_role_signer",
    "aliyunsdkcore.auth.signers.ram_role_arn_signer",
    "aliyunsdkcore.vendored.requests.packages.urllib3",
    "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    "aliyunsdkcore.vendored.requests.packages.urllib3.connection",
    "aliyunsdkcore.vendored.requests.packages.urllib3.poolmanager",
    "aliyunsdkcore.vendored.requests.packages.urllib3.response",
    "aliyunsdkcore.vendored.requests.packages.urllib3.util.retry",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.pyopenssl",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.appengine",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.ntlmpool",
    "aliyunsdkcore.vendored.requests.packages.urllib3.packages.socks",
    "aliyunsdkcore.vendored.requests.packages.chardet.charsetprober",
    "aliyunsdkcore.vendored.requests.packages.chardet.codingstatemachine",
    "aliyunsdkcore.vendored.requests.packages.chardet.universaldetector",
    # oss2
    "oss2",
    "oss2.api",
    "oss2.auth",
    "oss2.http",
    "oss2.credentials",
    "oss2.crypto",
    "oss2.crypto_bucket",
    "oss2.models",
    "oss2.resumable",
    "oss2.select_response",
    "oss2.task_queue",
    "oss2.utils",
    "oss2.xml_utils",
    # tea-openapi / darabonba (their DEBUG=sdk output goes through these), the Credentials tool
    "alibabacloud-tea",
    "darabonba-core",
    "credentials",
    # urllib3, under oss2's and tea's requests: it logs every URL with its query string
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.socks",
    "urllib3.contrib.emscripten",
    "urllib3.contrib.emscripten.response",
    "urllib3.http2.connection",
)

#: Loggers that already exist under these names get the filter as well.
SDK_PREFIXES: Tuple[str, ...] = ("aliyunsdkcore", "oss2", "alibabacloud", "darabonba", "Tea", "urllib3")

_NAMES = (
    r"(?:(?i:x-(?:oss|acs)-security-token|security[_-]?token|access[_-]?key[_-]?secret|x-oss-signature"
    r"|oidc[_-]?token|bearer[_-]?token)|Signature)"
)  # "Signature" only capitalised: oss2 writes "signature:"
_SEPARATOR = r"""["']?\s*(?:[:=]|%3[dD]|%253[dD])\s*"""  # key: v, key=v, 'key': 'v', key%3Dv (URL-encoded)
_VALUE = r"""(?:"[^"]*"|'[^']*'|(?:(?!%26|%2526)[^\s,;&'"}\])>])+)"""
_NAMED = re.compile(rf"(?<![A-Za-z_])(?P<name>{_NAMES})(?P<sep>{_SEPARATOR})(?P<value>{_VALUE})")
_AUTHORIZATION = re.compile(r"(?<![\w-])(?P<head>(?:OSS|acs)\s+[\w.\-]+:)(?P<value>[A-Za-z0-9+/]{16,}={0,2})")
_BEARER = re.compile(r"(?<![\w-])(?P<head>(?i:bearer)\s+)(?P<value>[A-Za-z0-9+/=._\-]{16,})")
_PLACEHOLDER = re.compile(r"^%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdrifxXeEgGc]$")
_SENSITIVE_KEY = re.compile(rf"^{_NAMES}$")


def _mask_named(match: "re.Match[str]") -> str:
    value = match.group("value")
    inner = value[1:-1] if value[:1] in "\"'" and len(value) >= 2 else value
    if not inner.strip("*") or _PLACEHOLDER.match(inner):  # masked already, or a %s of a log template
        return match.group(0)
    masked = f"{value[0]}{MASK}{value[-1]}" if inner is not value else MASK
    return f"{match.group('name')}{match.group('sep')}{masked}"


def _mask_tail(match: "re.Match[str]") -> str:
    return f"{match.group('head')}{MASK}"


def redact(text: str) -> str:
    """``text`` with every secret-looking value masked; the same string object when there is none."""
    if not isinstance(text, str):
        return text
    masked = _AUTHORIZATION.sub(_mask_tail, _BEARER.sub(_mask_tail, _NAMED.sub(_mask_named, text)))
    return text if masked == text else masked


def _redact_bytes(data: bytes) -> bytes:
    text = data.decode("utf-8", "surrogateescape")
    masked = redact(text)
    return data if masked is text else masked.encode("utf-8", "surrogateescape")


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
                if isinstance(key, str) and _SENSITIVE_KEY.match(key) and isinstance(item, (str, bytes)) and item
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


def redact_record(record: logging.LogRecord) -> None:
    """Mask the secrets of one record in place (see the module docstring); a clean record is left untouched."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record: logging reports it as usual
        return
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
    """Masks secrets in the records of the logger it is attached to; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            redact_record(record)
        except Exception:  # noqa: BLE001 - redaction must never break the application's logging
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
