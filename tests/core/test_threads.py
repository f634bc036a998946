"""The WSGI body readers' threads: reused while idle, never refused, gone after their idle time; and
the one background thread (`Daemon`) of the lease keeper, the metrics publisher and the resume hub."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from firsttoken._threads import Daemon, ReaderThreads, readers


def _wait_until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_finished_job_leaves_its_thread_for_the_next() -> None:
    pool = ReaderThreads(idle=5.0, name="test-readers")
    seen: list[int] = []
    for _ in range(5):
        done = threading.Event()
        pool.run(lambda done=done: (seen.append(threading.get_ident()), done.set()))
        assert done.wait(5)
        _wait_until(lambda: pool.idle == 1)
    assert pool.started == 1
    assert len(set(seen)) == 1


def test_jobs_that_overlap_each_get_a_thread_however_many() -> None:
    # A fixed ceiling would leave a stream waiting, silent, for another to end.
    pool = ReaderThreads(idle=5.0, name="test-readers")
    release = threading.Event()
    running = threading.Semaphore(0)

    def job() -> None:
        running.release()
        release.wait(5)

    def forty_at_once() -> None:
        for _ in range(40):
            pool.run(job)
        for _ in range(40):
            assert running.acquire(timeout=5)

    forty_at_once()
    assert pool.started == 40
    release.set()
    _wait_until(lambda: pool.idle == 40)
    # Idle threads are taken before any new one starts.
    release.clear()
    forty_at_once()
    assert pool.started == 40
    release.set()


def test_an_idle_thread_exits_after_its_idle_time() -> None:
    pool = ReaderThreads(idle=0.1, name="test-readers-idle")
    done = threading.Event()
    pool.run(done.set)
    assert done.wait(5)
    _wait_until(lambda: not [t for t in threading.enumerate() if t.name == "test-readers-idle"])
    assert pool.idle == 0
    again = threading.Event()
    pool.run(again.set)
    assert again.wait(5)
    assert pool.started == 2


def test_a_job_put_as_an_idle_thread_times_out_still_runs() -> None:
    # Many jobs at the edge of the idle time: a job handed to a thread that is just leaving must be
    # taken by it (or another), never left in the queue with no thread to run it.
    pool = ReaderThreads(idle=0.002, name="test-readers-edge")
    for _ in range(300):
        done = threading.Event()
        pool.run(done.set)
        assert done.wait(5)
        time.sleep(0.002)


def test_a_job_that_raises_ends_its_thread_without_counting_it_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooked: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args.exc_type))
    pool = ReaderThreads(idle=5.0, name="test-readers-raise")

    def boom() -> None:
        raise RuntimeError("boom")

    pool.run(boom)
    _wait_until(lambda: hooked == [RuntimeError])
    assert pool.idle == 0
    done = threading.Event()
    pool.run(done.set)
    assert done.wait(5)
    assert pool.started == 2


def _child_runs_a_job(answer: multiprocessing.queues.SimpleQueue[object]) -> None:
    done = threading.Event()
    idle_at_start = readers.idle
    readers.run(done.set)
    answer.put((idle_at_start, done.wait(5)))


def test_a_forked_worker_starts_with_no_idle_threads() -> None:
    # Gunicorn forks its workers: the parent's idle threads do not exist in the child.
    done = threading.Event()
    readers.run(done.set)
    assert done.wait(5)
    _wait_until(lambda: readers.idle >= 1)
    context = multiprocessing.get_context("fork")
    answer = context.SimpleQueue()
    child = context.Process(target=_child_runs_a_job, args=(answer,))
    child.start()
    child.join(10)
    assert answer.get() == (0, True)


def test_a_daemon_runs_one_thread_woken_at_once_and_none_after_close() -> None:
    rounds: list[float] = []

    def run() -> None:
        while not daemon.stopping.is_set():
            rounds.append(time.monotonic())
            daemon.idle(30.0)

    daemon = Daemon(run, name="firsttoken-test-daemon")
    daemon.start()
    daemon.start()
    _wait_until(lambda: len(rounds) == 1)
    assert [t.name for t in threading.enumerate()].count("firsttoken-test-daemon") == 1
    woken = time.monotonic()
    daemon.wake()
    _wait_until(lambda: len(rounds) == 2)
    assert rounds[1] - woken < 5.0  # not the idle wait's 30 s
    started = time.monotonic()
    daemon.close()
    assert time.monotonic() - started < 2.0
    assert "firsttoken-test-daemon" not in [t.name for t in threading.enumerate()]
    daemon.start()
    daemon.close()
    assert len(rounds) == 2
