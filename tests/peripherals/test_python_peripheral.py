"""Renode's Python.PythonPeripheral: the script runs in CPython on every access, with Renode's
`request`, `self`, `size` and `logger`; upstream STM32 files rely on it for status flags."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from metersim._engine.clock import Clock
from metersim._engine.debug import Debugger
from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import build_machine
from metersim._engine.repl import parse_platform_string
from metersim._errors import PlatformError
from metersim.peripherals.base import Context
from metersim.peripherals.python_peripheral import PythonPeripheral, PythonPeripheralError

UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "renode-upstream"
if not UPSTREAM.is_dir():
    UPSTREAM = Path("/work/shared/renode-upstream")
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason=f"Renode's platform files are "
                                    f"not on this machine ({UPSTREAM} is absent)")


def pydev(script: str, size: int = 4, initable: bool = True, address: int = 0x40000000):
    return PythonPeripheral(Context(Clock(), "dev", address=address), size, initable, script=script)


# A firmware polling loop, as HAL writes them for PWR_CSR1.ODRDY (bit 16): wait until the flag
# is set, then until it is clear, then stop (`b .`). Thumb-1 only, so any Cortex-M runs it.
POLL = struct.pack("<8H", 0x4903,   # 08: ldr r1, [pc, #12]   -> r1 = 0x40007004
                   0x6808,          # 0a: ldr r0, [r1]
                   0x03C0,          # 0c: lsls r0, r0, #15   bit 16 -> N
                   0xD5FC,          # 0e: bpl 0a
                   0x6808,          # 10: ldr r0, [r1]
                   0x03C0,          # 12: lsls r0, r0, #15
                   0xD4FC,          # 14: bmi 10
                   0xE7FE)          # 16: b .
POLL += struct.pack("<I", 0x40007004)


@needs_upstream
def test_f7_flip_flop_status_register_lets_a_polling_loop_finish():
    emu = Emulation()
    m = build_machine(emu, UPSTREAM / "platforms/cpus/stm32f746.repl", search_paths=[UPSTREAM])
    csr1 = m.peripherals["pwrCsr1"]        # Python.PythonPeripheral, filename: scripts/pydev/flipflop.py
    assert isinstance(csr1, PythonPeripheral) and csr1.size == 4
    m.sysbus.write_memory(0x08000000, struct.pack("<II", 0x20001000, 0x08000009) + POLL)
    m.finalize()
    m.reset_cpu_only()
    emu.run_for("1ms")
    assert Debugger.of(m).pc == 0x08000016         # both waits are over: parked at `b .`
    assert csr1.request.Counter == 1                # two reads: set, then clear


@needs_upstream
@pytest.mark.parametrize("rel", ["platforms/cpus/stm32f072.repl", "platforms/cpus/stm32l072.repl",
                                 "platforms/cpus/stm32h743.repl", "platforms/cpus/stm32wba52.repl"])
def test_polling_loop_on_the_newer_cores_with_a_pydev_flip_flop(rel):
    # Cortex-M0, M0+, M7, M33: Renode's platform, a flip-flop added as PyDevFromFile would
    emu = Emulation()
    m = build_machine(emu, UPSTREAM / rel, search_paths=[UPSTREAM])
    dev = PythonPeripheral(m.context("flag", 0x50060000), 4, True,
                           filename="scripts/pydev/flipflop.py")
    m.add("flag", dev, 0x50060000, 4)
    flash = m.flash.base
    program = POLL[:-4] + struct.pack("<I", 0x50060000)
    m.sysbus.write_memory(flash, struct.pack("<II", m.sram.base + 0x1000, flash + 9) + program)
    m.boot_address = flash
    m.finalize()
    m.reset_cpu_only()
    emu.run_for("1ms")
    assert Debugger.of(m).pc == flash + 0x16
    assert dev.request.Counter == 1


@needs_upstream
def test_flip_flop_through_the_bus_alternates_all_ones_and_zero():
    m = build_machine(Emulation(), UPSTREAM / "platforms/cpus/stm32f746.repl",
                      search_paths=[UPSTREAM])
    reads = [m.sysbus.read_word(0x40007000) for _ in range(4)]      # pwrCr1
    assert reads == [0xFFFFFFFF, 0, 0xFFFFFFFF, 0]
    assert m.sysbus.read_word(0x40007004, 2) == 0xFFFF               # pwrCsr1: its own state


@needs_upstream
def test_g0_inline_rcc_script_mirrors_enable_bits_into_ready_bits():
    m = build_machine(Emulation(), UPSTREAM / "platforms/cpus/stm32g0.repl", search_paths=[UPSTREAM])
    rcc = m.peripherals["rcc"]
    assert rcc.size == 0x400 and m.sysbus.find_mapping(0x40021000).size == 0x400
    assert m.sysbus.read_word(0x40021000) == 1 << 8 | 1 << 10     # HSION, HSIRDY at reset
    m.sysbus.write_word(0x40021000, 1 << 24)        # CR.PLLON (and HSION off)
    # PLLRDY follows PLLON on every poll, HSIRDY follows HSION
    assert [m.sysbus.read_word(0x40021000) for _ in range(2)] == [1 << 25, 1 << 25]
    m.sysbus.write_word(0x40021000, 1 << 8)         # PLL off, HSI on
    assert m.sysbus.read_word(0x40021000) == 1 << 8 | 1 << 10


def test_request_fields_as_renode_sets_them():
    dev = pydev("""
if request.IsInit:
    seen = []
seen.append((str(request.Type), request.Offset, request.Absolute, request.Length,
             request.Counter, request.Value, request.IsRead, request.IsWrite, size))
if request.IsRead:
    request.Value = 0x1234567890
""", size=0x10, address=0x40001000)
    assert dev.read(4, 2) == 0x7890                 # masked to the access width
    dev.write(8, 4, 0xAB)
    assert dev.scope["seen"] == [
        ("INIT", 0, 0, 4, 0, 0, False, False, 0x10),
        ("READ", 4, 0x40001004, 2, 0, 0, True, False, 0x10),
        ("WRITE", 8, 0x40001008, 4, 1, 0xAB, False, True, 0x10)]


def test_init_runs_once_when_initable_and_again_on_reset():
    dev = pydev("""
if request.IsInit:
    inits = globals().get("inits", 0) + 1
request.Value = inits
""")
    assert [dev.read(0, 4), dev.read(0, 4)] == [1, 1]
    dev.reset()
    assert dev.read(0, 4) == 2
    plain = pydev("request.Value = 7", initable=False)
    assert plain.read(0, 4) == 7


def test_logging_with_percent_and_dotnet_placeholders(caplog):
    dev = pydev("""
self.WarningLog("Unhandled access to offset 0x{0:X}", request.Offset)
self.InfoLog("%s at 0x%x" % (str(request.Type), request.Offset))
logger.Log(LogLevel.Error, "via logger")
""", size=0x100)
    with caplog.at_level(logging.INFO, logger="metersim"):
        dev.read(0x3C, 4)
    text = caplog.text
    assert "dev: Unhandled access to offset 0x3C" in text
    assert "dev: READ at 0x3c" in text and "dev: via logger" in text


def test_ironpython_integer_division_and_user_requests():
    dev = pydev("""
if request.IsInit:
    value = 0
elif request.IsUser:
    value = request.Value
else:
    request.Value = (request.Offset - 0x590) / 4 + value
""", size=0x1000)
    dev.control_write(1, 100)
    assert dev.read(0x598, 4) == 102                # 8 / 4 == 2, an int as in Python 2


def test_bundled_pydev_scripts_behave_like_renodes():
    def dev(name, size=4):
        return PythonPeripheral(Context.standalone(name), size, True, filename=f"scripts/pydev/{name}.py")
    counter, repeater, ticker, rolling = dev("counter"), dev("repeater"), dev("ticker"), dev("rolling-bit")
    assert [counter.read(0, 4) for _ in range(3)] == [0, 1, 2]
    repeater.write(0, 4, 0x55)
    assert repeater.read(0, 4) == 0x55
    ticker.control_write(2, 10)                     # STEP
    assert [ticker.read(0, 4), ticker.read(0, 4)] == [10, 20]
    assert [rolling.read(0, 4) for _ in range(3)] == [1, 2, 4]


def test_script_errors_name_the_script_line_and_access():
    dev = pydev("x = 1\nrequest.Value = undefined_name\n", initable=False)
    with pytest.raises(PythonPeripheralError, match=r"dev script>:2: NameError: .*read32 at \+0x0"):
        dev.read(0, 4)
    with pytest.raises(PythonPeripheralError, match=r":1: "):
        pydev("print 'python 2'")
    with pytest.raises(PythonPeripheralError, match="exactly one of"):
        PythonPeripheral(Context.standalone("d"), 4)


def test_repl_errors_are_platform_errors_with_the_entry():
    repl = """
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m3"
    nvic: nvic
flash: Memory.MappedMemory @ sysbus 0x08000000
    size: 0x1000
dev: Python.PythonPeripheral @ sysbus 0x40000000
    size: 0x10
    filename: "scripts/pydev/no_such_script.py"
"""
    with pytest.raises(PlatformError, match=r"t.repl:8: dev: .*no_such_script.py' not found"):
        build_machine(Emulation(), parse_platform_string(repl, name="t.repl"))
