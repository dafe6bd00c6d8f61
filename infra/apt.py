"""Installing a missing Debian package, only when allowed and possible."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)


class InstallError(RuntimeError):
    """A needed system package is missing and could not be installed."""


_updated = False


def apt_install(package: str, *, allowed: bool) -> None:
    global _updated
    if not allowed:
        raise InstallError(f"{package} is missing and EARTHSIG_APT_INSTALL is off: apt install it")
    if shutil.which("apt-get") is None:
        raise InstallError(f"{package} is missing and apt-get is not available: install it")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing %s with apt-get", package)
    if not _updated:
        subprocess.run([*prefix, "apt-get", "update", "-q"], check=False, env=env,
                       stdout=subprocess.DEVNULL)
        _updated = True
    done = subprocess.run([*prefix, "apt-get", "install", "-y", "-q", package], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"apt-get install {package} failed:\n{done.stderr[-2000:]}")
