"""STM32 USART: frame timing from BRR and the real PCLK, flags, errors, links."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._errors import SetupError
from metersim.peripherals.base import Context, UartFrame
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import usart as u
from metersim._units import PS_PER_MS, PS_PER_US

USART1_F1 = 0x40013800   # APB2 on the F103
USART2 = 0x40004400      # APB1


def make(address=USART2, clock=None, **rates):
    clock = clock or Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree(rates or {"PCLK1": 36_000_000,
                                                                   "PCLK2": 72_000_000}))
    return u.STM32Usart(Context(clock, name="usart", machine=machine, address=address))


def setup(dev, baud, cr1_extra=0, cr2=0, cr3=0):
    dev.write(u.BRR, 4, round(dev.pclk_hz / baud))
    dev.write(u.CR2, 4, cr2)
    dev.write(u.CR3, 4, cr3)
    dev.write(u.CR1, 4, u.UE | u.TE | u.RE | cr1_extra)
    dev.ctx.clock.run_for(5 * PS_PER_MS)      # let the idle preamble go by


class Irq:
    def __init__(self):
        self.level = False

    def on_gpio(self, pin, level):
        self.level = level


def test_ten_bytes_at_9600_take_ten_character_times_and_tc_marks_the_end():
    dev = make(address=USART1_F1)               # PCLK2 = 72 MHz -> BRR 7500
    setup(dev, 9600)
    assert dev.read(u.BRR, 4) == 7500
    t0 = dev.ctx.clock.now_ps
    tc_at = []
    dev.TC_EVENT.connect(SimpleNamespace(on_gpio=lambda p, lv: lv and tc_at.append(dev.ctx.clock.now_ps)))
    dev.read(u.SR, 4)
    for b in b"0123456789":
        while not dev.read(u.SR, 4) & u.TXE:    # firmware polls TXE; time moves on meanwhile
            dev.ctx.clock.run_for(10 * PS_PER_US)
        dev.write(u.DR, 4, b)
    assert not dev.read(u.SR, 4) & u.TC
    dev.ctx.clock.run_for(20 * PS_PER_MS)
    assert dev.sent_bytes() == b"0123456789"
    assert len(tc_at) == 1
    # 10 characters x 10 bits / 9600 baud = 10.4167 ms, back to back.
    assert tc_at[0] - t0 == pytest.approx(10 * 10 / 9600 * 1e12, abs=2)
    assert dev.sent[-1][0] == tc_at[0]
    gaps = [b[0] - a[0] for a, b in zip(dev.sent, dev.sent[1:])]
    assert all(g == pytest.approx(1e12 / 960, abs=2) for g in gaps)


def test_txe_is_set_at_once_when_idle_then_at_the_end_of_the_current_frame():
    dev = make()
    setup(dev, 115200)
    frame_ps = 10 * 1e12 / 115200
    dev.write(u.DR, 4, 0x55)
    assert dev.read(u.SR, 4) & u.TXE          # shifter was idle: TDR moved at once
    dev.write(u.DR, 4, 0xAA)
    assert not dev.read(u.SR, 4) & u.TXE      # TDR now waits for the shifter
    dev.ctx.clock.run_for(int(frame_ps * 0.9))
    assert not dev.read(u.SR, 4) & u.TXE
    dev.ctx.clock.run_for(int(frame_ps * 0.2))
    sr = dev.read(u.SR, 4)
    assert sr & u.TXE and not sr & u.TC       # second byte shifting
    dev.ctx.clock.run_for(int(frame_ps))
    assert dev.read(u.SR, 4) & u.TC
    # TC cleared by writing 0 to it; TXE stays.
    dev.write(u.SR, 4, ~u.TC & 0xFFFF)
    assert dev.read(u.SR, 4) & (u.TC | u.TXE) == u.TXE


def test_baud_follows_a_pclk_change_at_once():
    dev = make()
    setup(dev, 9600)                          # BRR 3750 at 36 MHz
    dev.ctx.machine.clocks.set_rate("PCLK1", 18_000_000)
    assert dev.baud == pytest.approx(4800)
    t0 = dev.ctx.clock.now_ps
    dev.write(u.DR, 4, 0x31)
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    assert dev.sent[0][0] - t0 == pytest.approx(10 / 4800 * 1e12, abs=2)


def test_two_crossed_usarts_exchange_bytes_with_correct_arrival_time():
    clock = Clock()
    a, b = make(clock=clock), make(address=USART1_F1, clock=clock)
    a.connect(b)
    setup(a, 19200)
    setup(b, 19200)
    got = []
    t0 = clock.now_ps
    a.write(u.DR, 4, 0x7E)
    while not b.read(u.SR, 4) & u.RXNE:
        clock.run_for(10 * PS_PER_US)
    got.append((clock.now_ps - t0, b.read(u.DR, 4)))
    assert got[0][1] == 0x7E
    # RXNE at the middle of the first stop bit: 9.5 bit times after the start edge.
    assert 9.5 / 19200 * 1e12 <= got[0][0] < 9.5 / 19200 * 1e12 + 10 * PS_PER_US
    b.write(u.DR, 4, 0x81)
    clock.run_for(1 * PS_PER_MS)
    assert a.read(u.SR, 4) & u.RXNE and a.read(u.DR, 4) == 0x81


def on_rs485(dev):
    """`dev` behind a transceiver (receiver on) on an RS-485 bus sharing its clock, and a
    host endpoint at 9600 8N1 to send from."""
    from metersim.peripherals.rs485 import Rs485Bus, Rs485Transceiver

    bus = Rs485Bus(Context(dev.ctx.clock, name="bus"))
    xcvr = Rs485Transceiver(Context(dev.ctx.clock, name="xcvr"), bus)
    xcvr.connect_usart(dev.tx, dev.receive_frame)
    return bus.attach_host("host")


def test_a_character_the_bus_hands_over_at_its_end_is_in_dr_at_that_instant():
    dev = make()
    setup(dev, 9600)
    host = on_rs485(dev)
    end = host.send(b"\xa5")
    dev.ctx.clock.advance_to(end - 1)
    assert not dev.read(u.SR, 4) & u.RXNE             # still on the wire
    dev.ctx.clock.advance_to(end)
    assert dev.read(u.SR, 4) & u.RXNE and dev.read(u.DR, 4) == 0xA5
    dev.ctx.clock.advance_to(end + 3 * PS_PER_MS)      # IDLE one idle frame after the stop bit
    assert dev.read(u.SR, 4) & u.IDLE


def test_what_is_due_at_that_instant_before_the_character_still_runs_first():
    dev = make()
    setup(dev, 9600)
    host = on_rs485(dev)
    clock = dev.ctx.clock
    end = host.send(b"\x3c")
    seen = []
    clock.advance_to(end - 1)          # the frame is on the bus: its end is already scheduled
    clock.schedule_at(end, lambda: seen.append(dev.regs["SR"] & u.RXNE))
    clock.advance_to(end)
    assert seen == [0]                 # scheduled before RXNE's own event would have been
    assert dev.read(u.SR, 4) & u.RXNE and dev.read(u.DR, 4) == 0x3C


def test_baud_mismatch_gives_framing_errors_and_wrong_bytes():
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.connect(b)
    setup(a, 9600)
    setup(b, 19200)
    seen = []
    for byte in (0x00, 0x55, 0xF0):
        a.write(u.DR, 4, byte)
        clock.run_for(2 * PS_PER_MS)
        sr = b.read(u.SR, 4)
        seen.append((sr & u.FE, b.read(u.DR, 4)))
    assert any(fe for fe, _ in seen)
    assert [v for _, v in seen] != [0x00, 0x55, 0xF0]
    assert seen[0] == (u.FE, 0x00)     # a 0x00 at half speed: all zeros incl. the "stop" sample


def test_parity_error_and_received_parity_bit():
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    a.connect(b)
    setup(a, 9600, cr1_extra=u.PCE)              # 7 data bits + even parity
    setup(b, 9600, cr1_extra=u.PCE | u.PS)       # 7 data bits + odd parity
    a.write(u.DR, 4, 0x41)                        # two ones: even parity bit 0
    clock.run_for(2 * PS_PER_MS)
    sr = b.read(u.SR, 4)
    assert sr & u.PE and sr & u.RXNE
    assert b.read(u.DR, 4) == 0x41               # parity bit (0) reads in bit 7
    assert not b.read(u.SR, 4) & u.PE            # SR read then DR read cleared PE
    b.write(u.CR1, 4, u.UE | u.TE | u.RE | u.PCE)   # now matching: no error
    a.write(u.DR, 4, 0x43)                        # three ones: even parity bit 1
    clock.run_for(2 * PS_PER_MS)
    sr = b.read(u.SR, 4)
    assert not sr & u.PE and b.read(u.DR, 4) == 0xC3


def test_overrun_when_rxne_is_not_read_keeps_the_first_byte():
    dev = make()
    setup(dev, 115200)
    dev.write_bytes(b"\x11\x22\x33")
    dev.ctx.clock.run_for(1 * PS_PER_MS)
    sr = dev.read(u.SR, 4)
    assert sr & u.ORE and sr & u.RXNE
    assert dev.read(u.DR, 4) == 0x11
    assert not dev.read(u.SR, 4) & (u.ORE | u.RXNE)


def test_idle_sets_one_frame_after_the_last_byte_and_only_once():
    dev = make()
    setup(dev, 9600)
    frame_ps = 1e12 * 10 / 9600
    t0 = dev.ctx.clock.now_ps
    dev.write_bytes(b"ab")
    dev.ctx.clock.run_for(int(1.5 * frame_ps))
    dev.read(u.SR, 4); dev.read(u.DR, 4)
    dev.ctx.clock.run_for(int(frame_ps))          # 2.5 frames: second byte in, line idle 0.5
    assert not dev.read(u.SR, 4) & u.IDLE
    assert dev.read(u.DR, 4) == ord("b")
    dev.ctx.clock.run_for(int(0.6 * frame_ps))    # 3.1 frames: a whole idle frame after "b"
    assert dev.read(u.SR, 4) & u.IDLE
    dev.read(u.DR, 4)                             # SR then DR read clears IDLE
    dev.ctx.clock.run_for(int(5 * frame_ps))
    assert not dev.read(u.SR, 4) & u.IDLE         # not again without a new RXNE
    assert dev.ctx.clock.now_ps > t0


def test_rxne_interrupt_level_follows_the_flag():
    dev = make()
    irq = Irq()
    dev.IRQ.connect(irq)
    setup(dev, 115200, cr1_extra=u.RXNEIE)
    assert not irq.level
    dev.write_bytes(b"Z")
    dev.ctx.clock.run_for(200 * PS_PER_US)
    assert irq.level
    assert dev.read(u.DR, 4) == ord("Z")
    assert not irq.level


def test_tc_interrupt_and_rs485_hook_go_high_after_the_last_stop_bit():
    dev = make()
    irq, de = Irq(), Irq()
    dev.IRQ.connect(irq)
    dev.TC_EVENT.connect(de)
    setup(dev, 9600)
    dev.read(u.SR, 4)
    dev.write(u.DR, 4, 0x01)                      # SR read then DR write clears TC
    assert not de.level
    dev.write(u.CR1, 4, u.UE | u.TE | u.RE | u.TCIE)
    dev.ctx.clock.run_for(int(1e12 * 9.9 / 9600))
    assert not de.level and not irq.level
    dev.ctx.clock.run_for(int(1e12 * 0.2 / 9600))
    assert de.level and irq.level


def test_half_duplex_receiver_hears_its_own_transmission():
    dev = make()
    setup(dev, 115200, cr3=u.HDSEL)
    dev.write(u.DR, 4, 0x5A)
    dev.ctx.clock.run_for(200 * PS_PER_US)
    assert dev.read(u.SR, 4) & u.RXNE and dev.read(u.DR, 4) == 0x5A


def test_break_is_received_as_framing_error_with_zero_data():
    clock = Clock()
    a, b = make(clock=clock), make(clock=clock)
    frames = []
    a.tx.connect(frames.append)
    a.connect(b)
    setup(a, 9600)
    setup(b, 9600)
    a.write(u.CR1, 4, u.UE | u.TE | u.RE | u.SBK)
    clock.run_for(2 * PS_PER_MS)
    assert frames[0].is_break
    assert not a.read(u.CR1, 4) & u.SBK
    sr = b.read(u.SR, 4)
    assert sr & u.FE and b.read(u.DR, 4) == 0


def test_nothing_moves_without_te_and_ue():
    dev = make()
    dev.write(u.BRR, 4, 3750)
    dev.write(u.CR1, 4, u.UE)                     # TE off
    dev.write(u.DR, 4, 0x42)
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    assert dev.sent == [] and not dev.read(u.SR, 4) & u.TXE
    dev.write(u.CR1, 4, u.UE | u.TE)              # idle preamble, then the byte
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    assert dev.sent_bytes() == b"\x42"
    dev.write(u.CR1, 4, u.TE)                     # UE off: receiver ignores the line
    dev.receive_frame(UartFrame(0x10, baud=9600, start_ps=dev.ctx.clock.now_ps))
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    assert not dev.read(u.SR, 4) & u.RXNE


def test_nine_bit_words_and_two_stop_bits_lengthen_the_frame():
    dev = make()
    setup(dev, 9600, cr1_extra=u.M, cr2=2 << 12)  # 9 data bits, 2 stop bits: 12 bits
    frames = []
    dev.tx.connect(frames.append)
    dev.write(u.DR, 4, 0x1A5)
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    assert frames[0].value == 0x1A5 and frames[0].data_bits == 9
    assert dev.sent[0][0] - frames[0].start_ps == pytest.approx(12 / 9600 * 1e12, abs=2)


def test_over8_baud_and_host_write_needs_a_baud_rate():
    dev = make()
    with pytest.raises(SetupError, match="BRR"):
        dev.write_bytes(b"x")
    # OVER8: USARTDIV = 19.5 -> mantissa 19, fraction 4 (bit 3 unused): 36 MHz / (8*19.5)
    dev.write(u.BRR, 4, (19 << 4) | 4)
    dev.write(u.CR1, 4, u.UE | u.OVER8)
    assert dev.baud == pytest.approx(36e6 / 156)
