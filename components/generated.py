"""Values the program generates once and keeps in state: Pulumi dynamic resources in Python.

They replace the pulumi-random and pulumi-tls plugins, which no package registry serves. A value
is created on the first `up`, stays the same on every later update, is stored as a Pulumi secret,
and is generated anew only when its spec changes (the preview then says `replace`).
"""

from __future__ import annotations

import datetime
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

# Alphanumeric only: generated values end up inside connection URLs.
ALPHABET = string.ascii_letters + string.digits
CERTIFICATE_DAYS = 365


def random_password(length: int) -> str:
    """Cryptographically random, with at least one lower, upper and digit character."""
    while True:
        value = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value):
            return value


# cryptography is imported where a value is generated (in the dynamic provider, on create), not
# with this module, which every preview of the program imports.
def _new_key():
    """An ECDSA P-256 private key and its unencrypted PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return key, pem.decode()


def _certificate(subject, issuer, public_key, days: int, *extensions):
    """A certificate builder: serial, a validity from five minutes ago (clock skew) for `days`, and
    `extensions` as (extension, critical) pairs; the caller signs it."""
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days)))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder


def _key_usage(**allowed: bool):
    from cryptography import x509

    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    return x509.KeyUsage(**{**flags, **allowed}), True


def _pem(cert) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode()


def self_signed_certificate(hostnames: Sequence[str], days: int = CERTIFICATE_DAYS) -> tuple[str, str]:
    """(certificate PEM, private key PEM): an ECDSA P-256 certificate for `hostnames` that is also
    its own CA, so curl and browsers can trust it directly (`--cacert`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key, key_pem = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "preflight local")])
    cert = _certificate(
        name, name, key.public_key(), days,
        (x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), False),
        (x509.BasicConstraints(ca=True, path_length=0), True),
        _key_usage(digital_signature=True, key_encipherment=True, key_cert_sign=True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ).sign(key, hashes.SHA256())
    return _pem(cert), key_pem


def certificate_authority(common_name: str, days: int) -> tuple[str, str]:
    """(certificate PEM, private key PEM) of a CA that signs client certificates only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key, key_pem = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = _certificate(
        name, name, key.public_key(), days,
        (x509.BasicConstraints(ca=True, path_length=0), True),
        _key_usage(key_cert_sign=True, crl_sign=True),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ).sign(key, hashes.SHA256())
    return _pem(cert), key_pem


def client_certificate(ca_cert_pem: str, ca_key_pem: str, common_name: str, days: int) -> tuple[str, str, str]:
    """(certificate PEM, private key PEM, not-after as ISO 8601) of a TLS client certificate signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key, key_pem = _new_key()
    cert = _certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]), ca_cert.subject, key.public_key(), days,
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _key_usage(digital_signature=True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), False),  # type: ignore[arg-type]
    ).sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return _pem(cert), key_pem, cert.not_valid_after_utc.isoformat()


def renewal_due(not_after: str | None, renew_before_days: int, now: datetime.datetime | None = None) -> bool:
    """Whether a certificate that expires at `not_after` (ISO 8601) is within its renewal window."""
    if not not_after:
        return False
    now = now or datetime.datetime.now(datetime.UTC)
    return now >= datetime.datetime.fromisoformat(not_after) - datetime.timedelta(days=renew_before_days)


def key_and_csr(hostnames: Sequence[str]) -> tuple[str, str]:
    """(private key PEM, CSR PEM) for an ECDSA P-256 key, asking for `hostnames`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key, key_pem = _new_key()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
           .sign(key, hashes.SHA256()))
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def ssh_host_key() -> tuple[str, str]:
    """(private key in OpenSSH format, public key line "ssh-ed25519 AAAA...") of a new Ed25519 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return private, public


class _GenerateOnce(ResourceProvider):
    """Creates outputs from the spec once; any change of the spec replaces the resource."""

    spec_keys: tuple[str, ...] = ()

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs={**props, **self.generate(props)})

    def due(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        """Outputs to generate anew although the spec is the same (a certificate near its end)."""
        return []

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.spec_keys if olds.get(key) != news.get(key)] or self.due(olds, news)
        # The new value exists before the old one goes: whatever uses it can switch without a gap.
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)


class _PasswordProvider(_GenerateOnce):
    spec_keys = ("length",)

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"result": random_password(int(props["length"]))}


class _CertificateProvider(_GenerateOnce):
    spec_keys = ("hostnames",)

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        cert_pem, key_pem = self_signed_certificate(list(props["hostnames"]))
        return {"cert_pem": cert_pem, "key_pem": key_pem}


class _CsrProvider(_GenerateOnce):
    spec_keys = ("hostnames",)

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        key_pem, csr_pem = key_and_csr(list(props["hostnames"]))
        return {"key_pem": key_pem, "csr_pem": csr_pem}


class _AuthorityProvider(_GenerateOnce):
    spec_keys = ("common_name", "days")

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        cert_pem, key_pem = certificate_authority(str(props["common_name"]), int(props["days"]))
        return {"cert_pem": cert_pem, "key_pem": key_pem}


class _ClientCertificateProvider(_GenerateOnce):
    spec_keys = ("ca_cert_pem", "common_name", "days")

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        cert_pem, key_pem, not_after = client_certificate(str(props["ca_cert_pem"]), str(props["ca_key_pem"]),
                                                          str(props["common_name"]), int(props["days"]))
        return {"cert_pem": cert_pem, "key_pem": key_pem, "not_after": not_after}

    def due(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return ["not_after"] if renewal_due(olds.get("not_after"), int(news["renew_before_days"])) else []


class _HostKeyProvider(_GenerateOnce):
    spec_keys = ("server",)

    def generate(self, props: dict[str, Any]) -> dict[str, Any]:
        private_key, public_key = ssh_host_key()
        return {"private_key": private_key, "public_key": public_key}


def _secret_outputs(opts: pulumi.ResourceOptions | None, *names: str) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(names)))


class GeneratedPassword(pulumi.dynamic.Resource):
    """A random alphanumeric secret of `length` characters (`result`, a Pulumi secret)."""

    result: pulumi.Output[str]

    def __init__(self, name: str, length: int, opts: pulumi.ResourceOptions | None = None):
        super().__init__(_PasswordProvider(), name, {"length": length, "result": None},
                         _secret_outputs(opts, "result"))


class GeneratedCertificate(pulumi.dynamic.Resource):
    """A self-signed certificate for `hostnames` (`cert_pem`; `key_pem` is a Pulumi secret)."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(self, name: str, hostnames: Sequence[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(_CertificateProvider(), name, {"hostnames": sorted(hostnames), "cert_pem": None, "key_pem": None},
                         _secret_outputs(opts, "key_pem"))


class GeneratedKeyAndCsr(pulumi.dynamic.Resource):
    """A private key (`key_pem`, a Pulumi secret) and a CSR for `hostnames` (`csr_pem`), e.g. for
    a Cloudflare origin certificate."""

    key_pem: pulumi.Output[str]
    csr_pem: pulumi.Output[str]

    def __init__(self, name: str, hostnames: Sequence[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(_CsrProvider(), name, {"hostnames": sorted(hostnames), "key_pem": None, "csr_pem": None},
                         _secret_outputs(opts, "key_pem"))


class GeneratedCertificateAuthority(pulumi.dynamic.Resource):
    """A CA for client certificates (`cert_pem`; `key_pem` is a Pulumi secret)."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(self, name: str, common_name: str, days: int, opts: pulumi.ResourceOptions | None = None):
        super().__init__(_AuthorityProvider(), name, {"common_name": common_name, "days": days, "cert_pem": None,
                                                      "key_pem": None}, _secret_outputs(opts, "key_pem"))


class GeneratedClientCertificate(pulumi.dynamic.Resource):
    """A TLS client certificate signed by `authority` (`cert_pem`; `key_pem` a Pulumi secret;
    `not_after`). Generated anew, before the old one is deleted, once the update runs within
    `renew_before_days` of its end (a preview says `replace`)."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(self, name: str, authority: GeneratedCertificateAuthority, common_name: str, days: int,
                 renew_before_days: int, opts: pulumi.ResourceOptions | None = None):
        super().__init__(_ClientCertificateProvider(), name, {
            "ca_cert_pem": authority.cert_pem, "ca_key_pem": pulumi.Output.secret(authority.key_pem),
            "common_name": common_name, "days": days, "renew_before_days": renew_before_days,
            "cert_pem": None, "key_pem": None, "not_after": None}, _secret_outputs(opts, "key_pem"))


class GeneratedHostKey(pulumi.dynamic.Resource):
    """A server's SSH host key (Ed25519): `private_key` (a Pulumi secret) goes to the server through
    its cloud-init; `public_key` is the one key every SSH connection to that server trusts."""

    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]

    def __init__(self, name: str, server: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(_HostKeyProvider(), name, {"server": server, "private_key": None, "public_key": None},
                         _secret_outputs(opts, "private_key"))

    def rendered(self, render: Callable[[tuple[str, str]], str]) -> pulumi.Output[str]:
        """`render((private_key, public_key))`, a secret: what hands the key to the server."""
        return pulumi.Output.secret(pulumi.Output.all(self.private_key, self.public_key).apply(
            lambda key: render((key[0], key[1]))))
