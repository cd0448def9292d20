"""The new-generation meter with both of its units: the management unit (STM32F413, its factory
image) and the metrology unit (STM32F103 + ADE7753 + AT24C256 + RTC, firmware/targets/
metrology_unit), one emulation, UART5 of the one wired to USART2 of the other
(docs/meter_metrology_unit.md):

    meter = metersim.build_meter(emu, "meter_mu.bin", voltage_V=230.0, power_W=1500.0,
                                 energy_kWh=1234.56)
    meter.unit.power_W = 2000.0            # the load the ADE7753 sees
    meter.unit.plugged = False             # the cable between the units pulled
    meter.mu.power_off()                   # the management unit unplugged; the unit meters on

`MetrologyUnit` is the handle on the emulated metrology unit: the load in physical units
(`voltage_V`, `current_A`, `power_W`, `frequency_Hz`; the power factor follows from them and
stays when one of them is changed), the energy it keeps in its EEPROM (`store_energy` before it
starts, `stored_energy()` any time), the link (`plugged`, `requests`: the commands the
management unit sent), and `reference_Wh()`, the integral of the load it was given.

The link frame and the EEPROM records are the firmware's (firmware/services/metrology_link.h):
`frame`, `LinkDecoder` and `energy_record` here are their Python side.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from metersim._errors import SetupError
from metersim.peripherals.uart_cable import UartCable, tells_ahead

SYNC = 0xA5
COMMANDS = {0x01: "STATUS", 0x02: "INTERVALS", 0x03: "CLEAR", 0x04: "MEASURE", 0xFF: "ERROR"}
EE_COPY_A, EE_COPY_B = 0x0000, 0x0040


def crc16(data: bytes) -> int:
    """CRC-16/CCITT (poly 1021, init FFFF), the link's and the EEPROM records' check."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def frame(cmd: int, seq: int, payload: bytes = b"") -> bytes:
    """One link frame: A5 LEN CMD SEQ payload CRC (LEN = 2 + payload, CRC over LEN..payload)."""
    if len(payload) > 248:
        raise SetupError(f"a link frame carries at most 248 payload bytes, got {len(payload)}")
    body = bytes([len(payload) + 2, cmd & 0xFF, seq & 0xFF]) + bytes(payload)
    return bytes([SYNC]) + body + crc16(body).to_bytes(2, "little")


class LinkDecoder:
    """Frames out of a byte stream: `feed(byte)` returns (cmd, seq, payload) when one is whole
    and its CRC is good; bad ones are counted in `bad` and skipped to the next A5."""

    def __init__(self):
        self.buf = bytearray()
        self.bad = 0

    def feed(self, b: int):
        if not self.buf and b != SYNC:
            return None
        self.buf.append(b)
        if len(self.buf) == 2 and not 2 <= b <= 250:
            self.bad += 1
            self.buf.clear()
            return None
        if len(self.buf) < 2 or len(self.buf) < self.buf[1] + 4:
            return None
        raw, self.buf = bytes(self.buf), bytearray()
        n = raw[1] + 1
        if int.from_bytes(raw[1 + n:3 + n], "little") != crc16(raw[1:1 + n]):
            self.bad += 1
            return None
        return raw[2], raw[3], raw[4:1 + n]


def energy_record(forward_mWh: int, reverse_mWh: int = 0, intervals: int = 0, seq: int = 1) -> bytes:
    """The unit's energy record as its EEPROM holds it (30 bytes, both copies alike)."""
    body = b"MTEN" + struct.pack("<IQQI", seq, forward_mWh, reverse_mWh, intervals)
    return body + crc16(body).to_bytes(2, "little")


def parse_energy_record(raw: bytes):
    """(seq, forward_mWh, reverse_mWh, intervals), or None for a bad magic or CRC."""
    if raw[:4] != b"MTEN" or int.from_bytes(raw[28:30], "little") != crc16(raw[:28]):
        return None
    return struct.unpack("<IQQI", raw[4:28])


class MetrologyUnit:
    """The emulated metrology unit of a meter built by `build_meter`."""

    def __init__(self, machine, link, voltage_V: float = 230.0, current_A: float = 0.0,
                 power_W: float = 0.0, frequency_Hz: float = 50.0):
        self.machine = machine
        self.link = link                    # the UartCable between the units
        self.requests: list[str] = []       # commands the management unit sent, in order
        self._decoder = LinkDecoder()
        self._history: list[tuple[int, float]] = []   # (time_ps, power_W) of every load change
        self._v, self._f = 0.0, float(frequency_Hz)
        self._i, self._pf = 0.0, 1.0
        self.set_load(voltage_V, current_A, power_W, frequency_Hz)

    # -- devices ----------------------------------------------------------------------------
    @property
    def ade(self):
        return self.machine["ade"]

    @property
    def eeprom(self):
        return self.machine["eeprom"]

    def __getitem__(self, name: str):
        return self.machine[name]

    # -- the load ---------------------------------------------------------------------------
    def set_load(self, voltage_V: float, current_A: float, power_W: float,
                 frequency_Hz: float | None = None) -> None:
        """A steady sinusoidal load; the power factor is power_W / (voltage_V x current_A)."""
        from metersim._orchestration.load_profile import HarmonicProfile

        v, i, p = float(voltage_V), abs(float(current_A)), float(power_W)
        if v < 0 or (frequency_Hz is not None and not frequency_Hz > 0):
            raise SetupError(f"voltage_V must be >= 0 and frequency_Hz > 0, got {voltage_V}, {frequency_Hz}")
        s = v * i
        if abs(p) > s * (1 + 1e-9) + 1e-9:
            raise SetupError(f"power_W {p} is more than voltage_V x current_A = {s:.3f} VA")
        pf = max(-1.0, min(1.0, p / s)) if s > 0 else 1.0
        self._v, self._i, self._pf = v, i, pf
        if frequency_Hz is not None:
            self._f = float(frequency_Hz)
        self.ade.attach_load(HarmonicProfile.constant(v, i, pf, self._f), origin_ps=self._now_ps())
        self._history.append((self._now_ps(), v * i * pf))

    def _now_ps(self) -> int:
        return self.machine.emulation.now_ps

    @property
    def voltage_V(self) -> float:
        return self._v

    @voltage_V.setter
    def voltage_V(self, value: float) -> None:
        self.set_load(value, self._i, float(value) * self._i * self._pf)

    @property
    def current_A(self) -> float:
        return self._i

    @current_A.setter
    def current_A(self, value: float) -> None:
        self.set_load(self._v, value, self._v * abs(float(value)) * self._pf)

    @property
    def power_W(self) -> float:
        return self._v * self._i * self._pf

    @power_W.setter
    def power_W(self, value: float) -> None:
        """The current follows (the power factor stays)."""
        value = float(value)
        if self._v <= 0:
            raise SetupError("power_W needs a voltage first")
        pf = self._pf if self._pf else 1.0
        self.set_load(self._v, abs(value / (self._v * pf)), value)

    @property
    def frequency_Hz(self) -> float:
        return self._f

    @frequency_Hz.setter
    def frequency_Hz(self, value: float) -> None:
        self.set_load(self._v, self._i, self.power_W, value)

    def reference_Wh(self, since_ps: int = 0, until_ps: int | None = None) -> float:
        """The energy of the load it was given between two virtual times (the reference
        meter): forward positive, reverse negative."""
        until = self._now_ps() if until_ps is None else int(until_ps)
        total = 0.0
        for k, (t, p) in enumerate(self._history):
            end = self._history[k + 1][0] if k + 1 < len(self._history) else until
            lo, hi = max(t, since_ps), min(end, until)
            if hi > lo:
                total += p * (hi - lo) / 3.6e15
        return total

    # -- its EEPROM -------------------------------------------------------------------------
    def store_energy(self, forward_kWh: float = 0.0, reverse_kWh: float = 0.0) -> None:
        """Write the energy record (both copies) into its EEPROM, as a programming jig would
        before the unit starts; it reads them at start."""
        for name, v in (("forward_kWh", forward_kWh), ("reverse_kWh", reverse_kWh)):
            if not v >= 0:
                raise SetupError(f"{name} must be >= 0, got {v!r}")
        rec = energy_record(round(forward_kWh * 1e6), round(reverse_kWh * 1e6))
        mem = self.eeprom.mem                   # a numpy array of the chip's bytes
        for addr in (EE_COPY_A, EE_COPY_B):
            mem[addr:addr + len(rec)] = list(rec)

    def stored_energy(self) -> tuple[float, float, int]:
        """(forward kWh, reverse kWh, interval records) of the newest valid copy in its EEPROM."""
        best = None
        for addr in (EE_COPY_A, EE_COPY_B):
            rec = parse_energy_record(self.eeprom.read_image(addr, 30))
            if rec is not None and (best is None or (rec[0] - best[0]) % (1 << 32) < (1 << 31)):
                best = rec
        if best is None:
            raise SetupError(f"{self.machine.name}: no valid energy record in its EEPROM")
        return best[1] / 1e6, best[2] / 1e6, best[3]

    # -- the link ---------------------------------------------------------------------------
    @property
    def plugged(self) -> bool:
        return self.link.plugged

    @plugged.setter
    def plugged(self, value: bool) -> None:
        self.link.plugged = bool(value)

    def _from_mu(self, value: int) -> None:
        got = self._decoder.feed(value)
        if got is not None:
            self.requests.append(COMMANDS.get(got[0], f"0x{got[0]:02X}"))


@dataclass
class Meter:
    """Both units of a meter on one emulation."""

    emu: object
    mu: object                      # the management unit's machine (STM32F413)
    unit: MetrologyUnit             # the metrology unit


def build_meter(emu, image: str | os.PathLike, unit_firmware: str | os.PathLike | None = None,
                voltage_V: float = 230.0, current_A: float = 0.0, power_W: float = 0.0,
                frequency_Hz: float = 50.0, energy_kWh: float = 0.0,
                reverse_kWh: float = 0.0) -> Meter:
    """Both units from the management unit's factory image and the metrology unit's firmware
    (default: the built metrology_unit.elf), the load given, and the metrology unit's EEPROM
    holding `energy_kWh` forward and `reverse_kWh` reverse (a fresh EEPROM when both are 0)."""
    from metersim._engine.platform_builder import create_machine, load_binary, load_firmware
    from metersim._resources import find_platform, firmware_path

    image = Path(image)
    if not image.is_file():
        raise SetupError(f"{image}: factory image not found (metersim image pack platforms/images/meter_mu.yaml)")
    elf = Path(unit_firmware) if unit_firmware is not None else Path(firmware_path("f103rb", "metrology_unit"))
    if not elf.is_file():
        raise SetupError(f"{elf}: metrology unit firmware not found (build it with `make firmware`)")
    mu = create_machine(emu, find_platform("meter_management_unit"), name="mu")
    mt = create_machine(emu, find_platform("meter_metrology_unit"), name="metrology")
    mu["metrology"].connected = False   # the connector's test endpoint: the cable goes to the unit
    cable = UartCable(mu["uart5"], mt["usart2"])
    unit = MetrologyUnit(mt, cable, voltage_V, current_A, power_W, frequency_Hz)
    mu["uart5"].tx.connect(tells_ahead(lambda f: cable.plugged and unit._from_mu(f.value)))
    if energy_kWh or reverse_kWh:
        unit.store_energy(energy_kWh, reverse_kWh)
    load_binary(mu, image)
    load_firmware(mt, elf)
    return Meter(emu, mu, unit)
