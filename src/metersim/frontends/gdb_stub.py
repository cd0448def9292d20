"""GDB remote serial protocol (RSP) stub: debug the firmware of one machine with GDB.

    server = GdbServer(emulation, machine, port=3333)
    server.start()                 # serves in a thread; or server.serve_forever()
    $ gdb-multiarch build/fw/f413rg/hello.elf -ex "target remote :3333"

`metersim gdb ELF [--platform REPL] [--port N]` is `main_gdb` (arguments: `add_gdb_arguments`).

Protocol: GDB manual, appendix E "GDB Remote Serial Protocol" (packets, stop replies, binary
escapes, no-ack mode, qXfer, vCont, Z/z) and "Target Descriptions" (gdb_target_xml.py). The
packet set is Renode's (renode-compatibility.md section 8) plus `G` and `QStartNoAckMode`.

How the target behaves:
- One thread serves one client at a time and is the only one touching the emulation. The
  target is halted while GDB talks to it, so virtual time stands still; `continue` runs the
  emulation in chunks of virtual time (sized to ~30 ms of wall time) and polls the socket for
  ^C (0x03) between chunks, which stops at an instruction boundary with SIGINT.
- Breakpoints (Z0 and Z1 alike) are unicorn code hooks on the address: no memory is patched,
  flash stays intact. The hook stops the core *before* the instruction executes, with the
  executed-instruction count kept exact (the slice limit is lowered to the instructions
  already executed), so virtual time is exact at the breakpoint.
- Watchpoints (Z2 write, Z3 read, Z4 access) are unicorn memory hooks on the range. As with the
  Cortex-M DWT comparators, the core stops after the accessing instruction completes; GDB then
  steps once more (ARM watchpoints are "non-steppable" for GDB) and compares the value. Only
  CPU accesses trigger them, not host-side writes or exception stacking.
- `stepi` executes exactly one instruction: the core runs a one-cycle slice while pending
  interrupts are hidden from it, so an interrupt never fires while stepping (Renode #175);
  virtual time grows by that one cycle. `monitor stepirq on` lets interrupts be taken (a step
  then stops at the first instruction of the handler). Stepping a core asleep in WFI waits,
  in virtual time, for the interrupt that wakes it and stops at the first instruction after.
- A firmware fault (FirmwareFault) stops the target with SIGSEGV; the fault report goes to the
  server's log and to the GDB console. The core stays stopped until `monitor reset`.
- Detach (`D`) lets the firmware run on (virtual time too) until the next client attaches;
  kill (`k`) resets the machine and waits for the next client.

Not modelled: multiple cores per server, non-stop mode, reverse execution, `vFlash*` (GDB's
`load` writes flash through `M`/`X`), tracepoints. Instructions inside an IT block run as one
unit in unicorn, so a breakpoint there triggers at the start of the block.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import select
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE
from unicorn import arm_const as A

from metersim.errors import FirmwareFault, MetersimError, SetupError
from metersim.frontends.gdb_target_xml import registers, target_xml
from metersim.units import PS_PER_MS, PS_PER_S, PS_PER_US, format_time

log = logging.getLogger("metersim.gdb")

SIGINT, SIGABRT, SIGTRAP, SIGSEGV = 2, 6, 5, 11
PACKET_SIZE = 0x4000
XPSR_T = 1 << 24
_WATCH_KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}
_CHUNK_MIN_PS = 10 * PS_PER_US
_CHUNK_MAX_PS = PS_PER_S
_CHUNK_WALL_S = 0.03
_POLL_S = 0.1

_UC_REG = {**{f"r{i}": getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)},
           "sp": A.UC_ARM_REG_SP, "lr": A.UC_ARM_REG_LR, "pc": A.UC_ARM_REG_PC,
           "xpsr": A.UC_ARM_REG_XPSR, "msp": A.UC_ARM_REG_MSP, "psp": A.UC_ARM_REG_PSP,
           "primask": A.UC_ARM_REG_PRIMASK, "basepri": A.UC_ARM_REG_BASEPRI,
           "faultmask": A.UC_ARM_REG_FAULTMASK, "control": A.UC_ARM_REG_CONTROL,
           "fpscr": A.UC_ARM_REG_FPSCR,
           **{f"d{i}": getattr(A, f"UC_ARM_REG_D{i}") for i in range(16)}}
_SYSTEM = {"msp", "psp", "primask", "basepri", "faultmask", "control"}


class GdbError(MetersimError):
    """The GDB server could not start (port in use, bad address...)."""


class _Disconnected(Exception):
    pass


# ================================================================== packet layer
def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape_binary(data: bytes) -> bytes:
    """Binary data in a packet: '#', '$', '}' and '*' become '}' + (byte ^ 0x20)."""
    out = bytearray()
    for b in data:
        if b in (0x23, 0x24, 0x7D, 0x2A):
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            out.append(next(it, 0x20) ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % checksum(payload)


class _Connection:
    """One GDB client socket: framing, acks, ^C detection."""

    def __init__(self, sock: socket.socket, should_stop: Callable[[], bool]):
        self.sock = sock
        self.buf = bytearray()
        self.no_ack = False
        self._last = b""
        self._should_stop = should_stop

    def _recv(self, timeout: float | None) -> bool:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise _Disconnected()
        self.buf += data
        return True

    def poll_interrupt(self) -> bool:
        """Non-blocking: has GDB sent ^C (0x03)? Other bytes stay buffered."""
        while self._recv(0):
            pass
        i = self.buf.find(b"\x03")
        if i >= 0:
            del self.buf[i]
            return True
        return False

    def read_packet(self) -> bytes:
        while True:
            buf = self.buf
            while buf and buf[0] != 0x24:  # '$'
                b = buf.pop(0)
                if b == 0x2D and self._last:  # '-': resend
                    self.sock.sendall(self._last)
                # '+' acks, and a ^C that raced with a stop reply, are dropped
            end = buf.find(b"#")
            if buf and end >= 0 and len(buf) >= end + 3:
                payload = bytes(buf[1:end])
                sent = bytes(buf[end + 1:end + 3])
                del buf[:end + 3]
                if self.no_ack:
                    return payload
                if sent.lower() == b"%02x" % checksum(payload):
                    self.sock.sendall(b"+")
                    return payload
                self.sock.sendall(b"-")
                continue
            if self._should_stop():
                raise _Disconnected()
            self._recv(_POLL_S)

    def send(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        pkt = frame(payload)
        self._last = pkt
        self.sock.sendall(pkt)
        if not self.no_ack:
            # Wait for the ack; a '-' asks for the packet again.
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                i = next((k for k, b in enumerate(self.buf) if b in (0x2B, 0x2D)), None)
                if i is not None and all(b == 0x03 for b in self.buf[:i]):
                    ack = self.buf[i]
                    del self.buf[i]
                    if ack == 0x2B:
                        return
                    self.sock.sendall(pkt)
                    continue
                if self.buf[:1] == b"$":
                    return  # GDB moved on (it acked nothing): tolerate
                self._recv(_POLL_S)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


# ================================================================== server
class GdbServer:
    """GDB RSP server for `machine` in `emulation`.

    `monitor`: handles `monitor <cmd>` commands the stub does not know itself; a callable
    `monitor(cmd) -> str`, or an object with `execute(cmd) -> str` (the monitor console).
    `lock`: held while the stub touches the emulation (defaults to `monitor.lock` if any), so
    a console in another thread can share the emulation.
    """

    def __init__(self, emulation, machine, port: int = 3333, host: str = "127.0.0.1",
                 monitor=None, lock=None, resume_on_detach: bool = True):
        self.emulation = emulation
        self.machine = machine
        self.cpu = machine.cpu
        self.host = host
        self.monitor = monitor
        self.resume_on_detach = resume_on_detach
        self._lock = lock or getattr(monitor, "lock", None) or contextlib.nullcontext()
        self.regs = registers(self.cpu.has_fpu)
        self._xml = target_xml(self.cpu.has_fpu).encode()
        self.step_irqs = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as e:
            self._listener.close()
            raise GdbError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        self._listener.listen(1)
        self.port = self._listener.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._shutdown = False
        self._conn: _Connection | None = None
        self._running_detached = False
        self.sessions = 0
        # target state
        self._bp_hooks: dict[int, int] = {}          # address -> unicorn hook handle
        self._bp_kinds: dict[int, set[int]] = {}     # address -> {0, 1}
        self._watch: dict[tuple[int, int, int], int] = {}  # (type, addr, len) -> hook
        self._stop: tuple | None = None              # reason set by hooks while running
        self._skip: tuple[int, int] | None = None    # (pc, instructions) not to stop at
        self._code_stop = False                      # a code hook ended the last run
        self._last_stop = f"T{SIGTRAP:02x}thread:1;"
        self._chunk_ps = PS_PER_MS

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "GdbServer":
        """Serve in a background thread (which then drives the emulation)."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"gdb:{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the client and the listening socket; wait for the serving thread."""
        self._shutdown = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._listener.close()

    close = stop

    def serve_forever(self) -> None:
        log.info("%s: GDB server listening on %s:%d", self.machine.name, self.host, self.port)
        try:
            while not self._shutdown:
                r, _, _ = select.select([self._listener], [], [],
                                        0 if self._running_detached else _POLL_S)
                if not r:
                    if self._running_detached:
                        self._run_detached_chunk()
                    continue
                sock, addr = self._listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._running_detached:  # the attach halts the running firmware
                    self._running_detached = False
                    self._last_stop = f"T{SIGTRAP:02x}thread:1;"
                self.sessions += 1
                log.info("%s: GDB client %s:%d attached; target halted at PC 0x%08x (%s)",
                         self.machine.name, addr[0], addr[1], self.cpu.pc, self._where())
                self._session(_Connection(sock, lambda: self._shutdown))
        finally:
            with contextlib.suppress(OSError):
                self._listener.close()

    def _session(self, conn: _Connection) -> None:
        self._conn = conn
        try:
            while not self._shutdown:
                pkt = conn.read_packet()
                reply = self._dispatch(pkt)
                if reply is None:      # session over (D, k)
                    break
                if reply is not _SENT:
                    conn.send(reply)
        except _Disconnected:
            log.info("%s: GDB client disconnected", self.machine.name)
        except OSError as e:
            log.info("%s: GDB connection lost (%s)", self.machine.name, e)
        finally:
            with self._lock:
                self._remove_all_points()
            conn.close()
            self._conn = None

    def _run_detached_chunk(self) -> None:
        with self._lock:
            emu = self.emulation
            try:
                emu.run_until_time(emu.now_ps + self._chunk_ps)
            except FirmwareFault as e:
                log.error("%s: firmware fault while detached:\n%s", self.machine.name, e.report)
                self._running_detached = False
            except MetersimError as e:
                log.error("%s: emulation stopped while detached: %s", self.machine.name, e)
                self._running_detached = False

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, pkt: bytes) -> bytes | str | None:
        if not pkt:
            return ""
        c = chr(pkt[0])
        text = pkt.decode("latin-1")
        # Resuming takes the lock per chunk of run time (a console may share the emulation).
        resuming = c in "cs" or text.startswith("vCont;")
        try:
            with contextlib.nullcontext() if resuming else self._lock:
                if c == "X":
                    return self._write_binary(pkt[1:])
                handler = _HANDLERS.get(c)
                if handler is None:
                    return ""
                return handler(self, text)
        except _Unsupported:
            return ""
        except (ValueError, IndexError):
            log.warning("%s: malformed GDB packet %r", self.machine.name, pkt[:80])
            return "E01"
        except (_Disconnected, OSError):
            raise
        except Exception:  # noqa: BLE001 - a model bug must not kill the debug session
            log.exception("%s: GDB packet %r failed", self.machine.name, pkt[:80])
            return "E01"

    # -- queries
    def _q(self, text: str) -> str:
        name, _, args = text[1:].partition(":")
        if name == "Supported":
            return (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;QStartNoAckMode+;"
                    "vContSupported+;swbreak+;hwbreak+")
        if name == "Xfer" and args.startswith("features:read:"):
            annex, _, span = args[len("features:read:"):].partition(":")
            if annex != "target.xml":
                return "E00"
            off, _, length = span.partition(",")
            off, length = int(off, 16), int(length, 16)
            chunk = self._xml[off:off + length]
            more = off + length < len(self._xml)
            return (b"m" if more else b"l") + escape_binary(chunk)
        if name == "Attached":
            return "1"
        if name == "C":
            return "QC1"
        if name == "fThreadInfo":
            return "m1"
        if name == "sThreadInfo":
            return "l"
        if name == "Offsets":
            return "Text=0;Data=0;Bss=0"
        if name.startswith("Rcmd,"):
            return self._rcmd(bytes.fromhex(name[5:]).decode("utf-8", "replace"))
        if name == "Symbol":
            return "OK"
        raise _Unsupported()

    def _Q(self, text: str) -> str:
        if text == "QStartNoAckMode":
            self._conn.send("OK")
            self._conn.no_ack = True
            return _SENT
        raise _Unsupported()

    def _H(self, text: str) -> str:
        return "OK"

    def _T(self, text: str) -> str:
        return "OK" if text[1:] in ("1", "01", "-1", "0") else "E01"

    def _stop_query(self, text: str) -> str:
        return self._last_stop

    def _v(self, text: str) -> str | None:
        if text == "vMustReplyEmpty":
            return ""
        if text == "vCont?":
            return "vCont;c;C;s;S"
        if text.startswith("vCont;"):
            for action in text[6:].split(";"):
                act, _, tid = action.partition(":")
                if tid and tid not in ("1", "-1", "01", "p1.1", "p1.-1"):
                    continue
                if act[:1] in ("c", "C"):
                    return self._resume(step=False)
                if act[:1] in ("s", "S"):
                    return self._resume(step=True)
            return "E01"
        if text.startswith("vKill"):
            self._kill()
            return "OK"
        raise _Unsupported()

    # -- registers
    def _read_all(self) -> dict[str, int]:
        nat = self.cpu.nat
        vals = {}
        for r in self.regs:
            if r.name not in _SYSTEM:
                vals[r.name] = nat.rd(_UC_REG[r.name]) if r.bits == 32 else \
                    self.cpu.uc.reg_read(_UC_REG[r.name])
        with self._privileged():  # (SP and xPSR read outside: they change in handler mode)
            for name in _SYSTEM:
                vals[name] = nat.rd(_UC_REG[name])
        return vals

    def _g(self, text: str) -> str:
        vals = self._read_all()
        return "".join(vals[r.name].to_bytes(r.bits // 8, "little").hex() for r in self.regs)

    def _G(self, text: str) -> str:
        data = bytes.fromhex(text[1:])
        off = 0
        cur = self._read_all()
        for r in self.regs:
            n = r.bits // 8
            if off + n > len(data):
                break
            v = int.from_bytes(data[off:off + n], "little")
            if v != cur[r.name]:
                self._write_reg(r.name, v)
            off += n
        return "OK"

    def _p(self, text: str) -> str:
        num = int(text[1:], 16)
        if num >= len(self.regs):
            return "E45"
        r = self.regs[num]
        return self._read_all()[r.name].to_bytes(r.bits // 8, "little").hex()

    def _P(self, text: str) -> str:
        num, _, value = text[1:].partition("=")
        num = int(num, 16)
        if num >= len(self.regs):
            return "E45"
        r = self.regs[num]
        self._write_reg(r.name, int.from_bytes(bytes.fromhex(value)[:r.bits // 8], "little"))
        return "OK"

    @contextlib.contextmanager
    def _privileged(self):
        """Unprivileged thread mode reads MSP/PSP as 0 and ignores MSR writes (unicorn follows
        ARMv7-M); pass through handler mode for the access, as the engine's reset does."""
        nat = self.cpu.nat
        xpsr = nat.rd(A.UC_ARM_REG_XPSR)
        if xpsr & 0x1FF or not nat.rd(A.UC_ARM_REG_CONTROL) & 1:
            yield
            return
        nat.wr(A.UC_ARM_REG_XPSR, (xpsr & ~0x1FF) | 3)
        try:
            yield
        finally:
            nat.wr(A.UC_ARM_REG_XPSR, xpsr)
            nat.wr(A.UC_ARM_REG_APSR_NZCV, xpsr)  # rebuilds unicorn's hflags

    def _write_reg(self, name: str, value: int) -> None:
        cpu, nat = self.cpu, self.cpu.nat
        if name == "pc":
            if (value & ~1) != (nat.rd(A.UC_ARM_REG_PC) & ~1):
                cpu.halted = False  # execution redirected: the core no longer sleeps
            nat.wr(A.UC_ARM_REG_PC, value | 1)  # Thumb state lives in EPSR.T, keep it
        elif name == "xpsr":
            # Flags only: IPSR is the engine's exception state, EPSR.T must stay set.
            nat.wr(A.UC_ARM_REG_XPSR_NZCVQG, value)
            nat.wr(A.UC_ARM_REG_APSR_NZCV, value)
        elif name == "control":
            if not nat.rd(A.UC_ARM_REG_XPSR) & 0x1FF and nat.rd(A.UC_ARM_REG_CONTROL) & 1:
                with self._privileged():  # drop nPRIV first, then SPSEL can change too
                    nat.wr(A.UC_ARM_REG_CONTROL, nat.rd(A.UC_ARM_REG_CONTROL) & ~1)
            nat.wr(A.UC_ARM_REG_CONTROL, value & 0x7)
            nat.wr(A.UC_ARM_REG_APSR_NZCV, nat.rd(A.UC_ARM_REG_XPSR))
        elif name in _SYSTEM:
            with self._privileged():
                nat.wr(_UC_REG[name], value)
        elif name.startswith("d"):
            self.cpu.uc.reg_write(_UC_REG[name], value)
        else:
            nat.wr(_UC_REG[name], value)

    # -- memory
    def _read_mem(self, addr: int, length: int) -> bytes:
        bus = self.machine.sysbus
        if bus.region_at(addr) is not None and bus.region_at(addr + length - 1) is not None:
            return bus.read_memory(addr, length)
        # Peripheral space: natural-size reads through the models (reads may have side
        # effects, as on the hardware).
        out = bytearray()
        a = addr
        end = addr + length
        while a < end:
            if bus.region_at(a) is not None:
                n = 1
                out += bus.read_memory(a, 1)
            elif a % 4 == 0 and end - a >= 4:
                n = 4
                out += bus.read_word(a, 4).to_bytes(4, "little")
            elif a % 2 == 0 and end - a >= 2:
                n = 2
                out += bus.read_word(a, 2).to_bytes(2, "little")
            else:
                n = 1
                out += bus.read_word(a, 1).to_bytes(1, "little")
            a += n
        return bytes(out)

    def _write_mem(self, addr: int, data: bytes) -> None:
        if not data:
            return
        bus = self.machine.sysbus
        if bus.region_at(addr) is not None and bus.region_at(addr + len(data) - 1) is not None:
            bus.write_memory(addr, data)
        else:
            a, i = addr, 0
            while i < len(data):
                n = 4 if a % 4 == 0 and len(data) - i >= 4 else \
                    2 if a % 2 == 0 and len(data) - i >= 2 else 1
                if bus.region_at(a) is not None:
                    n = 1
                    bus.write_memory(a, data[i:i + 1])
                else:
                    bus.write_word(a, int.from_bytes(data[i:i + n], "little"), n)
                a += n
                i += n
        # Code may have changed (GDB `load`, patched RAM code): drop translated blocks.
        self.cpu.uc.ctl_remove_cache(addr, addr + len(data))

    def _m(self, text: str) -> str:
        addr, _, length = text[1:].partition(",")
        addr, length = int(addr, 16), int(length, 16)
        try:
            return self._read_mem(addr, length).hex()
        except (MetersimError, OSError, ValueError) as e:
            log.debug("GDB read 0x%08x+%d failed: %s", addr, length, e)
            return "E14"

    def _M(self, text: str) -> str:
        head, _, data = text[1:].partition(":")
        addr, _, length = head.partition(",")
        payload = bytes.fromhex(data)[:int(length, 16)]
        try:
            self._write_mem(int(addr, 16), payload)
        except (MetersimError, ValueError) as e:
            log.debug("GDB write at 0x%s failed: %s", addr, e)
            return "E14"
        return "OK"

    def _write_binary(self, body: bytes) -> str:
        head, _, data = body.partition(b":")
        addr, _, length = head.partition(b",")
        payload = unescape_binary(data)[:int(length, 16)]
        try:
            self._write_mem(int(addr, 16), payload)
        except (MetersimError, ValueError) as e:
            log.debug("GDB write at 0x%s failed: %s", addr.decode(), e)
            return "E14"
        return "OK"

    # -- breakpoints and watchpoints
    def _Z(self, text: str) -> str:
        insert = text[0] == "Z"
        kind, addr, length = text[1:].split(";")[0].split(",")
        kind, addr, length = int(kind), int(addr, 16), int(length, 16)
        if kind in (0, 1):
            self._set_breakpoint(addr & ~1, kind, insert)
        elif kind in _WATCH_KINDS:
            self._set_watchpoint(kind, addr, max(length, 1), insert)
        else:
            raise _Unsupported()
        return "OK"

    def _set_breakpoint(self, addr: int, kind: int, insert: bool) -> None:
        kinds = self._bp_kinds.setdefault(addr, set())
        (kinds.add if insert else kinds.discard)(kind)
        uc = self.cpu.uc
        if kinds and addr not in self._bp_hooks:
            self._bp_hooks[addr] = uc.hook_add(UC_HOOK_CODE, self._on_breakpoint, begin=addr,
                                               end=addr)
            uc.ctl_remove_cache(addr, addr + 4)  # hooks apply at translation time
        elif not kinds:
            del self._bp_kinds[addr]
            if addr in self._bp_hooks:
                uc.hook_del(self._bp_hooks.pop(addr))
                uc.ctl_remove_cache(addr, addr + 4)

    def _set_watchpoint(self, kind: int, addr: int, length: int, insert: bool) -> None:
        key = (kind, addr, length)
        uc = self.cpu.uc
        if insert and key not in self._watch:
            types = {2: UC_HOOK_MEM_WRITE, 3: UC_HOOK_MEM_READ,
                     4: UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}[kind]
            # Accesses are at most 4 bytes: start 3 bytes early to catch overlapping ones.
            self._watch[key] = uc.hook_add(types, self._on_watch, user_data=key,
                                           begin=max(addr - 3, 0), end=addr + length - 1)
        elif not insert and key in self._watch:
            uc.hook_del(self._watch.pop(key))

    def _remove_all_points(self) -> None:
        for addr in list(self._bp_kinds):
            for kind in list(self._bp_kinds.get(addr, ())):
                self._set_breakpoint(addr, kind, False)
        for key in list(self._watch):
            self._set_watchpoint(*key, False)

    def _on_breakpoint(self, uc, address, size, _ud) -> None:
        cpu = self.cpu
        nat = cpu.nat
        if self._skip is not None:
            pc, count = self._skip
            if address == pc and cpu.instructions + nat.executed - 1 == count:
                return  # resuming from this breakpoint: its instruction runs first
        kinds = self._bp_kinds.get(address, ())
        self._stop = ("swbreak" if 0 in kinds else "hwbreak", address)
        self._halt_before_current()

    def _halt_before_current(self) -> None:
        """From a code hook: stop before the hooked instruction executes, count exact.

        unicorn's count hook has already counted this instruction (it runs first), so the
        slice limit becomes the instructions really executed; emu_stop then ends the slice
        before the instruction (unicorn checks for exit requests after code hooks)."""
        nat = self.cpu.nat
        self.emulation.request_stop()
        nat._limit.value = max(nat.executed - 1, 0)
        self.cpu.uc.emu_stop()
        self._code_stop = True

    def _on_watch(self, uc, access, address, size, value, key) -> None:
        kind, start, length = key
        if address >= start + length or address + size <= start:
            return
        if self._stop is None:
            self._stop = (_WATCH_KINDS[kind], max(address, start))
            self.emulation.request_stop()  # ends the slice after this instruction

    def _on_any_instruction(self, uc, address, size, _ud) -> None:
        if self._stop is None:
            self._stop = ("trap", address)
        self._halt_before_current()

    # -- execution
    def _c(self, text: str) -> str:
        if len(text) > 1:
            self._write_reg("pc", int(text[1:].split(";")[0], 16))
        return self._resume(step=False)

    def _s(self, text: str) -> str:
        if len(text) > 1:
            self._write_reg("pc", int(text[1:].split(";")[0], 16))
        return self._resume(step=True)

    def _resume(self, step: bool) -> str:
        cpu = self.cpu
        with self._lock:
            if cpu.fault is not None:
                self._console("the core is stopped by a firmware fault; `monitor reset` "
                              "restarts it\n")
                return self._set_last(f"T{SIGSEGV:02x}thread:1;")
            self._stop = None
            self._code_stop = False
            pc = cpu.pc
            self._skip = (pc, cpu.instructions) if pc in self._bp_hooks else None
        try:
            if step:
                self._step_instruction()
            else:
                self._run(lambda: True)
        except FirmwareFault as e:
            log.error("%s: firmware fault; reported to GDB as SIGSEGV\n%s", self.machine.name,
                      e.report)
            self._console(f"{e}\n")
            self._stop = ("fault", None)
        except MetersimError as e:
            log.error("%s: emulation stopped: %s", self.machine.name, e)
            self._console(f"metersim: {e}\n")
            self._stop = ("error", None)
        except (_Disconnected, OSError):
            raise
        except Exception as e:  # noqa: BLE001 - report a model bug, keep the session
            log.exception("%s: emulation failed", self.machine.name)
            self._console(f"metersim: internal error: {e!r}\n")
            self._stop = ("error", None)
        finally:
            self._skip = None
            if self._code_stop:
                # Stopped before an instruction, so the core is awake. (The engine takes an
                # early slice end at the instruction after a `wfi` for the WFI itself.)
                cpu.halted = False
        return self._set_last(self._stop_reply())

    def _run(self, keep_going: Callable[[], bool]) -> None:
        """Run the emulation until a hook sets a stop reason, ^C arrives, or the client goes."""
        emu = self.emulation
        conn = self._conn
        until = lambda: self._stop is not None  # noqa: E731
        while self._stop is None and keep_going():
            t0 = time.perf_counter()
            with self._lock:
                stopped = emu.run_until_time(emu.now_ps + self._chunk_ps, until)
            wall = time.perf_counter() - t0
            if self._stop is not None:
                break
            if stopped:  # stop asked elsewhere (a `bkpt` in the firmware, a tester)
                self._stop = ("trap", None)
                break
            if wall < _CHUNK_WALL_S / 2:
                self._chunk_ps = min(self._chunk_ps * 2, _CHUNK_MAX_PS)
            elif wall > _CHUNK_WALL_S * 2:
                self._chunk_ps = max(self._chunk_ps // 2, _CHUNK_MIN_PS)
            if conn is not None:
                try:
                    if conn.poll_interrupt():
                        self._stop = ("int", None)
                except _Disconnected:
                    self._stop = ("int", None)
                    raise
            if self._shutdown:
                self._stop = ("int", None)

    def _step_instruction(self) -> None:
        cpu = self.cpu
        with self._lock:
            if not cpu.halted:
                self._step_awake()
                return
        # Asleep in WFI/WFE: stepping waits for the wake-up, then stops before the next
        # instruction (the first one of the interrupt handler).
        log.info("%s: core asleep at PC 0x%08x; stepping waits for its wake-up",
                 self.machine.name, cpu.pc)
        self._run_with_instruction_hook()

    def _step_awake(self) -> None:
        cpu = self.cpu
        emu = self.emulation
        if self.step_irqs and cpu.nvic.pending_set:
            taken = cpu.exceptions_taken
            now = emu.now_ps
            cpu.run_until(now, lambda: now)  # takes a pending interrupt, runs nothing
            if cpu.exceptions_taken != taken:
                self._stop = ("step", None)
                return
        nvic = cpu.nvic
        hidden = None
        if not self.step_irqs:
            hidden, nvic.pending_set = nvic.pending_set, set()
        try:
            # Time at which the core has executed one more cycle (ceil: exact for any clock).
            c = cpu.cycles + 1
            t1 = cpu.time_at_cycles(c)
            if cpu.cycles_at_time(t1) < c:
                t1 += 1
            emu.run_until_time(max(t1, emu.now_ps), lambda: self._stop is not None)
        finally:
            if hidden is not None:
                # Interrupts that became pending (or were cleared) meanwhile are in `pending`.
                nvic.pending_set = {e for e in hidden | nvic.pending_set if nvic.pending[e]}
        if self._stop is None:
            self._stop = ("step", None)

    def _run_with_instruction_hook(self) -> None:
        uc = self.cpu.uc
        with self._lock:
            hook = uc.hook_add(UC_HOOK_CODE, self._on_any_instruction, begin=1, end=0)
            uc.ctl_flush_tb()
        try:
            self._run(lambda: True)
        finally:
            with self._lock:
                uc.hook_del(hook)
                uc.ctl_flush_tb()  # translated blocks would keep calling the deleted hook

    def _stop_reply(self) -> str:
        reason, addr = self._stop or ("trap", None)
        if reason == "int":
            return f"T{SIGINT:02x}thread:1;"
        if reason == "fault":
            return f"T{SIGSEGV:02x}thread:1;"
        if reason == "error":
            return f"T{SIGABRT:02x}thread:1;"
        if reason in ("swbreak", "hwbreak"):
            return f"T{SIGTRAP:02x}{reason}:;thread:1;"
        if reason in ("watch", "rwatch", "awatch"):
            return f"T{SIGTRAP:02x}{reason}:{addr:x};thread:1;"
        return f"T{SIGTRAP:02x}thread:1;"

    def _set_last(self, reply: str) -> str:
        self._last_stop = reply
        return reply

    # -- session end
    def _D(self, text: str) -> None:
        self._conn.send("OK")
        self._remove_all_points()
        if self.resume_on_detach and self.cpu.fault is None:
            log.info("%s: GDB detached; the firmware runs on", self.machine.name)
            self._running_detached = True
        return None

    def _k(self, text: str) -> None:
        self._kill()
        return None

    def _kill(self) -> None:
        log.info("%s: GDB kill: machine reset, waiting for the next client", self.machine.name)
        self._remove_all_points()
        self.machine.reset()
        self._last_stop = f"T{SIGTRAP:02x}thread:1;"

    # -- monitor
    def _console(self, text: str) -> None:
        """Text for the GDB console (an `O` packet; valid while a command or run is pending)."""
        if self._conn is not None and text:
            for i in range(0, len(text), 256):
                self._conn.send("O" + text[i:i + 256].encode().hex())

    def _rcmd(self, cmd: str) -> str:
        out = self.monitor_command(cmd.strip())
        if out and not out.endswith("\n"):
            out += "\n"
        self._console(out)
        return "OK"

    def monitor_command(self, cmd: str) -> str:
        """Run a `monitor` command; built-ins first, then the monitor callback."""
        words = cmd.split()
        head = words[0].lower() if words else ""
        if head in ("", "help"):
            text = ("metersim GDB stub monitor commands:\n"
                    "  reset            reset the machine (core halted at the reset vector)\n"
                    "  time             virtual time, cycles and instructions\n"
                    "  stepirq on|off   let pending interrupts be taken while stepping "
                    f"(now {'on' if self.step_irqs else 'off'})\n"
                    "  help             this text\n")
            if self.monitor is not None:
                text += "Other commands go to the metersim monitor (Renode syntax).\n"
            return text
        if head == "reset" or (cmd.lower() == "machine reset" and self.monitor is None):
            self.machine.reset()
            self._last_stop = f"T{SIGTRAP:02x}thread:1;"
            return (f"{self.machine.name}: reset; PC 0x{self.cpu.pc:08x} ({self._where()}), "
                    f"SP 0x{self.cpu.nat.rd(A.UC_ARM_REG_SP):08x}\n"
                    "(GDB may show stale registers: `flushregs` or `stepi` refreshes them)")
        if head == "time":
            cpu = self.cpu
            now = self.emulation.now_ps
            return (f"virtual time {format_time(now)} ({now} ps); {self.machine.name}: "
                    f"core {cpu.freq_hz / 1e6:g} MHz, {cpu.cycles_now()} cycles, "
                    f"{cpu.instructions} instructions, {cpu.idle_cycles} idle cycles")
        if head == "stepirq":
            if len(words) == 2 and words[1].lower() in ("on", "off"):
                self.step_irqs = words[1].lower() == "on"
                return f"stepping {'takes' if self.step_irqs else 'holds back'} pending interrupts"
            return "usage: monitor stepirq on|off"
        if self.monitor is not None:
            fn = self.monitor if callable(self.monitor) else getattr(self.monitor, "execute")
            try:
                result = fn(cmd)
            except MetersimError as e:
                return f"error: {e}"
            if result is not None:
                return str(result)
        return f"unknown monitor command {cmd!r}; `monitor help` lists them"

    def _where(self) -> str:
        fw = self.machine.firmware
        return fw.symbols.symbolize(self.cpu.pc) if fw is not None else "no symbols"


class _Unsupported(Exception):
    pass


_SENT = object()  # the handler answered itself (QStartNoAckMode acks before switching acks off)
_HANDLERS = {
    "q": GdbServer._q, "Q": GdbServer._Q, "H": GdbServer._H, "T": GdbServer._T,
    "?": GdbServer._stop_query, "v": GdbServer._v, "g": GdbServer._g, "G": GdbServer._G,
    "p": GdbServer._p, "P": GdbServer._P, "m": GdbServer._m, "M": GdbServer._M,
    "Z": GdbServer._Z, "z": GdbServer._Z, "c": GdbServer._c, "s": GdbServer._s,
    "D": GdbServer._D, "k": GdbServer._k,
}


# ================================================================== command line
def add_gdb_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `metersim gdb ELF [--platform REPL] [--port N] [--host H]`."""
    p.add_argument("elf", help="firmware ELF")
    p.add_argument("--platform", help=".repl platform (default: a bare STM32 machine)")
    p.add_argument("--port", type=int, default=3333, help="TCP port (default 3333; 0 = any)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--seed", type=int, default=0)
    return p


def build_target(elf: str, platform: str | None = None, seed: int = 0, name: str | None = None):
    """An emulation with one machine running `elf` (halted at reset): (emulation, machine)."""
    from metersim.engine.boards import machine_for_firmware
    from metersim.engine.emulation import Emulation

    elf_path = Path(elf)
    if not elf_path.is_file():
        raise SetupError(f"firmware {elf} not found (build it with `metersim build`)")
    emu = Emulation(seed=seed)
    m = machine_for_firmware(emu, elf_path, platform, name)   # the board the ELF was built for
    return emu, m


def main_gdb(args) -> int:
    """`metersim gdb`: serve the firmware to GDB until interrupted (Ctrl-C)."""
    if isinstance(args, (list, tuple)):
        args = add_gdb_arguments(argparse.ArgumentParser(prog="metersim gdb")).parse_args(args)
    emu, m = build_target(args.elf, args.platform, getattr(args, "seed", 0))
    try:
        from metersim.orchestration.uart_capture import capture_uart
        capture_uart(m, echo=lambda name, line: print(f"[{name}] {line}", flush=True))
    except MetersimError:
        pass  # no console UART on this platform
    server = GdbServer(emu, m, port=args.port, host=args.host)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    print(f"{m.name}: GDB server on {args.host}:{server.port}; connect with\n"
          f"  gdb-multiarch {args.elf} -ex 'target remote {args.host}:{server.port}'", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(emu.summary())
    return 0
