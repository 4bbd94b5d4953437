"""Pages go first: training threads step aside while a render holds the foreground, never indefinitely."""

from __future__ import annotations

import threading

from dqn_sim.train import foreground
from dqn_sim.train.foreground import Foreground
from dqn_sim.train.job import TrainingJob
from tests.test_job import AGENT, SCENARIO, _train, _wait


def test_held_counts_nested_renders_and_the_decorator_holds_while_the_render_runs() -> None:
    fg = Foreground()
    seen = []

    @fg
    def render(x: int) -> int:
        seen.append(fg.busy)
        return x + 1

    assert not fg.busy
    with fg.held():
        assert render(1) == 2 and fg.busy  # a fragment inside a page: still held after the inner one ends
    assert seen == [True] and not fg.busy


def test_step_aside_waits_for_the_render_to_end() -> None:
    fg, order = Foreground(), []
    release = threading.Event()

    def page() -> None:
        with fg.held():
            release.wait()
            order.append("render done")

    def trainer() -> None:
        fg.step_aside(most_s=60)
        order.append("training resumed")

    render_thread = threading.Thread(target=page)
    render_thread.start()
    _wait(lambda: fg.busy)
    train_thread = threading.Thread(target=trainer)
    train_thread.start()
    release.set()
    render_thread.join(30)
    train_thread.join(30)
    assert order == ["render done", "training resumed"]


def returns_within_the_join_timeout(call) -> bool:
    done = threading.Event()
    threading.Thread(target=lambda: (call(), done.set()), daemon=True).start()
    return done.wait(30)


def test_step_aside_returns_at_once_when_idle_or_woken() -> None:
    fg = Foreground()
    assert returns_within_the_join_timeout(lambda: fg.step_aside(most_s=600))  # nothing is being drawn
    with fg.held():
        assert returns_within_the_join_timeout(lambda: fg.step_aside(wake=lambda: True, most_s=600))


def test_a_job_stops_while_a_page_waiting_for_it_holds_the_foreground(monkeypatch) -> None:
    """The Stop button's callback joins the job inside a render: the job must not wait for that render."""
    monkeypatch.setattr(foreground, "MAX_STEP_ASIDE_S", 600.0)  # only the wake-up can end the wait
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().step > 500)
    with foreground.FOREGROUND.held():
        job.stop()
        assert job.join(timeout=60)
    assert job.snapshot().state == "stopped"
