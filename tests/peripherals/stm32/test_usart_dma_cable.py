"""A cable between two machines into a USART receiving by DMA (peripherals/stm32/usart.py
"DMA", uart_cable.py): the receiver takes each character itself at its instant, so the cable
hands nothing over (no event per character), and what the receiving firmware sees (memory,
CNDTR, HT/TC and IDLE interrupts and their instants, overruns once the channel stops) is what
the character-by-character hand-over gives. The reference is the same run with the receiver
told only of each start (the cable then hands every character over)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim.peripherals.stm32 import dma as d
from metersim.peripherals.stm32 import usart as u
from metersim.peripherals.uart_cable import UartCable

REPO = Path(__file__).resolve().parents[3]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"
BAUD = 9600
BUF = 0x20003000
CH6 = d.CH_BASE + 5 * d.CH_STRIDE                  # USART2_RX (RM0008 Table 78)


def isr_line(clock, isr, which):
    """An interrupt line's receiver that runs `isr(which)` at the instant the line rises, as
    a firmware's handler would (an event at that instant on the machine's clock)."""
    class Line:
        def on_gpio(_self, _pin, level):
            if level:
                clock.schedule(0, isr, which)
    return Line()


class Link:
    """Two F103s asleep in WFI, USART2 to USART2 by a cable; the receiver's USART2 receives
    by DMA1 channel 6 into a circular ring of `ring` bytes with HT/TC and IDLE interrupts,
    served from here at the instant the line rises, as a firmware would: an ISR reading ISR,
    CNDTR, and clearing the flags; the USART's reading SR and DR (IDLE)."""

    def __init__(self, firmware, whole: bool, ring: int = 8, ccr=None):
        self.emu = Emulation()
        elf = firmware("f103rb", "wfi_idle")
        self.rx_m = create_machine(self.emu, F103, elf=elf, name="receiver")   # runs first
        self.tx_m = create_machine(self.emu, F103, elf=elf, name="sender")
        self.tx, self.rx = self.tx_m["usart2"], self.rx_m["usart2"]
        self.dma = self.rx_m["dma1"]
        self.emu.run_for("2ms")
        if not whole:
            self.rx.rx_frame_start = None          # told of each start only: hand-overs
        self.cable = UartCable(self.tx, self.rx)
        self.handed = 0
        arrive = self.cable._arrive

        def counted(*args):
            self.handed += 1
            arrive(*args)

        self.cable._arrive = counted
        for dev in (self.tx, self.rx):
            dev.write(u.BRR, 4, round(dev.pclk_hz / BAUD))
        self.tx.write(u.CR1, 4, u.UE | u.TE)
        self.dma.write(CH6 + d.CPAR, 4, 0x40004400 + u.DR)
        self.dma.write(CH6 + d.CMAR, 4, BUF)
        self.dma.write(CH6 + d.CNDTR, 4, ring)
        self.dma.write(CH6 + d.CCR, 4, ccr if ccr is not None else
                       d.MINC | d.CIRC | d.HTIE | d.TCIE | d.EN)
        self.rx.write(u.CR3, 4, u.DMAR)
        self.rx.write(u.CR1, 4, u.UE | u.RE | u.IDLEIE)
        self.seen: list = []
        self.dma.connections[5].connect(isr_line(self.rx_m.clock, self._isr, "dma"))
        self.rx.IRQ.connect(isr_line(self.rx_m.clock, self._isr, "usart"))
        self.emu.run_for("5ms")

    def _isr(self, which):
        now = self.rx_m.clock.now_ps
        if which == "dma":
            isr = self.dma.read(d.ISR, 4) >> 20 & 0xF
            self.dma.write(d.IFCR, 4, 0xF << 20)
            self.seen.append((now, "dma", isr, self.dma.read(CH6 + d.CNDTR, 4)))
        else:
            sr = self.rx.read(u.SR, 4)
            self.rx.read(u.DR, 4)
            self.seen.append((now, "usart", sr & (u.IDLE | u.ORE | u.RXNE),
                              self.dma.read(CH6 + d.CNDTR, 4)))

    def send(self, data: bytes, at_ps: int) -> None:
        for k, b in enumerate(data):
            self.tx_m.clock.schedule_at(at_ps + k * self.tx.char_ps(), self.tx.write, u.DR, 4, b)

    def ram(self, n):
        return bytes(self.rx_m.sysbus.read_memory(BUF, n))


def run_both(firmware, script, **kw):
    out = []
    for whole in (True, False):
        link = Link(firmware, whole, **kw)
        script(link)
        out.append(link)
    return out


def test_frames_by_dma_land_as_the_character_by_character_hand_over_gives(firmware):
    def script(link):
        t0 = link.emu.clock.now_ps + 10**9
        char = link.tx.char_ps()
        link.send(bytes(range(0x41, 0x4B)), t0)                  # ten: HT, TC, wraps
        link.send(b"xyz", t0 + 14 * char)                        # after an idle gap
        link.send(b"12345", t0 + 17 * char + char // 3)          # a pause shorter than IDLE
        link.emu.run_for("40ms")

    fast, ref = run_both(firmware, script)
    assert fast.seen == ref.seen
    assert fast.ram(8) == ref.ram(8) == b"45xyz123"
    kinds = [k for _, k, _, _ in fast.seen]
    assert kinds.count("usart") == 2                             # IDLE after each burst
    assert kinds.count("dma") == 4                               # HT, TC at 4, 8, 12, 16
    assert ref.handed == 18 and fast.handed == 0                 # no event per character


def test_a_channel_stopped_mid_frame_gives_back_the_rest_to_the_ordinary_path(firmware):
    """Normal mode, four transfers: the fifth character finds the channel without transfers
    left (RXNE, then ORE on the sixth); a channel disabled by firmware mid-frame likewise."""
    def script(link):
        t0 = link.emu.clock.now_ps + 10**9
        char = link.tx.char_ps()
        link.send(b"abcdef", t0)
        link.emu.run_for("10ms")
        link.dma.write(CH6 + d.CCR, 4, 0)                        # off, set up again
        link.dma.write(CH6 + d.CNDTR, 4, 8)
        link.dma.write(CH6 + d.CCR, 4, d.MINC | d.TCIE | d.EN)
        t1 = link.emu.clock.now_ps + char
        link.send(b"ghijkl", t1)
        link.rx_m.clock.schedule_at(t1 + 3 * char, link.dma.write, CH6 + d.CCR, 4, 0)
        link.emu.run_for("20ms")

    fast, ref = run_both(firmware, script, ring=4, ccr=d.MINC | d.TCIE | d.EN)
    assert fast.seen == ref.seen
    assert fast.ram(8) == ref.ram(8)
    assert fast.rx.read(u.SR, 4) == ref.rx.read(u.SR, 4)
    assert any(flags & u.ORE for _, k, flags, _ in fast.seen if k == "usart")
    assert 0 < fast.handed < ref.handed == 12


CH7 = d.CH_BASE + 6 * d.CH_STRIDE                  # USART2_TX


class DmaSender:
    """The sender's side by DMA, as a firmware would do it: a frame in RAM, channel 7 (normal
    mode, TCIE) started towards USART2's DR; its TC interrupt and the USART's TC (TCIE) noted
    at the instant the line rises, with CNDTR. `whole`: the sender may hand its run to the
    USART (a listener that is not `tells_ahead` keeps it to one request at a time)."""

    def __init__(self, link, whole: bool):
        self.link, self.m = link, link.tx_m
        self.dma, self.usart = self.m["dma1"], link.tx
        self.seen: list = []
        if not whole:
            self.usart.tx.connect(lambda f: None)   # not told ahead: per request
        self.dma.connections[6].connect(isr_line(self.m.clock, self._isr, "dma"))
        self.usart.IRQ.connect(isr_line(self.m.clock, self._isr, "usart"))

    def _isr(self, which):
        now = self.m.clock.now_ps
        if which == "dma":
            self.dma.write(d.IFCR, 4, 0xF << 24)
            self.seen.append((now, "dma", self.dma.read(CH7 + d.CNDTR, 4)))
        else:
            self.usart.read(u.SR, 4)
            self.usart.write(u.SR, 4, ~u.TC & 0xFFFF)
            self.usart.write(u.CR1, 4, u.UE | u.TE)
            self.seen.append((now, "usart-tc", self.dma.read(CH7 + d.CNDTR, 4)))

    def send(self, data: bytes, at_ps: int) -> None:
        self.m.clock.schedule_at(at_ps, self._start, data)

    def _start(self, data):
        self.m.sysbus.write_memory(0x20003800, data)
        self.dma.write(CH7 + d.CCR, 4, 0)
        self.dma.write(CH7 + d.CPAR, 4, 0x40004400 + u.DR)
        self.dma.write(CH7 + d.CMAR, 4, 0x20003800)
        self.dma.write(CH7 + d.CNDTR, 4, len(data))
        self.usart.write(u.CR3, 4, u.DMAT)
        self.usart.write(u.CR1, 4, u.UE | u.TE | u.TCIE)
        self.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | d.EN)


def run_dma_pair(firmware, script):
    out = []
    for whole in (True, False):
        link = Link(firmware, whole, ring=16)
        sender = DmaSender(link, whole)
        script(link, sender)
        out.append((link, sender))
    return out


def test_a_run_sent_by_dma_goes_out_as_one_request_at_a_time_would(firmware):
    frame = bytes([0xA5, 9, 0x81, 7]) + b"readings" + bytes([0x12, 0x34])

    def script(link, sender):
        t0 = link.emu.clock.now_ps + 10**9
        sender.send(frame, t0)
        sender.send(frame[::-1], t0 + 20 * link.tx.char_ps())
        link.emu.run_for("60ms")

    (fast, fs), (ref, rs) = run_dma_pair(firmware, script)
    assert fs.seen == rs.seen and len(fs.seen) == 4        # channel TC, then USART TC, twice
    assert list(fast.tx.sent) == list(ref.tx.sent)
    assert bytes(v for _, v in fast.tx.sent) == frame + frame[::-1]
    assert fast.seen == ref.seen
    assert fast.ram(16) == ref.ram(16)
    assert fast.handed == 0 and ref.handed == 2 * len(frame)


@pytest.mark.parametrize("cut_at_char", [3, 9])
def test_pulling_the_cable_mid_run_cuts_what_was_told_ahead(firmware, cut_at_char):
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        t0 = link.emu.clock.now_ps + 10**9
        sender.send(frame, t0)
        link.emu.run_until_time(t0 + cut_at_char * link.tx.char_ps() + link.tx.char_ps() // 2)
        link.cable.plugged = False
        link.emu.run_for("30ms")
        link.cable.plugged = True
        sender.send(b"ok", link.emu.clock.now_ps + 10**9)
        link.emu.run_for("30ms")

    (fast, _fs), (ref, _rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert fast.ram(16) == ref.ram(16)
    assert fast.ram(cut_at_char + 3) == frame[:cut_at_char + 1] + b"ok"


class RingSender(DmaSender):
    """The sender as a firmware sending from a ring does it (bsp uart.c `tx_sync`): the next
    part of the message is started from the channel's TC interrupt (the ring wrapped, or bytes
    were written meanwhile), while the run before is still on the line: the channel off, its
    count and address set, on again. Its TXE-fed request then starts the part when the last
    character of the run before loads, so the two go out back to back."""

    def __init__(self, link, whole: bool, parts: list[bytes]):
        super().__init__(link, whole)
        self.parts = parts

    def _isr(self, which):
        super()._isr(which)
        if which == "dma" and self.parts:
            part = self.parts.pop(0)
            addr = 0x20003900 + 0x40 * len(self.parts)
            self.m.sysbus.write_memory(addr, part)
            self.dma.write(CH7 + d.CCR, 4, 0)
            self.dma.write(CH7 + d.CMAR, 4, addr)
            self.dma.write(CH7 + d.CNDTR, 4, len(part))
            self.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | d.EN)


def test_a_run_started_from_the_channels_tc_interrupt_follows_the_one_before_back_to_back(firmware):
    """Parts of a message started one from the other's channel TC interrupt: what the sender's
    and the receiver's firmware see (interrupts with CNDTR, the characters' ends, the ring) is
    what one request at a time gives, and the characters follow each other with no gap."""
    parts = [b"\x68\x11\x22\x33", b"\x44\x55\x66\x68\x91", b"\x08\x33\x34\x16"]

    def script(link, sender):
        t0 = link.emu.clock.now_ps + 10**9
        sender.send(parts[0], t0)
        link.emu.run_for("60ms")

    out = []
    for whole in (True, False):
        link = Link(firmware, whole, ring=16)
        sender = RingSender(link, whole, list(parts[1:]))
        script(link, sender)
        out.append((link, sender))
    (fast, fs), (ref, rs) = out
    assert fs.seen == rs.seen
    assert list(fast.tx.sent) == list(ref.tx.sent)
    assert fast.seen == ref.seen and fast.ram(16) == ref.ram(16)
    message = b"".join(parts)
    assert fast.tx.sent_bytes() == message and fast.ram(len(message)) == message[:16]
    ends = [t for t, _ in fast.tx.sent]
    char = fast.tx.char_ps()
    assert all(abs(b - a - char) <= 1 for a, b in zip(ends, ends[1:]))   # back to back
    assert fast.handed == 0 and ref.handed == len(message)


def _mid_run(link, sender, frame: bytes, at_char: float) -> None:
    """Start `frame` by DMA from the sender and run to `at_char` characters into it."""
    t0 = link.emu.clock.now_ps + 10**9
    sender.send(frame, t0)
    link.emu.run_until_time(t0 + int(at_char * link.tx.char_ps()))


def test_a_receiver_reset_mid_frame_keeps_what_it_took_and_takes_what_starts_after_its_set_up(firmware):
    """RCC's USART reset (or a power cycle of the USART) in the middle of a frame: the
    characters the receive channel took before are in the ring, the one the receiver was off
    for is lost, and those that start after the firmware has set the USART up again are
    received, as the character-by-character hand-over gives."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        _mid_run(link, sender, frame, 5.5)
        link.rx.reset()
        link.rx.write(u.BRR, 4, round(link.rx.pclk_hz / BAUD))
        link.rx.write(u.CR3, 4, u.DMAR)
        link.rx.write(u.CR1, 4, u.UE | u.RE | u.IDLEIE)
        link.emu.run_for("30ms")

    (fast, _fs), (ref, _rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert fast.ram(16) == ref.ram(16) == frame[:5] + frame[6:] + bytes(3)


def test_a_channel_disabled_mid_frame_hands_the_rest_over_with_idle_after_the_last(firmware):
    """The receive channel disabled in the middle of a frame the sender's DMA told at once:
    the characters still to come are received the ordinary way (RXNE, then ORE) and IDLE
    rises one character after the frame's last, not inside the frame."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        _mid_run(link, sender, frame, 5.5)
        link.dma.write(CH6 + d.CCR, 4, 0)
        link.emu.run_for("30ms")

    (fast, _fs), (ref, _rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert [(k, flags) for _, k, flags, _ in fast.seen] == [("usart", u.IDLE | u.RXNE | u.ORE)]
    assert fast.ram(16) == ref.ram(16) == frame[:5] + bytes(11)


def test_a_dma_reset_mid_frame_keeps_what_the_channel_took_and_hands_the_rest_over(firmware):
    """The DMA controller reset (the F4's RCC DMA1RST, a reset of the DMA alone) in the
    middle of a frame taken by DMA: the characters transferred before are in the ring, the
    channel is off afterwards, so the rest is received the ordinary way (RXNE, ORE, IDLE)."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        _mid_run(link, sender, frame, 5.5)
        link.dma.reset()
        link.emu.run_for("30ms")

    (fast, _fs), (ref, _rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert fast.ram(16) == ref.ram(16) == frame[:5] + bytes(11)
    assert fast.dma.read(CH6 + d.CNDTR, 4) == ref.dma.read(CH6 + d.CNDTR, 4) == 0


@pytest.mark.parametrize("stop", ["power-off", "te-cleared"])
def test_a_sender_stopped_mid_run_delivers_only_what_went_out(firmware, stop):
    """The sender's machine loses power (or its firmware clears TE) in the middle of a run
    its DMA handed over whole: the receiver, which was told the whole run at its start, gets
    the characters that started before the stop (the one on the line then included, as a
    transmitter cut mid-character does in this model) and none after, as one request at a
    time gives."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        _mid_run(link, sender, frame, 5.5)
        if stop == "power-off":
            link.tx_m.power_off()
        else:
            link.tx.write(u.CR1, 4, u.UE)
        link.emu.run_for("30ms")

    (fast, fs), (ref, rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert list(fast.tx.sent) == list(ref.tx.sent) and len(fast.tx.sent) == 5
    assert fast.ram(16) == ref.ram(16) == frame[:6] + bytes(10)


@pytest.mark.parametrize("abort", ["channel-off", "dmat-then-channel"])
def test_a_run_whose_channel_stops_mid_frame_ends_with_the_last_character_written_to_dr(firmware, abort):
    """The sender's firmware aborts its DMA transmission in the middle of a frame (the
    channel disabled, or DMAT cleared first as ST's HAL abort does): the characters the channel
    wrote to DR go out (the one shifting and the one waiting in TDR), the others never do, and
    the next frame follows; the receiver's ring and interrupts and the sender's characters
    are what one request at a time gives."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        _mid_run(link, sender, frame, 5.5)
        if abort == "dmat-then-channel":
            link.tx.write(u.CR3, 4, 0)
        sender.dma.write(CH7 + d.CCR, 4, 0)
        link.emu.run_for("30ms")
        sender.send(b"ok", link.emu.clock.now_ps + 10**9)
        link.emu.run_for("30ms")

    (fast, fs), (ref, rs) = run_dma_pair(firmware, script)
    assert fs.seen == rs.seen and fast.seen == ref.seen
    assert list(fast.tx.sent) == list(ref.tx.sent)
    assert fast.tx.sent_bytes() == frame[:7] + b"ok"
    assert fast.ram(16) == ref.ram(16) == frame[:7] + b"ok" + bytes(7)


@pytest.mark.parametrize("change", ["sender-faster", "receiver-faster-mid-frame"])
def test_a_speed_mismatch_gives_idle_after_the_frame_not_after_each_character(firmware, change):
    """A peer that changed its speed (its frames arrive garbled, with framing errors, and go
    the ordinary way although its DMA told them at once), or a receiver whose BRR changes in
    the middle of a frame kept for its DMA: the characters are received as one request at a
    time gives them, and IDLE rises once, after the frame."""
    frame = bytes(range(0x40, 0x4E))

    def script(link, sender):
        if change == "sender-faster":
            link.tx.write(u.BRR, 4, round(link.tx.pclk_hz / (2 * BAUD)))
            _mid_run(link, sender, frame, 0)
        else:
            _mid_run(link, sender, frame, 5.5)
            link.rx.write(u.BRR, 4, round(link.rx.pclk_hz / (2 * BAUD)))
        link.emu.run_for("30ms")

    (fast, _fs), (ref, _rs) = run_dma_pair(firmware, script)
    assert fast.seen == ref.seen
    assert fast.ram(16) == ref.ram(16)
    assert [k for _, k, flags, _ in fast.seen if flags & u.IDLE] == ["usart"]
