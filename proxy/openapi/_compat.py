"""Every reach into alibabacloud-tea-openapi's private parts, one small named function each (tests/test_compat.py).

tea-openapi's Client keeps what it was configured with in private attributes and offers no getter; what we read
of them lives here, so an upgrade that renames one fails tests/test_compat.py with a message naming this module.
"""

import sys
from typing import Any, List, Optional


def endpoint_of(client: Any) -> Optional[str]:
    """The endpoint a tea-openapi Client (or a generated product client) sends to, for a repr. Reaches
    ``Client._endpoint`` (set from ``config.endpoint``, or computed by a product client's constructor)."""
    return getattr(client, "_endpoint", None)


# Where the V2 SDKs keep their process-wide pooled HTTP sessions: darabonba-core (tea-openapi 0.4) and Tea
# (alibabacloud-tea: tea-openapi 0.3, and the Credentials tool's own STS/metadata calls).
_POOLED_SESSION_HOLDERS = (("darabonba.core", "DaraCore"), ("Tea.core", "TeaCore"))


def pooled_sessions() -> List[Any]:
    """PRIVATE REACH into darabonba-core and Tea: ``DaraCore._sessions`` and ``TeaCore._sessions``, the dicts of
    requests Sessions (one per endpoint and pool size) that every tea-openapi client of the process shares, with
    their pooled keep-alive connections. There is no public way to reach or reset them; read only in a forked child,
    so that it stops sending on the parent's sockets. A module not imported yet holds no session and is not imported.
    """
    sessions: List[Any] = []
    for module_name, class_name in _POOLED_SESSION_HOLDERS:
        module = sys.modules.get(module_name)
        held = getattr(getattr(module, class_name, None), "_sessions", None)
        if isinstance(held, dict):
            sessions.extend(held.values())
    return sessions
