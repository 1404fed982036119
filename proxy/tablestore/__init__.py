"""Tablestore (tablestore, the ``.[tablestore]`` extra): ProxyOTSClient (client) and its reach into the SDK's
private request hook (_compat)."""

from .client import ProxyOTSClient

__all__ = ["ProxyOTSClient"]
