"""`emulation CreateServerSocketTerminal <port> "name" [emitConfig]`, then `connector Connect
sysbus.usart2 name`: a TCP server on 127.0.0.1 bridged to a UART (Renode's
`ServerSocketTerminal`). Every byte the UART sends goes to the connected client; bytes the
client sends are written into the UART's receiver, under the monitor's lock (between run
chunks, as the console's `uart attach` does). One client at a time; a new one replaces it.

`emitConfig` (true by default, as in Renode: telnet negotiation so a `telnet` client goes to
character mode) sends IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD to each client; say `false` for
raw clients such as `nc`. Port 0 picks a free port (`port`).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from metersim._frontends.monitor_syntax import MonitorError

log = logging.getLogger("metersim.monitor")

_TELNET_CHAR_MODE = bytes([255, 251, 1, 255, 251, 3])


class ServerSocketTerminal:
    def __init__(self, name: str, port: int, lock, emit_config: bool = False):
        self.name = name
        self.lock = lock
        self.emit_config = emit_config
        self.uart: Any = None
        self.sent_to_client = 0        # bytes from the UART to the client
        self.received = 0              # bytes from the client into the UART
        self._client: socket.socket | None = None
        self._closing = False
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._server.bind(("127.0.0.1", port))
        except OSError as exc:
            self._server.close()
            raise MonitorError(f"CreateServerSocketTerminal: cannot listen on 127.0.0.1:{port}: "
                               f"{exc.strerror or exc}") from None
        self._server.listen(1)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"terminal-{name}",
                                        daemon=True)
        self._thread.start()

    # -- UART side --------------------------------------------------------------------------------
    def attach(self, label: str, uart: Any) -> None:
        if not hasattr(uart, "on_byte") or not hasattr(uart, "write_bytes"):
            raise MonitorError(f"connector Connect: {label} ({type(uart).__name__}) is not a UART")
        if self.uart is not None:
            raise MonitorError(f"terminal {self.name!r} is already connected to a UART")
        self.uart = uart
        uart.on_byte.append(self._from_uart)

    def detach(self, uart: Any) -> bool:
        if uart is not self.uart:
            return False
        uart.on_byte.remove(self._from_uart)
        self.uart = None
        return True

    def _from_uart(self, value: int) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.sendall(bytes([value & 0xFF]))
            self.sent_to_client += 1
        except OSError:
            self._drop(client)

    # -- socket side ------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            old, self._client = self._client, client
            if old is not None:
                self._drop(old)
            if self.emit_config:
                client.sendall(_TELNET_CHAR_MODE)
            threading.Thread(target=self._read_loop, args=(client,), daemon=True,
                             name=f"terminal-{self.name}-rx").start()

    def _read_loop(self, client: socket.socket) -> None:
        while not self._closing:
            try:
                data = client.recv(4096)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                if self.uart is not None:
                    self.uart.write_bytes(data)
                    self.received += len(data)
        self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        if self._client is client:
            self._client = None
        try:
            client.close()
        except OSError:
            pass

    def close(self) -> None:
        self._closing = True
        if self._client is not None:
            self._drop(self._client)
        self._server.close()
