"""The one reach into alibabacloud-oss-v2's private parts (the only one we make into that SDK).

Guarded by tests/test_oss_v2_lifecycle.py::test_private_reach_the_sdk_http_client_is_where_we_look, which fails
with a message naming this file when an upgrade moves what it reaches.
"""

from typing import Any


def sdk_http_client(client: Any) -> Any:
    """PRIVATE REACH into alibabacloud-oss-v2 (1.4): ``Client._client._options.http_client``, the HTTP client the
    SDK resolved for this Client, which has no public getter. Used only after os.fork(), to drop the parent's
    pooled connections in the child (a keep-alive socket shared with the parent crosses answers)."""
    return client._client._options.http_client
