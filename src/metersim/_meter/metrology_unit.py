"""The metrology unit at the other end of the management unit's UART5 link, answering the
line protocol of docs/meter_virtual_bus.md until the metrology unit's own firmware exists:

    "RD\\n"  -> "OK V=<0.1 V> I=<mA> P=<0.1 W> F=<0.01 Hz> PF=<0.001>
                E=<total>,<rate 1>,<rate 2>,<rate 3>,<rate 4> R=<reverse>\\n"  (0.01 kWh)
    "CLR\\n" -> "OK\\n" and the energy registers are zeroed

Values are set in physical units (`voltage_V`, `current_A`, `power_W`, `frequency_Hz`,
`power_factor`, `energy_kWh` by rate); `plugged = False` takes the unit away (no answers).
"""

from __future__ import annotations

from metersim._errors import SetupError


class MetrologyUnit:
    def __init__(self, endpoint, voltage_V: float = 220.0, current_A: float = 0.0,
                 power_W: float = 0.0, frequency_Hz: float = 50.0, power_factor: float = 1.0,
                 energy_kWh: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0), reverse_kWh: float = 0.0):
        self.endpoint = endpoint
        self.voltage_V, self.current_A, self.power_W = voltage_V, current_A, power_W
        self.frequency_Hz, self.power_factor = frequency_Hz, power_factor
        self.energy_kWh = tuple(energy_kWh)
        self.reverse_kWh = reverse_kWh
        self.plugged = True
        self.requests: list[str] = []
        self._line = bytearray()
        endpoint.on_receive(self._byte)

    @property
    def energy_kWh(self) -> tuple[float, ...]:
        return self._energy

    @energy_kWh.setter
    def energy_kWh(self, rates) -> None:
        rates = tuple(float(r) for r in rates)
        if len(rates) != 4 or any(r < 0 for r in rates):
            raise SetupError(f"energy_kWh is four rates (sharp, peak, flat, valley) >= 0, got {rates}")
        self._energy = rates

    def _byte(self, value: int) -> None:
        if value != 0x0A:
            self._line.append(value)
            return
        line = self._line.decode("ascii", "replace").strip()
        self._line.clear()
        self.requests.append(line)
        if not self.plugged:
            return
        if line == "RD":
            self.endpoint.send(self.reading().encode())
        elif line == "CLR":
            self.energy_kWh, self.reverse_kWh = (0.0, 0.0, 0.0, 0.0), 0.0
            self.endpoint.send(b"OK\n")

    def reading(self) -> str:
        cwh = [round(e * 100) for e in self.energy_kWh]
        return (f"OK V={round(self.voltage_V * 10)} I={round(self.current_A * 1000)} "
                f"P={round(self.power_W * 10)} F={round(self.frequency_Hz * 100)} "
                f"PF={round(self.power_factor * 1000)} E={sum(cwh)},{','.join(map(str, cwh))} "
                f"R={round(self.reverse_kWh * 100)}\n")
