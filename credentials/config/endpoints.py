"""One place to reach KMS (a region, a host and a scheme), and how a properties value names one: the regions of
``cache_client_region_id`` (an endpoint each, a KMS instance endpoint's ``caFilePath``), or a dedicated instance's
endpoint.

Its own module so that the shared-KMS configuration (loader.py) and the dedicated-instance one (dedicated.py)
both read endpoints without importing each other.

``http://`` is honoured for a loopback host only (a local emulator): anywhere else the managed key, and the
KMS caller's signed request, would cross the network in clear text. A file that really means it says
``allow_insecure_http=true`` (loader.py logs one warning).
"""

import logging
import os
from typing import Iterable, NamedTuple, Optional, Tuple

from ..errors import ConfigError
from ..json_limits import JsonTooDeep, loads
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


def parse_regions(raw: str, file: str, allow_insecure_http: bool = False) -> Tuple[KmsEndpoint, ...]:
    key = "cache_client_region_id"
    expected = 'expected a JSON list of objects with "regionId", e.g. [{"regionId":"cn-hangzhou"}]'
    try:
        items = loads(raw)
    except JsonTooDeep as exc:
        raise ConfigError(f"{exc}; {expected}", file=file, key=key) from None
    except ValueError as exc:
        raise ConfigError(f"not valid JSON ({_why(exc)}); {expected}", file=file, key=key) from None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"not a non-empty list; {expected}", file=file, key=key)
    endpoints = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("regionId"), str) or not item["regionId"].strip():
            raise ConfigError(f"item {i} has no regionId; {expected}", file=file, key=key)
        region = item["regionId"].strip()
        endpoint = item.get("endpoint")
        if endpoint is None or endpoint == "":
            endpoints.append(KmsEndpoint(region, f"kms.{region}.aliyuncs.com"))
        elif not isinstance(endpoint, str):
            raise ConfigError(f"item {i}: endpoint must be a string", file=file, key=key)
        else:
            endpoints.append(parse_endpoint(endpoint, region, file, key, allow_insecure_http))
        if item.get("caFilePath") not in (None, ""):
            endpoints[-1] = _with_ca_file(endpoints[-1], item["caFilePath"], i, file, key)
    return tuple(endpoints)


def _with_ca_file(endpoint: KmsEndpoint, ca_file: object, i: int, file: str, key: str) -> KmsEndpoint:
    """A KMS instance endpoint reached through the standard API: its certificate is verified against caFilePath
    (the console's PrivateKmsCA_kst-xxx.pem) instead of the default CAs."""
    if not isinstance(ca_file, str):
        raise ConfigError(
            f"item {i}: caFilePath must be a string (the path of a PEM CA certificate)", file=file, key=key
        )
    if endpoint.protocol != "https":
        raise ConfigError(f"item {i}: caFilePath is for an https endpoint; {endpoint.url} is http", file=file, key=key)
    try:
        with open(ca_file, encoding="ascii", errors="replace") as handle:
            pem = handle.read(1024 * 1024)
    except FileNotFoundError:
        raise ConfigError(
            f"item {i}: caFilePath {ca_file} does not exist; it is the KMS instance's CA certificate "
            "(PrivateKmsCA_kst-xxx.pem from the console)",
            file=file,
            key=key,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"item {i}: cannot read caFilePath {ca_file}: {exc.__class__.__name__}", file=file, key=key
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(
            f"item {i}: caFilePath {ca_file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file=file, key=key
        )
    return KmsEndpoint(endpoint.region_id, endpoint.host, endpoint.protocol, os.path.abspath(ca_file))


def _why(exc: ValueError) -> str:
    """What json said, without the text: ``Expecting value at position 3``."""
    pos = getattr(exc, "pos", None)
    return f"{getattr(exc, 'msg', exc.__class__.__name__)} at position {pos}" if pos is not None else "undecodable"


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
