"""The CredentialsError a failed CredentialsToolProvider fetch raises: every source's failure, secrets masked."""

import json
import re
from typing import List, Tuple

from ..errors import CredentialsError
from .logs import redact
from .sources import _SourceUnavailable

_CODE = re.compile(r'"Code"\s*:\s*"([^"]+)"')
_HTTP = re.compile(r"http_code[:=]\s*(\d{3})")


def _fetch_error(name: str, failures: List[Tuple[str, BaseException]], tried_all: bool) -> CredentialsError:
    if not failures:
        return CredentialsError(
            "no credentials source is configured in the default chain (set environment "
            "variables, a profile, ECS metadata or ALIBABA_CLOUD_CREDENTIALS_URI)",
            secret_name=name,
        )
    described = [f"{label}: {_describe(exc)}" for label, exc in failures]
    label, last = failures[-1]
    text = redact(str(last))
    code = getattr(last, "code", None)
    if not isinstance(code, str):
        match = _CODE.search(text) or _HTTP.search(text)
        code = (match.group(1) if match.re is _CODE else f"HTTP{match.group(1)}") if match else None
    if code is None and isinstance(last, (RecursionError, json.JSONDecodeError)):
        code = "MalformedResponse"  # the tool's json.loads of the answer: not JSON, or a nesting bomb
    if tried_all and len(failures) > 1:
        message = "no source of the default chain gave credentials: " + "; ".join(described)
    else:
        message = f"cannot get credentials from {described[0]}"
    error = CredentialsError(message, secret_name=name, code=code)
    if isinstance(last, CredentialsError):
        error.__cause__ = last
    return error


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _SourceUnavailable):
        return str(exc)
    text = redact(str(exc)).strip() or "(no message)"
    if len(text) > 600:
        text = text[:600] + "..."
    return f"{type(exc).__name__}: {text}"
