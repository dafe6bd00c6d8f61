"""RQ: stage jobs and queues, the worker, sweeps, monitoring, operations over time, and the
pause points of the fault tests."""
