"""A throw-away certificate authority for the emulator's TLS listeners (STS: the Credentials tool forces https).

One CA per process, made at first need with `cryptography` and written to a private temporary folder that is
removed at exit. Clients trust it through `SSL_CERT_FILE=<ca_file>` (OpenSSL reads it whenever a default SSL
context is made; the Credentials tool offers no CA option of its own).

    from tests.cloud.tls import test_ca
    ca = test_ca()
    ca.ca_file               # PEM of the CA certificate
    ca.server_context()      # ssl.SSLContext for a server on 127.0.0.1 / localhost
"""

import atexit
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from typing import Optional

from .records import write_private_file


class TestCA:
    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self.folder = tempfile.mkdtemp(prefix="cloud-emulator-ca-")
        atexit.register(shutil.rmtree, self.folder, True)
        now = datetime.datetime.now(datetime.timezone.utc)
        not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cloud Emulator Test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        pem = serialization.Encoding.PEM
        self.ca_file = self._write("ca.pem", ca_cert.public_bytes(pem))
        self.cert_file = self._write("server.pem", cert.public_bytes(pem))
        self.key_file = write_private_file(
            os.path.join(self.folder, "server.key"),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        )

    def _write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


_lock = threading.Lock()
_ca: Optional[TestCA] = None


def test_ca() -> TestCA:
    """The process's test CA (made once)."""
    global _ca
    with _lock:
        if _ca is None:
            _ca = TestCA()
        return _ca


test_ca.__test__ = False  # type: ignore[attr-defined]
