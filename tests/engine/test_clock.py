from metersim._engine.clock import Clock


def test_events_run_in_time_then_schedule_order():
    clock = Clock()
    seen = []
    clock.schedule(30, seen.append, "c")
    clock.schedule(10, seen.append, "a1")
    clock.schedule(10, seen.append, "a2")
    clock.schedule(20, seen.append, "b")
    clock.advance_to(25)
    assert seen == ["a1", "a2", "b"]
    assert clock.now_ps == 25
    clock.advance_to(30)
    assert seen == ["a1", "a2", "b", "c"]


def test_callbacks_see_their_own_time_and_can_chain():
    clock = Clock()
    times = []

    def tick():
        times.append(clock.now_ps)
        if len(times) < 5:
            clock.schedule(100, tick)

    clock.schedule(100, tick)
    clock.run_for(1000)
    assert times == [100, 200, 300, 400, 500]


def test_cancelled_events_do_not_run():
    clock = Clock()
    seen = []
    ev = clock.schedule(5, seen.append, 1)
    ev.cancel()
    assert clock.next_event_ps() is None
    clock.run_for(10)
    assert seen == []


def test_earlier_event_inside_a_slice_shrinks_the_horizon():
    clock = Clock()
    shrunk = []
    clock.begin_slice(lambda: 50, 1000, shrunk.append)
    clock.schedule(100, lambda: None)     # due at 150 < 1000
    clock.schedule(2000, lambda: None)    # after the horizon: no effect
    clock.end_slice()
    assert shrunk == [150]


def test_time_cannot_go_backwards():
    import pytest
    clock = Clock()
    clock.advance_to(10)
    with pytest.raises(ValueError):
        clock.advance_to(5)


def test_quiet_event_inside_a_slice_keeps_the_horizon_but_runs_in_order():
    clock = Clock()
    shrunk, seen = [], []
    clock.begin_slice(lambda: 50, 1000, shrunk.append)
    clock.schedule_quiet_at(200, seen.append, "quiet")
    clock.schedule_at(300, seen.append, "loud")
    assert shrunk == [300]          # only the ordinary event ended the slice early
    clock.end_slice()
    clock.advance_to(400)
    assert seen == ["quiet", "loud"]


def test_call_as_of_shows_the_given_instant_then_restores_the_slice_time():
    clock = Clock()
    clock.begin_slice(lambda: 500, 1000, lambda t: None)
    assert clock.call_as_of(420, lambda: clock.now_ps) == 420
    assert clock.now_ps == 500
