"""The Alibaba Cloud Credentials tool as a provider: CredentialsToolProvider (provider), the Config fields it accepts
(config), the sources it builds (sources), taming the tool's logging (logs), the fetch's error (errors), and the
reaches into the tool's private parts (_compat). The tool itself is imported at first construction.
"""

from .logs import tame_tool_logging
from .provider import CredentialsToolProvider

__all__ = ["CredentialsToolProvider", "tame_tool_logging"]
