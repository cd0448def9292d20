"""GDB stub: real gdb-multiarch sessions (batch mode) and a raw RSP client against firmware
running on the engine. Checks what a firmware developer sees: breakpoints, registers,
memory, single steps that cost one cycle and take no interrupt, a step into a WFI nothing
wakes, watchpoints fired by an ISR, ^C, faults reported once as SIGSEGV, any monitor command
passed to the console's interpreter, detach keeping the console's run state, and kill."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from metersim._engine.debug import Debugger
from metersim._frontends.gdb_stub import (GdbServer, build_target, checksum, escape_binary,
                                         unescape_binary)
from metersim._frontends.monitor import Monitor
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

GDB = "gdb-multiarch"


def sigint_default() -> None:
    """A child stopped by SIGINT gets it as from Ctrl-C in a terminal, even when this suite
    runs with SIGINT ignored (a background job of a shell without job control)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def gdb():
    path = shutil.which(GDB)
    if path is None:
        pytest.fail(f"{GDB} is missing: `make setup` installs it (the GDB stub tests drive a "
                    "real GDB)")
    return path


@pytest.fixture
def serve(firmware):
    servers = []

    def start(program: str, target: str = "f413rg", paused: bool = False):
        """A server on `program`; `paused`: with a monitor whose emulation is paused (as a
        console's would be), else with its own, started one (`metersim gdb`)."""
        elf = firmware(target, program)
        emu, m = build_target(str(elf))
        mon = Monitor(emu, out=lambda text: None) if paused else None
        srv = GdbServer(emu, m, port=0, monitor=mon).start()
        servers.append(srv)
        return srv, emu, m, elf

    yield start
    for srv in servers:
        srv.stop()


def run_gdb(gdb, elf, port, *commands, timeout=20):
    cmd = [gdb, "-q", "-batch", "-nx", str(elf), "-ex", "set pagination off",
           "-ex", "set confirm off", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        cmd += ["-ex", c]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return res.stdout + res.stderr


def monitor_times(out: str) -> list[tuple[int, int, int]]:
    """(time_ps, cycles, instructions) of each `monitor time` in a GDB transcript."""
    return [(int(t), int(c), int(i)) for t, c, i in re.findall(
        r"\((\d+) ps\); \S+: core [\d.]+ MHz, (\d+) cycles, (\d+) instructions", out)]


class RawClient:
    """A bare RSP client, for what a GDB batch run cannot do (^C, raw packets)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.no_ack = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("stub closed the connection")
        self.buf += data

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, payload: str | bytes):
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        self.sock.sendall(b"$" + payload + b"#%02x" % checksum(payload))
        if not self.no_ack:
            assert self.read_ack() == b"+"

    def read_ack(self) -> bytes:
        while not self.buf:
            self._fill()
        ack, self.buf = self.buf[:1], self.buf[1:]
        return ack

    def recv(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                payload = self.buf[start + 1:end]
                assert int(self.buf[end + 1:end + 3], 16) == checksum(payload)
                self.buf = self.buf[end + 3:]
                if not self.no_ack:
                    self.sock.sendall(b"+")
                if payload.startswith(b"O") and payload != b"OK":
                    continue  # console output
                return payload
            self._fill()

    def ask(self, payload: str | bytes) -> bytes:
        self.send(payload)
        return self.recv()

    def close(self):
        self.sock.close()


def reg_value(out: str, name: str) -> int:
    m = re.search(rf"^{name}\s+(0x[0-9a-f]+)", out, re.M)
    assert m, f"register {name} not in:\n{out}"
    return int(m.group(1), 16)


# ====================================================================== with GDB
def test_break_at_main_shows_m_profile_registers(gdb, serve):
    srv, emu, m, elf = serve("systick_rate", paused=True)
    main = m.symbol("main") & ~1
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "info registers")
    assert "Breakpoint 1, main ()" in out
    assert reg_value(out, "pc") == main
    for name in ("msp", "psp", "primask", "basepri", "faultmask", "control", "xpsr"):
        reg_value(out, name)
    assert reg_value(out, "msp") == reg_value(out, "sp")  # thread mode on the main stack
    assert reg_value(out, "xpsr") & (1 << 24)            # Thumb bit
    srv.stop()
    # GDB left (detached) and the emulation was paused before: it stays halted, stopped
    # before main's first instruction, with flash unpatched.
    assert m.cpu.pc == main
    assert m.sysbus.read_memory(main, 4) == _elf_bytes(elf, main, 4)


def _elf_bytes(elf, addr, n):
    from metersim._engine.loader import load_elf
    for seg in load_elf(elf).segments:
        if seg.paddr <= addr < seg.paddr + len(seg.data):
            off = addr - seg.paddr
            return seg.data[off:off + n]
    raise AssertionError(f"0x{addr:x} not in {elf}")


def test_stepi_runs_one_instruction_in_one_cycle(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "monitor time", "stepi",
                  "monitor time", "stepi", "monitor time", "info registers pc")
    (t0, c0, i0), (t1, c1, i1), (t2, c2, i2) = monitor_times(out)
    assert (c1 - c0, i1 - i0) == (1, 1) and (c2 - c1, i2 - i1) == (1, 1)
    assert t1 - t0 == t2 - t1 == 62_500  # one cycle of the 16 MHz core
    pc = reg_value(out, "pc")
    assert 4 <= pc - (m.symbol("main") & ~1) <= 8  # two Thumb instructions further


def test_stepi_holds_back_a_pending_interrupt_that_continue_takes(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    main = m.symbol("main") & ~1
    out = run_gdb(gdb, elf, srv.port, "break main", "continue",
                  "set *(unsigned *)0xE000ED04 = 0x04000000",  # ICSR.PENDSTSET
                  "stepi", "info registers pc xpsr", "break SysTick_Handler", "continue",
                  "info registers xpsr")
    regs = out.split("Breakpoint 2 at")[0]
    assert 0 < reg_value(regs, "pc") - main <= 4       # still in main, one instruction on
    assert reg_value(regs, "xpsr") & 0x1FF == 0        # thread mode: SysTick not taken
    assert "Breakpoint 2, SysTick_Handler ()" in out   # continue takes the pending SysTick
    assert reg_value(out.split("Breakpoint 2, ")[1], "xpsr") & 0x1FF == 15


def test_stepirq_on_lets_a_step_enter_the_handler(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "monitor stepirq on",
                  "set *(unsigned *)0xE000ED04 = 0x04000000", "stepi", "info registers pc")
    assert "stepping takes pending interrupts" in out
    assert reg_value(out, "pc") == m.symbol("SysTick_Handler") & ~1


def _wfi_in(m, function):
    """Address of the `wfi` instruction inside `function` of the loaded firmware."""
    for addr, data in m.firmware.executable_bytes():
        for off in range(0, len(data) - 1, 2):
            if data[off:off + 2] == b"\x30\xbf":
                hit = m.firmware.symbols.function_at(addr + off)
                if hit and hit[0] == function:
                    return addr + off
    raise AssertionError(f"no wfi in {function}")


def test_stepping_a_wfi_sleeps_until_the_tick_that_wakes_the_core(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    wfi = _wfi_in(m, "run_phase")
    out = run_gdb(gdb, elf, srv.port, f"break *0x{wfi:x}", "continue", "delete",
                  "monitor time", "stepi", "monitor time", "info registers pc",
                  "stepi", "monitor time", "info registers pc xpsr")
    (t0, c0, _), (t1, c1, _), (t2, _, _) = monitor_times(out)
    assert c1 - c0 == 1 and t1 - t0 == 62_500           # the wfi itself: one cycle
    pcs = [int(x, 16) for x in re.findall(r"^pc\s+(0x[0-9a-f]+)", out, re.M)]
    assert pcs == [wfi + 2, m.symbol("SysTick_Handler") & ~1]
    xpsr = int(re.findall(r"^xpsr\s+(0x[0-9a-f]+)", out, re.M)[-1], 16)
    assert xpsr & 0x1FF == 15                           # woken into the SysTick handler
    assert 0 < t2 - t1 <= PS_PER_MS                     # slept until the next 1 ms tick


def test_breakpoint_right_after_a_wfi_leaves_the_core_awake(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    wfi = _wfi_in(m, "run_phase")
    out = run_gdb(gdb, elf, srv.port, f"break *0x{wfi + 2:x}", "continue", "monitor time",
                  "stepi", "monitor time", "info registers pc")
    (_, c0, _), (_, c1, _) = monitor_times(out)
    assert c1 - c0 == 1                                  # executed the load, no sleep
    assert reg_value(out, "pc") in (wfi + 4, wfi + 6)   # one instruction after the wfi+2 one


def test_next_steps_over_a_call_and_hbreak_rwatch_stop_in_the_isr(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "next", "next",
                  "hbreak SysTick_Handler", "continue", "delete", "rwatch g_mark_first",
                  "continue")
    steps = out.split("Breakpoint 1, main ()")[1].split("Hardware assisted")[0]
    lines = [int(n) for n in re.findall(r"^(\d+)\t", steps, re.M)]
    assert len(lines) == 3 and lines[0] < lines[1] < lines[2]  # two source lines on in main
    assert "test_begin (" not in steps                         # the call was stepped over
    assert "Breakpoint 2, SysTick_Handler ()" in out
    assert re.search(r"Hardware read watchpoint 3: g_mark_first\s+Value = \d+\s+"
                     r"0x[0-9a-f]+ in SysTick_Handler", out)


def test_memory_and_register_reads_and_writes(gdb, serve):
    srv, emu, m, elf = serve("systick_rate", paused=True)
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "x/2xw 0x08000000",
                  "set var g_mark_first = 77", "set $r0 = 0x1234abcd", "set $r7 = 42",
                  "print g_mark_first", "print/x $r0")
    vectors = _elf_bytes(elf, 0x08000000, 8)
    msp0, reset = int.from_bytes(vectors[:4], "little"), int.from_bytes(vectors[4:], "little")
    assert re.search(rf"0x8000000 <g_vectors>:\s+0x{msp0:08x}\s+0x{reset:08x}", out)
    assert "= 77" in out and "= 0x1234abcd" in out
    srv.stop()
    dbg = Debugger.of(m)
    assert m.sysbus.read_word(m.symbol("g_mark_first")) == 77
    assert dbg.read_register("r0") == 0x1234ABCD and dbg.read_register("r7") == 42


def test_watchpoint_stops_when_the_systick_isr_writes_the_counter(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    out = run_gdb(gdb, elf, srv.port, "break main", "continue", "delete", "watch g_ticks",
                  "continue", "monitor time", "continue", "monitor time", "continue",
                  "monitor time")
    hits = re.findall(r"Old value = (\d+)\nNew value = (\d+)\n.*in SysTick_Handler", out)
    assert hits == [("0", "1"), ("1", "2"), ("2", "3")], out
    (t1, _, _), (t2, _, _), (t3, _, _) = monitor_times(out)
    # SysTick at 1 ms: the ISR writes the counter once per millisecond of virtual time
    assert abs((t2 - t1) - PS_PER_MS) < 2 * PS_PER_US and abs((t3 - t2) - PS_PER_MS) < 2 * PS_PER_US


def test_monitor_passes_any_line_to_the_console_interpreter(gdb, serve):
    srv, emu, m, elf = serve("hello")
    vectors = _elf_bytes(elf, 0x08000000, 4)
    out = run_gdb(gdb, elf, srv.port, "monitor help", "monitor time",
                  "monitor sysbus ReadDoubleWord 0x08000000", "monitor emulation GetTimeSourceInfo",
                  "monitor frobnicate", "stepi", "monitor machine Reset", "flushregs",
                  "info registers pc")
    for command in ("showAnalyzer", "emulation <", "sysbus <", "stepirq", "machine <"):
        assert command in out                                # the console's whole command set
    assert monitor_times(out)[0][:2] == (0, 0)  # halted since power-on: no time has passed
    assert f"0x{int.from_bytes(vectors, 'little'):08X}" in out
    assert "Elapsed Virtual Time: 00:00:00.000000" in out
    assert "error: unknown command or peripheral 'frobnicate'" in out
    assert "f413: reset; PC" in out and "`flushregs` refreshes GDB's registers" in out
    assert reg_value(out, "pc") == m.symbol("Reset_Handler") & ~1


def test_stepi_into_a_wfi_that_nothing_wakes_returns_and_says_so(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    wfi = _wfi_in(m, "run_phase")
    out = run_gdb(gdb, elf, srv.port, f"break *0x{wfi:x}", "continue", "delete",
                  "set *(unsigned *)0xE000E010 = 0",        # SysTick off: nothing will wake it
                  "monitor time", "stepi", "stepi", "monitor time", "info registers pc",
                  timeout=30)
    assert "nothing wakes it" in out
    (t0, _, _), (t1, _, _) = monitor_times(out)
    assert 0 < t1 - t0 <= PS_PER_S + PS_PER_MS             # at most the step's sleep budget
    assert reg_value(out, "pc") == wfi + 2                  # still asleep after the wfi


def _paused_console_with_gdb(firmware, program="systick_rate"):
    mon = Monitor(out=lambda text: None)
    mon.execute("mach create \"f413\"")
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute(f"sysbus LoadELF @{firmware('f413rg', program)}")
    port = int(re.search(r"port (\d+)", mon.execute("machine StartGdbServer 0")).group(1))
    return mon, port


def test_detach_leaves_a_paused_console_paused(gdb, firmware):
    from metersim._frontends.console import Console
    import io

    mon, port = _paused_console_with_gdb(firmware)
    console = Console(mon, stdin=io.StringIO(), stdout=io.StringIO())
    console.start_runner()
    try:
        elf = firmware("f413rg", "systick_rate")
        out = run_gdb(gdb, elf, port, "break main", "continue", "monitor time",
                      "monitor uart attach sysbus.usart1", "detach")
        assert "Breakpoint 1, main ()" in out and "detached" in out.lower()
        assert "uart attach: only at the console's own prompt" in out   # not from GDB
        t = monitor_times(out)[0][0]
        time.sleep(0.5)
        assert emu_time(mon) == t and not mon.started   # paused before GDB, paused after
        mon.execute("start")                            # the console still drives it
        deadline = time.monotonic() + 5
        while emu_time(mon) == t and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emu_time(mon) > t
    finally:
        console.stop_runner()
        mon.close()


def emu_time(mon):
    with mon.lock:
        return mon.emulation.now_ps


def test_an_attached_gdb_holds_a_started_console_until_it_detaches(firmware):
    from metersim._frontends.console import Console
    import io

    mon, port = _paused_console_with_gdb(firmware)
    mon.execute("emulation SetGlobalAdvanceImmediately true")
    console = Console(mon, stdin=io.StringIO(), stdout=io.StringIO())
    console.start_runner()
    try:
        mon.execute("start")
        c = RawClient(port)
        assert c.ask("?").startswith(b"T05")
        t = emu_time(mon)
        time.sleep(0.4)
        assert emu_time(mon) == t                       # halted while GDB has the target
        c.send("D")
        assert c.recv() == b"OK"
        c.close()
        deadline = time.monotonic() + 5
        while emu_time(mon) == t and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emu_time(mon) > t and mon.started        # started before GDB: runs on
    finally:
        console.stop_runner()
        mon.close()


def test_firmware_fault_stops_with_sigsegv_and_a_fault_report(gdb, serve, caplog):
    srv, emu, m, elf = serve("bad_access")
    with caplog.at_level(logging.ERROR, logger="metersim.gdb"):
        out = run_gdb(gdb, elf, srv.port, "continue", "info registers pc", "continue")
    assert "Program received signal SIGSEGV" in out
    assert "BFAR" in out and "0x60000000" in out             # the report reaches GDB's console
    assert "monitor machine Reset" in out                     # second continue: still stopped
    assert out.count("=== firmware fault") == 1               # the report shows once
    assert any("SIGSEGV" in r.getMessage() and "0x60000000" in r.getMessage()
               for r in caplog.records)                       # and the server's log
    assert reg_value(out, "pc")                               # the session stayed usable


def test_detach_lets_the_firmware_run_and_kill_resets(gdb, serve):
    srv, emu, m, elf = serve("systick_rate")
    out1 = run_gdb(gdb, elf, srv.port, "break main", "continue", "monitor time", "detach")
    assert "detached" in out1.lower()
    t_detach = monitor_times(out1)[0][0]
    deadline = time.monotonic() + 5
    while emu.now_ps < t_detach + 50 * PS_PER_MS and time.monotonic() < deadline:
        time.sleep(0.02)  # the firmware runs on in the server thread
    out2 = run_gdb(gdb, elf, srv.port, "monitor time", "info registers pc", "kill")
    assert monitor_times(out2)[0][0] >= t_detach + 50 * PS_PER_MS
    out3 = run_gdb(gdb, elf, srv.port, "info registers pc")
    assert reg_value(out3, "pc") == m.symbol("Reset_Handler") & ~1
    assert srv.sessions == 3


def test_cortex_m3_target_and_gdb_load_into_flash(gdb, serve):
    srv, emu, m, elf = serve("hello", "f103rb")
    main = m.symbol("main") & ~1
    m.sysbus.write_memory(main, b"\xfe\xe7" * 8)  # clobber main: `load` must restore it
    out = run_gdb(gdb, elf, srv.port, "info all-registers", "load", "break main", "continue",
                  "next")
    assert "msp" in out and "control" in out and not re.search(r"^d0\s", out, re.M)
    assert re.search(r"Start address 0x0*8[0-9a-f]+, load size \d+", out)
    assert "Breakpoint 1, main ()" in out
    assert m.sysbus.read_memory(main, 16) == _elf_bytes(elf, main, 16)


def test_metersim_gdb_entry_point_serves_until_interrupted(gdb, firmware):
    import sys
    from pathlib import Path

    import metersim
    elf = firmware("f413rg", "hello")
    env = dict(os.environ, PYTHONPATH=str(Path(metersim.__file__).parents[1]))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from metersim._frontends.gdb_stub import main_gdb; "
         "sys.exit(main_gdb(sys.argv[1:]))", str(elf), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=sigint_default)
    try:
        first = proc.stdout.readline()
        port = int(re.search(r"GDB server on 127.0.0.1:(\d+)", first).group(1))
        proc.stdout.readline()  # the connect hint
        out = run_gdb(gdb, elf, port, "break main", "continue", "monitor time")
        assert "Breakpoint 1, main ()" in out and monitor_times(out)[0][0] > 0
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:       # a failure above: no server left running
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "virtual time" in rest  # the run summary on exit


# ====================================================================== raw protocol
def test_ctrl_c_stops_a_running_target_and_time_freezes(serve):
    srv, emu, m, elf = serve("systick_rate")
    c = RawClient(srv.port)
    assert c.ask("?").startswith(b"T05")
    c.send("c")
    time.sleep(0.3)
    c.send_raw(b"\x03")
    assert c.recv().startswith(b"T02")
    assert c.ask("?").startswith(b"T02")
    t = emu.now_ps
    assert t > 0
    time.sleep(0.2)
    regs = c.ask("g")
    assert len(regs) == 2 * (23 * 4 + 16 * 8 + 4)      # core+system 32-bit, d0-d15, fpscr
    assert emu.now_ps == t                              # halted: virtual time stands still
    pc = int.from_bytes(bytes.fromhex(regs[15 * 8:16 * 8].decode()), "little")
    assert m.firmware.symbols.function_at(pc) is not None
    c.close()


def test_target_description_and_no_ack_mode(serve):
    srv, emu, m, elf = serve("hello")
    c = RawClient(srv.port)
    feats = c.ask("qSupported:multiprocess+;swbreak+;hwbreak+").decode()
    assert "qXfer:features:read+" in feats and "QStartNoAckMode+" in feats
    assert c.ask("vMustReplyEmpty") == b""
    assert c.ask("qSomethingUnknown") == b""
    xml = b""
    while True:
        part = c.ask(f"qXfer:features:read:target.xml:{len(xml):x},100")
        xml += unescape_binary(part[1:])
        if part[:1] == b"l":
            break
    text = xml.decode()
    for feature in ("org.gnu.gdb.arm.m-profile", "org.gnu.gdb.arm.m-system", "org.gnu.gdb.arm.vfp"):
        assert feature in text
    assert 'name="control"' in text and 'name="d15"' in text and 'name="fpscr"' in text
    assert c.ask("QStartNoAckMode") == b"OK"
    c.no_ack = True
    assert c.ask("qC") == b"QC1" and c.ask("qAttached") == b"1"
    assert c.ask("qfThreadInfo") == b"m1" and c.ask("qsThreadInfo") == b"l"
    assert c.ask("qOffsets") == b"Text=0;Data=0;Bss=0"
    c.close()


def test_G_writes_all_registers_and_an_even_pc_keeps_thumb_state(serve):
    srv, emu, m, elf = serve("systick_rate")
    c = RawClient(srv.port)
    regs = bytearray(bytes.fromhex(c.ask("g").decode()))
    regs[4:8] = (0xCAFEF00D).to_bytes(4, "little")             # r1
    main = m.symbol("main") & ~1
    regs[60:64] = main.to_bytes(4, "little")                   # pc, as GDB sends it: bit 0 clear
    assert c.ask(b"G" + regs.hex().encode()) == b"OK"
    assert Debugger.of(m).read_register("r1") == 0xCAFEF00D
    assert c.ask("s").startswith(b"T05")                       # one instruction, no fault
    pc = int.from_bytes(bytes.fromhex(c.ask("pf").decode()), "little")
    assert pc in (main + 2, main + 4) and m.cpu.fault is None
    c.close()


def test_bad_checksum_is_nacked_and_binary_writes_unescape(serve):
    srv, emu, m, elf = serve("hello")
    c = RawClient(srv.port)
    c.send_raw(b"$g#00")
    assert c.read_ack() == b"-"
    data = bytes([0x23, 0x24, 0x7D, 0x2A, 0x00, 0xFF])
    assert c.ask(b"X20001000,6:" + escape_binary(data)) == b"OK"
    assert c.ask("m20001000,6") == data.hex().encode()
    assert c.ask("m60000000,4") == b"E14"    # nothing mapped there
    c.close()


def test_msp_psp_and_control_when_unprivileged(serve):
    srv, emu, m, elf = serve("hello")
    c = RawClient(srv.port)
    msp = c.ask("p11")
    assert int.from_bytes(bytes.fromhex(msp.decode()), "little") == m.sysbus.read_word(0x08000000)
    assert c.ask("P12=00f00420") == b"OK"            # psp = 0x2004f000
    assert c.ask("P16=01000000") == b"OK"            # control: nPRIV (unprivileged thread)
    assert c.ask("p11") == msp                       # still readable, not zero
    assert c.ask("p12") == b"00f00420"
    assert c.ask("P16=02000000") == b"OK"            # privileged again, on PSP
    assert c.ask("p16") == b"02000000"
    assert c.ask("pd") == b"00f00420"                # sp is now the process stack
    assert m.cpu.is_privileged()
    c.close()


def test_packet_escaping_round_trip():
    raw = bytes(range(256))
    assert unescape_binary(escape_binary(raw)) == raw
    assert b"#" not in escape_binary(raw) and b"$" not in escape_binary(raw)
