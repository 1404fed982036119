"""Tablestore (tablestore, the ``.[tablestore]`` extra): ProxyOTSClient (client), the key as the SDK reads it (key),
and its reach into the SDK's private request hooks (_compat)."""

from .client import ProxyOTSClient

__all__ = ["ProxyOTSClient"]
