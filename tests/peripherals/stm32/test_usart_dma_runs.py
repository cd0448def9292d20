"""A DMA run the USART takes whole (usart.py "DMA", transmission) against the same run served
one request at a time: what firmware sees at every look (SR, the TC output that releases an
RS-485 driver, the channel's CNDTR) and what goes on the line must be the same, whatever the
firmware does in the middle of the run."""

from __future__ import annotations

from types import SimpleNamespace

from metersim.peripherals.stm32 import dma as d
from metersim.peripherals.stm32 import usart as u

from tests.peripherals.stm32.test_usart_dma import CH7, RAM, USART2, Board

MSG = bytes([0x01, 0x04, 0x10, 0x00, 0x02, 0x71, 0xCB, 0x55])


def _tx_board(whole: bool) -> Board:
    """USART2 onto an RS-485 bus (DE held high) with channel 7 set up to send MSG; `whole`
    False adds a listener that is not told ahead, so the run goes one request at a time."""
    b = Board()
    ram = b.ram
    b.dma.bus.region_at = lambda a: SimpleNamespace(base=RAM, size=len(ram), writable=True)
    b.dma.bus.uc = SimpleNamespace(
        mem_write=lambda a, data: ram.__setitem__(slice(a - RAM, a - RAM + len(data)), data))
    if not whole:
        b.usart.tx.connect(lambda f: None)
    b.xcvr.on_gpio(0, True)
    b.ram[0x100:0x100 + len(MSG)] = MSG
    b.tc_edges = []
    b.usart.TC_EVENT.connect(SimpleNamespace(
        on_gpio=lambda _p, lv: b.tc_edges.append((lv, b.clock.now_ps))))
    b.usart.write(u.CR3, 4, u.DMAT)
    b.dma.write(CH7 + d.CPAR, 4, USART2 + u.DR)
    b.dma.write(CH7 + d.CMAR, 4, RAM + 0x100)
    b.dma.write(CH7 + d.CNDTR, 4, len(MSG))
    return b


def _looks(b: Board, every_ps: int, count: int, extra=None) -> list:
    """Schedule `count` looks at SR and CNDTR `every_ps` apart (calling `extra(b)` at each)
    and return the list they fill."""
    t0, seen = b.clock.now_ps, []

    def look():
        seen.append((b.clock.now_ps, b.usart.read(u.SR, 4) & 0x3FF, b.dma.read(CH7 + d.CNDTR, 4)))
        if extra is not None:
            extra(b)
    for k in range(1, count + 1):
        b.clock.schedule_at(t0 + k * every_ps + 12345, look)
    return seen


def test_a_firmware_polling_sr_with_tc_left_set_sees_the_run_s_dr_writes_clear_it():
    """RM0008 §27.6.1: TC is cleared by an SR read followed by a DR write, and the DMA's
    writes of DR are such writes. A firmware that starts a run without clearing TC and polls
    SR sees TC fall at the first transfer after its read, and TC_EVENT (an RS-485 board's DE
    release) falls there too; it rises again at the last stop bit."""
    out = []
    for whole in (True, False):
        b = _tx_board(whole)
        char = b.usart.char_ps()
        seen = _looks(b, char // 2, 3 * len(MSG))
        b.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.EN)
        b.run_to(b.clock.now_ps + (len(MSG) + 4) * char)
        out.append((seen, b.tc_edges, list(b.usart.sent)))
    assert out[0] == out[1]
    seen, tc_edges, sent = out[0]
    assert [v for _, v in sent] == list(MSG)
    assert [lv for lv, _ in tc_edges] == [False, True]   # cleared mid-run, set at the end
    assert any(not sr & u.TC for _, sr, _ in seen) and seen[-1][1] & u.TC


def test_interrupt_enables_written_mid_run_leave_the_transfers_going():
    """A firmware that enables the channel's TC interrupt after starting the run, EN kept
    set (the F4 allows only the interrupt enables then): the channel goes on counting, raises
    TC at its last transfer and the line carries each character once, as one request at a
    time does."""
    out = []
    for whole in (True, False):
        b = _tx_board(whole)
        char = b.usart.char_ps()
        seen = _looks(b, char // 3, 4 * len(MSG))
        written_at = b.clock.now_ps + 3 * char + char // 2
        b.clock.schedule_at(written_at, b.dma.write, CH7 + d.CCR, 4,
                            d.DIR | d.MINC | d.TCIE | d.EN)
        b.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.EN)
        b.run_to(b.clock.now_ps + (len(MSG) + 4) * char)
        out.append((seen, b.tc_edges, list(b.usart.sent), b.irqs[7],
                    [(r.start_ps, r.sent) for r in b.bus.tap]))
    assert out[0] == out[1]
    seen, _tc, sent, irq7, bus = out[0]
    assert [v for _, v in sent] == [v for _, v in bus] == list(MSG)
    assert [lv for lv, _ in irq7] == [True] and irq7[0][1] > written_at   # TC, once
    assert seen[-1][2] == 0


def test_txe_interrupt_enabled_mid_run_rises_at_each_load_and_falls_at_each_transfer():
    """TXEIE set in the middle of a run (and cleared again): the USART's IRQ follows TXE,
    rising as each character loads and falling as the channel writes the next one L later,
    as one request at a time gives; the line carries the run unchanged."""
    out = []
    for whole in (True, False):
        b = _tx_board(whole)
        char = b.usart.char_ps()
        seen = _looks(b, char // 3, 4 * len(MSG))
        t0 = b.clock.now_ps
        b.clock.schedule_at(t0 + 3 * char + char // 2, b.usart.write, u.CR1, 4,
                            u.UE | u.TE | u.RE | u.TXEIE)
        b.clock.schedule_at(t0 + 6 * char + char // 3, b.usart.write, u.CR1, 4, u.UE | u.TE | u.RE)
        b.dma.write(CH7 + d.CCR, 4, d.DIR | d.MINC | d.EN)
        b.run_to(t0 + (len(MSG) + 4) * char)
        out.append((seen, b.irqs["usart"], list(b.usart.sent)))
    assert out[0] == out[1]
    _seen, irq, sent = out[0]
    assert [lv for lv, _ in irq] == [True, False] * 3      # three loads while TXEIE was set
    assert [v for _, v in sent] == list(MSG)
