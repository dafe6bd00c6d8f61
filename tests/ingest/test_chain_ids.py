"""The chain-id format: built from a product and a model version, read back from any job id."""

from __future__ import annotations

import pytest

from ingest.orchestration.chain_ids import ChainIds
from ingest.orchestration.stages import Stage


def test_ids_are_built_in_rqs_alphabet() -> None:
    ids = ChainIds.of("S2A_MSIL2A_20240701T105031.SAFE", "clc-spectral:1")
    assert ids.by_stage() == {
        Stage.FETCH: "fetch-S2A_MSIL2A_20240701T105031-SAFE-clc-spectral-v1",
        Stage.INFER: "infer-S2A_MSIL2A_20240701T105031-SAFE-clc-spectral-v1",
        Stage.PUBLISH: "publish-S2A_MSIL2A_20240701T105031-SAFE-clc-spectral-v1"}
    assert ids.last == ids.job_id(Stage.PUBLISH)
    assert list(ids) == [ids.job_id(s) for s in (Stage.FETCH, Stage.INFER, Stage.PUBLISH)]


@pytest.mark.parametrize("stage", list(Stage))
def test_any_stages_id_gives_back_its_chain(stage: Stage) -> None:
    ids = ChainIds.of("S2A_X", "clc:1")
    assert ChainIds.from_job_id(ids.job_id(stage)) == ids
    assert list(ChainIds.from_job_id("publish-S2A_X-clc-v1")) == [
        "fetch-S2A_X-clc-v1", "infer-S2A_X-clc-v1", "publish-S2A_X-clc-v1"]


@pytest.mark.parametrize("bad", ["", "publish", "publish-", "discover-S2A_X-clc-v1",
                                 "S2A_X-clc-v1", "publish-S2A X-clc-v1"])
def test_a_malformed_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not the id of a chain's job"):
        ChainIds.from_job_id(bad)
