"""A USART receiver that was off when a character's start bit fell (reset, or UE/RE clear)
never saw that character start, so it does not receive it even when enabled again before the
character ends; the next character is received as usual (peripherals/stm32/usart.py,
`_rx_was_off`). Whatever way the character arrives: a wire on one clock (handed over at its
start), an RS-485 bus (told at its start, handed over at its end), a receive DMA taking it
ahead of its hand-over, a cable between two machines (handed over at the RXNE point, or kept
whole by the receiving DMA)."""

from __future__ import annotations

import pytest

from metersim.peripherals.stm32 import dma as d
from metersim.peripherals.stm32 import usart as u
from metersim.peripherals.stm32 import usart_v2 as v2

from tests.peripherals.stm32.test_usart_dma import CH6, Board
from tests.peripherals.stm32.test_usart_dma_cable import Link
from tests.peripherals.stm32.test_usart_v2 import make as make_v2

FIRST, SECOND = 0x5A, 0xC3


def off_and_on(dev, clock, off_ps, on_ps, how):
    """Turn `dev`'s receiver off at `off_ps` and on again at `on_ps` as firmware would:
    RE cleared then set (UE kept), or the whole USART reset (RCC) then set up again."""
    cr1, brr, cr3 = (dev.read(r, 4) for r in (u.CR1, u.BRR, u.CR3))
    if how.startswith("re-") or how == "re":
        clock.schedule_at(off_ps, dev.write, u.CR1, 4, cr1 & ~u.RE)
        clock.schedule_at(on_ps, dev.write, u.CR1, 4, cr1)
        return

    def set_up_again():
        dev.write(u.BRR, 4, brr)
        dev.write(u.CR3, 4, cr3)
        dev.write(u.CR1, 4, cr1)

    clock.schedule_at(off_ps, dev.reset)
    clock.schedule_at(on_ps, set_up_again)


@pytest.mark.parametrize("how", ["re", "reset", "re-after-it"])
@pytest.mark.parametrize("dma", [False, True], ids=["rxne", "dma"])
@pytest.mark.parametrize("wire", [False, True], ids=["rs485", "wire"])
def test_a_character_begun_while_the_receiver_was_off_is_lost_and_the_next_one_lands(
        wire, dma, how):
    b = Board(wire=wire)
    if dma:
        b.rx_dma(8)
    char = b.usart.char_ps()
    t0 = b.clock.now_ps + 10**9
    # off a third into the first character, on again at its middle (well before its RXNE
    # point and end), or only after its end
    on = t0 + 2 * char if how == "re-after-it" else t0 + char // 2
    off_and_on(b.usart, b.clock, t0 + char // 3, on, how)
    b.send(bytes([FIRST]), at_ps=t0)
    end = b.send(bytes([SECOND]), at_ps=t0 + 3 * char)
    got = []
    if not dma:
        for t in (t0 + 2 * char, end + 10**6):     # after each character's RXNE point
            b.clock.schedule_at(t, lambda: got.append(
                b.usart.read(u.DR, 4) if b.usart.read(u.SR, 4) & u.RXNE else None))
    b.run_to(end + 10**9)
    if dma:
        assert b.dma.read(CH6 + d.CNDTR, 4) == 7           # one transfer: the second one
        assert b.ram[0] == SECOND
    else:
        assert got == [None, SECOND]
    assert not b.usart.read(u.SR, 4) & (u.RXNE | u.ORE | u.FE | u.NF)


@pytest.mark.parametrize("how", ["re", "reset"])
@pytest.mark.parametrize("whole", [True, False], ids=["kept", "handed"])
def test_between_two_machines_a_character_begun_while_the_receiver_was_off_is_lost(
        firmware, whole, how):
    link = Link(firmware, whole)
    char = link.tx.char_ps()
    t0 = link.emu.clock.now_ps + 10**9
    off_and_on(link.rx, link.rx_m.clock, t0 + char // 3, t0 + char // 2, how)
    link.send(bytes([FIRST]), t0)
    link.send(bytes([SECOND, FIRST]), t0 + 3 * char)
    link.emu.run_for("20ms")
    assert link.ram(3) == bytes([SECOND, FIRST, 0])
    assert link.dma.read(CH6 + d.CNDTR, 4) == 6
    kinds = [k for _, k, _, _ in link.seen]
    assert kinds == ["usart"]                              # IDLE after the two received


def test_the_v2_usart_likewise_drops_a_character_re_was_cleared_and_set_in():
    clock, dev = make_v2()
    dev.write(v2.BRR, 4, 139)                               # 16 MHz / 139 = 115108 baud
    dev.write(v2.CR1, 4, v2.UE | v2.RE)
    clock.run_for(10**9)
    t0 = clock.now_ps
    char = dev.char_ps()
    dev._host_next_ps = t0
    dev.write_bytes(bytes([FIRST]))                         # starts at t0
    clock.schedule_at(t0 + char // 3, dev.write, v2.CR1, 4, v2.UE)          # RE off
    clock.schedule_at(t0 + char // 2, dev.write, v2.CR1, 4, v2.UE | v2.RE)  # and on
    got = []
    for t in (t0 + 2 * char, t0 + 5 * char):
        clock.schedule_at(t, lambda: got.append(
            dev.read(v2.RDR, 4) if dev.read(v2.ISR, 4) & v2.RXNE else None))
    clock.schedule_at(t0 + 3 * char, lambda: dev.write_bytes(bytes([SECOND])))
    clock.run_for(10 * char)
    assert got == [None, SECOND]
