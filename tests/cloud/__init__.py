"""A local Alibaba Cloud emulator for tests and samples: KMS, an ECS-style RPC API, a CS-style ROA API, OSS, Log
Service, Message Service and Tablestore on 127.0.0.1.

    from tests.cloud import CloudEmulator
    with CloudEmulator() as cloud:
        cloud.create_secret("my-ram-secret")
        cloud.write_properties("managed_credentials_providers.properties", ["my-ram-secret"])

Standard library only (Tablestore's bodies use the tablestore package, imported on its first request). `python -m
tests.cloud --help`: a standalone server with an HTTP control plane (control.py).
"""

from .emulator import CloudEmulator
from .records import CallRecord
from .server import Listener, Request, Response

__all__ = ["CloudEmulator", "CallRecord", "Listener", "Request", "Response"]
