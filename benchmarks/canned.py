"""HTTP adapters that take the network out: every request is answered in-process with a recorded response.

Mounted on both the plain SDK client and the proxy, the same adapter gives both
exactly the same answer, so the CPU difference between them is the proxy's own.
The adapter reads the request body the way a socket send would (oss2 computes its
CRC while the body is read) and builds the response through the SDK's own
``HTTPAdapter.build_response``, so everything above the socket runs as usual.
"""

import io
from typing import Dict, Optional, Tuple

Recorded = Tuple[int, Dict[str, str], bytes]


def _drain(body) -> None:
    if body is None or isinstance(body, (bytes, bytearray, str)):
        return
    if hasattr(body, "read"):
        while body.read(65536):
            pass
        return
    for _chunk in body:
        pass


def adapter_classes(stack: str):
    """(RecordingAdapter, CannedAdapter) for ``stack``: "sdkcore" (aliyunsdkcore's vendored requests) or
    "requests" (what oss2 uses)."""
    if stack == "sdkcore":
        from aliyunsdkcore.vendored.requests.adapters import HTTPAdapter
        from aliyunsdkcore.vendored.requests.packages.urllib3.response import HTTPResponse
    elif stack == "requests":
        from requests.adapters import HTTPAdapter
        from urllib3.response import HTTPResponse
    else:
        raise ValueError(stack)

    class RecordingAdapter(HTTPAdapter):
        """A real adapter that keeps the last response per (method, path) for replay."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.recorded: Dict[str, Recorded] = {}

        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            body = response.content  # reads a streamed body too
            self.recorded[request.method] = (response.status_code, dict(response.headers), body)
            return response

    class CannedAdapter(HTTPAdapter):
        """Answers each request with the recorded response for its method; no socket is opened."""

        def __init__(self, recorded: Dict[str, Recorded]):
            super().__init__()
            self.recorded = recorded
            self.sent = 0

        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            _drain(request.body)
            status, headers, body = self.recorded[request.method]
            raw = HTTPResponse(
                body=io.BytesIO(body),
                headers=headers,
                status=status,
                reason="OK",
                preload_content=False,
                decode_content=False,
            )
            response = self.build_response(request, raw)
            if not stream:
                response.content  # noqa: B018 - what HTTPAdapter.send's caller would read off the socket
            self.sent += 1
            return response

    return RecordingAdapter, CannedAdapter


def mount(session, adapter, prefix: Optional[str] = None) -> None:
    """Put ``adapter`` on a requests-style session for both schemes."""
    for scheme in (prefix,) if prefix else ("http://", "https://"):
        session.mount(scheme, adapter)
