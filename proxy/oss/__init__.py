"""oss2: ProxyBucket and ProxyService (bucket)."""

from .bucket import ProxyBucket, ProxyService

__all__ = ["ProxyBucket", "ProxyService"]
