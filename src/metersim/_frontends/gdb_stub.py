"""GDB remote serial protocol (RSP) stub: debug the firmware of one machine with GDB.

    server = GdbServer(emulation, machine, port=3333)
    server.start()                 # serves in a thread; or server.serve_forever()
    $ gdb-multiarch build/fw/f413rg/hello.elf -ex "target remote :3333"

`metersim gdb ELF [--platform REPL] [--port N]` is `main_gdb` (arguments: `add_gdb_arguments`);
`machine StartGdbServer 3333` does the same from a scene or the console.

Protocol: GDB manual, appendix E "GDB Remote Serial Protocol" (packets, stop replies, binary
escapes, no-ack mode, qXfer, vCont, Z/z) and "Target Descriptions" (gdb_target_xml.py). The
packet set is Renode's (renode-compatibility.md section 8) plus `G` and `QStartNoAckMode`.

The stub only translates packets: everything it does to the target goes through the engine's
debug API (metersim._engine.debug: breakpoints, watchpoints, steps, registers, memory), and
`monitor <line>` goes to the monitor, the console's command interpreter.

How the target behaves:
- One thread serves one client at a time. The target is halted while GDB talks to it, so
  virtual time stands still (the console's runner waits too); `continue` runs the emulation in
  chunks of virtual time (sized to ~30 ms of wall time) and polls the socket for ^C (0x03)
  between chunks, which stops at an instruction boundary with SIGINT.
- Breakpoints (Z0 and Z1 alike) and watchpoints (Z2 write, Z3 read, Z4 access) are the debug
  API's: nothing is patched, time is exact at the stop. As with the DWT, a watchpoint stops
  after the accessing instruction; GDB then steps once more and compares the value.
- `stepi` executes one instruction in one cycle with pending interrupts held back (Renode
  #175); `monitor stepirq on` lets them be taken. Stepping a core asleep in WFI waits, in
  virtual time, for the interrupt that wakes it and stops before the first instruction run
  after; when nothing can wake it the step returns at once and GDB's console says so.
- A firmware fault stops the target with SIGSEGV; the fault report is shown once on the GDB
  console and logged once by the server. The core stays stopped until `monitor machine Reset`.
- Detach (`D`) leaves the emulation as the monitor had it: paused stays paused, started runs
  on (driven by the console, or by this server when it has no console); kill (`k`) resets
  the machine and waits for the next client.

Not modelled: multiple cores per server, non-stop mode, reverse execution, `vFlash*` (GDB's
`load` writes flash through `M`/`X`), tracepoints.
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

from metersim._engine.debug import Debugger, StopReason
from metersim._errors import MetersimError, SetupError
from metersim._frontends.gdb_target_xml import registers, target_xml
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US, format_time

log = logging.getLogger("metersim.gdb")

SIGINT, SIGABRT, SIGTRAP, SIGSEGV = 2, 6, 5, 11
PACKET_SIZE = 0x4000
_WATCH_KINDS = (2, 3, 4)
_WATCH_ACCESS = {2: "write", 3: "read", 4: "access"}
_WATCH_REPLY = {"write": "watch", "read": "rwatch", "access": "awatch"}
_CHUNK_MIN_PS = 10 * PS_PER_US
_CHUNK_MAX_PS = PS_PER_S
_CHUNK_WALL_S = 0.03
_POLL_S = 0.1


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

    `monitor`: the command interpreter `monitor <line>` goes to (a Monitor, e.g. the
    console's); without one the server makes its own on the emulation, started (so a detach
    lets the firmware run on, and the server drives it meanwhile). With the console's, the
    console's runner drives the emulation and a detach leaves it as the console had it.
    """

    def __init__(self, emulation, machine, port: int = 3333, host: str = "127.0.0.1",
                 monitor=None):
        from metersim._frontends.monitor import Monitor

        self.emulation = emulation
        self.machine = machine
        self.debug = Debugger.of(machine)
        self.host = host
        self._drives = monitor is None
        if monitor is None:
            monitor = Monitor(emulation, out=lambda text: log.info("%s", text))
            monitor.started = True      # Renode's autostartEmulation: detach runs on
        self.monitor = monitor
        self._lock = monitor.lock
        self.regs = registers(self.debug.has_fpu)
        self._xml = target_xml(self.debug.has_fpu).encode()
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
        self.sessions = 0
        self._detached = False                       # the last client detached (D)
        self._bp_kinds: dict[int, set[int]] = {}     # address -> {0 (Z0), 1 (Z1)}
        self._watch: set[tuple[int, int, str]] = set()
        self._last_stop = f"T{SIGTRAP:02x}thread:1;"
        self._fault_shown = None                     # the fault whose report GDB has seen
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

    def _runs_detached(self) -> bool:
        return self._drives and self.monitor.started and self.debug.fault is None

    def serve_forever(self) -> None:
        log.info("%s: GDB server listening on %s:%d", self.machine.name, self.host, self.port)
        try:
            while not self._shutdown:
                running = self._conn is None and self._detached and self._runs_detached()
                r, _, _ = select.select([self._listener], [], [], 0 if running else _POLL_S)
                if not r:
                    if running:
                        self._run_detached_chunk()
                    continue
                sock, addr = self._listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sessions += 1
                self._detached = False
                self._last_stop = f"T{SIGTRAP:02x}thread:1;"
                log.info("%s: GDB client %s:%d attached; target halted at PC 0x%08x (%s)",
                         self.machine.name, addr[0], addr[1], self.debug.pc, self._where())
                self._session(_Connection(sock, lambda: self._shutdown))
        finally:
            with contextlib.suppress(OSError):
                self._listener.close()

    def _session(self, conn: _Connection) -> None:
        self._conn = conn
        self.monitor.hold(self)       # the console's runner waits while GDB has the target
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
            self.monitor.release(self)

    def _run_detached_chunk(self) -> None:
        with self._lock:
            stop = self.debug.run(self.emulation.now_ps + self._chunk_ps)
        if stop.kind == "fault":
            log.error("%s: firmware fault while detached:\n%s", self.machine.name,
                      stop.fault.report)

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
    def _g(self, text: str) -> str:
        vals = self.debug.read_registers()
        return "".join(vals[r.name].to_bytes(r.bits // 8, "little").hex() for r in self.regs)

    def _G(self, text: str) -> str:
        data = bytes.fromhex(text[1:])
        off = 0
        cur = self.debug.read_registers()
        for r in self.regs:
            n = r.bits // 8
            if off + n > len(data):
                break
            v = int.from_bytes(data[off:off + n], "little")
            if v != cur[r.name]:
                self.debug.write_register(r.name, v)
            off += n
        return "OK"

    def _p(self, text: str) -> str:
        num = int(text[1:], 16)
        if num >= len(self.regs):
            return "E45"
        r = self.regs[num]
        return self.debug.read_register(r.name).to_bytes(r.bits // 8, "little").hex()

    def _P(self, text: str) -> str:
        num, _, value = text[1:].partition("=")
        num = int(num, 16)
        if num >= len(self.regs):
            return "E45"
        r = self.regs[num]
        self.debug.write_register(r.name,
                                  int.from_bytes(bytes.fromhex(value)[:r.bits // 8], "little"))
        return "OK"

    # -- memory
    def _m(self, text: str) -> str:
        addr, _, length = text[1:].partition(",")
        addr, length = int(addr, 16), int(length, 16)
        try:
            return self.debug.read_memory(addr, length).hex()
        except (MetersimError, OSError, ValueError) as e:
            log.debug("GDB read 0x%08x+%d failed: %s", addr, length, e)
            return "E14"

    def _write(self, addr: bytes | str, payload: bytes) -> str:
        try:
            self.debug.write_memory(int(addr, 16), payload)
        except (MetersimError, ValueError) as e:
            log.debug("GDB write at 0x%s failed: %s", addr, e)
            return "E14"
        return "OK"

    def _M(self, text: str) -> str:
        head, _, data = text[1:].partition(":")
        addr, _, length = head.partition(",")
        return self._write(addr, bytes.fromhex(data)[:int(length, 16)])

    def _write_binary(self, body: bytes) -> str:
        head, _, data = body.partition(b":")
        addr, _, length = head.partition(b",")
        return self._write(addr, unescape_binary(data)[:int(length, 16)])

    # -- breakpoints and watchpoints
    def _Z(self, text: str) -> str:
        insert = text[0] == "Z"
        kind, addr, length = text[1:].split(";")[0].split(",")
        kind, addr, length = int(kind), int(addr, 16), int(length, 16)
        if kind in (0, 1):
            self._set_breakpoint(addr & ~1, kind, insert)
        elif kind in _WATCH_KINDS:
            key = (addr, max(length, 1), _WATCH_ACCESS[kind])
            if insert:
                self.debug.add_watchpoint(*key)
                self._watch.add(key)
            elif key in self._watch:
                self.debug.remove_watchpoint(*key)
                self._watch.discard(key)
        else:
            raise _Unsupported()
        return "OK"

    def _set_breakpoint(self, addr: int, kind: int, insert: bool) -> None:
        kinds = self._bp_kinds.setdefault(addr, set())
        (kinds.add if insert else kinds.discard)(kind)
        if kinds:
            self.debug.add_breakpoint(addr)
        else:
            del self._bp_kinds[addr]
            self.debug.remove_breakpoint(addr)

    def _remove_all_points(self) -> None:
        for addr in list(self._bp_kinds):
            self.debug.remove_breakpoint(addr)
        self._bp_kinds.clear()
        for key in self._watch:
            self.debug.remove_watchpoint(*key)
        self._watch.clear()

    # -- execution
    def _c(self, text: str) -> str:
        if len(text) > 1:
            with self._lock:
                self.debug.write_register("pc", int(text[1:].split(";")[0], 16))
        return self._resume(step=False)

    def _s(self, text: str) -> str:
        if len(text) > 1:
            with self._lock:
                self.debug.write_register("pc", int(text[1:].split(";")[0], 16))
        return self._resume(step=True)

    def _resume(self, step: bool) -> str:
        try:
            if step:
                with self._lock:
                    stop = self.debug.step()
            else:
                stop = self._run()
        except MetersimError as e:
            log.error("%s: emulation stopped: %s", self.machine.name, e)
            self._console(f"metersim: {e}\n")
            return self._set_last(f"T{SIGABRT:02x}thread:1;")
        except (_Disconnected, OSError):
            raise
        except Exception as e:  # noqa: BLE001 - report a model bug, keep the session
            log.exception("%s: emulation failed", self.machine.name)
            self._console(f"metersim: internal error: {e!r}\n")
            return self._set_last(f"T{SIGABRT:02x}thread:1;")
        return self._set_last(self._stop_reply(stop))

    def _run(self) -> StopReason | None:
        """Run in chunks of virtual time until the debugger stops, ^C arrives or the client
        goes; None for ^C."""
        conn = self._conn
        while True:
            t0 = time.perf_counter()
            with self._lock:
                stop = self.debug.run(self.emulation.now_ps + self._chunk_ps)
            if stop.kind != "time":
                return stop
            wall = time.perf_counter() - t0
            if wall < _CHUNK_WALL_S / 2:
                self._chunk_ps = min(self._chunk_ps * 2, _CHUNK_MAX_PS)
            elif wall > _CHUNK_WALL_S * 2:
                self._chunk_ps = max(self._chunk_ps // 2, _CHUNK_MIN_PS)
            if self._shutdown or (conn is not None and conn.poll_interrupt()):
                return None

    def _stop_reply(self, stop: StopReason | None) -> str:
        if stop is None:
            return f"T{SIGINT:02x}thread:1;"
        if stop.kind == "fault":
            if self._fault_shown is not stop.fault:   # once per fault, however often GDB asks
                self._fault_shown = stop.fault
                log.error("%s: firmware fault; reported to GDB as SIGSEGV\n%s",
                          self.machine.name, stop.fault.report)
                self._console(f"{stop.fault}\n")
            else:
                self._console("the core is stopped by a firmware fault; `monitor machine Reset` "
                              "restarts it\n")
            return f"T{SIGSEGV:02x}thread:1;"
        if stop.kind == "breakpoint":
            kind = "swbreak" if 0 in self._bp_kinds.get(stop.pc, ()) else "hwbreak"
            return f"T{SIGTRAP:02x}{kind}:;thread:1;"
        if stop.kind == "watchpoint":
            return f"T{SIGTRAP:02x}{_WATCH_REPLY[stop.access]}:{stop.address:x};thread:1;"
        if stop.kind == "asleep":
            self._console(f"{self.machine.name}: the core sleeps in WFI/WFE at 0x{stop.pc:08x} "
                          "and nothing wakes it (no interrupt pending, no event due within "
                          f"{format_time(self.debug.max_sleep_ps)})\n")
        return f"T{SIGTRAP:02x}thread:1;"

    def _set_last(self, reply: str) -> str:
        self._last_stop = reply
        return reply

    # -- session end
    def _D(self, text: str) -> None:
        self._conn.send("OK")
        self._remove_all_points()
        self._detached = True
        state = "runs on" if self.monitor.started else "stays paused"
        log.info("%s: GDB detached; the emulation %s", self.machine.name, state)
        return None

    def _k(self, text: str) -> None:
        self._kill()
        return None

    def _kill(self) -> None:
        log.info("%s: GDB kill: machine reset, waiting for the next client", self.machine.name)
        self._remove_all_points()
        self.debug.reset()
        self._last_stop = f"T{SIGTRAP:02x}thread:1;"

    # -- monitor
    def _console(self, text: str) -> None:
        """Text for the GDB console (an `O` packet; valid while a command or run is pending)."""
        if self._conn is not None and text:
            for i in range(0, len(text), 256):
                self._conn.send("O" + text[i:i + 256].encode().hex())

    def _rcmd(self, cmd: str) -> str:
        pc = self.debug.pc
        out = self.monitor_command(cmd)
        if out and not out.endswith("\n"):
            out += "\n"
        if self.debug.pc != pc:   # e.g. `machine Reset`: GDB still shows the old registers
            out += "(the core moved: `flushregs` refreshes GDB's registers)\n"
        self._console(out)
        return "OK"

    def monitor_command(self, cmd: str) -> str:
        """`monitor <cmd>`: the line goes to the monitor; its output (or error) comes back."""
        mon = self.monitor
        if mon.current_machine_name != self.machine.name and \
                self.machine.name in mon.machine_names():
            mon.select(self.machine.name)    # commands apply to the debugged machine
        try:
            return mon.execute(cmd.strip(), where="gdb monitor")
        except MetersimError as e:
            return f"error: {e}"

    def _where(self) -> str:
        fw = self.machine.firmware
        return fw.symbols.symbolize(self.debug.pc) if fw is not None else "no symbols"


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
    """An emulation with one machine running `elf` (halted at reset): (emulation, machine),
    on the board the ELF was built for (or `platform`, checked against it)."""
    from metersim._engine.boards import machine_for_firmware
    from metersim._engine.emulation import Emulation

    if not Path(elf).is_file():
        raise SetupError(f"firmware {elf} not found (build it with `metersim build`)")
    emu = Emulation(seed=seed)
    return emu, machine_for_firmware(emu, Path(elf), platform, name)


def main_gdb(args) -> int:
    """`metersim gdb`: serve the firmware to GDB until interrupted (Ctrl-C)."""
    if isinstance(args, (list, tuple)):
        args = add_gdb_arguments(argparse.ArgumentParser(prog="metersim gdb")).parse_args(args)
    emu, m = build_target(args.elf, args.platform, getattr(args, "seed", 0))
    try:
        from metersim._orchestration.testers import capture_uart
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
