"""The fleet sampler's convergence rule (``tests/sampling.py``), on samples made here.

The load tests of real servers trust :func:`tests.sampling.converge` to fail when a worker
is missing, goes back to the old value or is unknown; these cases show that it does, and
that the delays it returns are measured from ``since`` to each worker's first new answer.
"""

from __future__ import annotations

import pytest

from tests import sampling

SINCE = 1_000.0  # an arbitrary instant: the rule only subtracts


def sample(pid: int, status: int, began: float, ended: float | None = None) -> sampling.Sample:
    """An answer of worker ``pid`` of server "web", stamped ``began``..``ended``."""
    end = began + 0.001 if ended is None else ended
    return sampling.Sample("web", sampling.PID, status, {}, b"", began, end, pid, began, end)


def sampler_of(*samples: sampling.Sample) -> sampling.Sampler:
    sampler = sampling.Sampler([])
    sampler.samples.extend(samples)
    return sampler


def converge(sampler: sampling.Sampler, *, settled: bool = True) -> sampling.Converged:
    return sampling.converge(
        sampler, {"web": {1, 2}}, 503, SINCE, steady=2, bound=0.0, settled=settled
    )


def test_every_worker_steady_gives_each_delay_to_its_first_new_answer() -> None:
    sampler = sampler_of(
        sample(1, 200, SINCE + 0.01),
        sample(1, 503, SINCE + 0.10, SINCE + 0.11),
        sample(1, 503, SINCE + 0.20),
        sample(2, 503, SINCE + 0.05, SINCE + 0.06),
        sample(2, 503, SINCE + 0.30),
        sample(1, 503, SINCE - 1.0),  # sent before ``since``: not counted
    )
    converged = converge(sampler)
    assert converged.delays == pytest.approx({("web", 1): 0.11, ("web", 2): 0.06})
    assert converged.worst == pytest.approx(0.11)
    assert converged.last_old == pytest.approx({("web", 1): 0.01})
    assert converged.figures() == {"web:1": 0.11, "web:2": 0.06}


def test_a_worker_not_steady_fails_within_the_bound() -> None:
    sampler = sampler_of(sample(1, 503, SINCE + 0.1), sample(1, 503, SINCE + 0.2))
    sampler.samples.append(sample(2, 503, SINCE + 0.3))  # one answer, two needed
    with pytest.raises(AssertionError, match="not every worker serves 503"):
        converge(sampler)


def test_a_worker_going_back_fails_when_the_source_was_settled() -> None:
    sampler = sampler_of(
        sample(1, 503, SINCE + 0.1, SINCE + 0.11),
        sample(1, 200, SINCE + 0.2),  # begun after a new answer ended: decided later
        *(sample(p, 503, SINCE + 0.3 + p / 100) for p in (1, 1, 2, 2)),
    )
    with pytest.raises(AssertionError, match=r"went back to 200"):
        converge(sampler)
    # After a flood of writes only the last answers count: the same samples converge.
    assert converge(sampler, settled=False).delays[("web", 1)] == pytest.approx(0.311)


def test_overlapping_threads_of_one_worker_are_not_going_back() -> None:
    sampler = sampler_of(
        sample(1, 503, SINCE + 0.1, SINCE + 0.5),
        sample(1, 200, SINCE + 0.2, SINCE + 0.25),  # began before the new one ended
        *(sample(p, 503, SINCE + 0.6 + p / 100) for p in (1, 2, 2)),
    )
    assert converge(sampler).delays[("web", 1)] == pytest.approx(0.5)


def test_an_answer_from_an_unknown_worker_fails() -> None:
    sampler = sampler_of(*(sample(p, 503, SINCE + 0.1 * p) for p in (1, 1, 2, 2, 3)))
    with pytest.raises(AssertionError, match="unknown workers"):
        converge(sampler)


def test_a_check_that_raises_is_a_problem_not_a_silent_end() -> None:
    def check(answer: sampling.Sample) -> str | None:
        raise KeyError("no such target")

    sampler = sampling.Sampler([], check=check, keep=False)
    sampler._record(sample(1, 503, SINCE))
    assert sampler.problems == [
        "the check raised KeyError('no such target') on 503 for GET /pid text/html"
    ]
    assert (sampler.count, sampler.samples, sampler.workers) == (1, [], {("web", 1)})
