"""A bounded, reproducible schemathesis run over every operation of an OpenAPI document.

schemathesis's own pytest integration runs several phases (examples, coverage, fuzzing, stateful)
whose case counts do not follow ``max_examples``; here each operation gets exactly the cases
asked for, through Hypothesis with ``derandomize=True`` (the same requests on every run, so a
CI failure reproduces locally), no shrinking and no example database. Every failure is
collected, not only the first, so one run lists all the 5xx and schema breaks at once.

Each operation is fuzzed in three ways:

- ``positive``: data the schema allows, path parameters generated (mostly unknown ids);
- ``known``: the same, with path parameters (and query values) fixed to real resources, so
  the generated query parameters reach the renderer and the database instead of a 404;
- ``negative``: data the schema forbids; only "no 5xx" is asked of those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.schemas import APIOperation, BaseSchema

TIMEOUT_S = 60.0


@dataclass
class Variant:
    """One way of generating an operation's cases."""

    name: str
    mode: GenerationMode
    checks: list[CheckFunction]
    # Path parameters and query values fixed for every case, per operation (None: generated).
    fixed: Callable[[APIOperation], tuple[dict[str, Any], dict[str, Any]] | None] | None = None


@dataclass
class FuzzReport:
    """What a run sent and what it found."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_variant: dict[str, Counter[int]] = field(default_factory=dict)
    operations: int = 0
    unsatisfiable: int = 0  # (operation, variant) pairs with nothing to generate
    failures: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        by_class = Counter({f"{s // 100}xx": 0 for s in self.statuses})
        for status, n in self.statuses.items():
            by_class[f"{status // 100}xx"] += n
        return (f"{self.requests} requests over {self.operations} operations, "
                f"{dict(sorted(by_class.items()))}, {len(self.failures)} failures")


def _failure_lines(case: Case, response: Response, error: Failure | FailureGroup) -> list[str]:
    found = list(error.exceptions) if isinstance(error, FailureGroup) else [error]
    where = f"{case.method} {case.formatted_path}"
    answer = f"{response.status_code} {_short(response.text)}"
    lines = []
    for failure in found:
        title = failure.title if isinstance(failure, Failure) else type(failure).__name__
        message = failure.message if isinstance(failure, Failure) else str(failure)
        lines.append(f"{where} query={case.query!r} body={_short(case.body)}: {title}: "
                     f"{message[:300]} -> {answer}")
    return lines


def _short(body: Any) -> str:
    if body is NOT_SET:
        return "-"
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) < 300 else text[:300] + "..."


def _run_one(
    operation: APIOperation,
    variant: Variant,
    base_url: str,
    session: requests.Session,
    headers: Mapping[str, str],
    max_examples: int,
    report: FuzzReport,
) -> None:
    fixed = variant.fixed(operation) if variant.fixed else ({}, {})
    if fixed is None:
        return
    path_parameters, query = fixed
    strategy = operation.as_strategy(
        variant.mode, path_parameters=path_parameters or None, query=query or None)

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case: Case) -> None:
        response = case.call(base_url=base_url, session=session, headers=dict(headers),
                             timeout=TIMEOUT_S)
        report.requests += 1
        report.statuses[response.status_code] += 1
        report.by_variant.setdefault(variant.name, Counter())[response.status_code] += 1
        try:
            case.validate_response(response, checks=variant.checks, headers=dict(headers))
        except (Failure, FailureGroup) as error:  # recorded, and the run goes on
            report.failures.extend(f"[{variant.name}] {line}"
                                   for line in _failure_lines(case, response, error))

    try:
        fuzz()
    except Unsatisfiable:  # nothing to generate: e.g. negative data for a parameterless GET
        report.unsatisfiable += 1


def fuzz_schema(
    schema: BaseSchema,
    base_url: str,
    variants: list[Variant],
    *,
    max_examples: int,
    headers: Mapping[str, str] | None = None,
    skip: Callable[[APIOperation], bool] = lambda _: False,
) -> FuzzReport:
    """Send ``max_examples`` cases per operation and variant to ``base_url``; report them."""
    report = FuzzReport()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if skip(operation):
                continue
            report.operations += 1
            for variant in variants:
                _run_one(operation, variant, base_url, session, headers or {}, max_examples,
                         report)
    return report


NO_SERVER_ERROR: list[CheckFunction] = [not_a_server_error]
