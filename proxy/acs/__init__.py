"""aliyunsdkcore (AcsClient): ProxyAcsClient (client), the endpoint tables it shares between clients (endpoints), and
its reaches into the SDK's private parts (_compat)."""

from .client import ProxyAcsClient

__all__ = ["ProxyAcsClient"]
