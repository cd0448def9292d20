"""STM32F4 stream DMA (RM0430 §9, RM0090 §10): registers as the manual gives them, a USART
receiving into RAM through a circular stream with HT/TC, a normal stream sending a frame, and
the F413 platform's wiring. Each test looks at what firmware would see."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import dma as f1
from metersim.peripherals.stm32 import dma_f4 as d
from metersim.peripherals.stm32 import usart as u
from metersim._units import PS_PER_S

from tests.peripherals.stm32.test_dma import Bus

REPO = Path(__file__).resolve().parents[3]
RAM, UART5 = 0x20000000, 0x40005000
HCLK = 100_000_000
L_PS = f1.TRANSFER_CYCLES * PS_PER_S // HCLK
BAUD = 9600


def stream_reg(x: int, reg: int) -> int:
    return d.S_BASE + d.S_STRIDE * x + reg


def cr(chsel=0, dir_=0, circ=False, minc=True, ie=0, en=False) -> int:
    return ((chsel << d.CHSEL_SHIFT) | (dir_ << d.DIR_SHIFT) | (d.CIRC if circ else 0)
            | (d.MINC if minc else 0) | ie | (d.EN if en else 0))


class RamBus(Bus):
    """Bus with its RAM as a machine's sysbus shows it (`region_at`, the core's `uc`): a
    receive channel stores there directly and a send run to a USART is taken whole."""

    def __init__(self):
        super().__init__()
        self.uc = SimpleNamespace(mem_write=self._mem_write)

    def region_at(self, addr):
        if RAM <= addr < RAM + len(self.ram):
            return SimpleNamespace(base=RAM, size=len(self.ram), writable=True)
        return None

    def _mem_write(self, addr, data):
        self.ram[addr - RAM:addr - RAM + len(data)] = data


class Board:
    """UART5 and DMA1 on one clock, wired as stm32f413.repl wires them (RX: stream 0
    channel 4, TX: stream 7 channel 4); a host sends onto UART5's RX pin."""

    def __init__(self):
        self.clock = Clock()
        machine = SimpleNamespace(name="m", sysbus=RamBus(),
                                  clocks=ClockTree({"PCLK1": 50_000_000, "HCLK": HCLK}))
        self.ram = machine.sysbus.ram
        self.usart = u.STM32Usart(Context(self.clock, name="uart5", machine=machine,
                                          address=UART5))
        self.dma = d.STM32F4Dma(Context(self.clock, name="dma1", machine=machine,
                                        address=0x40026000))
        machine.sysbus._pages[UART5 >> 10] = (self.usart, UART5)
        self.usart.DMAReceive.connect(self.dma, 4)
        self.usart.DMATransmit.connect(self.dma, 708)   # UART5_TX: S7 C8
        self.irqs = {0: [], 7: []}
        for x in (0, 7):
            self.dma.connections[x].connect(SimpleNamespace(
                on_gpio=lambda _p, lv, x=x: self.irqs[x].append((lv, self.clock.now_ps))))
        self.usart.write(u.BRR, 4, round(self.usart.pclk_hz / BAUD))
        self.usart.write(u.CR1, 4, u.UE | u.TE | u.RE | u.M | u.PCE)     # 8E1
        self.char_ps = self.usart.char_ps()
        self.rx_done_ps = self.usart._line().rx_done_ps
        self.run_to(2 * self.char_ps)                   # the idle preamble goes by

    def w(self, off, value):
        self.dma.write(off, 4, value)

    def r(self, off):
        return self.dma.read(off, 4)

    def run_to(self, t):
        self.clock.advance_to(t)


# -- registers --------------------------------------------------------------------------------
def test_reset_values_and_fifo_control_read_back():
    b = Board()
    assert [b.r(stream_reg(x, d.SFCR)) for x in range(8)] == [0x21] * 8
    assert b.r(d.LISR) == b.r(d.HISR) == 0
    b.w(stream_reg(3, d.SFCR), 0x87 | 0x38)            # FS is read-only: stays "empty"
    assert b.r(stream_reg(3, d.SFCR)) == 0xA7
    b.w(stream_reg(3, d.SM1AR), 0x20000100)
    assert b.r(stream_reg(3, d.SM1AR)) == 0x20000100
    b.w(stream_reg(3, d.SCR), cr(chsel=9, dir_=1, circ=True) | (3 << 16) | d.DBM | d.CT)
    assert b.r(stream_reg(3, d.SCR)) == cr(chsel=9, dir_=1, circ=True) | (3 << 16) | d.DBM | d.CT


def test_writes_while_enabled_are_ignored_but_enables_and_en_go_through():
    b = Board()
    s = stream_reg(0, 0)
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, 8)
    b.w(s + d.SCR, cr(chsel=4, circ=True, en=True))
    b.w(s + d.SNDTR, 3)
    b.w(s + d.SM0AR, RAM + 0x40)
    b.w(s + d.SPAR, 0)
    b.w(s + d.SCR, cr(chsel=2, dir_=1, ie=d.TCIE | d.HTIE, en=True))
    assert b.r(s + d.SNDTR) == 8
    assert b.r(s + d.SM0AR) == RAM and b.r(s + d.SPAR) == UART5 + u.DR
    assert b.r(s + d.SCR) == cr(chsel=4, circ=True, ie=d.TCIE | d.HTIE, en=True)
    b.w(s + d.SCR, cr(chsel=4, circ=True))             # stopped before its last transfer
    assert b.r(s + d.SCR) & d.EN == 0
    assert b.r(d.LISR) == d.TCIF                        # RM0430 §9.3.17


def test_flags_sit_at_each_streams_place_and_clear_by_ifcr():
    b = Board()
    for x in range(8):                                  # memory to memory: four bytes each
        s = stream_reg(x, 0)
        b.ram[0x100 + 4 * x:0x104 + 4 * x] = bytes([x] * 4)
        b.w(s + d.SPAR, RAM + 0x100 + 4 * x)
        b.w(s + d.SM0AR, RAM + 0x200 + 4 * x)
        b.w(s + d.SNDTR, 4)
        b.w(s + d.SCR, cr(dir_=2, ie=d.TCIE) | d.PINC | d.EN)
    b.run_to(b.clock.now_ps + 100 * L_PS)
    both = d.TCIF | d.HTIF
    assert b.r(d.LISR) == both | both << 6 | both << 16 | both << 22
    assert b.r(d.HISR) == b.r(d.LISR)
    assert bytes(b.ram[0x200:0x220]) == bytes(x for x in range(8) for _ in range(4))
    assert all(b.r(stream_reg(x, d.SCR)) & d.EN == 0 for x in range(8))   # normal run over
    assert b.irqs[0][-1][0] and b.irqs[7][-1][0]
    b.w(d.HIFCR, d.TCIF << 22)                          # stream 7's TCIF only
    assert b.r(d.HISR) == both | both << 6 | both << 16 | d.HTIF << 22
    assert not b.irqs[7][-1][0]                         # TCIE: its line is down again
    b.w(d.LIFCR, 0x0F7D0F7D)
    assert b.r(d.LISR) == 0


def test_transfer_error_clears_en_and_sets_teif():
    b = Board()
    s = stream_reg(5, 0)
    b.w(s + d.SPAR, 0x50000000)                         # nothing there
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, 2)
    b.w(s + d.SCR, cr(dir_=2, ie=d.TEIE, en=True))
    b.run_to(b.clock.now_ps + 10 * L_PS)
    assert b.r(d.HISR) == d.TEIF << 6
    assert b.r(s + d.SCR) & d.EN == 0
    assert b.r(s + d.SNDTR) == 2


def test_only_the_selected_channels_request_is_served():
    b = Board()
    b.usart.write(u.CR3, 4, u.DMAT)                     # TXE: a request on stream 7 channel 8
    s = stream_reg(7, 0)
    b.ram[:3] = b"abc"
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, 3)
    b.w(s + d.SCR, cr(chsel=5, dir_=1, en=True))        # another channel: nothing moves
    b.run_to(b.clock.now_ps + 5 * b.char_ps)
    assert b.r(s + d.SNDTR) == 3 and b.usart.sent_bytes() == b""


# -- with a USART -----------------------------------------------------------------------------
def test_normal_stream_sends_a_frame_and_ends_with_en_clear_and_tc():
    b = Board()
    frame = b"\xa5\x05\x01\x07hello"
    b.ram[:len(frame)] = frame
    s = stream_reg(7, 0)
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, len(frame))
    b.usart.write(u.CR3, 4, u.DMAT)
    b.w(s + d.SCR, cr(chsel=8, dir_=1, ie=d.TCIE, en=True))
    b.run_to(b.clock.now_ps + 20 * b.char_ps)
    assert b.usart.sent_bytes() == frame
    assert b.r(d.HISR) == (d.TCIF | d.HTIF) << 22
    assert b.r(s + d.SCR) & d.EN == 0 and b.r(s + d.SNDTR) == 0
    tc_at = [t for lv, t in b.irqs[7] if lv][0]
    sent = [t for t, _ in b.usart.sent]
    # the last byte goes to DR (TXE) while the one before it is on the wire
    assert tc_at == sent[-3] + L_PS
    assert b.usart.read(u.SR, 4) & u.TC


def test_circular_stream_receives_into_ram_with_ht_and_tc_at_each_characters_instant():
    b = Board()
    s = stream_reg(0, 0)
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, 8)
    b.usart.write(u.CR3, 4, u.DMAR)
    b.w(s + d.SCR, cr(chsel=4, circ=True, ie=d.TCIE | d.HTIE, en=True))
    data = bytes(range(0x30, 0x3A))                     # ten: the ring wraps
    t0 = b.clock.now_ps
    end = b.usart.write_bytes(data)
    b.run_to(end + 3 * b.char_ps)
    assert bytes(b.ram[:8]) == bytes(range(0x38, 0x3A)) + bytes(range(0x32, 0x38))
    assert b.r(s + d.SNDTR) == 6
    rises = [t for lv, t in b.irqs[0] if lv]
    # HT at the 4th character, TC at the 8th: its RXNE point plus the transfer's time
    assert rises[0] == t0 + 3 * b.char_ps + b.rx_done_ps + L_PS
    assert b.r(d.LISR) == d.TCIF | d.HTIF
    b.w(d.LIFCR, d.TCIF | d.HTIF)
    assert b.r(d.LISR) == 0 and not b.irqs[0][-1][0]
    assert b.r(s + d.SCR) & d.EN                        # circular: still running
    assert not b.usart.read(u.SR, 4) & (u.RXNE | u.ORE)


def test_double_buffer_switches_memory_at_each_run():
    b = Board()
    s = stream_reg(0, 0)
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SM1AR, RAM + 0x10)
    b.w(s + d.SNDTR, 2)
    b.usart.write(u.CR3, 4, u.DMAR)
    b.w(s + d.SCR, cr(chsel=4, en=True) | d.DBM)
    end = b.usart.write_bytes(b"ABCDE")
    b.run_to(end + 3 * b.char_ps)
    assert bytes(b.ram[:2]) == b"EB" and bytes(b.ram[0x10:0x12]) == b"CD"
    assert b.r(s + d.SCR) & d.CT == 0                   # three runs: back on memory 0


def test_f413_platform_wires_usarts_and_stream_interrupts():
    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus/stm32f413.repl", name="mu")
    dma1, dma2 = m["dma1"], m["dma2"]
    assert isinstance(dma1, d.STM32F4Dma) and isinstance(dma2, d.STM32F4Dma)
    wiring = {name: (list(m[name].DMAReceive._targets), list(m[name].DMATransmit._targets))
              for name in ("usart1", "usart2", "usart3", "uart4", "uart5", "usart6")}
    assert wiring == {"usart1": ([(dma2, 204)], [(dma2, 704)]),
                      "usart2": ([(dma1, 504)], [(dma1, 604)]),
                      "usart3": ([(dma1, 104)], [(dma1, 304)]),
                      "uart4": ([(dma1, 204)], [(dma1, 404)]),
                      "uart5": ([(dma1, 4)], [(dma1, 708)]),
                      "usart6": ([(dma2, 105)], [(dma2, 605)])}
    nvic = m["nvic"]
    lines = {x: [p for t, p in dma1.connections[x]._targets if t is nvic] for x in range(8)}
    assert lines == {0: [11], 1: [12], 2: [13], 3: [14], 4: [15], 5: [16], 6: [17], 7: [47]}
    lines2 = [[p for t, p in dma2.connections[x]._targets if t is nvic] for x in range(8)]
    assert lines2 == [[56], [57], [58], [59], [60], [68], [69], [70]]


def test_te_cleared_during_a_dma_run_stops_the_transmitter_without_tc(caplog):
    b = Board()
    b.ram[:6] = b"abcdef"
    s = stream_reg(7, 0)
    b.w(s + d.SPAR, UART5 + u.DR)
    b.w(s + d.SM0AR, RAM)
    b.w(s + d.SNDTR, 6)
    b.usart.write(u.SR, 4, ~u.TC & 0xFFFF)              # a fresh TC marks the burst's end
    b.usart.write(u.CR3, 4, u.DMAT)
    b.w(s + d.SCR, cr(chsel=8, dir_=1, en=True))
    b.run_to(b.clock.now_ps + 2 * b.char_ps + b.char_ps // 2)   # in the third character
    assert b.usart._txrun is not None                   # the run went to the USART whole
    b.usart.write(u.CR1, 4, u.UE | u.RE | u.M | u.PCE)  # TE off
    b.run_to(b.clock.now_ps + 10 * b.char_ps)
    assert b.usart.sent_bytes() == b"ab"
    assert not b.usart.read(u.SR, 4) & u.TC
    assert b.r(s + d.SNDTR) == 2                        # written up to the cut: 4 (TDR one ahead)
    assert "during a DMA run" in caplog.text
