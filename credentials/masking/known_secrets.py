"""Text that is secret whatever its names: a credentials_uri's query string and userinfo password.

Name-based redaction (credentials/masking/redaction.py) masks ``auth_token=...`` but cannot know that ``?k=...`` or
``?role=...`` of a credentials URI is the token the service checks. What we do know is the URI itself: its query
string and the password of its userinfo are replaced, as exact text, by a masked form (``url_secrets``), in our
messages and reprs (``hide``), in the exceptions of a fetch from it (exception_redaction's ``known``), and in the SDK
log records of the thread that fetches, while it does (``hiding``; urllib3 logs the path and query it requests).
"""

import contextlib
import threading
from typing import Dict, Iterator, Mapping
from urllib.parse import urlsplit

MASK = "****"  # how every masked value shows (credentials.masking.redaction.MASK)

_local = threading.local()


def url_secrets(url: str) -> Dict[str, str]:
    """What of ``url`` may be a secret, mapped to how it is shown: the query string (``?auth_token=...&role=app``
    -> ``?auth_token=****&role=****``) and the password of the userinfo (``svc:PASSWORD@`` -> ``svc:****@``)."""
    scheme, netloc, _, query, _ = urlsplit(url)
    secrets: Dict[str, str] = {}
    if query:
        fields = (field.partition("=") for field in query.split("&"))
        secrets["?" + query] = "?" + "&".join(f"{name}{sep}{MASK if value else ''}" for name, sep, value in fields)
    userinfo, at, _ = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon and password:
        secrets[f"{scheme}://{userinfo}@"] = f"{scheme}://{user}:{MASK}@"
    return secrets


def hide(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key of ``replacements`` replaced by its value; the same object when none occurs."""
    masked = text
    for old, new in replacements.items():
        if old and old in masked:
            masked = masked.replace(old, new)
    return text if masked == text else masked


@contextlib.contextmanager
def hiding(replacements: Mapping[str, str]) -> Iterator[None]:
    """While the block runs, the SDK log records of this thread show each key of ``replacements`` as its value."""
    previous = in_this_thread()
    _local.replacements = {**previous, **replacements}
    try:
        yield
    finally:
        _local.replacements = previous


def in_this_thread() -> Dict[str, str]:
    """The replacements hidden in this thread now (empty outside ``hiding``)."""
    return getattr(_local, "replacements", {})
