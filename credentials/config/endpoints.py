"""One place to reach KMS (a region, a host and a scheme), and how a properties value names one.

Its own module so that the shared-KMS configuration (loader.py) and the dedicated-instance one (dedicated.py)
both read endpoints without importing each other.

``http://`` is honoured for a loopback host only (a local emulator): anywhere else the managed key, and the
KMS caller's signed request, would cross the network in clear text. A file that really means it says
``allow_insecure_http=true`` (loader.py logs one warning).
"""

import logging
from typing import Iterable, NamedTuple, Optional

from ..errors import ConfigError
from .keys import SEE_EXAMPLE

INSECURE_HTTP_KEY = "allow_insecure_http"

logger = logging.getLogger("managed_credentials.credentials")


class KmsEndpoint(NamedTuple):
    """One place to reach KMS: a region and the host (with port) and scheme to use there. ``ca_file`` (a KMS
    instance endpoint's ``caFilePath``) is the CA its certificate is verified against instead of the default.
    (Not a dataclass: making one costs about a millisecond in every process that reads the properties file.)"""

    region_id: str
    host: str
    protocol: str = "https"
    ca_file: Optional[str] = None

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}"

    @property
    def in_clear_text_off_this_machine(self) -> bool:
        return self.protocol == "http" and not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """``host[:port]`` names this machine: ``localhost``, 127.0.0.0/8 or ::1 (``[::1]:port``)."""
    name = host.strip()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower().rstrip(".") in ("localhost", "127.0.0.1", "::1"):  # the usual spellings, without ipaddress
        return True
    import ipaddress  # here, not at the top: `import credentials` stays cheap (1.5 ms)

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_endpoint(value: str, region_id: str, file: str, key: str, allow_insecure_http: bool = False) -> KmsEndpoint:
    """``http://host:port`` is kept as http when the host is a loopback address (local emulators), or anywhere
    when ``allow_insecure_http``; anything else is https."""
    text = value.strip()
    protocol = "https"
    if text.lower().startswith("http://"):
        protocol, text = "http", text[len("http://") :]
    elif text.lower().startswith("https://"):
        text = text[len("https://") :]
    text = text.rstrip("/")
    if not text or "/" in text:
        raise ConfigError(f"endpoint {text!r} for region {region_id!r} is not a host[:port]", file=file, key=key)
    endpoint = KmsEndpoint(region_id, text, protocol)
    if endpoint.in_clear_text_off_this_machine and not allow_insecure_http:
        raise ConfigError(
            f"endpoint {value.strip()!r} for region {region_id!r} is http:// to another machine: the managed "
            "key would cross the network in clear text. Use https:// (or no scheme); http:// is accepted for "
            f"a loopback address (127.0.0.1, ::1, localhost: a local emulator), or anywhere with "
            f"{INSECURE_HTTP_KEY}=true in this file ({SEE_EXAMPLE})",
            file=file,
            key=key,
        )
    return endpoint


def warn_clear_text(endpoints: Iterable[KmsEndpoint], file: str) -> None:
    """allow_insecure_http=true let an http:// endpoint off this machine through: said once, when the file is read."""
    clear = [e.url for e in endpoints if e.in_clear_text_off_this_machine]
    if clear:
        logger.warning(
            "file %s: %s=true: KMS is reached over http:// at %s; the managed keys and the KMS caller's signed "
            "requests cross the network in clear text (use https outside a closed test network)",
            file,
            INSECURE_HTTP_KEY,
            ", ".join(clear),
        )
