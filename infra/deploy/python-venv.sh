#!/bin/sh
# The images' Python: a venv at /opt/earthsig on Python 3.11, from the base image's own
# python3.11 (python:3.11-slim-bookworm) or, on a plain Debian bookworm base, from Debian's
# python3 (3.11). Arguments: more Debian packages the image needs at run time.
set -eu
packages="$*"
if ! command -v python3.11 >/dev/null; then
    packages="$packages python3 python3-venv ca-certificates"
fi
if [ -n "$packages" ]; then
    apt-get update
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
    apt-get clean
    rm -rf /var/lib/apt/lists/*
fi
python3.11 -m venv /opt/earthsig
