"""tools.sanity: the controller's pip configuration, as ansible-test's pip gets it."""

from __future__ import annotations

import configparser
import io

from tools.sanity import pip_config

LISTING = """\
:env:.cert='/etc/ssl/certs/from-env.crt'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/from-file.crt'
global.extra-index-url='https://a.example/simple https://b.example/simple'
install.no-binary=':none:'
"""


def test_files_and_variables_by_section() -> None:
    config = pip_config(LISTING, {})
    assert config == {
        "global": {
            "cert": "/etc/ssl/certs/from-env.crt",  # PIP_CERT beats the file, as in pip
            "find-links": "/opt/wheels",
            "extra-index-url": "https://a.example/simple https://b.example/simple",
        },
        "install": {"no-binary": ":none:"},
    }


def test_ca_bundle_and_proxy_from_the_environment() -> None:
    environ = {"REQUESTS_CA_BUNDLE": "", "SSL_CERT_FILE": "/ca.pem", "HTTPS_PROXY": "http://p:3128"}
    assert pip_config("", environ) == {"global": {"cert": "/ca.pem", "proxy": "http://p:3128"}}


def test_configured_cert_is_kept() -> None:
    config = pip_config("global.cert='/mine.pem'\n", {"SSL_CERT_FILE": "/ca.pem"})
    assert config["global"]["cert"] == "/mine.pem"


def test_written_as_a_pip_conf() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict(pip_config(LISTING, {}))
    out = io.StringIO()
    parser.write(out)
    reread = configparser.ConfigParser(interpolation=None)
    reread.read_string(out.getvalue())
    assert (
        reread["global"]["extra-index-url"] == "https://a.example/simple https://b.example/simple"
    )
