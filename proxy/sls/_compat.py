"""Every reach of the Log Service adapter into aliyun-log-python-sdk's private parts, one small named function (or
name) each; tests/test_compat.py fails with a message naming this module when an upgrade moves one.

aliyun-log-python-sdk has no public hook around a request: its public methods (put_logs, get_cursor, pull_logs,
list_logstore, and the 180-odd others) each build a request and hand it to ``LogClient._send``, which signs it
inside its own retry loop and sends it. That one method is where ProxyLogClient re-issues a request refused for an
expired key, so every method heals the same way, however many requests it makes.
"""

from typing import Any, Optional

from aliyun.log.logclient import LogClient

#: The method every LogClient request goes through: ``_send(method, project, body, resource, params, headers,
#: respons_body_type='json', ...)``, which copies ``headers`` and ``params`` for each attempt, signs the copies with
#: the credentials provider (once per attempt) and returns ``(body, headers)`` or raises LogException. Its arguments
#: are never consumed (``body`` is bytes, a str or None), so calling it again sends the same request, signed anew.
SEND_HOOK = "_send"
_SDK_SEND = getattr(LogClient, SEND_HOOK)


def sdk_send(client: Any, *args: Any, **kwargs: Any) -> Any:
    """LogClient's own ``_send`` (what ProxyLogClient's override calls for each attempt)."""
    return _SDK_SEND(client, *args, **kwargs)


def sdk_session(client: Any) -> Optional[Any]:
    """The ``requests.Session`` a LogClient sends through (``LogClient._session``, keep-alive on), or None: older
    releases (0.9.16 among them) have none and send through requests' module functions. Used after os.fork(), to
    give the child connections of its own, and by ``shutdown()`` to close them."""
    return getattr(client, "_session", None)
