"""Taming the Credentials tool's logging: its duplicate handlers go, secrets in its records are masked, and the
records it emits during one of our fetches are dropped (our layer reports that fetch's outcome itself)."""

import logging
import os
import threading

from ..masking import install_sdk_log_redaction, redact

TOOL_LOGGER = "credentials"  # the name the Credentials tool logs under (it collides with our package name)


# Secrets as they appear in the tool's messages (JSON bodies, query strings, Python reprs) are masked by ``redact``:
# one masking rule for every SDK's logs, in credentials/masking/redaction.py.


# --- the tool's logging -----------------------------------------------------------------------------------------------

_local = threading.local()


class _quiet_tool:
    """While our fetch runs in this thread, the tool's own log records are dropped: we report the outcome."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc_info: object) -> None:
        _local.depth -= 1


class _ToolLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_local, "depth", 0):
            return False
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: let logging report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(formatted), None
        return True


_tool_lock = threading.Lock()
_tool_ready = False


def _reset_lock_after_fork() -> None:
    global _tool_lock
    _tool_lock = threading.Lock()  # a parent's thread may have held it at the fork (importing the tool)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def tame_tool_logging() -> None:
    """Remove the bare StreamHandlers the tool attached to logger ``credentials`` and mask secrets in its records.

    Idempotent. Handlers the application configured itself (with a formatter or a level) are left alone.
    """
    tool_logger = logging.getLogger(TOOL_LOGGER)
    for handler in list(tool_logger.handlers):
        if type(handler) is logging.StreamHandler and handler.formatter is None and handler.level == logging.NOTSET:
            tool_logger.removeHandler(handler)
    if not any(isinstance(f, _ToolLogFilter) for f in tool_logger.filters):
        tool_logger.addFilter(_ToolLogFilter())


def _tool() -> None:
    """Import the Credentials tool (first use only) and tidy its logging."""
    global _tool_ready
    if _tool_ready:
        return
    with _tool_lock:
        if not _tool_ready:
            import alibabacloud_credentials.provider  # noqa: F401 - attaches the tool's handlers, removed next

            tame_tool_logging()
            install_sdk_log_redaction()
            _tool_ready = True
