"""One place to reach KMS (a region, a host and a scheme), and how a properties value names one.

Its own module so that the shared-KMS configuration (config.py) and the dedicated-instance one (dkms_config.py)
both read endpoints without importing each other.
"""

from dataclasses import dataclass
from typing import Optional

from .errors import ConfigError


@dataclass(frozen=True)
class KmsEndpoint:
    """One place to reach KMS: a region and the host (with port) and scheme to use there. ``ca_file`` (a KMS
    instance endpoint's ``caFilePath``) is the CA its certificate is verified against instead of the default."""

    region_id: str
    host: str
    protocol: str = "https"
    ca_file: Optional[str] = None

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}"


def parse_endpoint(value: str, region_id: str, file: str, key: str) -> KmsEndpoint:
    """``http://host:port`` is kept as http (local emulators); anything else is https."""
    value = value.strip()
    protocol = "https"
    if value.startswith("http://"):
        protocol, value = "http", value[len("http://") :]
    elif value.startswith("https://"):
        value = value[len("https://") :]
    value = value.rstrip("/")
    if not value or "/" in value:
        raise ConfigError(f"endpoint {value!r} for region {region_id!r} is not a host[:port]", file=file, key=key)
    return KmsEndpoint(region_id, value, protocol)
