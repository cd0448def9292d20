"""Register-level firmware tests of the STM32F413 and STM32F103 SoC models.

The programs of firmware/tests/soc_* run on machines built from the real platform files
(platforms/cpus/*.repl, platforms/boards/test_*.repl) with the STM32 peripheral models: RCC
clock switching, USART timing and links, SPI, I2C with an EEPROM, TIM2 interrupts, IWDG
reset, flash programming and EXTI. Each test checks what the firmware printed and when, in
virtual time, and what the models saw from the outside (bytes on the wire, device traffic).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim.peripherals.base import SPIDevice
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

REPO = Path(__file__).resolve().parents[3]
CPUS = {"f413rg": REPO / "platforms/cpus/stm32f413.repl",
        "f103rb": REPO / "platforms/cpus/stm32f103rb.repl"}
EEPROM_BOARDS = {"f413rg": REPO / "platforms/boards/test_i2c_eeprom_f413.repl",
                 "f103rb": REPO / "platforms/boards/test_i2c_eeprom_f103rb.repl"}
TARGETS = list(CPUS)
PART = {"f413rg": "STM32F413RG (Cortex-M4F)", "f103rb": "STM32F103RB (Cortex-M3)"}
HSI_HZ = {"f413rg": 16_000_000, "f103rb": 8_000_000}
PLL_HCLK_HZ = {"f413rg": 100_000_000, "f103rb": 72_000_000}
CONSOLE_CHAR_PS = 10 * PS_PER_S // 115200     # one 8N1 character on the console


def boot(firmware, target, program, emu=None, name=None, repl=None):
    emu = emu or Emulation()
    m = create_machine(emu, repl or CPUS[target], elf=firmware(target, program),
                       name=name or target)
    return emu, m, capture_uart(m, "usart1")


def finished(cap) -> bool:
    return any(ln.text == "PASS" or ln.text.startswith("FAIL") for ln in cap.lines)


def run_to_end(emu, cap, program, timeout="2s"):
    emu.run_until(lambda: finished(cap), timeout=timeout, what=f"{program} to finish")
    return cap


def line(cap, pattern: str) -> re.Match:
    """The first printed line matching `pattern` (a regex over the whole line)."""
    for ln in cap.lines:
        m = re.fullmatch(pattern, ln.text)
        if m:
            return m
    raise AssertionError(f"no line matches {pattern!r}; the firmware printed:\n{cap.text}")


def line_at(cap, pattern: str):
    for ln in cap.lines:
        if re.fullmatch(pattern, ln.text):
            return ln
    raise AssertionError(f"no line matches {pattern!r}; the firmware printed:\n{cap.text}")


def assert_passed(cap, program, target):
    texts = cap.line_texts()
    assert texts[0] == f"test {program} on {PART[target]}", cap.text
    assert texts[-1] == "PASS", cap.text


# ---- 1. clock tree ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_pll_switch_sets_core_clock_and_systick_counts_real_milliseconds(firmware, target,
                                                                         caplog):
    caplog.set_level(logging.WARNING, logger="metersim")
    emu, m, cap = boot(firmware, target, "soc_clock")
    run_to_end(emu, cap, "soc_clock", "2s")
    assert_passed(cap, "soc_clock", target)
    hclk = PLL_HCLK_HZ[target]
    assert m.cpu.freq_hz == hclk
    assert m.clocks.rate_hz("PCLK1") == hclk // 2 and m.clocks.rate_hz("PCLK2") == hclk
    assert line(cap, r"sysclk pll (\d+) Hz, flash latency (\d)").groups() == \
        (str(hclk), "3" if target == "f413rg" else "2")
    # HSE start-up and PLL lock as the datasheets give them (DS5319 / DS11581 typical)
    assert abs(int(line(cap, r"hse ready after (\d+) us")[1]) - 2000) <= 10
    pll_us = int(line(cap, r"pll ready after (\d+) us")[1])
    assert pll_us == pytest.approx(200 if target == "f103rb" else 100, abs=5)
    # 1000 SysTick periods of HCLK/1000 clocks are one second of virtual time (+-1 tick)
    t0 = line_at(cap, "systick start").start_ps
    t1 = line_at(cap, "ticks 1000").start_ps
    assert abs((t1 - t0) - PS_PER_S) <= PS_PER_MS
    # the console still runs at 115200 from the new PCLK2: BRR was recomputed
    assert m["usart1"].baud == pytest.approx(115200, rel=0.01)
    ln = line_at(cap, "ticks 1000")
    gaps = [b - a for a, b in zip(cap.times_ps, cap.times_ps[1:])
            if ln.start_ps <= a and b <= ln.end_ps]
    assert gaps and all(abs(g - CONSOLE_CHAR_PS) < PS_PER_US for g in gaps)
    # enough flash wait states for the new HCLK: the flash model did not complain
    assert not [r for r in caplog.records if "wait states" in r.getMessage()]


# ---- 2. USART timing -------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_usart2_ten_bytes_at_9600_take_10_42_ms_at_both_clocks(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_usart_timing")
    run_to_end(emu, cap, "soc_usart_timing", "1s")
    assert_passed(cap, "soc_usart_timing", target)
    usart2 = m["usart2"]
    assert usart2.sent_bytes() == b"0123456789ABCDEFGHIJ"
    for phase, pclk1, first in (("hsi", HSI_HZ[target], 0),
                                ("pll", PLL_HCLK_HZ[target] // 2, 10)):
        got = line(cap, rf"{phase}: pclk1 (\d+) brr (\d+) 10 bytes in (\d+) us")
        assert int(got[1]) == pclk1
        brr = int(got[2])
        assert brr == round(pclk1 / 9600)
        frame_ps = 10 * brr * PS_PER_S // pclk1          # 10 bit times at fCK / BRR
        # what the firmware measured from its first DR write to TC, with DWT CYCCNT
        assert int(got[3]) == pytest.approx(10.42e3, abs=10)
        assert int(got[3]) * PS_PER_US == pytest.approx(10 * frame_ps, abs=5 * PS_PER_US)
        # on the wire: back to back, one frame every 10 bit times
        ends = [t for t, _ in usart2.sent[first:first + 10]]
        assert all(abs((b - a) - frame_ps) <= 1 for a, b in zip(ends, ends[1:]))


# ---- 3. USART link between two boards ----------------------------------------------------------


def link_pair(firmware, target_a, target_b, baud_b_19200=False):
    emu = Emulation()
    _, a, cap_a = boot(firmware, target_a, "soc_usart_link", emu=emu, name="a")
    _, b, cap_b = boot(firmware, target_b, "soc_usart_link", emu=emu, name="b")
    b["gpioPortC"].drive(0, True)                  # PC0 high: role B (answers)
    if baud_b_19200:
        b["gpioPortC"].drive(1, True)              # PC1 high: 19200 baud
    a["usart2"].connect(b["usart2"])
    emu.run_until(lambda: finished(cap_a) and finished(cap_b), timeout="1s",
                  what="both boards to finish")
    return a, b, cap_a, cap_b


@pytest.mark.parametrize("pair", [("f413rg", "f413rg"), ("f103rb", "f103rb"),
                                  ("f413rg", "f103rb")], ids="-".join)
def test_two_boards_exchange_bytes_over_crossed_usart2(firmware, pair):
    a, b, cap_a, cap_b = link_pair(firmware, *pair)
    assert "A: baud 9600 sent 16 replies 16 wrong 0 fe 0 ore 0 ne 0" in cap_a.line_texts()
    assert "B: baud 9600 received 16 wrong 0 fe 0 ore 0 ne 0" in cap_b.line_texts()
    assert cap_a.line_texts()[-1] == "PASS" and cap_b.line_texts()[-1] == "PASS"
    sent_a, sent_b = a["usart2"].sent_bytes(), b["usart2"].sent_bytes()
    assert len(sent_a) == 16 and sent_b == bytes(x ^ 0xFF for x in sent_a)
    # lock step: each answer leaves B after A's byte has fully arrived
    for (ta, _), (tb, _) in zip(a["usart2"].sent, b["usart2"].sent):
        assert tb > ta


@pytest.mark.parametrize("pair", [("f413rg", "f413rg"), ("f103rb", "f413rg")], ids="-".join)
def test_baud_mismatch_gives_framing_errors_and_wrong_bytes(firmware, pair):
    _, _, cap_a, cap_b = link_pair(firmware, *pair, baud_b_19200=True)
    ga = line(cap_a, r"A: baud 9600 sent 16 replies (\d+) wrong (\d+) fe (\d+) ore (\d+) ne (\d+)")
    gb = line(cap_b, r"B: baud 19200 received (\d+) wrong (\d+) fe (\d+) ore (\d+) ne (\d+)")
    replies, wrong_a, fe_a, ore_a, ne_a = map(int, ga.groups())
    received, wrong_b, fe_b, ore_b, ne_b = map(int, gb.groups())
    assert received == 16 and replies == 16       # one character per frame still arrives ...
    assert wrong_b >= 12 and wrong_a >= 12         # ... but not the bytes that were sent
    assert fe_b > 0                                # B samples A's long bits at 2x: stop bit low
    assert fe_a + ne_a > 0                         # A sees short bits: noise / framing errors
    assert cap_a.line_texts()[-1] == "FAIL link errors"
    assert cap_b.line_texts()[-1] == "FAIL link errors"


# ---- 4. SPI ---------------------------------------------------------------------------------------


class ShiftRegisterLoop(SPIDevice):
    """An 8-bit shift register between MOSI and MISO: each byte comes back one byte later.
    Records (time, byte in, byte out) and how many bytes each chip-select window held."""

    def __init__(self, clock):
        self.clock = clock
        self.shift = 0x00
        self.log: list[tuple[int, int, int]] = []
        self.windows: list[int] = []
        self._count = 0

    def transmit(self, byte: int) -> int:
        out, self.shift = self.shift, byte
        self.log.append((self.clock.now_ps, byte, out))
        self._count += 1
        return out

    def finish_transmission(self) -> None:
        self.windows.append(self._count)
        self._count = 0


@pytest.mark.parametrize("target", TARGETS)
def test_spi1_full_duplex_echo_and_bit_rate_at_two_prescalers(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_spi")
    dev = ShiftRegisterLoop(m.clock)
    m["spi1"].register_child(dev)
    m["gpioPortA"].connections[4].connect(dev, 0)     # PA4 = chip select, active low
    run_to_end(emu, cap, "soc_spi", "1s")
    assert_passed(cap, "soc_spi", target)
    assert dev.windows == [16, 16]                   # two transfers, each inside its CS window
    pclk2 = HSI_HZ[target]
    for k, div in enumerate((16, 128)):
        cycles = int(line(cap, rf"div {div}: 16 bytes in (\d+) cycles, echo ok")[1])
        assert cycles == pytest.approx(16 * 8 * div, rel=0.02)   # PCLK2 = HCLK here
        times = [t for t, _, _ in dev.log[16 * k:16 * k + 16]]
        bit_ps = div * PS_PER_S // pclk2
        # gapless frames: one byte every 8 SCK periods of PCLK2 / div
        assert all(b - a == 8 * bit_ps for a, b in zip(times, times[1:]))
    sent = [b for _, b, _ in dev.log]
    echoed = [o for _, _, o in dev.log]
    assert echoed == [0x00] + sent[:-1]


# ---- 5. I2C EEPROM ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_i2c1_eeprom_page_write_ack_polling_read_back_and_nack(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_i2c", repl=EEPROM_BOARDS[target])
    run_to_end(emu, cap, "soc_i2c", "1s")
    assert_passed(cap, "soc_i2c", target)
    eeprom = m["eeprom"]
    data = bytes((0xC0 + 7 * i) & 0xFF for i in range(16))
    assert eeprom.read_image(0x0100, 16) == data
    assert eeprom.read_image(0x00F0, 16) == b"\xff" * 16 and eeprom.read_image(0x0110, 1) == b"\xff"
    assert [(a, n) for _, a, n in eeprom.write_cycles] == [(0x0100, 16)]
    # ACK polling: NACKs while the 5 ms write cycle runs, then an ACK. The firmware times it
    # from setting STOP; the cycle starts when the STOP condition has been sent (one SCL period,
    # 10 us at 100 kHz) and a poll (START, address, STOP) takes 11 SCL periods.
    polls, us = map(int, line(cap, r"ack after (\d+) polls, (\d+) us").groups())
    assert 5010 <= us <= 5010 + 2 * 110 + 50
    assert polls > 10
    assert "0x51 nack af=1" in cap.line_texts()


# ---- 6. timer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_tim2_update_interrupts_at_1khz_from_timclk1_with_the_x2_rule(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_timer")
    run_to_end(emu, cap, "soc_timer", "5s")
    assert_passed(cap, "soc_timer", target)
    timclk1 = PLL_HCLK_HZ[target]                    # PCLK1 = HCLK/2, so TIMCLK1 = 2 x PCLK1
    assert m.clocks.rate_hz("TIMCLK1") == timclk1
    assert line(cap, r"timclk1 (\d+) psc (\d+) arr 999").groups() == \
        (str(timclk1), str(timclk1 // 1_000_000 - 1))
    marks = [line_at(cap, f"tim2 {n}").start_ps for n in (1000, 2000, 3000)]
    # 1000 interrupts per second of virtual time, +-1 interrupt
    for a, b in zip(marks, marks[1:]):
        assert abs((b - a) - PS_PER_S) <= PS_PER_MS
    n = int(line(cap, r"tim2 irqs in 1000 systick ms: (\d+)")[1])
    assert abs(n - 1000) <= 1


# ---- 7. IWDG ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_iwdg_resets_after_its_timeout_and_csr_reports_it(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_iwdg")
    run_to_end(emu, cap, "soc_iwdg", "3s")
    texts = cap.line_texts()
    banner = f"test soc_iwdg on {PART[target]}"
    assert texts.count(banner) == 2
    por = "reset flags: por bor pin" if target == "f413rg" else "reset flags: por pin"
    assert texts[1] == por
    timeout_ms = 1000 if target == "f413rg" else 800     # 32 x 1000 / LSI (32 / 40 kHz)
    assert f"iwdg started, timeout {timeout_ms} ms" in texts
    assert texts[-3:] == ["reset flags: iwdg pin", "reset by iwdg", "PASS"]
    assert m.reset_count == 1 and m.last_reset_cause == "iwdg"
    assert m["iwdg"].expiries == 1 and not m["iwdg"].running   # a reset stops the watchdog
    # the second boot starts one timeout after the watchdog was started
    started = line_at(cap, r"iwdg started, timeout \d+ ms").start_ps
    second = [ln for ln in cap.lines if ln.text == banner][1].start_ps
    assert abs((second - started) - timeout_ms * PS_PER_MS) <= PS_PER_MS // 2
    alive = [int(x) for x in re.findall(r"alive (\d+) ms", cap.text)]
    assert alive and max(alive) < timeout_ms          # running, not refreshing, until the reset


# ---- 8. flash ---------------------------------------------------------------------------------------

def test_f103_flash_page_erase_half_word_program_and_pgerr(firmware):
    emu, m, cap = boot(firmware, "f103rb", "soc_flash")
    run_to_end(emu, cap, "soc_flash", "1s")
    erase_us = int(line(cap, r"page erase 0x0801fc00: (\d+) us, erased")[1])
    assert 20_000 <= erase_us <= 40_000                # DS5319 tERASE 20..40 ms
    prog_us = int(line(cap, r"program: (\d+) us per half-word, 8 read back")[1])
    assert 40 <= prog_us <= 70                         # DS5319 tPROG 40..70 us
    assert "0x1234 over 0x011e: pgerr, kept 0x011e" in cap.line_texts()
    assert "0x0000 over 0xf12b: ok" in cap.line_texts()
    assert cap.line_texts()[-3:] == ["erase + program again: ok", "locked", "PASS"]
    assert m.sysbus.read_memory(0x0801FC00, 4) == bytes.fromhex("7856ffff")


def test_f413_flash_sector_erase_word_program_and_sequence_errors(firmware):
    emu, m, cap = boot(firmware, "f413rg", "soc_flash")
    run_to_end(emu, cap, "soc_flash", "2s")
    erase_us = int(line(cap, r"sector 3 erase: (\d+) us, erased")[1])
    assert 250_000 <= erase_us <= 260_000              # DS11581: 16 KiB sector, x32: 250 ms typ
    assert int(line(cap, r"program: (\d+) us per word, 8 read back")[1]) in range(16, 25)
    texts = cap.line_texts()
    assert "store without PG: pgserr, nothing written" in texts
    assert "half-word with PSIZE x32: pgperr" in texts
    assert "0x0f0f0f0f over 0x5a01011e: reads 0x0a01010e" in texts
    assert texts[-3:] == ["erase + program again: ok", "locked", "PASS"]
    assert m.sysbus.read_memory(0x0800C000, 8) == bytes.fromhex("78563412ffffffff")


# ---- 9. EXTI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_exti_interrupts_on_the_configured_edges_at_the_driven_times(firmware, target):
    emu, m, cap = boot(firmware, target, "soc_exti")
    emu.run_until(lambda: "ready" in cap.line_texts(), timeout="100ms", what="soc_exti ready")
    pc, pa = m["gpioPortC"], m["gpioPortA"]
    t0 = m.clock.now_ps + 5 * PS_PER_MS
    # (ms after t0, port, pin, level): PC13 pulled down, EXTI13 on rising edges only;
    # PA0 pulled up, EXTI0 on falling edges only. None releases the pin to its pull.
    pattern = [(0, pc, 13, True), (10, pc, 13, None), (20, pa, 0, False), (30, pa, 0, None),
               (40, pc, 13, True), (45, pa, 0, False), (60, pc, 13, None), (70, pa, 0, None)]
    for ms, port, pin, level in pattern:
        m.clock.schedule_at(t0 + ms * PS_PER_MS, port.drive, pin, level)
    run_to_end(emu, cap, "soc_exti", "1s")
    assert_passed(cap, "soc_exti", target)
    events = [ln for ln in cap.lines if ln.text.startswith("exti")]
    assert [ln.text for ln in events] == ["exti13 rising, pc13=1", "exti0 falling, pa0=0",
                                          "exti13 rising, pc13=1", "exti0 falling, pa0=0"]
    assert "events 4" in cap.line_texts()
    # each line starts within the ISR + one console character of its edge
    for ln, ms in zip(events, (0, 20, 40, 45)):
        delay = ln.start_ps - (t0 + ms * PS_PER_MS)
        assert CONSOLE_CHAR_PS <= delay <= CONSOLE_CHAR_PS + 50 * PS_PER_US
