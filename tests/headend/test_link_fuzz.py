"""The head end's link under a thousand fuzzed lines (the small version of
benchmarks/campaigns/headend_link_fuzz.py): on SQLite and PostgreSQL."""

from metersim._headend import link_fuzz


def test_a_thousand_fuzzed_lines_leave_the_head_end_answering_and_its_readings_exact(db_url):
    fig = link_fuzz.run(db_url, frames=1000, seed=5)   # a seed with storms and cut lines
    assert fig.storms >= 1 and fig.cut_by_close >= 1 and fig.repeats > 0 and fig.out_of_order > 0
    assert fig.failures() == [], fig.lines()
    assert fig.health_ok and fig.hangs == 0 and fig.server_errors == 0
    # malformed lines were sent and dropped, none of them stored
    assert fig.malformed > 300 and fig.overlong > 20 and fig.lines_dropped >= fig.malformed - fig.storm_malformed
    assert fig.readings_wrong == 0 and fig.stray_rooms == 0 and fig.epochs == 1
    # every well-formed reading is stored once, with its content (the ones cut by a close are
    # sent whole at the end; a storm's may be lost with the connection a newer one replaced)
    assert fig.readings_stored >= fig.readings_sent - fig.storm_readings
    # an overlong line is refused as it streams, never held whole
    assert fig.max_buffered <= link_fuzz.link_mod.MAX_LINE + link_fuzz.link_mod.READ_CHUNK
