"""Dedicated KMS instances: their gateways' client (client), one gateway's HTTPS and signing (gateway), and the
protobuf messages they speak (protobuf). Configured by ``cache_client_dkms_config_info`` (config/dedicated.py);
imported only when a configuration names an instance.
"""

from .client import DkmsClient

__all__ = ["DkmsClient"]
