"""Stand-in for the get-pip.py that ansible-test downloads to put pip in its virtual environments.

ansible-test fetches get-pip.py from ci-files.testing.ansible.com unless a copy waits in
~/.ansible/test/cache/get_pip_<version>.py; `tools.sanity` puts this file there. ansible-test
runs it with the new environment's interpreter as

    python get_pip_24_2.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

(ansible_test/_util/target/setup/requirements.py, bootstrap()). This does the same with the
interpreter's own pip (ensurepip), then pip installs the requested packages from the index the
pip configuration names. Standard library only: it runs in an empty virtual environment.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

# get-pip.py's own flags; every other argument is passed to `pip install`.
LEAVE_OUT = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def run(*args: str) -> None:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"get-pip stand-in: {' '.join(args)} failed with status {result.returncode}")


def installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def main() -> None:
    args = sys.argv[1:]
    pip_args = [arg for arg in args if arg not in LEAVE_OUT]
    run("-m", "ensurepip", "--default-pip")
    run("-m", "pip", "install", "--quiet", *pip_args)
    # ensurepip of Python < 3.12 brings setuptools too; get-pip.py would not have, when asked.
    unwanted = [LEAVE_OUT[flag] for flag in args if flag in LEAVE_OUT]
    unwanted = [name for name in unwanted if installed(name)]
    if unwanted:
        run("-m", "pip", "uninstall", "--quiet", "--yes", *unwanted)
    print(f"get-pip stand-in: ensurepip, then pip install {' '.join(pip_args)}")


if __name__ == "__main__":
    main()
