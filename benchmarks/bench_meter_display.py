"""The basic app's display: what its one-second refresh costs the management unit, as JSON.

    .venv/bin/python benchmarks/bench_meter_display.py [--seconds 60]

The meter of tests/meter (factory image packed from platforms/images/meter_mu.yaml, the
metrology unit on its UART, 230 V 10 A 2300 W) runs `--seconds` of virtual time with the display
set over DL/T645 to one of three lists, side by side in one process:
  date      one screen, the date (04000101: the platform service reads the RTC)
  voltage   one screen, the voltage (02010100: the metering service asks the metrology unit)
  default   the factory rotating list (energy, money, date, time, V, I, P; 5 s each)
Each refresh also fetches status word 3 from the control module. Reported per list: the
management unit's instructions per virtual second and the host CPU seconds per virtual
minute. Numbers are never asserted in tests (/work/shared/DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

LISTS = {"date": [0x04000101], "voltage": [0x02010100], "default": None}


def run(image: Path, screens, seconds: float) -> dict:
    import metersim

    emu = metersim.Emulation(seed=1)
    meter = metersim.build_meter(emu, image, voltage_V=230.0, current_A=10.0, power_W=2300.0)
    reader = meter.mu["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    con = metersim.capture_uart(meter.mu)
    con.expect("display: ", timeout="5s")          # the display starts before the sync
    con.expect("metering: metrology unit synchronised", timeout="3s")
    if screens is not None:
        master = metersim.dlt645.Master(emu, reader)
        for n, di in enumerate(screens, 1):
            master.write(0x04040100 + n, di.to_bytes(4, "little") + b"\0")
        master.write(0x04000301, bytes([len(screens)]))
    emu.run_for("11s")                       # past the tracking of the writes
    i0, c0, w0 = meter.mu.stats()["instructions"], time.process_time(), time.perf_counter()
    emu.run_for(f"{seconds}s")
    instr = meter.mu.stats()["instructions"] - i0
    return {"lcd": meter.mu["lcd"].text(), "virtual_s": seconds,
            "mu_instructions_per_s": round(instr / seconds),
            "cpu_s_per_virtual_min": round((time.process_time() - c0) / seconds * 60, 2),
            "wall_s": round(time.perf_counter() - w0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    from metersim._image.pack import pack

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
        out = {name: run(image, screens, args.seconds) for name, screens in LISTS.items()}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
