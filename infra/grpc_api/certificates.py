"""A local certificate authority and the certificates of the gRPC service and its clients, for
tests and small deployments (``earthsig grpc-certs``). A larger deployment uses its own PKI:
the service only needs a server certificate, its key and the CA that signs the clients.

Keys are ECDSA P-256 (what every gRPC and TLS stack accepts, and quick to make); a client's
name (its certificate's common name) is what EARTHSIG_GRPC_WRITERS lists.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "EarthSignature local CA"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Issued:
    certificate: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
           ) -> Issued:
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.chmod(0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Issued(cert_path, key_path)


def _builder(subject: str, issuer: x509.Name, public: ec.EllipticCurvePublicKey, days: int
             ) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days)))


def create_ca(folder: Path, *, days: int = 3650) -> Issued:
    """``ca.crt`` and ``ca.key`` in ``folder`` (an existing CA is kept: it signed clients)."""
    if (folder / "ca.crt").exists() and (folder / "ca.key").exists():
        return Issued(folder / "ca.crt", folder / "ca.key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(CA_NAME, _name(CA_NAME), key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return _write(folder, "ca", cert, key)


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / 'ca.key'} is not an EC key")
    return cert, key


def _issue(folder: Path, stem: str, common_name: str, usage: x509.ObjectIdentifier,
           hosts: tuple[str, ...], days: int) -> Issued:
    if not NAME.fullmatch(common_name):
        raise ValueError(f"name {common_name!r}: letters, digits, '.', '_' and '-' only")
    ca_cert, ca_key = _load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(common_name, ca_cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _write(folder, stem, builder.sign(ca_key, hashes.SHA256()), key)


def issue_server(folder: Path, hosts: tuple[str, ...] = (), *, days: int = 825) -> Issued:
    """``server.crt``/``server.key`` for ``localhost``, ``127.0.0.1`` and ``hosts``."""
    every = ("localhost", "127.0.0.1", *[h for h in hosts if h not in ("localhost",
                                                                         "127.0.0.1")])
    return _issue(folder, "server", every[0], ExtendedKeyUsageOID.SERVER_AUTH, every, days)


def issue_client(folder: Path, name: str, *, days: int = 825) -> Issued:
    """``<name>.crt``/``<name>.key``: a client certificate whose common name is ``name``."""
    if name in ("ca", "server"):
        raise ValueError(f"name {name!r} is taken by the CA's and the server's files")
    return _issue(folder, name, name, ExtendedKeyUsageOID.CLIENT_AUTH, (), days)


def init(folder: Path, hosts: tuple[str, ...] = ()) -> tuple[Issued, Issued]:
    """The CA (kept if there) and a fresh server certificate."""
    return create_ca(folder), issue_server(folder, hosts)
