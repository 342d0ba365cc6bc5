"""A private CA per stack and one certificate per node (`redis.tls`).

Why derived, not stored: the Pulumi program runs on every preview, and a key
drawn at random there would change every time (a diff, then a replacement, on
every `up`). The official way out, the `tls` provider, cannot be installed on
the project's machines. So every key is derived from the stack's Redis password
(a generated secret) with HMAC-SHA512, certificates are signed with
deterministic ECDSA (RFC 6979, `cryptography`'s `ecdsa_deterministic`), and
their validity follows a calendar: the same day gives the same bytes, so a
preview shows no change until a certificate is due for renewal. The price: the
stack password is the root of every key (whoever holds it already holds the
admin user), and changing it makes a new CA and new keys everywhere, which
cannot roll node by node (README, "Security model").

Renewal: a node certificate lives `certDays` and is re-issued every
`certDays - renewBeforeDays` days (its "period"), so the one in use always has
at least `renewBeforeDays` left. The first `infra up` of a new period replaces
the nodes one at a time (components/rolling.py) with new keys and certificates
from the same CA; clients that trust the CA only reconnect.

The CA is P-256, valid ten years from its first period start, and used only to
sign; a user may bring their own (`caCert` plus the secret `redisTlsCaKey`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import Field, field_validator, model_validator

from components.config_base import Model

# Periods count from here; a CA's ten years too.
EPOCH = date(2026, 1, 1)
CA_DAYS = 3650
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class TlsConfig(Model):
    """TLS for the Redis tier: plaintext off, every link (clients, replication,
    cluster bus) over TLS with the stack's CA. Off unless set: a stack written
    before TLS existed keeps plaintext, since turning it on breaks every client
    that does not speak TLS yet (the templates turn it on)."""

    enabled: bool = False
    cert_days: int = Field(default=90, ge=2, le=825)
    renew_before_days: int = Field(default=30, ge=1, le=824)
    # Bring your own CA: its certificate (PEM) here, its key in the secret
    # `infra:redisTlsCaKey`.
    ca_cert: str | None = None

    @field_validator("ca_cert")
    @classmethod
    def _ca_cert(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            cert = x509.load_pem_x509_certificate(value.encode())
        except ValueError:
            raise ValueError(
                "not a PEM certificate: paste the CA certificate, from "
                "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----"
            ) from None
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            raise ValueError("this certificate is not a CA (basicConstraints CA:TRUE is missing)")
        return value

    @model_validator(mode="after")
    def _window(self) -> TlsConfig:
        if self.renew_before_days >= self.cert_days:
            raise ValueError(
                f"renewBeforeDays ({self.renew_before_days}) must be less than certDays "
                f"({self.cert_days}): a certificate must be in use some days before it is due "
                f"(e.g. certDays: 90, renewBeforeDays: 30)"
            )
        return self

    @property
    def period_days(self) -> int:
        return self.cert_days - self.renew_before_days


@dataclass(frozen=True)
class Period:
    """One renewal period: its index and the validity of the certificates issued in it."""

    index: int
    not_before: datetime
    not_after: datetime


def period_of(today: date, config: TlsConfig) -> Period:
    """The period `today` falls in; a certificate issued for it has at least
    `renewBeforeDays` left on any day of the period."""
    index = max(0, (today - EPOCH).days // config.period_days)
    start = EPOCH + timedelta(days=index * config.period_days)
    begin = datetime.combine(start, time(), UTC)
    return Period(index, begin, begin + timedelta(days=config.cert_days))


def utc_today() -> date:
    return datetime.now(UTC).date()


def derive_key(secret: str, label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from the stack secret and a label (HMAC-SHA512, reduced mod n)."""
    digest = hmac.new(secret.encode(), f"infra tls key {label}".encode(), "sha512").digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _serial(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:19], "big") | 1


@dataclass(frozen=True)
class Authority:
    """A CA that signs node certificates: its certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Deterministically: the same inputs give the same certificate."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return builder.sign(self.key, hashes.SHA256(), ecdsa_deterministic=True)
        if isinstance(self.key, rsa.RSAPrivateKey):
            return builder.sign(self.key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
        return builder.sign(self.key, None)


def generated_ca(secret: str, name: str) -> Authority:
    """The stack's own CA (`name`: the stack's name prefix)."""
    key = derive_key(secret, f"ca {name}")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    begin = datetime.combine(EPOCH, time(), UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial(f"ca {name}"))
        .not_valid_before(begin)
        .not_valid_after(begin + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return Authority(builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True), key)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


class CaKeyInvalid(ValueError):
    """The key given for a user's CA does not load or does not match its certificate."""


def own_ca(cert_pem: str, key_pem: str) -> Authority:
    """A CA the user brings: `redis.tls.caCert` and the secret `redisTlsCaKey`."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CaKeyInvalid(
            f"infra:redisTlsCaKey: not an unencrypted PEM private key ({exc})"
        ) from None
    if isinstance(key, ed448.Ed448PrivateKey) or not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise CaKeyInvalid("infra:redisTlsCaKey: give an EC, RSA or Ed25519 key")
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != cert.public_key().public_bytes(*public):
        raise CaKeyInvalid("infra:redisTlsCaKey does not belong to redis.tls.caCert")
    return Authority(cert, key)


@dataclass(frozen=True)
class NodeCert:
    """What a node's container gets: the CA, its certificate and its key (PEM)."""

    ca_pem: str
    cert_pem: str
    key_pem: str


def node_cert(ca: Authority, secret: str, name: str, sans: list[str], period: Period) -> NodeCert:
    """A server and client certificate for node `name`, valid for `period`, naming
    every address and name a client uses (`sans`: IPs and DNS names). Its key is
    new each period."""
    key = derive_key(secret, f"node {name} {period.index}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(f"node {name} {period.index} {','.join(sans)}"))
        .not_valid_before(period.not_before)
        .not_valid_after(period.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_general_names(sans)), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    cert = ca.sign(builder)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return NodeCert(ca.pem, cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem)


def _general_names(sans: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for value in dict.fromkeys(sans):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            names.append(x509.DNSName(value))
    return names


def san_gaps(cert_pem: str, addresses: list[str]) -> list[str]:
    """The addresses (IPs or names) a certificate does not name."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    dns = set(san.get_values_for_type(x509.DNSName))
    return [a for a in addresses if a not in ips and a not in dns]
