"""STM32 USART IDLE (RM0008 / RM0430 "Idle line detected"): set once a whole character time of
mark follows a received character's stop bits, not again until RXNE sets; never in the middle
of a burst, whatever line the characters come over: a wire on one clock, an RS-485 bus (which
hands a character over at its end), a cable or a bus between two machines that run ahead of
each other inside a quantum (metersim._engine.emulation), or the monitor's UART hub between
them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._engine.emulation import Emulation
from metersim._frontends.uart_hub import UartHub
from metersim._engine.platform_builder import create_machine
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.rs485 import Rs485Bus, Rs485Transceiver
from metersim.peripherals.stm32 import usart as u
from metersim.peripherals.uart_cable import UartCable
from metersim.peripherals.uart_line import frame_duration_ps, rx_complete_ps

REPO = Path(__file__).resolve().parents[3]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"
BAUD = 9600
GAP_STEP = 0.02        # "just under" / "just over" one character time: 2 % of one
PS_SLACK = 3           # sender (float baud) and receiver (BRR) round a character apart by a ps


def at(times_ps):
    """The instants expected, to the picosecond rounding of two bit clocks (a bit is 104 us)."""
    return [pytest.approx(t, abs=PS_SLACK) for t in times_ps]


class Firmware:
    """What a receiving firmware sees: its USART interrupt (RXNEIE, IDLEIE) taken at the
    instant the line rises, reading SR then DR as an ISR does; records when IDLE was set."""

    def __init__(self, usart):
        self.usart = usart
        self.idle_ps: list[int] = []
        self.rx: list[int] = []
        usart.IRQ.connect(self)

    def on_gpio(self, _pin, level):
        if level:
            self.usart.ctx.clock.schedule(0, self.isr)

    def isr(self):
        dev = self.usart
        sr = dev.read(u.SR, 4)
        if sr & u.IDLE:
            self.idle_ps.append(dev.ctx.clock.now_ps)
        if sr & (u.RXNE | u.IDLE):
            value = dev.read(u.DR, 4)
            if sr & u.RXNE:
                self.rx.append(value)


def configure(dev, baud=BAUD):
    dev.write(u.BRR, 4, round(dev.pclk_hz / baud))
    dev.write(u.CR1, 4, u.UE | u.TE | u.RE | u.RXNEIE | u.IDLEIE)


# -- the lines: each gives send(byte, at_ps) -> end of that character, run_to(t), receiver ------

class OneClockCable:
    """Two USARTs crossed on one clock (a direct wire: the receiver sees each start)."""

    def __init__(self):
        self.clock = Clock()
        machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000}))
        self.tx, self.rx = (u.STM32Usart(Context(self.clock, name=n, machine=machine))
                            for n in ("usart2", "usart3"))
        self.tx.connect(self.rx)
        for dev in (self.tx, self.rx):
            configure(dev)
        self.run_to(self.clock.now_ps + 5 * 10**9)           # the idle preamble goes by

    def send(self, byte, at_ps):
        self.clock.schedule_at(at_ps, self.tx.write, u.DR, 4, byte)
        return at_ps + self.tx.char_ps()

    def stop_bit_ends(self, n):
        return [t for t, _ in self.tx.sent[-n:]]

    def run_to(self, t_ps):
        self.clock.advance_to(t_ps)


class OneClockRs485:
    """The receiver behind a transceiver on an RS-485 bus on its clock; a Python sender on the
    bus that sends each character once the previous one has ended (as a test script does)."""

    def __init__(self):
        self.clock = Clock()
        machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000}))
        self.rx = u.STM32Usart(Context(self.clock, name="usart2", machine=machine))
        configure(self.rx)
        bus = Rs485Bus(Context(self.clock, name="bus"))
        xcvr = Rs485Transceiver(Context(self.clock, name="xcvr"), bus)
        xcvr.connect_usart(self.rx.tx, self.rx.receive_frame)
        self.host = bus.attach_host("host", baud=BAUD)
        self.ends = []
        self.run_to(self.clock.now_ps + 5 * 10**9)

    def send(self, byte, at_ps):
        end = self.host.send(bytes([byte]), at_ps=at_ps)
        self.ends.append(end)
        return end

    def stop_bit_ends(self, n):
        return self.ends[-n:]

    def run_to(self, t_ps):
        self.clock.advance_to(t_ps)


class TwoMachines:
    """Two F103s asleep in WFI (wfi_idle), their USART2s driven from here; the receiver's
    machine runs first in each quantum, so it reaches the idle point before the sender has run
    there. `kind`: "cable" (UartCable), "hub" (the monitor's UART hub) or "rs485"
    (transceivers on a bus)."""

    def __init__(self, firmware, kind):
        self.emu = Emulation()
        elf = firmware("f103rb", "wfi_idle")
        rx_m = create_machine(self.emu, F103, elf=elf, name="receiver")   # runs first
        tx_m = create_machine(self.emu, F103, elf=elf, name="sender")
        self.tx_m, self.tx, self.rx = tx_m, tx_m["usart2"], rx_m["usart2"]
        self.emu.run_for("2ms")                       # clocks set up by the firmware
        if kind == "cable":
            UartCable(self.tx, self.rx)
        elif kind == "hub":
            hub = UartHub("hub")
            hub.attach("sender:usart2", self.tx)
            hub.attach("receiver:usart2", self.rx)
        else:
            bus = Rs485Bus(Context(self.emu.clock, name="bus"))
            for m in (rx_m, tx_m):
                xcvr = Rs485Transceiver(Context(m.clock, name="xcvr", machine=m))
                xcvr.connect_usart(m["usart2"].tx, m["usart2"].receive_frame)
                xcvr.attach(bus)
                xcvr.on_gpio(0, m is tx_m)            # DE: only the sender drives
        for dev in (self.tx, self.rx):
            configure(dev)
        self.emu.run_for("5ms")

    @property
    def clock(self):
        return self.emu.clock

    def send(self, byte, at_ps):
        self.tx_m.clock.schedule_at(at_ps, self.tx.write, u.DR, 4, byte)
        return at_ps + self.tx.char_ps()

    def stop_bit_ends(self, n):
        return [t for t, _ in self.tx.sent[-n:]]

    def run_to(self, t_ps):
        self.emu.run_until_time(t_ps)


LINES = {"one clock cable": lambda fw: OneClockCable(), "one clock rs485": lambda fw: OneClockRs485(),
         "cable between machines": lambda fw: TwoMachines(fw, "cable"),
         "hub between machines": lambda fw: TwoMachines(fw, "hub"),
         "rs485 between machines": lambda fw: TwoMachines(fw, "rs485")}


@pytest.fixture(params=list(LINES))
def line(request, firmware):
    return LINES[request.param](firmware)


def send_paced(line, data, gap_ps):
    """Each character `gap_ps` after the previous one's stop bit, sent once it has ended;
    returns where their stop bits ended on the line."""
    t = line.clock.now_ps + 10**9
    for b in data:
        end = line.send(b, t)
        line.run_to(end)
        t = end + gap_ps
    line.run_to(t + line.rx.char_ps() // 2)         # the last one has ended (to a few ps)
    return line.stop_bit_ends(len(data))


def test_a_burst_gives_one_idle_one_character_after_the_last_stop_bit(line):
    fw = Firmware(line.rx)
    char_ps = line.rx.char_ps()
    ends = send_paced(line, b"\x01\x03\x00\x10\x00\x02\xc5\xce", 0)
    line.run_to(ends[-1] + char_ps - 1)
    assert fw.idle_ps == []                        # not inside the burst, not yet after it
    line.run_to(ends[-1] + 5 * char_ps)
    assert fw.rx == list(b"\x01\x03\x00\x10\x00\x02\xc5\xce")
    assert fw.idle_ps == at([ends[-1] + char_ps])  # one, a character time after the last stop bit


@pytest.mark.parametrize("gap_chars, idles_between", [(1 - GAP_STEP, 0), (1 + GAP_STEP, 1)])
def test_a_gap_under_one_character_time_is_not_idle_one_over_it_is(line, gap_chars, idles_between):
    fw = Firmware(line.rx)
    char_ps = line.rx.char_ps()
    ends = send_paced(line, b"AB", round(gap_chars * char_ps))
    line.run_to(ends[-1] + 5 * char_ps)
    assert fw.rx == list(b"AB")
    between = [ends[0] + char_ps] if idles_between else []
    assert fw.idle_ps == at(between + [ends[-1] + char_ps])


def test_idle_is_not_set_again_until_a_character_is_received(line):
    fw = Firmware(line.rx)
    char_ps = line.rx.char_ps()
    ends = send_paced(line, b"Z", 0)
    line.run_to(ends[-1] + 20 * char_ps)
    assert fw.idle_ps == at([ends[-1] + char_ps])


def test_between_machines_a_slower_receiver_takes_each_character_at_its_own_rxne_point(firmware):
    """The cable hands a character over at the later of the two ends' RXNE points: a receiver
    whose bit clock runs slower than the sender's (BRR one step longer) sets RXNE where its
    own sampling reaches the first stop bit, and IDLE a character time of its own later."""
    line = TwoMachines(firmware, "cable")
    rx = line.rx
    rx.write(u.BRR, 4, rx.read(u.BRR, 4) + 1)
    fw = Firmware(rx)
    seen = []
    rx.IRQ.connect(SimpleNamespace(on_gpio=lambda _p, lv: lv and seen.append(rx.ctx.clock.now_ps)))
    starts = []
    line.tx.tx.connect(lambda f: starts.append(f.start_ps))
    send_paced(line, b"Q", 0)
    line.run_to(line.clock.now_ps + 5 * rx.char_ps())
    assert fw.rx == [ord("Q")]
    assert seen == [starts[0] + rx_complete_ps(rx.baud), starts[0] + 2 * frame_duration_ps(rx.baud)]
