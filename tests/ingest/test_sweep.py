"""The chain sweep on a real Redis: the states a Redis restart leaves are repaired, healthy
chains are never touched."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry, ScheduledJobRegistry

from ingest.orchestration.sweep import open_chains_key, register_chain, sweep_chains


def _chain(redis: Redis, product: str = "p1") -> list[Job]:
    """A fetch -> infer -> publish chain with our id scheme, registered as open."""
    jobs, previous = [], None
    for stage in ("fetch", "infer", "publish"):
        previous = Queue(stage, connection=redis).enqueue(
            "os.getpid", job_id=f"{stage}-{product}-m-v1", depends_on=previous)
        jobs.append(previous)
    register_chain(redis, "", jobs[-1].id)
    return jobs


def _finish(job: Job, redis: Redis) -> None:
    """What a worker leaves for a finished job, without handing over its dependents."""
    queue = Queue(job.origin, connection=redis)
    redis.lrem(queue.key, 0, job.id)
    job.set_status(JobStatus.FINISHED)
    FinishedJobRegistry(queue=queue).add(job, ttl=3600)


def test_healthy_chains_are_left_alone(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, infer, publish = _chain(redis)
    for _ in range(2):
        assert sweep_chains(redis, grace_s=0) == []
    assert Queue("fetch", connection=redis).get_job_ids() == [fetch.id]
    assert infer.get_status(refresh=True) == JobStatus.DEFERRED
    assert Queue("infer", connection=redis).get_job_ids() == []


def test_a_queued_job_lost_from_its_queue_is_put_back_after_the_grace(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, _, _ = _chain(redis)
    queue = Queue("fetch", connection=redis)
    redis.lrem(queue.key, 0, fetch.id)  # popped by a worker whose reply Redis never sent
    assert sweep_chains(redis, grace_s=0.5) == []  # first sight: may be in passing
    time.sleep(0.6)
    repaired = sweep_chains(redis, grace_s=0.5)
    assert [(r.job_id, r.reason) for r in repaired] == [(fetch.id, "queued but on no queue")]
    assert queue.get_job_ids() == [fetch.id]
    assert sweep_chains(redis, grace_s=0) == []  # repaired once, not twice


def test_a_job_that_recovers_within_the_grace_is_forgotten(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, _, _ = _chain(redis)
    queue = Queue("fetch", connection=redis)
    redis.lrem(queue.key, 0, fetch.id)
    assert sweep_chains(redis, grace_s=0.3) == []
    redis.rpush(queue.key, fetch.id)  # it was in passing after all
    assert sweep_chains(redis, grace_s=0.3) == []
    redis.lrem(queue.key, 0, fetch.id)
    time.sleep(0.4)
    assert sweep_chains(redis, grace_s=0.3) == []  # a new suspicion starts its own grace


def test_deferred_dependents_of_a_finished_job_are_released(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, infer, publish = _chain(redis)
    _finish(fetch, redis)
    repaired = sweep_chains(redis, grace_s=0)
    assert [(r.job_id, r.reason) for r in repaired] == [
        (infer.id, "deferred although its dependencies finished")]
    assert Queue("infer", connection=redis).get_job_ids() == [infer.id]
    assert publish.get_status(refresh=True) == JobStatus.DEFERRED  # its turn comes later


def test_scheduled_jobs_lost_from_or_stuck_in_the_schedule_are_enqueued(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, infer, _ = _chain(redis)
    redis.lrem(Queue("fetch", connection=redis).key, 0, fetch.id)
    fetch.set_status(JobStatus.SCHEDULED)  # a retry whose schedule entry was lost
    _, infer2, _ = _chain(redis, "p2")
    fetch2 = Job.fetch("fetch-p2-m-v1", connection=redis)
    redis.lrem(Queue("fetch", connection=redis).key, 0, fetch2.id)
    fetch2.set_status(JobStatus.SCHEDULED)  # due ten minutes ago, never enqueued
    ScheduledJobRegistry(queue=Queue("fetch", connection=redis)).schedule(
        fetch2, datetime.now(UTC) - timedelta(minutes=10))
    repaired = {r.job_id: r.reason for r in sweep_chains(redis, grace_s=0)}
    assert repaired == {fetch.id: "scheduled but in no schedule",
                        fetch2.id: "scheduled but not enqueued when due"}
    assert sorted(Queue("fetch", connection=redis).get_job_ids()) == sorted([fetch.id, fetch2.id])
    assert ScheduledJobRegistry(queue=Queue("fetch", connection=redis)).get_job_ids() == []


def test_finished_and_failed_chains_leave_the_registry(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    for job in _chain(redis, "done"):
        _finish(job, redis)
    fetch, _, _ = _chain(redis, "failed")
    fetch.set_status(JobStatus.FAILED)
    _chain(redis, "running")
    assert sweep_chains(redis, grace_s=0) == []
    assert [m.decode() for m in redis.zrange(open_chains_key(""), 0, -1)] == [
        "publish-running-m-v1"]


def test_one_sweeper_at_a_time(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, _, _ = _chain(redis)
    redis.lrem(Queue("fetch", connection=redis).key, 0, fetch.id)
    with redis.lock("earthsig:chains:sweep", timeout=10):  # another worker is sweeping
        assert sweep_chains(redis, grace_s=0) == []
    assert [r.job_id for r in sweep_chains(redis, grace_s=0)] == [fetch.id]


def test_a_job_whose_execution_record_was_lost_is_repaired(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, _, _ = _chain(redis)
    queue = Queue("fetch", connection=redis)
    redis.lrem(queue.key, 0, fetch.id)
    # A worker had begun it: the job lists an execution whose record Redis no longer has.
    redis.zadd(f"rq:executions:{fetch.id}", {"lost-execution": time.time() + 600})
    assert [r.job_id for r in sweep_chains(redis, grace_s=0)] == [fetch.id]
    assert queue.get_job_ids() == [fetch.id]


def test_a_job_popped_by_a_worker_that_never_started_it_is_put_back(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    fetch, _, _ = _chain(redis)
    queue = Queue("fetch", connection=redis)
    redis.lmove(queue.key, queue.intermediate_queue_key)  # the pop whose reply Redis lost
    repaired = sweep_chains(redis, grace_s=0)
    assert [(r.job_id, r.reason) for r in repaired] == [
        (fetch.id, "dequeued but started by no worker")]
    assert queue.get_job_ids() == [fetch.id]
    assert redis.lrange(queue.intermediate_queue_key, 0, -1) == []
