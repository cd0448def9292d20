"""Quectel BG96 LTE Cat M1/NB1 modem on a UART (Renode's `Network.Quectel_BG96`).

Registered on a USART as Renode's scripts do (`bg96: Network.Quectel_BG96 @ usart2`), with
its control inputs wired from GPIO pins (`gpioPortA: { 6 -> bg96@0 }`):

    input 0  PWRKEY     a falling edge powers the module on (when off and not held in reset)
    input 1  RESET_N    low holds the module in reset (off); high lets it boot again
    input 2  PSM_EINT   a falling edge wakes it (it is on already here: no PSM sleep)
    output 0 VDD_EXT    high while the module is powered
    output 1 NETLIGHT   high while it is registered on a network

It boots `boot_time_ms` after power-on and says `RDY` (BG96 hardware design: the UART is
usable about 4.9 s after PWRKEY). Until then characters from the MCU are lost. Then it answers
the AT commands a cellular driver uses (Quectel BG96 AT Commands Manual and TCP/IP AT Commands
Manual): AT, ATE0/1, ATI, ATH, AT+CMEE, AT+CGMI/CGMM/CGMR/CGSN/GSN/CIMI/QCCID, AT+CFUN,
AT+CPIN?, AT+CREG/CEREG/CGREG, AT+CSQ, AT+COPS?, AT+QICSGP, AT+QIACT/QIDEACT, AT+QIOPEN
("TCP"/"UDP", buffer access and direct push modes), AT+QISEND with its `> ` prompt (fixed
length, or ^Z-terminated; ESC cancels), AT+QIRD, +QIURC "recv", AT+QICLOSE, AT+QISTATE?.
Errors follow AT+CMEE (0: ERROR, 1: +CME ERROR: <code>, 2: +CME ERROR: <text>; 1 at boot);
an unknown command gives ERROR.

Sockets reach the emulation's network (`emulation CreateEmulatedNetworkService ...`,
metersim._engine.network), looked up when a socket opens; `network` can also be set directly.
Received data arrives `latency_ms` after it was sent (one way).

Renode's properties and methods, usable from a script (`usart2.bg96 NetworkRegistrationState
RegisteredHomeNetwork`): NetworkRegistrationState, Rssi, BitErrorRate, IccidNumber,
NetworkIp, OverrideResponseForCommand "AT+QIACT=1" "ERROR", ClearOverrides.
Not modelled: SMS, GNSS, PSM/eDRX timers, SSL, transparent access mode, DNS (AT+QIDNSGIP),
baud changes (AT+IPR), flow control.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from metersim._units import PS_PER_MS
from metersim.peripherals.base import GPIO, Context, History
from metersim.peripherals.registry import model
from metersim.peripherals.uart_endpoint import UartEndpoint

# 3GPP TS 27.007 <stat> of +CREG/+CEREG, by Renode's names
REGISTRATION_STATES = {
    "NotRegisteredNotSearching": 0,
    "RegisteredHomeNetwork": 1,
    "NotRegisteredSearching": 2,
    "RegistrationDenied": 3,
    "Unknown": 4,
    "RegisteredRoaming": 5,
}
_STATE_NAMES = {v: k for k, v in REGISTRATION_STATES.items()}

# +CME ERROR codes of the BG96 manuals (27.007 and the TCP/IP manual's 5xx)
CME_ERRORS = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    30: "no network service",
    50: "incorrect parameters",
    550: "unknown error",
    552: "invalid parameters",
    561: "open PDP context failed",
    562: "close PDP context failed",
    563: "socket identity has been used",
    565: "DNS parse failed",
    566: "socket connect failed",
    567: "socket has been closed",
}

CTRL_Z, ESC = 0x1A, 0x1B
MAX_SOCKETS = 12          # connectID 0..11
MAX_SEND = 1460           # AT+QISEND <send_length>
MAX_READ = 1500           # AT+QIRD <read_length>


@dataclass
class Socket:
    conn_id: int
    context_id: int
    protocol: str
    address: str
    port: int
    local_port: int
    access_mode: int
    connection: Any = None
    rx: bytearray = field(default_factory=bytearray)
    received_total: int = 0
    read_total: int = 0
    sent_total: int = 0
    urc_pending: bool = False     # a +QIURC "recv" was sent and not all data read since


class AtError(Exception):
    """A command fails with a +CME ERROR code (None: plain ERROR)."""

    def __init__(self, code: int | None = None):
        super().__init__(code)
        self.code = code


def _split_args(text: str) -> list[str]:
    """`1,"TCP","192.0.2.1",4242` -> ['1', 'TCP', '192.0.2.1', '4242'] (quotes removed)."""
    args, cur, quoted, was_quoted = [], [], False, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            was_quoted = True
        elif ch == "," and not quoted:
            args.append("".join(cur) if was_quoted else "".join(cur).strip())
            cur, was_quoted = [], False
        else:
            cur.append(ch)
    if quoted:
        raise AtError(None)
    args.append("".join(cur) if was_quoted else "".join(cur).strip())
    return args


def _int(text: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AtError(50) from None
    if not lo <= value <= hi:
        raise AtError(50)
    return value


@model("Network.Quectel_BG96", "metersim.Quectel_BG96")
class QuectelBG96(UartEndpoint):
    def __init__(self, ctx: Context, imei_number: str = "866818039921444",
                 software_version_number: str = "31", serial_number: str = "<serial number>",
                 baud: int = 115200, boot_time_ms: int = 4900, latency_ms: int = 50):
        super().__init__(ctx, baud=baud)
        self.imei_number = str(imei_number)
        self.software_version_number = str(software_version_number)
        self.serial_number = str(serial_number)
        self.boot_time_ms = int(boot_time_ms)
        self.latency_ms = int(latency_ms)
        # SIM and network, as Renode's properties
        self.iccid_number = "89860000000000000000"
        self.imsi_number = "001010123456789"
        self.operator_name = "metersim"
        self.network_ip = "10.0.0.2"
        self.rssi = -71                 # dBm, reported by AT+CSQ as (rssi + 113) / 2
        self.bit_error_rate = 99        # 99: not known
        self._registration = 0
        self.network = None             # an EmulatedNetwork; None: the emulation's, if any
        self.VDD_EXT = GPIO("VDD_EXT")
        self.NETLIGHT = GPIO("NETLIGHT")
        self.connections = {0: self.VDD_EXT, 1: self.NETLIGHT}
        self.commands: History = History()   # command lines received, for tests and logs
        self._overrides: dict[str, tuple[str, str, bool]] = {}
        self.on_receive(self._on_char)
        self.powered = False
        self.ready = False
        self.in_reset = False
        self._power_off()

    # ====================================================================== Renode's properties
    @property
    def network_registration_state(self) -> str:
        return _STATE_NAMES[self._registration]

    @network_registration_state.setter
    def network_registration_state(self, value) -> None:
        if isinstance(value, str):
            value = value.rsplit(".", 1)[-1]      # NetworkRegistrationStates.X, as C# spells it
        if isinstance(value, str) and value in REGISTRATION_STATES:
            stat = REGISTRATION_STATES[value]
        elif isinstance(value, int) and value in _STATE_NAMES:
            stat = value
        else:
            raise ValueError(f"expected one of {', '.join(REGISTRATION_STATES)}, got {value!r}")
        changed = stat != self._registration
        self._registration = stat
        self._update_netlight()
        if changed and self.ready:
            self._registration_urcs()

    def override_response_for_command(self, command: str, status: str, parameters: str = "",
                                      one_shot: bool = False) -> None:
        """Answer `command` (the whole line, e.g. "AT+QIACT=1") with `parameters` and
        `status` ("OK", "ERROR", "+CME ERROR: 561" ...) instead of running it."""
        self._overrides[str(command).strip().upper()] = (str(status), str(parameters),
                                                           bool(one_shot))

    def clear_overrides(self) -> None:
        self._overrides.clear()

    @property
    def registered(self) -> bool:
        return self.cfun == 1 and self._registration in (1, 5)

    @property
    def signal_strength(self) -> int:
        """AT+CSQ <rssi>: 0 (-113 dBm or less) .. 31 (-51 dBm or more)."""
        return max(0, min(31, (int(self.rssi) + 113) // 2))

    # ====================================================================== power and reset
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:                                   # PWRKEY
            if not level and not self.powered and not self.in_reset:
                self._power_on()
        elif pin == 1:                                 # RESET_N
            self.in_reset = not level
            if self.in_reset:
                self._power_off()
            else:
                self._power_on()
        elif pin == 2:                                 # PSM_EINT
            if not level and not self.powered and not self.in_reset:
                self._power_on()
        else:
            self.ctx.log(logging.WARNING, "no input %d (0 PWRKEY, 1 RESET_N, 2 PSM_EINT)", pin)

    def power_on(self) -> None:
        """As a PWRKEY pulse would (host convenience)."""
        if not self.powered:
            self._power_on()

    def _power_on(self) -> None:
        self._power_off()
        self.powered = True
        self.VDD_EXT.set(True)
        self._boot_event = self.ctx.clock.schedule(self.boot_time_ms * PS_PER_MS, self._booted)

    def _booted(self) -> None:
        self.ready = True
        self._update_netlight()
        self.ctx.log(logging.INFO, "booted")
        self._urc("RDY")

    def _power_off(self) -> None:
        ev = getattr(self, "_boot_event", None)
        if ev is not None:
            ev.cancel()
        self._boot_event = None
        for sock in list(getattr(self, "sockets", {}).values()):
            if sock.connection is not None:
                sock.connection.close()
        self.powered = self.ready = False
        self.echo = True
        self.cmee = 1
        self.cfun = 1
        self.creg_n = self.cereg_n = self.cgreg_n = 0
        self.contexts: dict[int, dict[str, Any]] = {
            1: {"type": 1, "apn": "", "user": "", "password": "", "auth": 0, "active": False}}
        self.sockets: dict[int, Socket] = {}
        self._line = bytearray()
        self._data_mode: tuple[int, int | None] | None = None   # (connID, length or None)
        self._data = bytearray()
        self.VDD_EXT.set(False)
        self._update_netlight()

    def _update_netlight(self) -> None:
        self.NETLIGHT.set(self.ready and self.registered)

    # ====================================================================== output
    def _emit(self, text: str | bytes, delay_ms: float = 0) -> None:
        data = text.encode("latin-1") if isinstance(text, str) else text
        if delay_ms:
            self.ctx.clock.schedule(int(delay_ms * PS_PER_MS), self._emit_now, data)
        else:
            self._emit_now(data)

    def _emit_now(self, data: bytes) -> None:
        if self.ready:
            self.send(data)

    def _urc(self, text: str, delay_ms: float = 0) -> None:
        self._emit(f"\r\n{text}\r\n", delay_ms)

    def _final(self, lines: list[str | bytes], status: str) -> bytes:
        out = b""
        for line in lines:
            body = line.encode("latin-1") if isinstance(line, str) else line
            out += b"\r\n" + body + b"\r\n"
        return out + f"\r\n{status}\r\n".encode()

    def _error_text(self, code: int | None) -> str:
        if code is None or self.cmee == 0:
            return "ERROR"
        if self.cmee == 2:
            return f"+CME ERROR: {CME_ERRORS.get(code, 'unknown error')}"
        return f"+CME ERROR: {code}"

    # ====================================================================== input
    def _on_char(self, byte: int) -> None:
        if not self.ready:
            self.ctx.log_once("lost", logging.INFO, "not booted yet: characters from the MCU lost")
            return
        if self._data_mode is not None:
            self._data_char(byte)
            return
        if self.echo:
            self.send(bytes([byte]))
        if byte == 0x0D:
            line = self._line.decode("latin-1").strip()
            self._line.clear()
            if line:
                self._command_line(line)
        elif byte == 0x0A:
            pass
        elif byte in (0x08, 0x7F):
            del self._line[-1:]
        else:
            self._line.append(byte)

    def _command_line(self, line: str) -> None:
        if line[:2].upper() != "AT":
            self.ctx.log(logging.DEBUG, "not a command, ignored: %r", line)
            return
        self.commands.append(line)
        self.ctx.log(logging.DEBUG, "<- %s", line)
        override = self._overrides.get(line.upper())
        if override is not None:
            status, params, one_shot = override
            if one_shot:
                del self._overrides[line.upper()]
            self._emit(self._final([params] if params else [], status), self.response_ms(line))
            return
        lines: list[str | bytes] = []
        try:
            # extended commands concatenated with ';' (AT+CMEE=1;+CREG?)
            parts = [p.strip() for p in re.split(r";(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", line[2:])]
            for part in parts:
                if part or len(parts) == 1:
                    result = self._execute(part)
                    if result is None:        # the command answers by itself (QISEND)
                        return
                    lines += result
            self._emit(self._final(lines, "OK"), self.response_ms(line))
        except AtError as exc:
            self._emit(self._final(lines, self._error_text(exc.code)), self.response_ms(line))

    @staticmethod
    def response_ms(line: str) -> float:
        """When the final result code comes: a few ms for local commands; network operations
        take a round trip to the operator (the manual's maximum response times are longer)."""
        cmd = line.upper()
        if cmd.startswith(("AT+QIACT=", "AT+QIDEACT=")):
            return 250
        if cmd.startswith("AT+CFUN="):
            return 50
        return 2

    # ====================================================================== commands
    def _execute(self, cmd: str) -> list[str | bytes] | None:
        upper = cmd.upper()
        if upper == "":
            return []
        m = re.fullmatch(r"E([01]?)", upper)
        if m:
            self.echo = m.group(1) == "1"
            return []
        if upper in ("H", "H0", "&W", "Z", "Z0", "&F", "&F0", "V1"):
            return []
        if upper == "I":
            return ["Quectel", "BG96", "Revision: BG96MAR02A07M1G"]
        m = re.fullmatch(r"(\+[A-Z&]+)(\?|=\?|=(.*))?", cmd, re.IGNORECASE)
        if not m:
            raise AtError(None)
        name, kind, arg = m.group(1).upper(), m.group(2) or "", m.group(3)
        handler = getattr(self, "_at_" + name[1:].lower(), None)
        if handler is None:
            raise AtError(None)
        if kind == "=?":
            return []
        args = _split_args(arg) if arg is not None else None
        return handler("?" if kind == "?" else "=" if arg is not None else "", args)

    # -- identification
    def _at_cgmi(self, kind, args):
        return ["Quectel"]

    def _at_cgmm(self, kind, args):
        return ["BG96"]

    def _at_cgmr(self, kind, args):
        return ["BG96MAR02A07M1G"]

    def _at_cgsn(self, kind, args):
        if kind != "=":
            return [self.imei_number]
        # 3GPP TS 27.007 <snt>: 0 serial number, 1 IMEI, 2 IMEISV, 3 software version number
        if len(args) != 1:
            raise AtError(50)
        snt = _int(args[0], 0, 3)
        value = (self.serial_number, self.imei_number,
                 self.imei_number[:14] + self.software_version_number,
                 self.software_version_number)[snt]
        return [f"+CGSN: {value}"]

    def _at_gsn(self, kind, args):
        return [self.imei_number]

    def _at_cimi(self, kind, args):
        return [self.imsi_number]

    def _at_qccid(self, kind, args):
        return [f"+QCCID: {self.iccid_number}"]

    def _at_cmee(self, kind, args):
        if kind == "?":
            return [f"+CMEE: {self.cmee}"]
        if kind != "=" or len(args) != 1:
            raise AtError(50)
        self.cmee = _int(args[0], 0, 2)
        return []

    # -- functionality, SIM, registration, signal
    def _at_cfun(self, kind, args):
        if kind == "?":
            return [f"+CFUN: {self.cfun}"]
        if kind != "=" or not 1 <= len(args) <= 2:
            raise AtError(50)
        fun = _int(args[0], 0, 4)
        if fun not in (0, 1, 4):
            raise AtError(50)
        if fun != 1:
            self._deactivate_all()
        self.cfun = fun
        self._update_netlight()
        return []

    def _at_cpin(self, kind, args):
        if kind == "?":
            return ["+CPIN: READY"]
        raise AtError(3)           # no PIN to enter: the simulated SIM has none

    def _registration_line(self, name: str, n: int, urc: bool) -> str:
        stat = self._registration if self.cfun == 1 else 0
        return f"{name}: {stat}" if urc else f"{name}: {n},{stat}"

    def _registration_urcs(self) -> None:
        for name, n in (("+CREG", self.creg_n), ("+CGREG", self.cgreg_n),
                        ("+CEREG", self.cereg_n)):
            if n:
                self._urc(self._registration_line(name, n, urc=True))

    def _reg_command(self, name: str, kind, args):
        attr = name[1:].lower() + "_n"
        if kind == "?":
            return [self._registration_line(name, getattr(self, attr), urc=False)]
        if kind != "=" or len(args) != 1:
            raise AtError(50)
        setattr(self, attr, _int(args[0], 0, 2))
        return []

    def _at_creg(self, kind, args):
        return self._reg_command("+CREG", kind, args)

    def _at_cgreg(self, kind, args):
        return self._reg_command("+CGREG", kind, args)

    def _at_cereg(self, kind, args):
        return self._reg_command("+CEREG", kind, args)

    def _at_csq(self, kind, args):
        if self.cfun != 1:
            return ["+CSQ: 99,99"]
        return [f"+CSQ: {self.signal_strength},{self.bit_error_rate}"]

    def _at_cops(self, kind, args):
        if kind == "?":
            if not self.registered:
                return ["+COPS: 0"]
            return [f'+COPS: 0,0,"{self.operator_name}",8']      # 8: eMTC
        if kind == "=":
            return []
        raise AtError(50)

    # -- PDP contexts
    def _context(self, text: str) -> dict[str, Any]:
        cid = _int(text, 1, 16)
        return self.contexts.setdefault(cid, {"type": 1, "apn": "", "user": "", "password": "",
                                              "auth": 0, "active": False})

    def _at_qicsgp(self, kind, args):
        if kind != "=" or not args:
            raise AtError(50)
        cid = _int(args[0], 1, 16)
        ctx = self._context(args[0])
        if len(args) == 1:
            return [f'+QICSGP: {ctx["type"]},"{ctx["apn"]}","{ctx["user"]}",'
                    f'"{ctx["password"]}",{ctx["auth"]}']
        if len(args) not in (3, 5, 6):
            raise AtError(50)
        ctx["type"] = _int(args[1], 1, 3)
        ctx["apn"] = args[2]
        if len(args) >= 5:
            ctx["user"], ctx["password"] = args[3], args[4]
        if len(args) == 6:
            ctx["auth"] = _int(args[5], 0, 3)
        self.ctx.log(logging.DEBUG, "context %d: APN %r", cid, ctx["apn"])
        return []

    def _at_qiact(self, kind, args):
        if kind == "?":
            return [f'+QIACT: {cid},1,{c["type"]},"{self.network_ip}"'
                    for cid, c in sorted(self.contexts.items()) if c["active"]]
        if kind != "=" or len(args) != 1:
            raise AtError(50)
        ctx = self._context(args[0])
        if not self.registered:
            raise AtError(561)
        ctx["active"] = True
        return []

    def _at_qideact(self, kind, args):
        if kind != "=" or len(args) != 1:
            raise AtError(50)
        cid = _int(args[0], 1, 16)
        self._context(args[0])["active"] = False
        for sock in [s for s in self.sockets.values() if s.context_id == cid]:
            self._close_socket(sock)
        return []

    def _deactivate_all(self) -> None:
        for c in self.contexts.values():
            c["active"] = False
        for sock in list(self.sockets.values()):
            self._close_socket(sock)

    # -- sockets
    def _network(self):
        if self.network is not None:
            return self.network
        emulation = getattr(self.ctx.machine, "emulation", None)
        return getattr(emulation, "network", None)

    def _at_qiopen(self, kind, args):
        if kind != "=" or not 5 <= len(args) <= 7:
            raise AtError(50)
        cid = _int(args[0], 1, 16)
        conn_id = _int(args[1], 0, MAX_SOCKETS - 1)
        protocol = args[2].upper()
        if protocol not in ("TCP", "UDP"):
            raise AtError(552)
        port = _int(args[4], 0, 65535)
        local_port = _int(args[5], 0, 65535) if len(args) > 5 else 0
        mode = _int(args[6], 0, 2) if len(args) > 6 else 0
        if mode == 2:
            raise AtError(4)           # transparent access mode is not modelled
        if conn_id in self.sockets:
            raise AtError(563)
        sock = Socket(conn_id, cid, protocol, args[3], port, local_port, mode)
        self.sockets[conn_id] = sock
        self.ctx.clock.schedule(2 * self.latency_ms * PS_PER_MS, self._opened, sock)
        return []

    def _opened(self, sock: Socket) -> None:
        """The handshake's round trip is over: +QIOPEN: <connectID>,<err>."""
        if self.sockets.get(sock.conn_id) is not sock:
            return
        err = 0
        net = self._network()
        if not self.contexts.get(sock.context_id, {}).get("active"):
            err = 561
        else:
            try:
                ipaddress.ip_address(sock.address)
            except ValueError:
                err = 565
        if not err:
            if net is None:
                err = 566
                self.ctx.log(logging.WARNING, "%s %s:%d: no emulated network (emulation "
                             "CreateEmulatedNetworkService)", sock.protocol, sock.address, sock.port)
            else:
                try:
                    sock.connection = net.connect(
                        sock.protocol, sock.address, sock.port,
                        on_data=lambda data, s=sock: self._arrives(s, data))
                except Exception as exc:   # noqa: BLE001 - the network says why; the modem says 566
                    self.ctx.log(logging.WARNING, "%s", exc)
                    err = 566
        if err:
            del self.sockets[sock.conn_id]
        self._urc(f"+QIOPEN: {sock.conn_id},{err}")

    def _socket(self, text: str) -> Socket:
        sock = self.sockets.get(_int(text, 0, MAX_SOCKETS - 1))
        if sock is None or sock.connection is None:
            raise AtError(None)
        return sock

    def _at_qisend(self, kind, args):
        if kind != "=" or not 1 <= len(args) <= 2:
            raise AtError(50)
        sock = self._socket(args[0])
        if len(args) == 2:
            length = _int(args[1], 0, MAX_SEND)
            if length == 0:
                return [f"+QISEND: {sock.sent_total},{sock.sent_total},0"]
        else:
            length = None
        self._data_mode = (sock.conn_id, length)
        self._data = bytearray()
        self._emit(b"\r\n> ", 1)
        return None

    def _data_char(self, byte: int) -> None:
        conn_id, length = self._data_mode
        if length is None and byte == CTRL_Z:
            self._sent(conn_id)
        elif length is None and byte == ESC:
            self._data_mode = None
            self._emit(b"\r\nOK\r\n", 1)
        else:
            self._data.append(byte)
            if length is not None and len(self._data) == length:
                self._sent(conn_id)
            elif length is None and len(self._data) > MAX_SEND:
                self._data_mode = None
                self._emit(b"\r\nERROR\r\n", 1)

    def _sent(self, conn_id: int) -> None:
        self._data_mode = None
        data, self._data = bytes(self._data), bytearray()
        sock = self.sockets.get(conn_id)
        if sock is None or sock.connection is None or not sock.connection.open:
            self._emit(b"\r\nSEND FAIL\r\n", 2)
            return
        sock.sent_total += len(data)
        self.ctx.log(logging.DEBUG, "socket %d: %d bytes sent", conn_id, len(data))
        self._emit(b"\r\nSEND OK\r\n", 2)
        self.ctx.clock.schedule(self.latency_ms * PS_PER_MS, self._transmit, sock, data)

    def _transmit(self, sock: Socket, data: bytes) -> None:
        if self.sockets.get(sock.conn_id) is sock and sock.connection.open:
            sock.connection.send(data)

    def _arrives(self, sock: Socket, data: bytes) -> None:
        """The service answered: the bytes reach the modem one network latency later."""
        self.ctx.clock.schedule(self.latency_ms * PS_PER_MS, self._received, sock, bytes(data))

    def _received(self, sock: Socket, data: bytes) -> None:
        if self.sockets.get(sock.conn_id) is not sock:
            return
        sock.received_total += len(data)
        if sock.access_mode == 1:          # direct push: the data comes with the URC
            sock.read_total += len(data)
            self._emit(f'\r\n+QIURC: "recv",{sock.conn_id},{len(data)}\r\n'.encode() + data +
                       b"\r\n")
            return
        sock.rx += data
        if not sock.urc_pending:
            sock.urc_pending = True
            self._urc(f'+QIURC: "recv",{sock.conn_id}')

    def _at_qird(self, kind, args):
        if kind != "=" or not 1 <= len(args) <= 2:
            raise AtError(50)
        sock = self.sockets.get(_int(args[0], 0, MAX_SOCKETS - 1))
        if sock is None:
            raise AtError(None)
        want = _int(args[1], 0, MAX_READ) if len(args) == 2 else MAX_READ
        if want == 0:
            return [f"+QIRD: {sock.received_total},{sock.read_total},{len(sock.rx)}"]
        data = bytes(sock.rx[:want])
        del sock.rx[:want]
        sock.read_total += len(data)
        if not sock.rx:
            sock.urc_pending = False      # the next arrival is reported again
        if not data:
            return ["+QIRD: 0"]
        return [f"+QIRD: {len(data)}\r\n".encode() + data]

    def _at_qiclose(self, kind, args):
        if kind != "=" or not 1 <= len(args) <= 2:
            raise AtError(50)
        sock = self.sockets.get(_int(args[0], 0, MAX_SOCKETS - 1))
        if sock is not None:
            self._close_socket(sock)
        return []

    def _close_socket(self, sock: Socket) -> None:
        if sock.connection is not None:
            sock.connection.close()
        self.sockets.pop(sock.conn_id, None)

    def _at_qistate(self, kind, args):
        if kind != "?":
            raise AtError(50)
        return [f'+QISTATE: {s.conn_id},"{s.protocol}","{s.address}",{s.port},{s.local_port},'
                f'{2 if s.connection is not None else 1},{s.context_id},0,{s.access_mode},"uart1"'
                for s in sorted(self.sockets.values(), key=lambda s: s.conn_id)]
