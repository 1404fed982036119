"""Every reach into alibabacloud-tea-openapi's private parts, one small named function each (tests/test_compat.py).

tea-openapi's Client keeps what it was configured with in private attributes and offers no getter; what we read
of them lives here, so an upgrade that renames one fails tests/test_compat.py with a message naming this module.
"""

from typing import Any, Optional


def endpoint_of(client: Any) -> Optional[str]:
    """The endpoint a tea-openapi Client (or a generated product client) sends to, for a repr. Reaches
    ``Client._endpoint`` (set from ``config.endpoint``, or computed by a product client's constructor)."""
    return getattr(client, "_endpoint", None)
