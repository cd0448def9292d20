"""Bridge an emulated RS-485 bus to programs outside metersim: a TCP port and/or a pty.

An external client (pymodbus `ModbusSerialClient("socket://127.0.0.1:PORT", framer=RTU)` or
`ModbusTcpClient(host, port=PORT, framer=FramerType.RTU)`, a serial program on `bridge.pty_path`,
a USB-RS485 style test tool) then takes part in the bus like a converter plugged onto the pair:

- bytes from the client go onto the bus at the virtual time `poll()` sees them, paced at the
  bridge's baud and queued behind the bridge's earlier characters (a converter sends at once,
  without looking at the line: talking over a node collides, as on hardware);
- every character on the bus driven by someone else is decoded with the bridge's settings and
  written to every client (garbled characters are passed on as received, like a real UART).

The engine calls `poll()` (non-blocking, no threads) from its run loop; all sockets are
non-blocking, so what a poll sees depends on the wall clock: a run with an external client is as
deterministic as the client's timing, nothing more. Virtual time must run at least roughly as
fast as real time or the client's own timeouts expire (the engine's pacing decides that).

Not modelled: serial line settings requested by a pty client (the bridge keeps its own baud and
format), RFC 2217 telnet options, modem lines.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import tty

from metersim._errors import SetupError
from metersim.peripherals.rs485 import Rs485Bus


class Rs485Bridge:
    def __init__(self, bus: Rs485Bus, name: str = "bridge", baud: float = 9600, data_bits: int = 8,
                 parity: str = "N", stop_half_bits: int = 2, tcp_port: int | None = None,
                 pty: bool = False, host: str = "127.0.0.1"):
        if tcp_port is None and not pty:
            raise SetupError("an RS-485 bridge needs tcp_port= (0 picks a free port) and/or pty=True")
        self.bus = bus
        self.endpoint = bus.attach_host(name, baud, data_bits, parity, stop_half_bits, echo=False)
        self.endpoint.on_receive(self._from_bus)
        self.bytes_in = 0      # client -> bus
        self.bytes_out = 0     # bus -> client
        self._clients: list[tuple[socket.socket, bytearray]] = []
        self._listener: socket.socket | None = None
        self.port: int | None = None
        self.pty_path: str | None = None
        self._pty_master: int | None = None
        self._pty_slave: int | None = None
        self._pty_out = bytearray()
        if tcp_port is not None:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, tcp_port))
            except OSError as e:
                s.close()
                raise SetupError(f"RS-485 bridge cannot listen on {host}:{tcp_port}: {e}") from e
            s.listen(4)
            s.setblocking(False)
            self._listener = s
            self.port = s.getsockname()[1]
        if pty:
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._pty_master, self._pty_slave = master, slave
            self.pty_path = os.ttyname(slave)

    @property
    def url(self) -> str | None:
        """pyserial/pymodbus URL of the TCP side, e.g. 'socket://127.0.0.1:5021'."""
        return f"socket://127.0.0.1:{self.port}" if self.port is not None else None

    def _log(self, level: int, msg: str, *args) -> None:
        self.bus.ctx.log(level, "bridge %s: " + msg, self.endpoint.name, *args)

    # -- bus -> client ---------------------------------------------------------------------------
    def _from_bus(self, value: int, frame) -> None:
        for _, out in self._clients:
            out.append(value)
        if self._pty_master is not None:
            self._pty_out.append(value)
        self.bytes_out += 1

    # -- the engine's hook -----------------------------------------------------------------------
    def poll(self) -> int:
        """Move whatever is ready in both directions without blocking; returns bytes moved."""
        moved = 0
        self._accept()
        for conn, out in list(self._clients):
            data = self._recv(conn)
            if data is None:
                self._drop(conn)
                continue
            if data:
                self.endpoint.send(data)
                self.bytes_in += len(data)
                moved += len(data)
            if out:
                try:
                    n = conn.send(out)
                    del out[:n]
                    moved += n
                except BlockingIOError:
                    pass
                except OSError:
                    self._drop(conn)
        if self._pty_master is not None:
            moved += self._poll_pty()
        return moved

    def _accept(self) -> None:
        if self._listener is None:
            return
        while True:
            try:
                conn, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._clients.append((conn, bytearray()))
            self._log(logging.INFO, "client %s:%d connected", *addr[:2])

    @staticmethod
    def _recv(conn: socket.socket) -> bytes | None:
        """Available bytes (b'' if none yet), None when the client has gone."""
        chunks = []
        while True:
            try:
                data = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return None
            if not data:
                return None if not chunks else b"".join(chunks)
            chunks.append(data)
        return b"".join(chunks)

    def _drop(self, conn: socket.socket) -> None:
        self._clients = [(c, o) for c, o in self._clients if c is not conn]
        conn.close()
        self._log(logging.INFO, "client disconnected")

    def _poll_pty(self) -> int:
        moved = 0
        fd = self._pty_master
        while True:
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                break
            except OSError as e:   # EIO: no process has the slave open; nothing to read
                if e.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            self.endpoint.send(data)
            self.bytes_in += len(data)
            moved += len(data)
        if self._pty_out:
            try:
                n = os.write(fd, self._pty_out)
                del self._pty_out[:n]
                moved += n
            except BlockingIOError:
                pass
        return moved

    def close(self) -> None:
        for conn, _ in self._clients:
            conn.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for fd in (self._pty_master, self._pty_slave):
            if fd is not None:
                os.close(fd)
        self._pty_master = self._pty_slave = None
        self.bus.detach(self.endpoint)

    def __enter__(self) -> "Rs485Bridge":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
