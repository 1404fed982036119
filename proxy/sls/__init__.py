"""Log Service (aliyun-log-python-sdk, the ``.[sls]`` extra): ProxyLogClient (client), the logging handlers
ProxyQueuedLogHandler, ProxySimpleLogHandler and ProxyUwsgiQueuedLogHandler (logging_handlers), what sends the
queued handlers' records (shipper), and the reach into the SDK's private parts (_compat)."""

try:
    import aliyun.log  # noqa: F401 - the extra is optional: say how to get it
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the Log Service proxies need aliyun-log-python-sdk: pip install "
        "'managed-credentials-sdk-proxy[sls]' (from a checkout: pip install -e '.[sls]')"
    ) from exc

from .client import ProxyLogClient
from .logging_handlers import ProxyQueuedLogHandler, ProxySimpleLogHandler, ProxyUwsgiQueuedLogHandler

__all__ = ["ProxyLogClient", "ProxyQueuedLogHandler", "ProxySimpleLogHandler", "ProxyUwsgiQueuedLogHandler"]
