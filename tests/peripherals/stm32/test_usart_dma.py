"""STM32F1 USART with DMA (RM0008 §27.3.13 "Continuous communication using DMA", §13 DMA):
received characters land in memory with CNDTR, HT/TC and their interrupts at the instants a
DMA served one request at a time would give, without an event per character; circular
reception; transmission by DMA with TC at the last stop bit; overrun while the channel is off;
IDLE giving a frame's length through CNDTR. Each test looks at what firmware would see."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.rs485 import Rs485Bus, Rs485Transceiver
from metersim.peripherals.stm32 import dma as d
from metersim.peripherals.stm32 import usart as u
from metersim.peripherals.uart_line import sample_frame
from metersim._units import PS_PER_S

from tests.peripherals.stm32.test_dma import Bus

REPO = Path(__file__).resolve().parents[3]
RAM, USART2 = 0x20000000, 0x40004400
HCLK = 72_000_000
L_PS = d.TRANSFER_CYCLES * PS_PER_S // HCLK       # request to transfer
BAUD = 9600
CH6 = d.CH_BASE + 5 * d.CH_STRIDE                  # DMA1 channel 6: USART2_RX (Table 78)
CH7 = d.CH_BASE + 6 * d.CH_STRIDE                  # DMA1 channel 7: USART2_TX


class Board:
    """USART2 and DMA1 on one clock, wired as stm32f103.repl wires them; a host sends to the
    USART over an RS-485 bus (which hands characters over at their end, as in the cabinet) or
    straight onto its RX pin (`wire`: handed over at their start). `one_by_one` turns the
    at-once reception off: each character then raises the request line and the channel
    serves it with an event of its own (the reference the at-once path must match)."""

    def __init__(self, wire=False, one_by_one=False):
        self.clock = Clock()
        machine = SimpleNamespace(name="m", sysbus=Bus(),
                                  clocks=ClockTree({"PCLK1": 36_000_000, "HCLK": HCLK}))
        self.ram = machine.sysbus.ram
        self.usart = u.STM32Usart(Context(self.clock, name="usart2", machine=machine,
                                          address=USART2))
        self.dma = d.STM32F1Dma(Context(self.clock, name="dma1", machine=machine,
                                        address=0x40020000))
        machine.sysbus._pages[USART2 >> 10] = (self.usart, USART2)
        self.usart.DMAReceive.connect(self.dma, 6)
        self.usart.DMATransmit.connect(self.dma, 7)
        if one_by_one:
            self.usart._rx_channel = lambda: None
        self.irqs = {6: [], 7: [], "usart": []}
        for ch in (6, 7):
            self.dma.connections[ch - 1].connect(SimpleNamespace(
                on_gpio=lambda _p, lv, ch=ch: self.irqs[ch].append((lv, self.clock.now_ps))))
        self.usart.IRQ.connect(SimpleNamespace(
            on_gpio=lambda _p, lv: self.irqs["usart"].append((lv, self.clock.now_ps))))
        self.usart.write(u.BRR, 4, round(self.usart.pclk_hz / BAUD))
        self.usart.write(u.CR1, 4, u.UE | u.TE | u.RE)
        self.wire = wire
        self.starts: list[int] = []                    # start of each character received
        self.handed: list[int] = []                    # when the line handed it over
        receive = self.usart.receive_frame

        def note(frame):
            self.starts.append(frame.start_ps)
            self.handed.append(self.clock.now_ps)

        def heard(frame):
            note(frame)
            receive(frame)

        if wire:
            self.usart.receive_frame = heard          # write_bytes hands its frames there
        else:
            bus = self.bus = Rs485Bus(Context(self.clock, name="bus"))
            xcvr = self.xcvr = Rs485Transceiver(Context(self.clock, name="xcvr"), bus)
            xcvr.ro.connect(note)
            xcvr.connect_usart(self.usart.tx, receive)
            self.host = bus.attach_host("host", baud=BAUD)
        self.run_to(self.clock.now_ps + 5 * 10**9)     # the idle preamble goes by

    def send(self, data: bytes, at_ps=None):
        t = self.clock.now_ps if at_ps is None else at_ps
        if self.wire:
            self.usart._host_next_ps = t
            return self.usart.write_bytes(data)
        return self.host.send(data, at_ps=t)

    def rx_dma(self, n, ccr=0, addr=RAM):
        """Channel 6 from USART2's DR to memory, n transfers, then DMAR (RM0008 §27.3.13)."""
        self.dma.write(CH6 + d.CPAR, 4, USART2 + u.DR)
        self.dma.write(CH6 + d.CMAR, 4, addr)
        self.dma.write(CH6 + d.CNDTR, 4, n)
        self.dma.write(CH6 + d.CCR, 4, d.MINC | ccr | d.EN)
        self.usart.write(u.CR3, 4, self.usart.read(u.CR3, 4) | u.DMAR)

    def rx_point(self, i):
        """Where character i's RXNE lies (middle of its stop bit) at this USART's settings."""
        return self.starts[i] + self.usart._line().rx_done_ps

    def transfer_at(self, i):
        """Where character i's DMA transfer falls: its RXNE point plus the DMA's transfer
        time, or, on the RS-485 bus (which hands a character over at its end), that end
        when it is later (the USART receives what it is handed at that instant)."""
        return max(self.rx_point(i) + L_PS, self.handed[i])

    def run_to(self, t_ps):
        self.clock.advance_to(t_ps)

    def watch(self, until_ps, reg=CH6 + d.CNDTR):
        """Run to until_ps event by event: (instant, value) each time `reg` changed, and the
        number of events that ran."""
        seen, events = [(self.clock.now_ps, self.dma.read(reg, 4))], 0
        while (t := self.clock.next_event_ps()) is not None and t <= until_ps:
            self.clock.advance_to(t)
            events += 1
            v = self.dma.read(reg, 4)
            if v != seen[-1][1]:
                seen.append((t, v))
        self.run_to(until_ps)
        return seen[1:], events

    def isr6(self):
        return self.dma.read(d.ISR, 4) >> 20 & 0xF


DATA = bytes([0x01, 0x03, 0x10, 0x00, 0x00, 0x0A, 0xC0, 0xCD, 0x55, 0xAA])


@pytest.mark.parametrize("wire", [False, True], ids=["rs485", "wire"])
def test_received_characters_land_in_memory_at_the_transfer_instants_of_one_request_at_a_time(wire):
    runs = {}
    for one_by_one in (False, True):
        b = Board(wire=wire, one_by_one=one_by_one)
        b.rx_dma(len(DATA), d.HTIE | d.TCIE)
        end = b.send(DATA)
        cndtr, events = b.watch(end + 10**9)
        runs[one_by_one] = (cndtr, events, bytes(b.ram[:len(DATA)]), b.irqs[6], b.isr6(),
                            b.usart.read(u.SR, 4), [b.transfer_at(i) for i in range(len(DATA))])
    fast, slow = runs[False], runs[True]
    cndtr, events, mem, irqs, isr, sr, due = fast
    assert mem == DATA
    # CNDTR counts down at each character's transfer (RXNE point plus the DMA's time)
    assert cndtr == [(t, len(DATA) - 1 - i) for i, t in enumerate(due)]
    # HT after the 5th transfer, TC after the 10th: the channel's interrupt rises there
    assert irqs == [(True, due[4])] and isr & (d.TCIF | d.HTIF) == d.TCIF | d.HTIF
    assert not sr & (u.RXNE | u.ORE)
    # the same memory, flags and interrupts as one request at a time, with an event fewer
    # per character (at least) than that; the same CNDTR instants when the line hands the
    # characters over as they start. The RS-485 bus hands each one over at its end, after
    # its RXNE point plus L: one request at a time then serves it L after that hand-over,
    # the at-once path at the hand-over, the nearer of the two to where the hardware's
    # transfer lies (before the hand-over)
    shift = 0 if wire else L_PS
    assert [(t + shift, n) for t, n in cndtr] == slow[0]
    assert (mem, isr, sr) == (slow[2], slow[4], slow[5])
    assert [(lv, t + shift) for lv, t in irqs] == slow[3]
    assert events + len(DATA) <= slow[1]
    if not wire:
        assert all(t == b.handed[i] > b.rx_point(i) + L_PS for i, (t, _) in enumerate(cndtr))


def test_on_rs485_a_dma_reader_sees_the_character_at_its_rxne_point_not_at_the_hand_over():
    """The bus hands a character over at its end, half a stop bit after the receiver's RXNE
    point; a firmware reading CNDTR in between (a silence timer's interrupt, say) sees the
    character there all the same, as it would on the chip, and the hand-over adds nothing."""
    b = Board()
    b.rx_dma(8)
    t0 = b.clock.now_ps + 10**9
    end = b.send(b"\x5A", at_ps=t0)
    due = t0 + b.usart._line().rx_done_ps + L_PS
    seen = []
    for t in (due - 1, due, end - 1):
        b.clock.schedule_at(t, lambda: seen.append((b.dma.read(CH6 + d.CNDTR, 4), b.ram[0])))
    b.run_to(end + 10**9)
    assert due < end
    assert seen == [(8, 0), (7, 0x5A), (7, 0x5A)]
    assert b.dma.read(CH6 + d.CNDTR, 4) == 7 and bytes(b.ram[:2]) == b"\x5A\x00"
    assert not b.usart.read(u.SR, 4) & (u.RXNE | u.ORE | u.FE | u.NF)


def test_a_character_the_line_damages_after_the_dma_took_it_is_corrected_at_the_hand_over():
    b = Board()
    b.rx_dma(8)
    t0 = b.clock.now_ps + 10**9
    end = b.send(b"\x00", at_ps=t0)
    due = t0 + b.usart._line().rx_done_ps + L_PS
    # noise over the data bits, but only known to the bus at the frame's end; read at `due`
    b.bus.noise_burst(8 * 10**12 // BAUD, at_ps=t0 + 10**12 // BAUD)
    b.ram[0] = 0xEE
    at_due = []
    b.clock.schedule_at(due, lambda: at_due.append((b.dma.read(CH6 + d.CNDTR, 4), b.ram[0])))
    b.run_to(end + 10**9)
    assert at_due == [(7, 0x00)]                         # taken as sent
    line = b.bus.tap[-1]
    assert line.corrupted and line.value != 0
    assert b.ram[0] == line.value & 0xFF                 # what the line delivered, not what was sent
    assert b.dma.read(CH6 + d.CNDTR, 4) == 7             # one transfer, not two
    _, fe, pe, nf = sample_frame(line.frame, BAUD, 8, "N", 2)
    want = (u.FE if fe else 0) | (u.PE if pe else 0) | (u.NF if nf else 0)
    assert b.usart.read(u.SR, 4) & (u.FE | u.PE | u.NF) == want   # and its error flags


def test_half_and_complete_interrupts_are_seen_by_an_isr_that_clears_them():
    b = Board()
    b.rx_dma(8, d.HTIE | d.TCIE)
    seen = []
    b.dma.connections[5].connect(SimpleNamespace(on_gpio=lambda _p, lv: lv and b.clock.schedule(
        0, lambda: (seen.append((b.clock.now_ps, b.isr6(), b.dma.read(CH6 + d.CNDTR, 4))),
                    b.dma.write(d.IFCR, 4, d.GIF << 20)))))
    b.run_to(b.send(DATA[:8]) + 10**9)
    hti, tci = b.transfer_at(3), b.transfer_at(7)
    assert seen == [(hti, d.HTIF | d.GIF, 4), (tci, d.TCIF | d.GIF, 0)]
    assert bytes(b.ram[:8]) == DATA[:8]
    # one-shot: the channel stops with EN still set; the next character waits in DR (RXNE)
    b.run_to(b.send(b"\x77") + 10**9)
    assert b.dma.read(CH6 + d.CCR, 4) & d.EN and b.dma.read(CH6 + d.CNDTR, 4) == 0
    assert b.usart.read(u.SR, 4) & u.RXNE and b.usart.read(u.DR, 4) == 0x77
    assert bytes(b.ram[8:9]) == b"\x00"


def test_circular_reception_wraps_the_buffer_and_raises_ht_and_tc_every_lap():
    b = Board()
    b.rx_dma(8, d.CIRC | d.HTIE | d.TCIE)
    data = bytes(range(0x40, 0x54))                 # 20 characters: two laps and a half
    flags = []
    b.dma.connections[5].connect(SimpleNamespace(on_gpio=lambda _p, lv: lv and b.clock.schedule(
        0, lambda: (flags.append(b.isr6() & (d.HTIF | d.TCIF)), b.dma.write(d.IFCR, 4, d.GIF << 20)))))
    b.run_to(b.send(data) + 10**9)
    assert flags == [d.HTIF, d.TCIF] * 2 + [d.HTIF]
    assert b.dma.read(CH6 + d.CNDTR, 4) == 8 - 20 % 8
    # the newest character sits at 8 - CNDTR - 1; the lap before it behind
    assert bytes(b.ram[:8]) == data[16:20] + data[12:16]
    assert not b.usart.read(u.SR, 4) & (u.RXNE | u.ORE)


def test_transmission_by_dma_goes_back_to_back_and_tc_rises_at_the_last_stop_bit():
    b = Board()
    msg = b"\x02\x04\x06\x08\x0A"
    b.ram[0x100:0x105] = msg
    tc_edges = []
    b.usart.TC_EVENT.connect(SimpleNamespace(on_gpio=lambda _p, lv: tc_edges.append((lv, b.clock.now_ps))))
    b.usart.write(u.SR, 4, ~u.TC & 0xFFFF)           # rc_w0: a fresh TC marks this burst's end
    b.usart.write(u.CR3, 4, u.DMAT)                  # TXE is set: the request is high already
    b.dma.write(CH7 + d.CPAR, 4, USART2 + u.DR)
    b.dma.write(CH7 + d.CMAR, 4, RAM + 0x100)
    b.dma.write(CH7 + d.CNDTR, 4, len(msg))
    t0 = b.clock.now_ps
    b.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | d.EN)
    b.run_to(t0 + 10 * 10**9)
    line = b.usart._line()

    def after(n):                                    # n characters from the first write
        return t0 + L_PS + n * line.half_bits * line.div * PS_PER_S // (2 * line.hz)

    ends = [t for t, _ in b.usart.sent]
    assert b.usart.sent_bytes() == msg
    # the first write one transfer after EN, the characters then back to back
    assert ends == [after(i + 1) for i in range(len(msg))]
    # the channel's TC when the last byte went to DR (the one before it still on the wire),
    # the USART's TC at the end of the last stop bit
    dma_tc = [t for lv, t in b.irqs[7] if lv]
    assert dma_tc == [after(3) + L_PS]
    assert tc_edges == [(False, t0), (True, ends[-1])] or tc_edges == [(True, ends[-1])]
    assert b.usart.read(u.SR, 4) & (u.TC | u.TXE) == u.TC | u.TXE
    assert not b.irqs["usart"]                        # no USART interrupt on the way


@pytest.mark.parametrize("de_low_at_char", [None, 4], ids=["de-held", "de-dropped"])
def test_a_dma_run_onto_rs485_shows_what_one_request_at_a_time_shows_at_every_instant(de_low_at_char):
    """A run the USART takes whole (its transceiver is told each character ahead) and the same
    run served one request at a time: SR, CNDTR and the channel's flags read the same at every
    look, the bus carries the same characters at the same instants (DE dropped mid-run cuts
    the same ones), the interrupts rise at the same instants; the whole run costs fewer
    events. During the run the engine leaves SR reads to Python (TXE changes between events)."""
    msg = bytes([0x01, 0x04, 0x10, 0x00, 0x02, 0x71, 0xCB, 0x55, 0xAA, 0x0F])
    out, events = [], []
    for whole in (True, False):
        b = Board()
        ram = b.ram                                   # RAM as a machine's sysbus shows it
        b.dma.bus.region_at = lambda a: SimpleNamespace(base=RAM, size=len(ram), writable=True)
        b.dma.bus.uc = SimpleNamespace(
            mem_write=lambda a, data: ram.__setitem__(slice(a - RAM, a - RAM + len(data)), data))
        if not whole:
            b.usart.tx.connect(lambda f: None)        # not told ahead: one request at a time
        b.xcvr.on_gpio(0, True)                       # DE high: the driver is on
        b.ram[0x100:0x100 + len(msg)] = msg
        b.usart.write(u.SR, 4, ~u.TC & 0xFFFF)
        b.usart.write(u.CR3, 4, u.DMAT)
        b.dma.write(CH7 + d.CPAR, 4, USART2 + u.DR)
        b.dma.write(CH7 + d.CMAR, 4, RAM + 0x100)
        b.dma.write(CH7 + d.CNDTR, 4, len(msg))
        line = b.usart._line()
        t0 = b.clock.now_ps
        if de_low_at_char is not None:
            b.clock.schedule_at(t0 + de_low_at_char * line.char_ps + line.char_ps // 3,
                                b.xcvr.on_gpio, 0, False)
        hot = b.usart.hot_registers()[0].state
        looks, c_side = [], []
        step = line.char_ps // 7 + 1                  # several looks per character

        def look():
            looks.append((b.clock.now_ps, b.usart.read(u.SR, 4) & (u.TXE | u.TC),
                          b.dma.read(CH7 + d.CNDTR, 4), b.dma.read(d.ISR, 4) >> 24 & 0xF))
            c_side.append("SR" in hot.regs)
        for k in range(1, 7 * (len(msg) + 2)):
            b.clock.schedule_at(t0 + k * step, look)
        b.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | d.EN)
        n = 0
        while (t := b.clock.next_event_ps()) is not None and t <= t0 + 20 * line.char_ps:
            b.clock.advance_to(t)
            n += 1
        bus = [(r.start_ps, r.end_ps, r.sent, r.reasons) for r in b.bus.tap]
        out.append((looks, bus, list(b.usart.sent), b.irqs[7], b.xcvr.dropped_frames))
        events.append(n)
        if whole:
            assert not all(c_side) and c_side[-1]     # in Python during the run only
    assert out[0] == out[1]
    looks, bus, sent, _irq, dropped = out[0]
    assert {txe for _, txe, _, _ in looks} == {0, u.TXE, u.TXE | u.TC}
    if de_low_at_char is None:
        assert [v for _, _, v, _ in bus] == list(msg) and dropped == 0
    else:
        assert len(bus) == de_low_at_char + 1 and "DE dropped" in bus[-1][3]
        assert dropped == len(msg) - de_low_at_char - 1
    assert events[1] - events[0] >= len(msg) - 3      # about one event fewer per character


def test_without_the_channel_a_second_character_overruns_and_the_first_waits_for_the_dma():
    b = Board()
    b.dma.write(CH6 + d.CPAR, 4, USART2 + u.DR)
    b.dma.write(CH6 + d.CMAR, 4, RAM)
    b.dma.write(CH6 + d.CNDTR, 4, 4)
    b.dma.write(CH6 + d.CCR, 4, d.MINC)              # set up, not enabled
    b.usart.write(u.CR3, 4, u.DMAR)
    b.run_to(b.send(b"\x11\x22\x33") + 10**9)
    sr = b.usart.read(u.SR, 4)
    assert sr & (u.RXNE | u.ORE) == u.RXNE | u.ORE   # 0x22 and 0x33 are lost
    assert b.dma.read(CH6 + d.CNDTR, 4) == 4 and b.ram[0] == 0
    t = b.clock.now_ps
    b.dma.write(CH6 + d.CCR, 4, d.MINC | d.EN)       # the request has waited: served now
    b.run_to(t + 10**9)
    assert b.ram[0] == 0x11 and b.dma.read(CH6 + d.CNDTR, 4) == 3
    assert not b.usart.read(u.SR, 4) & u.RXNE
    # the DMA's DR read came after the SR read above: ORE is cleared with it (SR then DR)
    assert not b.usart.read(u.SR, 4) & u.ORE
    b.run_to(b.send(b"\x44") + 10**9)                # the channel now serves each one
    assert bytes(b.ram[:2]) == b"\x11\x44" and b.dma.read(CH6 + d.CNDTR, 4) == 2


def test_idle_interrupt_gives_each_frames_length_through_cndtr():
    b = Board()
    b.rx_dma(64, d.CIRC)
    b.usart.write(u.CR1, 4, u.UE | u.TE | u.RE | u.IDLEIE)
    frames, last = [], [64]

    def isr():                                       # SR then DR clears IDLE; CNDTR: how far
        sr = b.usart.read(u.SR, 4)
        if sr & u.IDLE:
            b.usart.read(u.DR, 4)
            left = b.dma.read(CH6 + d.CNDTR, 4)
            frames.append((b.clock.now_ps, (last[0] - left) % 64))
            last[0] = left

    b.usart.IRQ.connect(SimpleNamespace(on_gpio=lambda _p, lv: lv and b.clock.schedule(0, isr)))
    char = b.usart.char_ps()
    end = b.send(DATA[:7])
    b.send(DATA[7:], at_ps=end + 5 * char)           # a second frame after 5 characters
    b.run_to(end + 20 * char)
    idle = [b.starts[6] + 2 * char, b.starts[9] + 2 * char]   # a character of mark after each
    assert [n for _, n in frames] == [7, 3]
    assert [t for t, _ in frames] == [pytest.approx(t, abs=3) for t in idle]
    assert bytes(b.ram[:10]) == DATA
    assert not b.usart.read(u.SR, 4) & u.IDLE


def test_platform_wires_each_usart_to_its_channels():
    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus/stm32f103rc.repl", name="qm")
    dma1, dma2 = m["dma1"], m["dma2"]
    wiring = {name: ([(t, p) for t, p in m[name].DMAReceive._targets],
                     [(t, p) for t, p in m[name].DMATransmit._targets])
              for name in ("usart1", "usart2", "usart3", "uart4")}
    assert wiring == {"usart1": ([(dma1, 5)], [(dma1, 4)]), "usart2": ([(dma1, 6)], [(dma1, 7)]),
                      "usart3": ([(dma1, 3)], [(dma1, 2)]), "uart4": ([(dma2, 3)], [(dma2, 5)])}
    assert m["usart2"].DMARequest is m["usart2"].DMAReceive
