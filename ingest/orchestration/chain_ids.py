"""The ids of a product's chain of stage jobs: the one place that builds and parses them.

A chain's jobs are named ``<stage>-<key>``, the key made of the product id and the model
version (``S2A_X`` and ``clc:1`` -> ``S2A_X-clc-v1``) in RQ's job-id alphabet. Deterministic
ids are what keeps two chains of one product and model version from being in flight at once
(``queue.enqueue_product``); the queue waits on, and the sweep repairs, a chain known only by
the id of its last job, so the format must be read back as well as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.orchestration.stages import Stage

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # outside RQ's allowed job-id alphabet


@dataclass(frozen=True)
class ChainIds:
    """The job ids of one chain (stage + product + model version)."""

    key: str

    @classmethod
    def of(cls, product_id: str, model_ref: str) -> ChainIds:
        return cls(_UNSAFE.sub("-", f"{product_id}-{model_ref.replace(':', '-v')}"))

    @classmethod
    def from_job_id(cls, job_id: str) -> ChainIds:
        """The chain a job id of any stage belongs to; ``ValueError`` if it is none of ours."""
        stage, sep, key = job_id.partition("-")
        if not sep or not key or stage not in {s.value for s in Stage} \
                or _UNSAFE.search(key):
            raise ValueError(f"not the id of a chain's job: {job_id!r}")
        return cls(key)

    def job_id(self, stage: Stage) -> str:
        return f"{stage.value}-{self.key}"

    @property
    def last(self) -> str:
        """The id of the chain's last (publish) job: the one to wait on."""
        return self.job_id(Stage.PUBLISH)

    def by_stage(self) -> dict[Stage, str]:
        return {stage: self.job_id(stage) for stage in Stage}

    def __iter__(self) -> Iterator[str]:
        """The job ids, first stage first."""
        return iter(self.by_stage().values())
