"""STM32 SPI master: bit rate from PCLK and BR, flags in virtual time, chip selects, errors."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context, SPIDevice
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import polled, spi as s
from metersim._units import PS_PER_US

SPI1 = 0x40013000   # APB2
SPI2 = 0x40003800   # APB1


class Loopback(SPIDevice):
    """Answers each byte with the previous one (a shift-register echo) and logs what it got."""

    def __init__(self):
        self.got, self.last, self.finished = [], 0x00, 0

    def transmit(self, byte):
        self.got.append(byte)
        reply, self.last = self.last, byte
        return reply

    def finish_transmission(self):
        self.finished += 1


def make(address=SPI1):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000, "PCLK2": 72_000_000}))
    return s.STM32Spi(Context(Clock(), name="spi", machine=machine, address=address),
                      series="STM32Series.F1")


def master(dev, br, extra=0):
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3) | extra)
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3) | s.SPE | extra)


def transfer(dev, value):
    """Write DR, poll RXNE as firmware does; return (received, virtual time taken)."""
    t0 = dev.ctx.clock.now_ps
    dev.write(s.DR, 4, value)
    while not dev.read(s.SR, 4) & s.RXNE:
        dev.ctx.clock.advance_to(dev.ctx.clock.next_event_ps())
    return dev.read(s.DR, 4), dev.ctx.clock.now_ps - t0


@pytest.mark.parametrize("br, pclk_hz, address", [(0, 72_000_000, SPI1), (5, 36_000_000, SPI2)])
def test_frame_time_matches_the_bit_rate(br, pclk_hz, address):
    dev = make(address)
    loop = Loopback()
    dev.register_child(loop)
    loop.set_chip_select(True)
    master(dev, br)
    assert dev.bit_rate_hz == pclk_hz / 2 ** (br + 1)
    _, first_ps = transfer(dev, 0xA5)
    got, t_ps = transfer(dev, 0x3C)
    assert got == 0xA5 and loop.got == [0xA5, 0x3C]
    assert t_ps == first_ps == 8 * 2 ** (br + 1) * 10**12 // pclk_hz


def test_bsy_and_txe_during_back_to_back_frames():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 3)                                # 72 MHz / 16 = 4.5 MHz: 8 bits = 1.78 us
    dev.write(s.DR, 4, 1)
    sr = dev.read(s.SR, 4)
    assert sr & s.TXE and sr & s.BSY              # went straight to the shift register
    dev.write(s.DR, 4, 2)
    assert not dev.read(s.SR, 4) & s.TXE
    dev.ctx.clock.run_for(2 * PS_PER_US)
    sr = dev.read(s.SR, 4)
    assert sr & s.TXE and sr & s.BSY and sr & s.RXNE
    dev.read(s.DR, 4)
    dev.ctx.clock.run_for(2 * PS_PER_US)
    sr = dev.read(s.SR, 4)
    assert not sr & s.BSY and sr & s.RXNE and dev.read(s.DR, 4) == 1


def test_sixteen_bit_frames_are_two_bytes_msb_first():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 2, extra=s.DFF)
    _, t = transfer(dev, 0x1234)
    got, t = transfer(dev, 0xBEEF)
    assert loop.got == [0x12, 0x34, 0xBE, 0xEF]
    assert got == 0x34BE                          # the echo runs one byte behind
    assert t == 16 * 8 * 10**12 // 72_000_000


def test_lsb_first_reverses_bits_on_the_wire():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 0, extra=s.LSBFIRST)
    transfer(dev, 0x01)
    assert loop.got == [0x80]


def test_no_chip_select_reads_ff_and_device_sees_nothing():
    dev = make()
    loop = Loopback()
    dev.register_child(loop)                      # CS never asserted
    master(dev, 1)
    got, _ = transfer(dev, 0x9F)
    assert got == 0xFF and loop.got == []
    loop.on_gpio(0, False)                        # CS low: selected
    transfer(dev, 0x9F)
    loop.on_gpio(0, True)
    assert loop.got == [0x9F] and loop.finished == 1


def test_overrun_when_rxne_not_read_and_clearing_sequence():
    dev = make()
    dev.register_child(Loopback())
    master(dev, 0, extra=0)
    dev.write(s.CR2, 4, s.ERRIE)
    irq = []
    dev.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append(lv)))
    dev.write(s.DR, 4, 0x11)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    dev.write(s.DR, 4, 0x22)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    assert dev.read(s.SR, 4) & s.OVR and irq == [True]
    assert dev.read(s.DR, 4) == 0xFF              # first frame kept (no CS: 0xFF)
    assert dev.read(s.SR, 4) & s.OVR              # DR read then SR read clears it ...
    assert not dev.read(s.SR, 4) & s.OVR          # ... as seen from the next read
    assert irq == [True, False]


def test_mode_fault_when_ssi_low_in_master_mode():
    dev = make()
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SPE)   # SSI = 0: NSS internally low
    sr = dev.read(s.SR, 4)
    assert sr & s.MODF
    assert not dev.read(s.CR1, 4) & (s.SPE | s.MSTR)
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI)   # SR read then CR1 write clears MODF
    assert not dev.read(s.SR, 4) & s.MODF


def test_nss_pin_low_causes_mode_fault_unless_ssoe():
    dev = make()
    dev.write(s.CR2, 4, s.SSOE)
    dev.write(s.CR1, 4, s.MSTR | s.SPE)
    dev.on_gpio(0, False)
    assert not dev.read(s.SR, 4) & s.MODF
    dev.write(s.CR2, 4, 0)
    assert dev.read(s.SR, 4) & s.MODF


def test_crc_next_sends_the_crc_and_a_matching_peer_gives_no_crc_error():
    dev = make()

    class Mirror(SPIDevice):                      # MISO = MOSI: RX CRC equals TX CRC
        cs_active = True

        def transmit(self, byte):
            return byte

    dev.register_child(Mirror())
    master(dev, 0, extra=s.CRCEN)
    for b in (0x31, 0x32, 0x33):
        transfer(dev, b)
    expected = 0
    for b in (0x31, 0x32, 0x33):
        expected = s.crc_update(expected, b, 8, 7)
    assert dev.read(s.TXCRCR, 4) == expected == dev.read(s.RXCRCR, 4)
    dev.write(s.CR1, 4, dev.read(s.CR1, 4) | s.CRCNEXT)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    assert dev.read(s.DR, 4) == expected and not dev.read(s.SR, 4) & s.CRCERR
    assert not dev.read(s.CR1, 4) & s.CRCNEXT


# -- polled firmware: frame ends that do not cut CPU slices ----------------------------------

@pytest.fixture
def fast_polling(monkeypatch):
    monkeypatch.setattr(s.STM32Spi, "polled_fast_path", True)


class Core:
    """Runs 'instructions' against the models the way the engine does: each ends `step_ps`
    after the previous one and its register access happens at that instant; a slice runs the
    instructions that end by the next event (an event scheduled inside the slice shortens
    it), then the clock runs the due events."""

    def __init__(self, clock, step_ps=7_000):
        self.clock, self.step_ps, self.t, self.slices = clock, step_ps, clock.now_ps, 0

    def run(self, program):
        clock, it = self.clock, iter(program)
        todo = next(it, None)
        while todo is not None:
            nxt = clock.next_event_ps()
            horizon = [nxt if nxt is not None else self.t + 10**12]

            def earlier(t_ps):
                horizon[0] = min(horizon[0], t_ps)

            clock.begin_slice(lambda: self.t, horizon[0], earlier)
            self.slices += 1
            try:
                while todo is not None and self.t + self.step_ps <= horizon[0]:
                    self.t += self.step_ps
                    todo()
                    todo = next(it, None)
            finally:
                clock.end_slice()
            # the core stops within one instruction of the horizon; the clock runs the events
            clock.advance_to(horizon[0] if todo is not None else self.t)


class TimedLoopback(Loopback):
    """A Loopback that notes when it exchanged each byte and when CS rose."""

    def __init__(self, clock):
        super().__init__()
        self.clock, self.log = clock, []

    def transmit(self, byte):
        self.log.append(("byte", byte, self.clock.now_ps))
        return super().transmit(byte)

    def finish_transmission(self):
        self.log.append(("cs high", self.clock.now_ps))
        super().finish_transmission()


def polled_driver(dev, dev_cs, seen, payloads, idle_after_frame=0):
    """bsp_spi_xfer's loop per transaction: CS low, per byte wait TXE / write DR / wait RXNE /
    read DR, wait !BSY, CS high. `idle_after_frame` instructions of no SPI access follow each
    DR write (a firmware doing other work while the byte shifts). Yields one access each."""
    def read(off):
        def f():
            seen.append((dev.ctx.clock.now_ps, off, dev.read(off, 4)))
        return f

    def wait(bit, want):
        while True:
            yield read(s.SR)
            if bool(seen[-1][2] & bit) == want:
                return

    for payload in payloads:
        yield lambda: dev_cs.on_gpio(0, False)
        for byte in payload:
            yield from wait(s.TXE, True)
            yield lambda b=byte: dev.write(s.DR, 4, b)
            for _ in range(idle_after_frame):
                yield lambda: None
            yield from wait(s.RXNE, True)
            yield read(s.DR)
        yield from wait(s.BSY, False)
        yield lambda: dev_cs.on_gpio(0, True)


def run_polled(fast, cr2=0, payloads=((0x9F, 0, 0, 0), (0x03, 0x12, 0x34, 0x56, 0xAA)),
               step_ps=7_000, **kw):
    dev = make()
    dev.polled_fast_path = fast
    loop = TimedLoopback(dev.ctx.clock)
    dev.register_child(loop)
    master(dev, 2)                                 # 72 MHz / 8: a byte takes 889 ns
    dev.write(s.CR2, 4, cr2)
    core, seen = Core(dev.ctx.clock, step_ps), []
    core.run(polled_driver(dev, loop, seen, payloads, **kw))
    return seen, loop.log, core.slices


@pytest.mark.parametrize("idle", [0, 300])
@pytest.mark.parametrize("step_ps", [7_000, 888_888 // 8])   # the second polls exactly at frame ends
def test_polled_transfers_see_the_same_flags_and_bytes_as_with_an_event_per_frame(idle, step_ps):
    fast_seen, fast_dev, fast_slices = run_polled(True, idle_after_frame=idle, step_ps=step_ps)
    ev_seen, ev_dev, ev_slices = run_polled(False, idle_after_frame=idle, step_ps=step_ps)
    irq_seen, irq_dev, _ = run_polled(True, cr2=s.RXNEIE, idle_after_frame=idle,  # IRQ unwired
                                      step_ps=step_ps)
    assert fast_seen == ev_seen == irq_seen       # every SR/DR read: same instant, same value
    assert fast_dev == ev_dev == irq_dev          # device: same bytes, same times, same CS framing
    frame_ps = 8 * 8 * 10**12 // 72_000_000
    bytes_at = [e[2] for e in fast_dev if e[0] == "byte"]
    assert len(bytes_at) == 9 and [e[1] for e in fast_dev if e[0] == "byte"] == \
        [0x9F, 0, 0, 0, 0x03, 0x12, 0x34, 0x56, 0xAA]
    assert all(b - a >= frame_ps for a, b in zip(bytes_at, bytes_at[1:]))
    assert [e[0] for e in fast_dev].count("cs high") == 2
    # each frame end cut a CPU slice on the event path only
    assert ev_slices >= 9 and fast_slices <= 2


def test_a_byte_is_exchanged_at_its_frame_end_even_when_cs_rises_before_the_next_access(
        fast_polling):
    """Firmware writes DR, does other work past the frame's end, then raises CS without
    looking at SPI again: the device gets the byte (at the frame's end) before CS goes high."""
    dev = make()
    loop = TimedLoopback(dev.ctx.clock)
    dev.register_child(loop)
    master(dev, 2)
    core = Core(dev.ctx.clock)
    t = {}

    def program():
        yield lambda: loop.on_gpio(0, False)
        yield lambda: t.setdefault("dr", dev.ctx.clock.now_ps) and dev.write(s.DR, 4, 0x5A)
        for _ in range(200):                       # 1.4 us of other work: the byte takes 0.89 us
            yield lambda: None
        yield lambda: loop.on_gpio(0, True)

    core.run(program())
    frame_ps = 8 * 8 * 10**12 // 72_000_000
    assert loop.log[0] == ("byte", 0x5A, t["dr"] + frame_ps)
    assert loop.log[1][0] == "cs high" and loop.log[1][1] > t["dr"] + frame_ps
    assert core.slices == 1                        # no slice was cut for the frame end


def test_a_byte_written_before_the_core_sleeps_still_reaches_the_device_on_time(fast_polling):
    dev = make()
    loop = TimedLoopback(dev.ctx.clock)
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 2)
    core = Core(dev.ctx.clock)
    core.run([lambda: dev.write(s.DR, 4, 0x42)])   # then nothing touches SPI
    t_write = core.t
    dev.ctx.clock.run_for(2 * PS_PER_US)
    assert loop.log == [("byte", 0x42, t_write + 8 * 8 * 10**12 // 72_000_000)]
    assert dev.read(s.SR, 4) & s.RXNE and not dev.read(s.SR, 4) & s.BSY


@pytest.mark.parametrize("fast", [True, False])
def test_enabling_rxneie_mid_frame_interrupts_at_the_frame_end(fast, monkeypatch):
    monkeypatch.setattr(s.STM32Spi, "polled_fast_path", fast)
    dev = make()
    loop = TimedLoopback(dev.ctx.clock)
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 2)
    irq = []
    dev.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append((lv, dev.ctx.clock.now_ps))))
    core = Core(dev.ctx.clock)
    t = {}

    def program():
        yield lambda: t.setdefault("dr", dev.ctx.clock.now_ps) and dev.write(s.DR, 4, 0x77)
        for _ in range(50):                    # 350 ns into the 889 ns frame
            yield lambda: None
        yield lambda: dev.write(s.CR2, 4, s.RXNEIE)
        for _ in range(200):
            yield lambda: None

    core.run(program())
    end_ps = t["dr"] + 8 * 8 * 10**12 // 72_000_000
    assert irq == [(True, end_ps)]                 # raised at the frame's end, not later
    assert loop.log == [("byte", 0x77, end_ps)]
    assert core.slices == 2                        # the slice was cut there to take it


def test_overrun_in_polled_transmit_only_transfers_matches_the_event_path():
    """A transmit-only driver (shift registers) never reads DR: the second frame sets OVR,
    seen at the same read on both paths; with ERRIE enabled mid-frame it interrupts on time."""
    def run(fast, errie_at=None):
        dev = make()
        dev.polled_fast_path = fast
        dev.register_child(Loopback())
        master(dev, 2)
        irq, seen = [], []
        dev.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append((lv, dev.ctx.clock.now_ps))))

        def program():
            for i, byte in enumerate((0x11, 0x22, 0x33)):
                while True:
                    yield lambda: seen.append((dev.ctx.clock.now_ps, dev.read(s.SR, 4)))
                    if seen[-1][1] & s.TXE:
                        break
                yield lambda b=byte: dev.write(s.DR, 4, b)
                if i == 1 and errie_at is not None:
                    for _ in range(errie_at):
                        yield lambda: None
                    yield lambda: dev.write(s.CR2, 4, s.ERRIE)
            while True:
                yield lambda: seen.append((dev.ctx.clock.now_ps, dev.read(s.SR, 4)))
                if not seen[-1][1] & s.BSY:
                    break
            yield lambda: seen.append((dev.ctx.clock.now_ps, dev.read(s.DR, 4)))
            yield lambda: seen.append((dev.ctx.clock.now_ps, dev.read(s.SR, 4)))
            yield lambda: seen.append((dev.ctx.clock.now_ps, dev.read(s.SR, 4)))

        Core(dev.ctx.clock).run(program())
        return seen, irq

    fast_seen, _ = run(True)
    ev_seen, _ = run(False)
    assert fast_seen == ev_seen
    ovr_reads = [sr for _, sr in fast_seen[:-3] if sr & s.OVR]
    assert ovr_reads and fast_seen[-2][1] & s.OVR          # DR read then SR read clears it ...
    assert not fast_seen[-1][1] & s.OVR                   # ... as seen from the next read
    assert fast_seen[-3][1] == 0xFF                       # the first frame is what DR kept
    fast_seen, fast_irq = run(True, errie_at=20)
    ev_seen, ev_irq = run(False, errie_at=20)
    assert fast_seen == ev_seen and fast_irq == ev_irq and fast_irq[0][0] is True


def test_latch_of_a_shift_register_behind_shared_lines_sees_the_byte_that_just_ended(
        fast_polling):
    """74HC595 on SpiSharedLines (no CS): the firmware writes DR, waits TXE only, then pulses
    RCLK after the frame's end: the latch must capture the new byte (pins of members added
    after the lines were attached are watched too)."""
    from metersim.peripherals.shift_register import HC595Chain, SpiSharedLines

    dev = make()
    lines = SpiSharedLines(Context(dev.ctx.clock, name="lines"))
    dev.register_child(lines)
    hc595 = HC595Chain(Context(dev.ctx.clock, name="relays"), chips=1)
    lines.register_child(hc595)
    master(dev, 2)

    def program():
        yield lambda: dev.write(s.DR, 4, 0xC3)
        for _ in range(150):                       # past the 889 ns frame, no SPI access
            yield lambda: None
        yield lambda: hc595.on_gpio(hc595.RCLK, True)
        yield lambda: hc595.on_gpio(hc595.RCLK, False)

    core = Core(dev.ctx.clock)
    core.run(program())
    assert hc595.storage == 0xC3 and core.slices == 1


def test_an_access_at_the_frame_end_instant_is_ordered_by_the_core_cycle_count():
    """On the engine an event stops the slice after the last instruction whose cycle count
    is not past the event (cycles_at_time rounds down): an access in that instruction comes
    before the frame end, one in the next instruction (whose time may round down onto the
    same picosecond) after it."""
    # a 50 ps cycle from 0 ps: cycle 100 completes exactly at the event's 5000 ps
    cpu = SimpleNamespace(in_slice=True, cycles=99, cycles_now=lambda: cpu.cycles,
                          cycles_at_time=lambda t_ps: t_ps // 50)
    clock = Clock()
    ctx = Context(clock, name="spi", machine=SimpleNamespace(cpu=cpu))
    assert not polled.is_past(ctx, 5_000)               # instruction 99: before the event
    cpu.cycles = 100
    assert not polled.is_past(ctx, 5_000)               # instruction 100: still before it
    cpu.cycles = 101
    assert polled.is_past(ctx, 5_000)                   # instruction 101: after it
    assert polled.is_past(ctx, 5_049) and not polled.is_past(ctx, 5_050)
    cpu.in_slice = False                                # outside a slice the queue decides
    clock.advance_to(5_000)
    assert not polled.is_past(ctx, 5_000) and polled.is_past(ctx, 4_999)


@pytest.mark.parametrize("then", ["reset", "dr read"])
def test_a_frame_end_seen_by_an_sr_read_in_c_reaches_the_device_at_its_end_time(
        fast_polling, then):
    """The engine answers an SR read after a polled frame's end in C (STM32Spi.hot_registers)
    and leaves the frame itself, marked `_seen_end`, to the model's next Python access: a
    reset right after must not lose the byte firmware saw go out, and a DR read gets the
    device's reply; either way the device takes the byte at the frame's end time."""
    dev = make()
    clock = dev.ctx.clock
    loop = TimedLoopback(clock)
    dev.register_child(loop)
    loop.set_chip_select(True)
    master(dev, 2)                                 # 8 bits at 9 MHz: 889 ns
    dev.write(s.DR, 4, 0x5A)
    end_ps = dev._due_ps
    clock.begin_slice(lambda: end_ps + 5_000, end_ps + 10**6, lambda t: None)
    try:
        dev._seen_end = True                       # what the C side's SR read leaves
        if then == "reset":
            dev.reset()
            assert dev.regs["SR"] == s.REGS.resets()["SR"]
        else:
            assert dev.read(s.DR, 4) == 0x00        # the Loopback's reply to the first byte
    finally:
        clock.end_slice()
    assert loop.log == [("byte", 0x5A, end_ps)] and not dev._seen_end
