# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The tls_pair_problem filter: does a private key belong to a certificate?"""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
---
name: tls_pair_problem
short_description: Why a PEM private key does not belong to a PEM certificate, or nothing
version_added: 0.1.0
description:
  - Compares the public key of the first certificate in O(_input) with the public key
    derived from O(key). Runs on the controller (Python C(cryptography), which
    ansible-core already requires), so a wrong pair is found before anything on the host
    changes and nothing is needed on the host.
  - Returns an empty string when the key belongs to the certificate, otherwise one
    sentence that says what is wrong. Never returns or quotes the key.
positional: _input, key
options:
  _input:
    description: The certificate, PEM text (a chain may follow it; only the first is used).
    type: str
    required: true
  key:
    description: The private key, PEM text, not encrypted.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a key that does not belong to its certificate
  ansible.builtin.assert:
    that:
      - (certificate_pem | fullstack.webapp.tls_pair_problem(key_pem)) == ''
  no_log: true
"""

RETURN = r"""
_value:
  description: Empty when the key matches the certificate, otherwise the reason.
  type: str
"""


def tls_pair_problem(certificate: str, key: str) -> str:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(str(certificate).encode())
    except ValueError:
        return "the certificate is not a PEM certificate"
    try:
        private_key = serialization.load_pem_private_key(str(key).encode(), password=None)
    except TypeError:
        return "the key is encrypted with a passphrase (nginx needs it unencrypted)"
    except (ValueError, UnsupportedAlgorithm):
        return "the key is not a PEM private key"
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != private_key.public_key().public_bytes(*spki):
        return "the key does not belong to the certificate (their public keys differ)"
    return ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tls_pair_problem": tls_pair_problem}
