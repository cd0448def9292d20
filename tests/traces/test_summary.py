"""Run summary and machine-level capture: a real firmware run on the engine."""

import re
from types import SimpleNamespace

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._traces.errors import TraceError
from metersim._traces.pcap import LINKTYPE_USER1, capture_uart_pcap, read_pcap
from metersim._traces.summary import format_summary
from metersim._units import PS_PER_S


@pytest.fixture
def systick_run(firmware, tmp_path):
    emu = Emulation()
    m = Machine.bare(emu, "meter", "cortex-m4f", 16_000_000)
    m.load_elf(firmware("f413rg", "systick_rate"))
    cap = capture_uart_pcap(m, tmp_path / "console.pcap")
    emu.run_for("1.2s")
    cap.close()
    return emu, m, tmp_path / "console.pcap"


def test_summary_reports_times_speed_instructions_and_checks(systick_run):
    emu, m, _ = systick_run
    text = format_summary(emu, checks={"ticks every 100 ms": True,
                                       "energy within class 1": False})
    assert re.search(r"virtual time : 1\.200000 s", text)
    wall = float(re.search(r"wall time    : ([0-9.]+) s", text).group(1))
    assert wall == pytest.approx(emu.wall_s, abs=0.001) and wall > 0
    ratio = float(re.search(r"speed        : ([0-9.]+)x real time", text).group(1))
    assert ratio == pytest.approx(1.2 / emu.wall_s, rel=0.01)
    instr = m.stats()["instructions"]
    assert instr > 0
    line = re.search(r"machine meter: ([0-9 ]+) instructions, ([0-9.]+) MIPS, core 16 MHz", text)
    assert int(line.group(1).replace(" ", "")) == instr
    assert float(line.group(2)) == pytest.approx(instr / emu.wall_s / 1e6, abs=0.1)
    assert "checks       : 1 passed, 1 failed" in text
    assert "PASS ticks every 100 ms" in text and "FAIL energy within class 1" in text


def test_machine_console_goes_to_a_pcap_line_by_line(systick_run):
    emu, m, path = systick_run
    link, recs = read_pcap(path)
    assert link == LINKTYPE_USER1
    ticks = [r for r in recs if r.data.startswith(b"tick ")]
    assert [r.data.strip() for r in ticks[:3]] == [b"tick 100", b"tick 200", b"tick 300"]
    # one line every 100 ms of virtual time (SysTick at 1 kHz)
    gaps_ns = [b.time_ns - a.time_ns for a, b in zip(ticks, ticks[1:])]
    assert all(abs(g - 100_000_000) < 500_000 for g in gaps_ns)
    assert b"".join(r.data for r in recs) == bytes(m["usart1"].output)


def test_summary_check_forms_and_bad_input():
    emu = SimpleNamespace(clock=SimpleNamespace(now_ps=3 * PS_PER_S), wall_s=0.0, machines=[])
    text = format_summary(emu, checks=[("relay trips", True, "at 12.000 s"),
                                       SimpleNamespace(name="crc", passed=False, detail="bad")])
    assert "speed        : n/a" in text
    assert "PASS relay trips: at 12.000 s" in text and "FAIL crc: bad" in text
    assert "checks" not in format_summary(emu)
    with pytest.raises(TraceError, match="as a check"):
        format_summary(emu, checks=[42])
    with pytest.raises(TraceError, match="not an Emulation"):
        format_summary(object())
