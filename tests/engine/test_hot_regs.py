"""Hot registers (engine/_hot_regs.c): SysTick, DWT, SPI, I2C and USART status reads answered in C
must be exactly the values the models' Python reads give at the same instant, with the same
effects, or firmware would see a wrong CVR, time-stamp or flag."""

import struct

import pytest
from unicorn import arm_const as A

from metersim._engine.emulation import Emulation
from metersim._engine.hot_regs import WRITE_KINDS
from metersim._engine.machine import Machine
from metersim._engine.runtime_hooks import log_peripheral_access
from metersim._errors import FirmwareFault
from metersim._units import PS_PER_MS
from metersim.peripherals.base import UartFrame

from tests.engine.test_hello_families import needs_upstream, run_hello
from tests.firmware.msh_session import TEST_BOARD, Msh

pytestmark = pytest.mark.skipif(
    Machine.bare(Emulation(), "probe", "cortex-m4f").cpu.bc is None,
    reason="the block clock extension is not built (setup.py build_ext)")

TARGETS = ["f413rg", "f103rb"]
# SPI to the NOR, I2C to the EEPROM, an EEPROM write cycle: SysTick, DWT (bsp_cycles) and
# SPI SR reads in polling loops.
COMMANDS = ["spi 9f 00 00 00", "i2c w 50 01 00 11 22 33", "i2c wr 50 1 01 00", "spi 9f 00 00 00"]
SCS_REGS = {"systick_cvr", "dwt_cyccnt", "dwt_ctrl", "spi_sr", "usart_sr"}
# the EEPROM's polling loops: SR1 for SB/ADDR/TXE/BTF/RXNE, SR2 after ADDR, CR1 for STOP
I2C_REGS = {"i2c_sr1", "i2c_sr2", "i2c_cr1"}


def session(monkeypatch, firmware, target, how):
    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    return Msh(TEST_BOARD[target], firmware(target, "bsp_test"), target)


def run_commands(s):
    out = [s.run(c) for c in COMMANDS]
    s.emu.run_for("10ms")                 # the EEPROM's write cycle ends
    out.append(s.run("i2c wr 50 3 01 00"))
    return out


def hits(m) -> dict[str, int]:
    out: dict[str, int] = {}
    for hot in m.sysbus.hot_ranges.values():
        for (_addr, kind), (n, _declined) in hot.stats().items():
            out[kind] = out.get(kind, 0) + n
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_every_value_c_computes_is_the_models_python_read(monkeypatch, firmware, target):
    # verify mode: at each hot read C computes its answer, then the model's Python read
    # answers at the same instant and the two are compared
    s = session(monkeypatch, firmware, target, "verify")
    out = run_commands(s)
    assert out[-1] == ["ok 11 22 33"]
    verified: dict[str, int] = {}
    for hot in s.m.sysbus.hot_ranges.values():
        assert hot.mismatches == []
        for kind, n in hot.verified.items():
            verified[kind] = verified.get(kind, 0) + n
    assert set(verified) >= SCS_REGS | I2C_REGS
    assert verified["systick_cvr"] > 100 and verified["dwt_cyccnt"] > 100
    # SR reads while each frame shifts and the first one after its end (seen as the end
    # leaves SR, the devices' byte still to come)
    assert verified["spi_sr"] >= 25
    assert verified["i2c_sr1"] >= 40 and verified["i2c_cr1"] >= 10
    assert verified["usart_sr"] >= 100      # the console's receive and transmit interrupts


@pytest.mark.parametrize("target", TARGETS)
def test_the_firmware_runs_the_same_with_its_reads_answered_in_c(monkeypatch, firmware, target):
    runs = {}
    for how in ("0", "1"):
        s = session(monkeypatch, firmware, target, how)
        out = run_commands(s)
        m = s.m
        runs[how] = (out, s.cap.text, m.cpu.instructions, m.cpu.cycles, m.cpu.idle_cycles,
                     bytes(m["eeprom"].mem[0x100:0x104]),
                     # a Python read now sees the state the C reads left
                     m.sysbus.read_word(0xE000E018), m.sysbus.read_word(0xE0001004),
                     m.sysbus.read_word(0x40013008), m["usart1"].regs["SR"],
                     m["usart1"]._sr_snapshot, m["i2c1"]._sr1_snapshot, m["i2c1"].regs["SR1"])
        if how == "1":
            n = hits(m)
            assert n["systick_cvr"] > 100 and n["dwt_cyccnt"] > 100 and n["spi_sr"] >= 25
            assert n["usart_sr"] >= 100 and n["i2c_sr1"] >= 40 and n["i2c_cr1"] >= 10
        else:
            assert m.sysbus.hot_ranges == {}
    assert runs["1"] == runs["0"]


def test_logging_a_peripheral_takes_its_reads_back_to_python(monkeypatch, firmware, caplog):
    s = session(monkeypatch, firmware, "f103rb", "1")
    s.run(COMMANDS[0])
    before = hits(s.m)["systick_cvr"]
    assert before > 0                             # the C side answered them until now
    log_peripheral_access(s.m, "nvic", True)      # the SCS page: NVIC, SCB, SysTick
    with caplog.at_level("INFO", logger="metersim.access"):
        s.run(COMMANDS[0])
    assert hits(s.m)["systick_cvr"] == before     # every read went through the log
    assert any("nvic: read32 +0x18" in r.getMessage() for r in caplog.records)
    log_peripheral_access(s.m, "nvic", False)
    s.run(COMMANDS[0])
    assert hits(s.m)["dwt_cyccnt"] > before       # answered in C again


# A CSR read clears COUNTFLAG: with RVR = 50 the counter wraps while the program spins, then
# it reads CSR twice.
#   ldr r1, =0xE000E010; movs r3, #200; 1: subs r3, #1; bne 1b; ldr r0, [r1]; ldr r2, [r1]; b .
# at 0x08000040; every exception's vector leads to the final `b .`.
PROGRAM = struct.pack("<7H", 0x4903, 0x23C8, 0x3B01, 0xD1FD, 0x6808, 0x680A, 0xE7FE) \
    + b"\0\0" + struct.pack("<I", 0xE000E010)
VECTORS = struct.pack("<16I", 0x20001000, 0x08000041, *[0x0800004D] * 14)


def bare_program(monkeypatch, how, image: bytes, unprivileged=False):
    """(emu, machine): a bare Cortex-M4F with `image` (vectors, then code) at 0x08000000, out
    of reset, METERSIM_HOT_REGS=`how`; thread mode unprivileged if asked."""
    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    emu = Emulation()
    m = Machine.bare(emu, "m", "cortex-m4f")
    m.sysbus.write_memory(0x08000000, image)
    m.finalize()
    m.reset_cpu_only()
    if unprivileged:
        m.cpu.set_reg(A.UC_ARM_REG_CONTROL, 1)
    return emu, m


def countflag_machine(monkeypatch, how, unprivileged=False):
    emu, m = bare_program(monkeypatch, how, VECTORS + PROGRAM, unprivileged)
    m.sysbus.write_word(0xE000E014, 50)     # RVR
    m.sysbus.write_word(0xE000E018, 0)      # CVR
    m.sysbus.write_word(0xE000E010, 0b101)  # ENABLE, core clock, no interrupt
    return emu, m


def countflag_run(monkeypatch, how):
    emu, m = countflag_machine(monkeypatch, how)
    emu.run_until_time(emu.now_ps + PS_PER_MS)
    return m, m.cpu.reg(A.UC_ARM_REG_R0), m.cpu.reg(A.UC_ARM_REG_R2)


def test_a_csr_read_answered_in_c_clears_countflag(monkeypatch):
    m, first, second = countflag_run(monkeypatch, "1")
    assert hits(m)["systick_csr"] == 2
    assert first & (1 << 16) and not second & (1 << 16)
    assert (first, second) == countflag_run(monkeypatch, "0")[1:]


def test_a_read_replaced_on_the_model_sees_every_read(monkeypatch, firmware):
    s = session(monkeypatch, firmware, "f103rb", "1")
    scs = s.m["nvic"]                             # the SCS page, SysTick's CVR at +0x18
    before = hits(s.m)["systick_cvr"]
    seen = []
    read = scs.read

    def counted(offset, size):
        seen.append(offset)
        return read(offset, size)

    scs.read = counted
    s.run(COMMANDS[0])
    assert hits(s.m)["systick_cvr"] == before and seen.count(0x18) > 10


def test_an_unprivileged_systick_read_is_still_a_busfault(monkeypatch):
    reports = []
    for how in ("1", "0"):
        emu, m = countflag_machine(monkeypatch, how, unprivileged=True)
        with pytest.raises(FirmwareFault) as fault:
            emu.run_until_time(emu.now_ps + PS_PER_MS)
        assert hits(m).get("systick_csr", 0) == 0
        assert m.sysbus.read_word(0xE000ED38) == 0xE000E010       # BFAR: SYST_CSR
        assert "PRECISERR" in str(fault.value)
        reports.append(str(fault.value))
    assert reports[0] == reports[1]


# ---- USART SR: the receive interrupt reads SR, then DR, which clears the error flags SR
# showed (RM0008 §27.6.1). The read of SR answered in C must leave the same snapshot for the
# DR read: a stale one would leave FE set, and every later character would count as an error.
RX_BEFORE, RX_AFTER = b"metersim", b"after the break"


def rx_with_a_break(monkeypatch, firmware, target, how):
    """`rx` of the bsp_test firmware on USART2: characters, a break (a character with FE),
    characters; returns what the command printed, USART2's SR and the C side's figures for
    that SR: (answered in C, compared in verify mode)."""
    s = session(monkeypatch, firmware, target, how)
    usart2 = s.m["usart2"]
    start = s.type(f"rx {len(RX_BEFORE) + 1 + len(RX_AFTER)}\r")
    s.emu.run_for("5ms")                  # the shell thread is now blocked in the read
    before = sr_figures(s.m, usart2)
    end_ps = usart2.write_bytes(RX_BEFORE)
    brk = UartFrame(0, 8, "N", 2, usart2.baud, end_ps, is_break=True)
    s.m.clock.schedule_at(end_ps, usart2.receive_frame, brk)
    s.m.clock.schedule_at(brk.end_ps, usart2.write_bytes, RX_AFTER)
    out = s.wait_prompt(start, timeout="2s")
    after = sr_figures(s.m, usart2)
    line = next(ln for ln in out.split("\n") if ln.startswith("rx ") and "crc" in ln)
    return line.strip(), usart2.regs["SR"], tuple(b - a for a, b in zip(before, after)), s.m


def sr_figures(m, usart) -> tuple[int, int]:
    for hot in m.sysbus.hot_ranges.values():
        for (addr, kind), (n, _declined) in hot.stats().items():
            if kind == "usart_sr" and addr == usart.ctx.address:
                return n, hot.verified.get("usart_sr", 0)
    return 0, 0


@pytest.mark.parametrize("target", TARGETS)
def test_sr_then_dr_clears_the_error_when_sr_was_read_in_c(monkeypatch, firmware, target):
    line, sr, (in_c, _), _m = rx_with_a_break(monkeypatch, firmware, target, "1")
    # one character with an error: the break's FE was cleared by its own SR-then-DR
    assert line.endswith("overruns 0 dropped 0 errors 1")
    assert line.startswith(f"rx {len(RX_BEFORE) + 1 + len(RX_AFTER)} crc")
    assert not sr & 0x0F                  # PE, FE, NE, ORE all clear at the end
    # the receive interrupt's SR reads (one per character at least) were answered in C
    assert in_c >= len(RX_BEFORE) + 1 + len(RX_AFTER)
    assert (line, sr) == rx_with_a_break(monkeypatch, firmware, target, "0")[:2]


@pytest.mark.parametrize("target", TARGETS)
def test_usart_sr_values_with_error_flags_are_the_python_reads(monkeypatch, firmware, target):
    line, _sr, (_, compared), m = rx_with_a_break(monkeypatch, firmware, target, "verify")
    assert line.endswith("errors 1")
    assert compared >= len(RX_BEFORE) + 1 + len(RX_AFTER)
    for hot in m.sysbus.hot_ranges.values():
        assert hot.mismatches == []


# ---- the "v2" USART's ISR (F0/F7/L0 ...): a polled hello spins on TXE
def hello_v2(monkeypatch, firmware, fam, how):
    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    m, uart = run_hello(firmware, fam)
    figures = {}
    for hot in m.sysbus.hot_ranges.values():
        for (addr, kind), (n, _declined) in hot.stats().items():
            if kind == "usart_isr" and addr == uart.ctx.address + 0x1C:
                figures = {"in_c": n, "compared": hot.verified.get("usart_isr", 0),
                           "mismatches": hot.mismatches}
    return list(uart.sent), m.cpu.instructions, figures


@needs_upstream
@pytest.mark.parametrize("fam", ["l0", "f7"])
def test_a_v2_usart_isr_read_in_c_is_the_python_read(monkeypatch, firmware, fam):
    sent, instructions, _ = hello_v2(monkeypatch, firmware, fam, "0")
    hot_sent, hot_instructions, hot = hello_v2(monkeypatch, firmware, fam, "1")
    assert sent and (hot_sent, hot_instructions) == (sent, instructions)
    assert hot["in_c"] >= len(sent)       # the first two reads of each TXE wait
    verified = hello_v2(monkeypatch, firmware, fam, "verify")[2]
    assert verified["compared"] >= len(sent) and verified["mismatches"] == []


# ---- the metering controller: its EEPROM read at boot over polled I2C, ADE7753 frames polled
# on SPI1 (the SR read after each frame's end included), TIM2's SR around the Modbus timer
def controller_run(monkeypatch, firmware, how):
    from metersim._cabinet.board import build_controller
    from metersim._cabinet.modbus_master import ModbusMaster
    from metersim._cabinet.scenario import attach_rooms, prepare_rooms, standard_rooms

    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    emu = Emulation(seed=1)
    board = build_controller(emu, channels=4, elf=firmware("f103rb", "metering_controller"))
    master = ModbusMaster(emu, board.bus)
    attach_rooms(board, standard_rooms(4, hours=0.01))
    emu.run_for("1.5s")
    prepare_rooms(master, 4)                       # credit: the relays close
    emu.run_for("1.5s")
    room = master.room(0)
    m = board.machine
    return m, (room.voltage_V, room.power_W, m.cpu.instructions, m.cpu.cycles)


def test_the_controllers_bus_and_timer_reads_in_c_are_the_python_reads(monkeypatch, firmware):
    m, plain = controller_run(monkeypatch, firmware, "0")
    assert plain[0] > 200                          # the ADE7753 of room 0 measured the mains
    m, hot = controller_run(monkeypatch, firmware, "1")
    assert hot == plain
    n = hits(m)
    assert n["spi_sr"] > 900 and n["timer_sr"] >= 20 and n["i2c_sr1"] > 10_000
    m, verified = controller_run(monkeypatch, firmware, "verify")
    assert verified == plain
    compared: dict[str, int] = {}
    for hot_range in m.sysbus.hot_ranges.values():
        assert hot_range.mismatches == []
        for kind, k in hot_range.verified.items():
            compared[kind] = compared.get(kind, 0) + k
    assert compared["spi_sr"] > 900 and compared["timer_sr"] >= 20
    assert compared["i2c_sr1"] > 10_000 and compared["i2c_cr1"] > 1000


# ---- writes made in C (hr_write): an I2C DR byte queued behind the one shifting, PendSV
# pended through ICSR, a stopped timer's SR flags cleared. Verify mode: Python makes each
# such write and C checks that Python changed what C would have changed, and nothing else.


def write_figures(m) -> tuple[dict[str, int], dict[str, tuple[int, int]], list]:
    """({write kind: writes made in C}, {write kind: (verified, mismatched)}, mismatches)"""
    made: dict[str, int] = {}
    checked: dict[str, tuple[int, int]] = {}
    wrong: list = []
    for hot in m.sysbus.hot_ranges.values():
        for (_addr, kind), (n, _declined) in hot.stats().items():
            if kind in WRITE_KINDS:
                made[kind] = made.get(kind, 0) + n
        for kind, (ok, bad) in hot.writes_verified().items():
            a, b = checked.get(kind, (0, 0))
            checked[kind] = (a + ok, b + bad)
        wrong += hot.write_mismatches
    return made, checked, wrong


@pytest.mark.parametrize("target", TARGETS)
def test_writes_c_makes_are_the_models_python_writes(monkeypatch, firmware, target):
    # the EEPROM write queues its data bytes behind the one shifting; the shell's threads
    # switch through PendSV
    s = session(monkeypatch, firmware, target, "verify")
    out = run_commands(s)
    assert out[-1] == ["ok 11 22 33"]
    made, checked, wrong = write_figures(s.m)
    assert wrong == [] and not any(made.values())      # verify mode: Python made them all
    assert checked["i2c_dr_write"][0] >= 4 and checked["i2c_dr_write"][1] == 0
    assert checked["icsr_write"][0] >= 10 and checked["icsr_write"][1] == 0
    # the NOR's ID command: each byte starts a polled frame on the idle bus
    assert checked["spi_dr_write"][0] >= 6 and checked["spi_dr_write"][1] == 0


@pytest.mark.parametrize("target", TARGETS)
def test_writes_made_in_c_leave_the_firmware_where_python_would(monkeypatch, firmware, target):
    runs = {}
    for how in ("0", "1"):
        s = session(monkeypatch, firmware, target, how)
        out = run_commands(s)
        m = s.m
        i2c = m["i2c1"]
        runs[how] = (out, s.cap.text, m.cpu.instructions, m.cpu.cycles, m.cpu.idle_cycles,
                     m.stats()["exceptions"], bytes(m["eeprom"].mem[0x100:0x104]),
                     dict(i2c.regs), i2c._sr1_snapshot, i2c._dr_full, bytes(m["nvic"].pending),
                     dict(m["spi1"].regs), m["spi1"]._rx, m["spi1"]._end.due_ps)
        if how == "1":
            made = write_figures(m)[0]
            assert made["i2c_dr_write"] >= 4 and made["icsr_write"] >= 10
            assert made["spi_dr_write"] >= 6
    assert runs["1"] == runs["0"]


def test_the_controllers_writes_in_c_are_the_python_writes(monkeypatch, firmware):
    # the Modbus timer's SR cleared while stopped, PendSV at every thread switch, the EEPROM's
    # address bytes at boot
    m, plain = controller_run(monkeypatch, firmware, "0")
    m, hot = controller_run(monkeypatch, firmware, "1")
    assert hot == plain
    made = write_figures(m)[0]
    assert made["timer_sr_write"] >= 10 and made["icsr_write"] >= 100
    assert made["spi_dr_write"] >= 200           # the ADE7753s' command and register bytes
    m, verified = controller_run(monkeypatch, firmware, "verify")
    assert verified == plain
    _made, checked, wrong = write_figures(m)
    assert wrong == []
    assert checked["timer_sr_write"][0] >= 10 and checked["icsr_write"][0] >= 100
    assert checked["spi_dr_write"][0] >= 200
    assert all(bad == 0 for _ok, bad in checked.values())


def test_a_write_replaced_on_the_model_sees_every_write(monkeypatch, firmware):
    s = session(monkeypatch, firmware, "f103rb", "1")
    nvic = s.m["nvic"]
    s.run(COMMANDS[0])
    before = write_figures(s.m)[0]["icsr_write"]
    assert before > 0
    seen = []
    write = nvic.write

    def counted(offset, size, value):
        seen.append(offset)
        write(offset, size, value)

    nvic.write = counted
    s.run(COMMANDS[0])
    assert write_figures(s.m)[0]["icsr_write"] == before and seen.count(0xD04) > 0


def test_verify_mode_notices_a_python_write_that_does_more_than_c(monkeypatch, firmware):
    # a model change C does not know of (here: DR writes also count themselves) is reported
    # with the attribute that differs, instead of passing as "the same"
    from metersim.peripherals.stm32.i2c import STM32I2c

    plain = STM32I2c._write_dr

    def counting(self, value):
        self.bytes_written = getattr(self, "bytes_written", 0) + 1
        plain(self, value)

    monkeypatch.setattr(STM32I2c, "_write_dr", counting)
    s = session(monkeypatch, firmware, "f103rb", "verify")
    assert s.run(COMMANDS[1]) == ["ok"]
    _made, checked, wrong = write_figures(s.m)
    assert checked["i2c_dr_write"][1] >= 4
    assert {key for _off, _kind, key, _c, _py in wrong} == {"bytes_written"}


# ---- GPIO BSRR: a port at 0x50000000 (F4 layout); pin 0 made an output, then set and reset
# through BSRR 100 times, IDR read after each: r0 after a set, r6 after a reset.
#   mov.w r1, #0x50000000; movs r4, #1; str r4, [r1]; movs r2, #1; lsls r3, r2, #16;
#   movs r5, #100; 1: str r2, [r1, #0x18]; ldr r0, [r1, #0x10]; str r3, [r1, #0x18];
#   ldr r6, [r1, #0x10]; subs r5, #1; bne 1b; b .
BSRR_PROGRAM = struct.pack("<14H", 0xF04F, 0x41A0, 0x2401, 0x600C, 0x2201, 0x0413, 0x2564,
                           0x618A, 0x6908, 0x618B, 0x690E, 0x3D01, 0xD1F9, 0xE7FE)
BSRR_VECTORS = struct.pack("<16I", 0x20001000, 0x08000041, *[0x0800005B] * 14)


class PinRecorder:
    """A device on the pin: it sees every level change."""

    def __init__(self):
        self.levels = []

    def on_gpio(self, _pin, level):
        self.levels.append(level)


def bsrr_run(monkeypatch, how, device=False):
    from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort

    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    emu = Emulation()
    m = Machine.bare(emu, "m", "cortex-m4f")
    port = m.add("gpioPortX", STM32_GPIOPort(m.context("gpioPortX", 0x50000000)), 0x50000000)
    rec = PinRecorder()
    if device:
        port.connections[0].connect(rec)
    m.sysbus.write_memory(0x08000000, BSRR_VECTORS + BSRR_PROGRAM)
    m.finalize()
    m.reset_cpu_only()
    emu.run_until_time(emu.now_ps + PS_PER_MS)
    made, checked, wrong = write_figures(m)
    return ((m.cpu.reg(A.UC_ARM_REG_R0), m.cpu.reg(A.UC_ARM_REG_R6), port.odr, port._levels,
             port.connections[0].level, m.cpu.instructions, rec.levels),
            made.get("gpio_f4_bsrr_write", 0), checked.get("gpio_f4_bsrr_write"), wrong)


def test_a_bsrr_write_to_a_pin_nobody_watches_is_made_in_c(monkeypatch):
    plain, _, _, _ = bsrr_run(monkeypatch, "0")
    assert plain[:5] == (1, 0, 0, 0, False)     # IDR followed each write; pin 0 low at the end
    hot, made, _, _ = bsrr_run(monkeypatch, "1")
    assert hot == plain and made == 200
    verified, made, checked, wrong = bsrr_run(monkeypatch, "verify")
    assert verified == plain and made == 0 and checked == (200, 0) and wrong == []


def test_a_bsrr_write_moving_a_device_pin_goes_to_python(monkeypatch):
    plain, _, _, _ = bsrr_run(monkeypatch, "0", device=True)
    assert plain[-1] == [True, False] * 100     # the device saw every edge
    hot, made, _, _ = bsrr_run(monkeypatch, "1", device=True)
    assert hot == plain and made == 0


# ---- SPI DR writes: an SPI at 0x50001000 in master mode (CR1 = MSTR | SPE), CR2 = r7, then the
# bytes 1..20, each: DR = i; wait for RXNE; r6 += DR.
#   ldr r1, =0x50001000; movs r0, #0x44; str r0, [r1]; movs r7, #CR2; str r7, [r1, #4];
#   movs r5, #20; movs r6, #0; movs r2, #1; 1: str r2, [r1, #12]; 2: ldr r3, [r1, #8];
#   lsls r3, r3, #31; beq 2b; ldr r3, [r1, #12]; adds r6, r6, r3; adds r2, #1; subs r5, #1;
#   bne 1b; b .; .word 0x50001000
def spi_program(cr2: int) -> bytes:
    return struct.pack("<20H", 0x4908, 0x2044, 0x6008, 0x2700 | cr2, 0x604F, 0x2514, 0x2600,
                       0x2201, 0x60CA, 0x688B, 0x07DB, 0xD0FC, 0x68CB, 0x18F6, 0x3201, 0x3D01,
                       0xD1F6, 0xE7FE, 0x1000, 0x5000)


SPI_VECTORS = struct.pack("<16I", 0x20001000, 0x08000041, *[0x08000063] * 14)


class EchoDevice:
    """An SPI device answering each byte with the byte plus 0x10; it notes when it got each."""

    def __init__(self, clock):
        self.clock = clock
        self.seen = []

    def transmit(self, byte):
        self.seen.append((self.clock.now_ps, byte))
        return (byte + 0x10) & 0xFF


def spi_run(monkeypatch, how, cr2):
    from metersim.peripherals.stm32.spi import STM32Spi

    monkeypatch.setenv("METERSIM_HOT_REGS", how)
    emu = Emulation()
    m = Machine.bare(emu, "m", "cortex-m3")
    spi = m.add("spi1", STM32Spi(m.context("spi1", 0x50001000)), 0x50001000)
    dev = EchoDevice(m.clock)
    spi.register_child(dev)
    m.sysbus.write_memory(0x08000000, SPI_VECTORS + spi_program(cr2))
    m.finalize()
    m.reset_cpu_only()
    emu.run_until_time(emu.now_ps + PS_PER_MS)
    made, checked, wrong = write_figures(m)
    sr_reads = [n for hot in m.sysbus.hot_ranges.values()
                for (_a, kind), n in hot.stats().items() if kind == "spi_sr"]
    return ((m.cpu.reg(A.UC_ARM_REG_R6), dev.seen, m.cpu.instructions, m.cpu.cycles,
             dict(spi.regs), spi.IRQ.level),
            made.get("spi_dr_write", 0), checked.get("spi_dr_write"), wrong, sr_reads)


def test_polled_spi_bytes_written_in_c_reach_the_device_when_python_would_send_them(monkeypatch):
    plain, _, _, _, _ = spi_run(monkeypatch, "0", 0)
    assert plain[0] == sum(range(1, 21)) + 20 * 0x10       # every reply read back
    assert [b for _t, b in plain[1]] == list(range(1, 21))
    hot, made, _, _, [(sr_in_c, sr_in_python)] = spi_run(monkeypatch, "1", 0)
    # the device had each byte at the same instant, the core spent the same cycles waiting;
    # the first write arms the backstop; the RXNE loop skips ahead to each frame's end in C
    # (only the first SR read, which looks the machine's poll hint up, is Python's)
    assert hot == plain and made >= 10
    assert sr_in_python == 1 and 40 <= sr_in_c < 200
    verified, made, checked, wrong, _ = spi_run(monkeypatch, "verify", 0)
    assert verified == plain and made == 0 and checked[0] >= 10 and checked[1] == 0
    assert wrong == []


def test_spi_bytes_an_interrupt_watches_are_written_by_python(monkeypatch):
    # RXNEIE: the IRQ line follows RXNE, so each frame's end is an ordinary event
    plain, _, _, _, _ = spi_run(monkeypatch, "0", 0x40)
    assert plain[0] == sum(range(1, 21)) + 20 * 0x10
    hot, made, _, _, _ = spi_run(monkeypatch, "1", 0x40)
    assert hot == plain and made == 0
