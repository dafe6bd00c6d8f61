"""Worker maintenance on a real Redis: dependents stranded behind a finished job go on."""

from redis import Redis
from rq import Queue
from rq.job import JobStatus
from rq.registry import FinishedJobRegistry

from ingest.queue import RESULT_TTL_S
from ingest.worker import release_stranded


def test_deferred_job_with_finished_dependency_is_released(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    first, second = Queue("fetch", connection=redis), Queue("infer", connection=redis)
    a = first.enqueue("os.getpid", job_id="a")
    b = second.enqueue("os.getpid", job_id="b", depends_on=a)
    waiting = second.enqueue("os.getpid", job_id="c", depends_on=a)
    assert b.get_status(refresh=True) == JobStatus.DEFERRED
    assert release_stranded(first) == []  # dependency not finished: left alone
    # What Redis going away between "finished" and "enqueue dependents" leaves behind:
    a.set_status(JobStatus.FINISHED)
    FinishedJobRegistry(queue=first).add(a, ttl=RESULT_TTL_S)
    assert release_stranded(first) == ["a"]
    assert release_stranded(first) == []  # nothing waits any more
    assert b.get_status(refresh=True) == JobStatus.QUEUED
    assert sorted(second.get_job_ids()) == ["b", "c"]
    assert waiting.get_status(refresh=True) == JobStatus.QUEUED
