"""STM32F1 DMA: registers, memory-to-memory, SPI transmit by DMA in bulk and one request at a
time (same bytes, same instants), circular mode with HT/TC interrupts."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context, SPIDevice
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import dma as d
from metersim.peripherals.stm32 import spi as s

RAM, SPI2 = 0x20000000, 0x40003800
CH5 = d.CH_BASE + 4 * d.CH_STRIDE      # DMA1 channel 5: SPI2_TX


class Bus:
    """RAM at 0x20000000 and the peripherals' pages (`_pages`), as the machine's sysbus offers
    them (test_usart_dma.py uses it too)."""

    def __init__(self):
        self.ram = bytearray(0x1000)
        self._pages = {}

    def read_memory(self, addr, n):
        return bytes(self.ram[addr - RAM:addr - RAM + n])

    def cpu_read(self, addr, size):
        if RAM <= addr < RAM + len(self.ram):
            return int.from_bytes(self.read_memory(addr, size), "little")
        entry = self._pages.get(addr >> 10)        # None: nothing there (a DMA error)
        return None if entry is None else entry[0].read(addr - entry[1], size) & ((1 << (8 * size)) - 1)

    def cpu_write(self, addr, size, value):
        if RAM <= addr < RAM + len(self.ram):
            self.ram[addr - RAM:addr - RAM + size] = value.to_bytes(size, "little")
            return True
        entry = self._pages.get(addr >> 10)
        if entry is None:
            return False
        entry[0].write(addr - entry[1], size, value)
        return True


class Sink(SPIDevice):
    cs_active = True

    def __init__(self, clock):
        self.clock, self.got = clock, []

    def transmit(self, byte):
        self.got.append((byte, self.clock.now_ps))
        return 0x5A


def board(bulk=True):
    clock = Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000, "HCLK": 72_000_000}),
                              sysbus=Bus())
    spi = s.STM32Spi(Context(clock, name="spi2", machine=machine, address=SPI2), series="F1")
    machine.sysbus._pages[SPI2 >> 10] = (spi, SPI2)
    if not bulk:
        spi.dma_stream = lambda chan: False
    dma = d.STM32F1Dma(Context(clock, name="dma1", machine=machine, address=0x40020000))
    spi.DMATransmit.connect(dma, 5)
    sink = Sink(clock)
    spi.register_child(sink)
    spi.write(s.CR1, 2, s.MSTR | s.SSM | s.SSI | s.SPE)          # 18 MHz: 444 ns per byte
    irqs = []
    dma.connections[4].connect(SimpleNamespace(on_gpio=lambda p, lv: irqs.append((lv, clock.now_ps))))
    return clock, spi, dma, sink, irqs


def run_until(clock, cond, limit_ps=10**12):
    while not cond():
        t = clock.next_event_ps()
        assert t is not None and t < limit_ps, "nothing more happens"
        clock.advance_to(t)


def start_tx(dma, spi, n, ccr_extra=0, addr=RAM):
    dma.write(CH5 + d.CPAR, 4, SPI2 + s.DR)
    dma.write(CH5 + d.CMAR, 4, addr)
    dma.write(CH5 + d.CNDTR, 4, n)
    dma.write(CH5 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | ccr_extra)
    spi.write(s.CR2, 2, s.TXDMAEN)
    dma.write(CH5 + d.CCR, 4, d.DIR | d.MINC | d.TCIE | ccr_extra | d.EN)


def tc_and_idle(bulk):
    clock, spi, dma, sink, irqs = board(bulk)
    spi.ctx.machine.sysbus.ram[:300] = bytes(range(256)) + bytes(44)
    start_tx(dma, spi, 300)
    events = 0
    while not dma.read(d.ISR, 4) & (d.TCIF << 16):
        clock.advance_to(clock.next_event_ps())
        events += 1
    assert events < 5 if bulk else events > 500    # bulk: no event per frame
    tc_ps = clock.now_ps
    assert dma.read(CH5 + d.CNDTR, 4) == 0
    run_until(clock, lambda: not spi.read(s.SR, 2) & s.BSY)
    return [b for b, _ in sink.got], tc_ps, clock.now_ps, irqs, spi.read(s.SR, 2)


def test_bulk_spi_transmit_gives_the_bytes_and_instants_of_one_request_at_a_time():
    bytes_bulk, tc_bulk, idle_bulk, irq_bulk, sr_bulk = tc_and_idle(True)
    bytes_one, tc_one, idle_one, irq_one, sr_one = tc_and_idle(False)
    assert bytes_bulk == bytes_one == list(range(256)) + [0] * 44
    assert tc_bulk == tc_one                       # the TC interrupt at the same instant
    assert idle_bulk == idle_one                   # BSY clears when the last frame is out
    assert irq_bulk[0] == irq_one[0] == (True, tc_one)
    assert sr_bulk == sr_one                       # TXE, RXNE and the overrun of TX-only use
    assert sr_bulk & (s.TXE | s.RXNE | s.OVR) == s.TXE | s.RXNE | s.OVR
    # 300 frames of 8 bits at 18 MHz, back to back after the first request's latency
    assert idle_one == d.TRANSFER_CYCLES * 10**12 // 72_000_000 + 300 * (16 * 10**12 // 36_000_000)


def test_device_pin_change_mid_stream_sees_only_the_frames_already_out():
    clock, spi, dma, sink, _ = board()
    start_tx(dma, spi, 100)
    clock.advance_to(clock.now_ps + 10 * 444_445 + 200_000)
    sink.on_gpio(0, True)                          # chip select raised by firmware mid-way
    assert len(sink.got) == 10
    assert all(t <= clock.now_ps for _, t in sink.got)


def test_disabling_the_channel_mid_stream_stops_the_transfers_there():
    clock, spi, dma, sink, _ = board()
    start_tx(dma, spi, 100)
    clock.advance_to(clock.now_ps + 20 * 444_445)
    left = dma.read(CH5 + d.CNDTR, 4)
    dma.write(CH5 + d.CCR, 4, d.DIR | d.MINC)     # EN = 0
    assert dma.read(CH5 + d.CNDTR, 4) == left and 75 < left < 82
    run_until(clock, lambda: not spi.read(s.SR, 2) & s.BSY)
    assert len(sink.got) == 100 - left             # written before the stop: all shifted out


def test_sixteen_bit_frames_without_memory_increment_repeat_one_value_msb_first():
    clock, spi, dma, sink, _ = board()
    spi.write(s.CR1, 2, s.MSTR | s.SSM | s.SSI | s.DFF)
    spi.write(s.CR1, 2, s.MSTR | s.SSM | s.SSI | s.DFF | s.SPE)
    spi.ctx.machine.sysbus.ram[0:2] = (0xF81F).to_bytes(2, "little")
    dma.write(CH5 + d.CPAR, 4, SPI2 + s.DR)
    dma.write(CH5 + d.CMAR, 4, RAM)
    dma.write(CH5 + d.CNDTR, 4, 1000)
    spi.write(s.CR2, 2, s.TXDMAEN)
    dma.write(CH5 + d.CCR, 4, d.DIR | (1 << 8) | (1 << 10) | d.EN)   # 16-bit, no MINC
    run_until(clock, lambda: dma.read(d.ISR, 4) & (d.TCIF << 16))
    run_until(clock, lambda: not spi.read(s.SR, 2) & s.BSY)
    assert [b for b, _ in sink.got] == [0xF8, 0x1F] * 1000


def test_circular_mode_reloads_and_raises_half_and_complete_interrupts_each_lap():
    clock, spi, dma, sink, irqs = board()
    spi.ctx.machine.sysbus.ram[:8] = bytes(range(1, 9))
    start_tx(dma, spi, 8, d.CIRC | d.HTIE)
    seen = []
    for _ in range(4):                              # HT, TC, HT, TC
        run_until(clock, lambda: dma.read(d.ISR, 4) >> 16 & (d.HTIF | d.TCIF))
        seen.append(dma.read(d.ISR, 4) >> 16 & (d.HTIF | d.TCIF))
        dma.write(d.IFCR, 4, d.GIF << 16)
    assert seen == [d.HTIF, d.TCIF, d.HTIF, d.TCIF]
    assert [lv for lv, _ in irqs] == [True, False] * 4
    dma.write(CH5 + d.CCR, 4, d.DIR | d.MINC | d.CIRC)
    run_until(clock, lambda: not spi.read(s.SR, 2) & s.BSY)
    got = [b for b, _ in sink.got]
    assert got[:16] == list(range(1, 9)) * 2


def test_memory_to_memory_copies_and_registers_lock_while_enabled():
    clock, spi, dma, sink, irqs = board()
    ram = spi.ctx.machine.sysbus.ram
    ram[0:16] = bytes(range(100, 116))
    ch1 = d.CH_BASE
    dma.write(ch1 + d.CPAR, 4, RAM)
    dma.write(ch1 + d.CMAR, 4, RAM + 0x100)
    dma.write(ch1 + d.CNDTR, 4, 4)
    dma.write(ch1 + d.CCR, 4, d.MEM2MEM | d.PINC | d.MINC | (2 << 8) | (2 << 10) | d.EN)
    dma.write(ch1 + d.CNDTR, 4, 9)                 # locked while EN: ignored
    run_until(clock, lambda: dma.read(d.ISR, 4) & d.TCIF)
    assert ram[0x100:0x110] == bytes(range(100, 116))
    assert dma.read(ch1 + d.CNDTR, 4) == 0
    assert dma.read(d.ISR, 4) & 0xF == d.GIF | d.TCIF | d.HTIF


def test_transfer_from_nowhere_is_a_transfer_error_that_disables_the_channel():
    clock, spi, dma, sink, irqs = board()
    ch1 = d.CH_BASE
    dma.write(ch1 + d.CPAR, 4, 0x60000000)
    dma.write(ch1 + d.CMAR, 4, RAM)
    dma.write(ch1 + d.CNDTR, 4, 4)
    dma.write(ch1 + d.CCR, 4, d.MEM2MEM | d.EN)
    run_until(clock, lambda: dma.read(d.ISR, 4) & d.TEIF)
    assert not dma.read(ch1 + d.CCR, 4) & d.EN


def test_register_table_of_the_docs_is_what_the_model_decodes(caplog):
    """docs/registers.md's DMA table (d.REGS) against the model: every channel register of
    the table reads back its writable bits after all ones are written (reserved bits 0),
    ISR and IFCR sit where the table puts them, and on a five-channel DMA2 the table's
    channel 6 offsets are unknown registers, logged, not a crash."""
    clock, spi, dma, sink, irqs = board()
    for reg in d.REGS:
        if reg.name in ("ISR", "IFCR"):
            continue
        keep_off = d.EN if reg.name.startswith("CCR") else 0    # not started: no transfers
        dma.write(reg.offset, 4, 0xFFFFFFFF & ~keep_off)
        assert dma.read(reg.offset, 4) == reg.access_mask("rw") & ~keep_off, reg.name
    ch1 = d.REGS["CCR1"].offset
    dma.write(ch1, 4, d.MEM2MEM)
    dma.write(d.REGS["CNDTR1"].offset, 4, 1)
    dma.write(d.REGS["CPAR1"].offset, 4, RAM)
    dma.write(d.REGS["CMAR1"].offset, 4, RAM + 4)
    dma.write(ch1, 4, d.MEM2MEM | d.EN)
    run_until(clock, lambda: dma.read(d.REGS["ISR"].offset, 4))
    isr = d.REGS["ISR"]
    # one transfer of one: half of it (rounded down, 0) and all of it are done together
    assert dma.read(isr.offset, 4) == sum(isr.field(f + "1").mask for f in ("TCIF", "HTIF", "GIF"))
    dma.write(d.REGS["IFCR"].offset, 4, d.REGS["IFCR"].field("CGIF1").mask)
    assert dma.read(isr.offset, 4) == 0
    dma2 = d.STM32F1Dma(Context(clock, name="dma2", machine=spi.ctx.machine), numberOfChannels=5)
    assert dma2.read(d.REGS["CCR6"].offset, 4) == 0
    dma2.write(d.REGS["CCR6"].offset, 4, d.EN)
    assert "unknown register" in caplog.text


def test_bad_channel_count_is_refused():
    with pytest.raises(ValueError, match="numberOfChannels"):
        d.STM32F1Dma(Context(Clock(), name="dma"), numberOfChannels=9)


@pytest.mark.parametrize("what", ["sr", "isr", "cndtr"])
def test_poll_hints_during_a_stream_never_skip_a_change(what):
    """Firmware spinning on SPI SR, DMA ISR or CNDTR is skipped ahead to the hint the model
    gives; the value must not change before that instant."""
    clock, spi, dma, sink, _ = board()
    hints = []
    spi.ctx.machine.poll_hint = lambda value, ready: hints.append(ready)
    dma.ctx.machine = spi.ctx.machine
    read = {"sr": lambda: spi.read(s.SR, 2), "isr": lambda: dma.read(d.ISR, 4),
            "cndtr": lambda: dma.read(CH5 + d.CNDTR, 4)}[what]
    start_tx(dma, spi, 40, d.HTIE)
    clock.advance_to(clock.next_event_ps())         # the first request served: streaming
    assert spi._st is not None
    checked = 0
    while True:
        value = read()
        ready = hints[-1]
        if ready is None:
            break
        assert ready > clock.now_ps
        clock.advance_to(ready - 1)
        assert read() == value, f"{what} changed before the hint"
        clock.advance_to(ready)
        checked += 1
    assert checked >= 2                             # isr: HT, then TC


@pytest.mark.parametrize("ccr, count, left", [
    (d.CIRC | d.HTIE | d.TCIE, 8, 5), (d.CIRC | d.TCIE, 6, 6), (d.CIRC | d.HTIE, 7, 2),
    (d.HTIE | d.TCIE, 9, 9), (d.TCIE, 4, 3), (d.HTIE, 1, 1)])
def test_the_transfers_marked_ahead_are_those_that_raise_an_enabled_ht_or_tc(ccr, count, left):
    """A USART taking transfers ahead makes an event at each transfer whose HT or TC an
    enabled interrupt sees (irq_transfers): those are the transfers that raise them."""
    ch = d.DmaChannel(SimpleNamespace(ctx=None), 1)
    ch.ccr, ch.count, ch.left = ccr | d.MINC | d.EN, count, left
    marked, window = ch.irq_transfers(0, 3 * count), ch.irq_transfers(2, 4)
    raised = []
    for k in range(3 * count):
        if not ch.left:
            break                                      # a normal-mode run is over
        ch.flags = 0
        ch._advance(1)
        if ch.flags & ((d.HTIF if ccr & d.HTIE else 0) | (d.TCIF if ccr & d.TCIE else 0)):
            raised.append(k)
    assert marked == raised and raised
    assert window == [k for k in raised if 2 <= k < 4]
