"""The management unit wakes for work, not on each thread's own phase: the watchdog's feed,
the display's refresh and the event checks share one wake a second (a wake of the MCU costs the
supercap's charge during a power cut)."""

PS_PER_MS = 10**9
PS_PER_S = 10**12


def test_watchdog_fed_once_a_second_at_the_display_refresh(meter):
    m = meter(power_W=300.0)
    iwdg, lcd = m.board["iwdg"], m.board["lcd"]
    feeds, changes = [], []
    reload = iwdg._reload

    def fed():
        feeds.append(m.emu.clock.now_ps)
        reload()
    iwdg._reload = fed
    lcd.on_change(lambda: changes.append(m.emu.clock.now_ps))
    m.emu.run_for("2s")
    feeds.clear()
    changes.clear()
    m.emu.run_for("20s")
    # once a second, half the 2 s window, on the same phase every time (was every 500 ms)
    assert len(feeds) == 20
    gaps = {round((b - a) / PS_PER_MS) for a, b in zip(feeds, feeds[1:])}
    assert gaps == {1000}
    assert iwdg.expiries == 0
    # the screen changes (its rotation every 5 s, the values it fetches) at the refresh, in
    # the feed's wake: the refresh's fetch from the metrology unit takes tens of ms, and the
    # watchdog's thread, the least urgent, feeds when the display is done
    assert len(changes) >= 4
    for t in changes:
        apart = min(abs(t - f) for f in feeds)
        assert apart < 100 * PS_PER_MS, apart / PS_PER_MS
