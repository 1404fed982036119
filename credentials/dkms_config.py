"""cache_client_dkms_config_info: dedicated KMS instances (not supported yet)."""
from typing import Dict, Tuple

from .errors import ConfigError


def parse_dkms_instances(raw: str, properties: Dict[str, str], file: str) -> Tuple[object, ...]:
    raise ConfigError("dedicated KMS instances are not supported yet; use cache_client_region_id",
                      file=file, key="cache_client_dkms_config_info")
