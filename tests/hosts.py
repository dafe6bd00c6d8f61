"""Workers as if on other hosts: each sees only Redis, the database and the asset store.

A "host" is a folder with its own working directory, HOME and EARTHSIG_HOME, and worker
processes started there with a clean environment (no variable of this process, only what a
second machine would be given): nothing on local disk in common with the enqueuer or another
host. The assets go to an S3-protocol server (moto, ``s3_bucket``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
       "AWS_DEFAULT_REGION": "us-east-1"}


def boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
            "region_name": AWS["AWS_DEFAULT_REGION"]}


def create_public_bucket(endpoint: str, bucket: str) -> None:
    """A bucket anyone may read, as the catalog's assets are served."""
    client = boto3.client("s3", endpoint_url=endpoint, **boto_credentials())
    client.create_bucket(Bucket=bucket)
    client.put_bucket_policy(Bucket=bucket, Policy=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
        f'"Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/*"}}]}}'))


def shared_environment(libpq: dict[str, str], redis_url: str, s3_endpoint: str,
                       bucket: str, default_model: str) -> dict[str, str]:
    """What every host is given: the database, Redis, the asset store, the model's name."""
    return {**libpq, **AWS, "EARTHSIG_REDIS_URL": redis_url,
            "EARTHSIG_ASSET_STORE_URL": f"s3://{bucket}/catalog",
            "EARTHSIG_S3_ENDPOINT_URL": s3_endpoint,
            "EARTHSIG_ASSET_PUBLIC_URL": f"{s3_endpoint}/{bucket}",
            "CPL_VSIL_CURL_USE_HEAD": "NO",
            "EARTHSIG_INFERENCE_DEFAULT_MODEL": default_model}


@dataclass
class Host:
    name: str
    root: Path  # everything this host has on local disk
    shared: dict[str, str]
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def process(self) -> subprocess.Popen:
        """The host's first worker."""
        return next(iter(self.workers.values()))

    @property
    def models(self) -> Path:  # the default repository, relative to its working directory
        return self.root / "work" / ".earthsig" / "models"

    def start_worker(self, name: str, queues: str | None = None,
                     **extra_env: str) -> subprocess.Popen:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root / "home"),
               "TMPDIR": str(self.root / "home"), "EARTHSIG_HOME": str(self.root / "state"),
               **self.shared, **extra_env}
        log = (self.root / f"{name}.log").open("ab")
        command = [sys.executable, "-m", "infra", "worker", "--name", name,
                   *(["--queues", queues] if queues else [])]
        self.workers[name] = subprocess.Popen(command, cwd=self.root / "work", env=env,
                                              stdout=log, stderr=subprocess.STDOUT)
        return self.workers[name]

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {self.name}/{p.name}\n{p.read_text(errors='replace')[-tail:]}"
                         for p in sorted(self.root.glob("*.log")))


def new_host(name: str, root: Path, shared: dict[str, str]) -> Host:
    for sub in ("work", "home", "state"):
        (root / sub).mkdir(parents=True)
    return Host(name, root, shared)
