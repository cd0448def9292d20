"""An RTOS rewrites a process's MPU region at every context switch and pends PendSV through
ICSR; the engine does those MPU_RBAR/MPU_RASR writes in C (`_mpu_fill.c`, mf_scs_write) instead
of calling the Python model; an ICSR write that pends PendSV is done in C before it (the NVIC's
hot-register write, the one C path for ICSR and SysTick writes).
What the firmware and a debugger see must not change: the same run, instruction for
instruction, and the same registers read back."""

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._resources import find_firmware

MPU_TYPE = 0xE000ED90
ICSR = 0xE000ED04


def icsr_in_c(m) -> int:
    """ICSR writes done in C (the NVIC's hot-register write: PENDSVSET)."""
    return sum(hot.stats().get((ICSR, "icsr_write"), (0, 0))[0]
               for hot in m.sysbus.hot_ranges.values())


def switch_run(c_writes: bool, stop_after_on: int | None = None, monkeypatch=None):
    """bench_mpu_switch: two unprivileged threads yielding to each other, the process region
    rewritten at every switch once the MPU is on. Returns (console, instructions, MPU
    registers as a debugger reads them, writes done in C)."""
    if not c_writes:
        monkeypatch.setenv("METERSIM_HOT_REGS", "0")  # no register answered in C at all
    emu = Emulation()
    m = Machine.bare(emu, "f413", core="cortex-m4f")
    m.load_elf(find_firmware("f413rg", "bench_mpu_switch"))
    uart = m["usart1"]
    guard = m.cpu.mpu_guard
    emu.run_until(lambda: "phase off" in uart.text, timeout="100s", what="'phase off'")
    fast = guard._fast
    assert fast is not None and fast.regs_on == 1     # taken over at the first slice
    fast.regs_on = int(c_writes)
    before, words_before = fast.c_writes, icsr_in_c(m)
    if stop_after_on is None:
        emu.run_until(lambda: "PASS" in uart.text or "FAIL" in uart.text, timeout="100s",
                      what="'PASS'")
    else:
        emu.run_for(stop_after_on)                    # stopped in the middle of phase 2
    nvic = m["nvic"]
    regs = []
    for n in range(8):
        nvic.write(0xD98, 4, n)                       # MPU_RNR, as a debugger would
        regs.append((nvic.read(0xD9C, 4), nvic.read(0xDA0, 4)))
    regs.append(nvic.read(0xD94, 4))                  # MPU_CTRL
    base = regs[1][0] & ~0x1F                         # region 1: the running thread's memory
    rights = [m.cpu.nvic.mpu.rights(a, privileged) for a in (base - 4, base, base + 0xFFC,
                                                             base + 0x1000)
              for privileged in (False, True)]
    return (uart.text, m.cpu.instructions_now(), regs, rights, fast.c_writes - before,
            icsr_in_c(m) - words_before)


@pytest.mark.parametrize("stop", ["2ms", None])
def test_region_rewrites_in_c_run_exactly_as_in_python(stop, monkeypatch):
    """Stopped while the threads switch (MPU on) or at the end: the console, the instruction
    count, every region register read back and the rights the model answers are those of the
    run whose writes all went through the Python model; and the writes were done in C."""
    c = switch_run(True, stop)
    py = switch_run(False, stop, monkeypatch)
    assert c[:4] == py[:4]
    assert py[4] == py[5] == 0
    assert c[4] >= (1000 if stop is None else 50)      # two writes per switch, in C
    assert c[5] >= (500 if stop is None else 25)       # ICSR.PENDSVSET, once per switch
    if stop is not None:                               # mid-run: MPU on with PRIVDEFENA, the
        assert c[2][8] == 0b101                        # thread's 4 KiB window RW for it only
        assert c[3] == [0, 7, 3, 3, 3, 3, 0, 7]


def test_logging_the_nvic_still_shows_every_mpu_and_icsr_write(caplog):
    """A user who logs the NVIC's accesses (`sysbus LogPeripheralAccess nvic`) sees the
    firmware's region rewrites and PendSV requests: with a wrapper on the bus's page, the
    writes go through the model, not the C path."""
    from metersim._engine.runtime_hooks import log_peripheral_access

    emu = Emulation()
    m = Machine.bare(emu, "f413", core="cortex-m4f")
    m.load_elf(find_firmware("f413rg", "bench_mpu_switch"))
    uart = m["usart1"]
    emu.run_until(lambda: "phase off" in uart.text, timeout="100s", what="'phase off'")
    fast = m.cpu.mpu_guard._fast
    c_writes, icsr_writes = fast.c_writes, icsr_in_c(m)
    assert log_peripheral_access(m, "nvic", True) == ["nvic"]
    with caplog.at_level("INFO", logger="metersim.access"):
        emu.run_for("200us")
    text = caplog.text
    assert "nvic: write32 +0xd9c" in text             # MPU_RBAR: the incoming process's region
    assert "nvic: write32 +0xda0" in text             # MPU_RASR
    assert "nvic: write32 +0xd04 <- 0x10000000" in text   # ICSR.PENDSVSET
    assert (fast.c_writes, icsr_in_c(m)) == (c_writes, icsr_writes)
    log_peripheral_access(m, "nvic", False)           # unwrapped: the C path again
    emu.run_for("200us")
    assert fast.c_writes > c_writes and icsr_in_c(m) > icsr_writes
