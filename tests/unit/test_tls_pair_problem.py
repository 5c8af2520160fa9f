"""Unit tests for plugins/filter/tls_pair_problem.py with keys and certificates made here."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tools.testing import load_plugin, self_signed_pem

tpp = load_plugin("filter", "tls_pair_problem")
CERT_A, KEY_A = self_signed_pem("a.example.test")
CERT_B, KEY_B = self_signed_pem("b.example.test")


def test_matching_pair_has_no_problem() -> None:
    assert tpp.tls_pair_problem(CERT_A, KEY_A) == ""
    assert tpp.tls_pair_problem(CERT_B, KEY_B) == ""


def test_chain_after_the_certificate_is_accepted() -> None:
    assert tpp.tls_pair_problem(CERT_A + CERT_B, KEY_A) == ""


def test_key_of_another_certificate_is_named() -> None:
    problem = tpp.tls_pair_problem(CERT_A, KEY_B)
    assert "does not belong" in problem
    assert "PRIVATE KEY" not in problem


def test_key_of_another_algorithm_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "does not belong" in tpp.tls_pair_problem(CERT_A, pem)


def test_encrypted_key_is_refused() -> None:
    key = serialization.load_pem_private_key(KEY_A.encode(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    assert "passphrase" in tpp.tls_pair_problem(CERT_A, encrypted)


def test_garbage_is_named() -> None:
    assert tpp.tls_pair_problem("not a certificate", KEY_A) == (
        "the certificate is not a PEM certificate"
    )
    assert tpp.tls_pair_problem(CERT_A, "not a key") == "the key is not a PEM private key"
