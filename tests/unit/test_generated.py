"""Values the program generates itself (components/generated.py): passwords and the local certificate."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.generated import _CertificateProvider, _PasswordProvider, random_password, self_signed_certificate


def test_passwords_are_alphanumeric_mixed_and_distinct():
    values = [random_password(32) for _ in range(50)]
    assert len(set(values)) == 50
    for value in values:
        assert len(value) == 32 and value.isalnum() and value.isascii()
        assert any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)


def test_a_password_is_kept_until_its_length_changes():
    provider = _PasswordProvider()
    created = provider.create({"length": 40, "result": None})
    assert len(created.outs["result"]) == 40
    same = provider.diff(created.id, created.outs, {"length": 40, "result": None})
    assert not same.changes and not same.replaces
    longer = provider.diff(created.id, created.outs, {"length": 48, "result": None})
    assert longer.changes and longer.replaces == ["length"] and longer.delete_before_replace is False


def test_certificate_covers_the_hostnames_and_trusts_itself():
    cert_pem, key_pem = self_signed_certificate(["api.example.localhost", "web.example.localhost"])
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["api.example.localhost", "web.example.localhost"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=360) < lifetime <= datetime.timedelta(days=366)
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_a_certificate_is_replaced_only_when_its_hostnames_change():
    provider = _CertificateProvider()
    created = provider.create({"hostnames": ["api.example.localhost"], "cert_pem": None, "key_pem": None})
    assert not provider.diff(created.id, created.outs, {"hostnames": ["api.example.localhost"]}).changes
    assert provider.diff(created.id, created.outs, {"hostnames": ["api.example.localhost", "x.example.localhost"]}
                         ).replaces == ["hostnames"]
