"""Idle ticks in C (CortexM.idle_ticks, _block_clock.c): a lone core asleep in WFI whose only
due event is its SysTick wrap runs its ticks without Python. The firmware must not be able to
tell: the same ticks, SysTick handler runs, virtual time, cycle counts, console lines (with
their instants), registers and RAM as with every tick in Python (`Emulation.native_idle =
False`), at a core clock with whole-picosecond cycles and at 72 MHz (which has none), with
runs ending between ticks and Python events landing among them."""

import hashlib

import pytest

import metersim
from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._units import PS_PER_S
from unicorn import arm_const as A

REGS = [getattr(A, f"UC_ARM_REG_{r}") for r in
        ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11", "R12",
         "SP", "LR", "PC", "MSP", "PSP", "XPSR", "CONTROL", "PRIMASK", "BASEPRI"]]

# bench_idle: the SysTick handler counts g_ticks, main prints "idle N" every 10000 ticks. Its
# SysTick reload is made for 1 kHz at the firmware's HCLK; at 72 MHz the F103 build ticks at
# 9 kHz. Each run ends between ticks twice and goes past two prints.
BOARDS = {
    "f413-16MHz": dict(target="f413rg", core="cortex-m4f", freq_hz=16_000_000,
                       sram=(0x20000000, 0x50000), console=0x40011000,
                       chunks=["10ms", "10.5s", "1234567us", "9s"]),
    "f103-72MHz": dict(target="f103rb", core="cortex-m3", freq_hz=72_000_000,
                       sram=(0x20000000, 0x5000), console=0x40013800,
                       chunks=["10ms", "1.2s", "123457us", "1s"]),
}


def run(firmware, board, native, chunks, event_every_ps=None):
    b = BOARDS[board]
    emu = Emulation()
    emu.native_idle = native
    m = Machine.bare(emu, board, core=b["core"], freq_hz=b["freq_hz"], sram=b["sram"],
                     console_address=b["console"])
    m.load_elf(firmware(b["target"], "bench_idle"))
    console = metersim.capture_uart(m, "usart1")
    cpu = m.cpu
    seen = []
    if event_every_ps:
        def event():   # a model's event among the ticks: what it sees of the core
            seen.append((emu.clock.now_ps, cpu.cycles_now(), cpu.instructions_now(),
                         cpu.active_cycles(), m.cpu.nvic.systick.current()))
            emu.clock.schedule(event_every_ps, event)
        emu.clock.schedule(event_every_ps, event)
    for chunk in chunks:
        emu.run_for(chunk)
    g_ticks = m.symbol("g_ticks")
    lo, size = b["sram"]
    return {
        "now_ps": emu.now_ps,
        "exceptions": cpu.exceptions_taken,
        "g_ticks": int.from_bytes(cpu.uc.mem_read(g_ticks, 4), "little"),
        "cycles": (cpu.cycles, cpu.instructions, cpu.idle_cycles),
        "systick": (m.cpu.nvic.systick.csr, m.cpu.nvic.systick.current()),
        "console": [(line.text, line.start_ps) for line in console.lines],
        "regs": [cpu.reg(r) for r in REGS],
        "ram_sha1": hashlib.sha1(bytes(cpu.uc.mem_read(lo, size))).hexdigest(),
        "events": seen,
    }, cpu.native_idle_ticks


@pytest.fixture(autouse=True)
def _needs_block_clock():
    if Machine.bare(Emulation(), "probe", "cortex-m4f").cpu.bc is None:
        pytest.fail("the block clock extension is not built (setup.py build_ext)")


@pytest.mark.parametrize("board", list(BOARDS))
def test_native_ticks_match_python_ticks(firmware, board):
    chunks = BOARDS[board]["chunks"]
    python, n_python = run(firmware, board, False, chunks)
    native, n_native = run(firmware, board, True, chunks)
    assert n_python == 0
    assert n_native > 0.9 * native["exceptions"]      # the C loop did (nearly) all ticks
    assert native == python
    text = [t for t, _ in native["console"]]
    assert "idle 10000" in text and "idle 20000" in text   # prints still go through Python
    assert native["g_ticks"] >= 20000


def test_native_ticks_with_python_events_among_them(firmware):
    chunks = ["10ms", "3s"]
    python, _ = run(firmware, "f413-16MHz", False, chunks, event_every_ps=123_456_789_013)
    native, n_native = run(firmware, "f413-16MHz", True, chunks, event_every_ps=123_456_789_013)
    assert len(native["events"]) == 24 and n_native > 2500
    assert native == python


def test_until_condition_keeps_python_ticks(firmware):
    """run_until checks its condition after every step, so the ticks stay in Python there."""
    b = BOARDS["f413-16MHz"]
    emu = Emulation()
    m = Machine.bare(emu, "f413", core=b["core"], freq_hz=b["freq_hz"])
    m.load_elf(firmware(b["target"], "bench_idle"))
    addr = m.symbol("g_ticks")

    def ticks():
        return int.from_bytes(m.cpu.uc.mem_read(addr, 4), "little")

    emu.run_until(lambda: ticks() >= 250, timeout="1s")
    assert ticks() == 250 and m.cpu.native_idle_ticks == 0
    # the 250th wrap: 250 ms after SysTick started, about 1 ms into the run
    assert 250 * PS_PER_S // 1000 < emu.now_ps < 252 * PS_PER_S // 1000
