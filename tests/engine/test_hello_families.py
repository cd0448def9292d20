"""A polled hello built here for each newer STM32 family (firmware/targets/hello_families) runs
on Renode's own .repl for its part (../shared/renode-upstream, MIT) and prints on that part's
console USART: F0, G0, L0, L1, L5, F7, H7 and WBA."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim.peripherals.stm32.usart import STM32Usart
from metersim.peripherals.stm32.usart_v2 import STM32Usart2
from metersim._units import PS_PER_S

UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "renode-upstream"
if not UPSTREAM.is_dir():
    UPSTREAM = Path("/work/shared/renode-upstream")
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason=f"Renode's platform files are "
                                    f"not on this machine ({UPSTREAM} is absent)")

# family: (Renode .repl, console USART, its RCC enable register and bit, core), as in
# firmware/targets/hello_families/family.h.
FAMILIES = {
    "f0": ("stm32f072", "usart1", 0x40021018, 14, "cortex-m0"),
    "g0": ("stm32g0", "usart1", None, None, "cortex-m0"),        # RCC is a PythonPeripheral
    "l0": ("stm32l071", "usart1", 0x40021034, 14, "cortex-m0+"),
    "l1": ("stm32l151", "usart1", None, None, "cortex-m3"),      # RCC is tags upstream
    "l5": ("stm32l552", "usart1", 0x40021060, 14, "cortex-m33"),
    "f7": ("stm32f746", "usart1", 0x40023844, 4, "cortex-m7"),
    "h7": ("stm32h743", "usart1", 0x580244F0, 4, "cortex-m7"),
    "wba": ("stm32wba52", "usart1", 0x46020CA4, 14, "cortex-m33"),
}


def run_hello(firmware, fam):
    repl, console, *_ = FAMILIES[fam]
    emu = Emulation()
    m = create_machine(emu, UPSTREAM / f"platforms/cpus/{repl}.repl",
                       elf=firmware("families", f"hello_{fam}"), search_paths=[UPSTREAM])
    uart = m[console]
    emu.run_until(lambda: f"hello from stm32{fam} 2\r\n".encode() in uart.sent_bytes(),
                  timeout="100ms", what=f"the third hello line on {console}")
    return m, uart


@needs_upstream
@pytest.mark.parametrize("fam", list(FAMILIES))
def test_hello_prints_on_the_console_of_renodes_platform(firmware, fam):
    m, uart = run_hello(firmware, fam)
    assert m.cpu.core == FAMILIES[fam][4]
    assert uart.sent_bytes().decode() == "".join(f"hello from stm32{fam} {n}\r\n"
                                                 for n in range(3))
    # F1-style SR/DR USART on the L1, the ISR/TDR one everywhere else (as Renode's .repl says)
    assert type(uart) is (STM32Usart if fam == "l1" else STM32Usart2)


@needs_upstream
@pytest.mark.parametrize("fam", [f for f, spec in FAMILIES.items() if spec[2] is not None])
def test_rcc_enable_kept_and_the_line_runs_at_115200_from_the_reset_clock(firmware, fam):
    m, uart = run_hello(firmware, fam)
    _, _, enr, bitn, _ = FAMILIES[fam]
    assert m.sysbus.read_word(enr) >> bitn & 1                 # the firmware's clock enable
    # Back-to-back characters: one 8N1 frame (10 bits) apart at the BRR the firmware computed
    # from its reset clock; off by the BRR rounding only (L0: 2.097 MHz / 18 = 1.1 %).
    ends = [t for t, _ in uart.sent]
    frame_s = (ends[5] - ends[4]) / PS_PER_S
    assert frame_s == pytest.approx(10 / 115200, rel=0.015)


@needs_upstream
def test_same_hello_same_trace(firmware):
    a = [t for t, _ in run_hello(firmware, "h7")[1].sent]
    b = [t for t, _ in run_hello(firmware, "h7")[1].sent]
    assert a == b and len(a) == 3 * len("hello from stm32h7 0\r\n")


@needs_upstream
@pytest.mark.parametrize("fam", ["l0", "h7", "wba"])
def test_metersim_run_shows_the_hello_on_the_console(firmware, fam, capsys):
    """A user runs the ELF on Renode's .repl with `metersim run --platform`: the console
    (usart1) shows the lines and the run ends on --until."""
    from metersim._cli import main
    repl = UPSTREAM / f"platforms/cpus/{FAMILIES[fam][0]}.repl"
    rc = main(["run", "--platform", str(repl), str(firmware("families", f"hello_{fam}")),
               "--until", f"hello from stm32{fam} 2"])
    out = capsys.readouterr()
    assert rc == 0
    assert f"hello from stm32{fam} 1" in out.out + out.err
