"""How many MMIO reads the engine answers in C (hot registers, metersim._engine.hot_regs), per
virtual second and register, in the meter's and the cabinet's benchmark scenarios.

    .venv/bin/python benchmarks/hot_regs.py [--meter-hours 0.1] [--cabinet-hours 0.001]
    METERSIM_HOT_REGS=verify .venv/bin/python benchmarks/hot_regs.py   # C vs Python, each read

Counts are deterministic (they do not depend on machine load). The Python MMIO calls of a run
are the accesses `cabinet_day.py --mmio` counts (the same with and without hot registers: the
counting wrapper takes every access back to Python) less the reads answered here. In verify
mode nothing is answered in C; each value C would have given is compared with the model's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))


def _recording_emulations() -> list:
    """Every Emulation made from now on (the scenarios keep theirs to themselves)."""
    import metersim
    from metersim._engine import emulation

    made: list = []
    init = emulation.Emulation.__init__

    def record(self, *a, **kw):
        init(self, *a, **kw)
        made.append(self)

    emulation.Emulation.__init__ = record
    metersim.Emulation.__init__ = record
    return made


def hot_report(machines, virt_s: float) -> dict:
    out = {}
    for m in machines:
        regs, checked, bad = {}, 0, []
        for hot in m.sysbus.hot_ranges.values():
            for (addr, kind), (hits, declined) in hot.stats().items():
                if hits or declined:
                    regs[f"0x{addr:08x} {kind}"] = {"c_per_s": round(hits / virt_s),
                                                    "python_per_s": round(declined / virt_s)}
            checked += hot.checked
            bad += hot.mismatches
        out[m.name] = {"c_reads_per_virtual_s": round(sum(v["c_per_s"] for v in regs.values())),
                       "registers": regs}
        if checked or bad:
            out[m.name]["verified_reads"] = checked
            out[m.name]["mismatches"] = [f"0x{a:08x} {k}: C 0x{c:x}, Python 0x{p:x}"
                                         for a, k, c, p in bad[:10]]
    return out


def meter(hours: float) -> dict:
    import meter_day

    import tempfile

    from metersim._image.pack import pack

    made = _recording_emulations()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
        res = meter_day.run(image, hours)
    emu = made[0]
    virt_s = emu.clock.now_ps / 1e12          # (start-up included)
    return {"trace_sha1": res["trace_sha1"], **hot_report(emu.machines, virt_s)}


def cabinet(hours: float) -> dict:
    import cabinet_day as cd
    from metersim import Emulation

    emu = Emulation(seed=1, wall_guard_s=7 * 86400.0)
    bus = cd.new_bus(emu)
    qm = cd.build_query_manager(emu, bus)
    qm.machine.power_off()
    ctrls = cd.build_controllers(emu, bus, cd.CABINET,
                                 cd.firmware_path("f103rb", "metering_controller"),
                                 cd.ModbusMaster(emu, bus))
    for c in ctrls.values():
        cd.attach_rooms(c, cd.standard_rooms(c.channels, hours=24 + hours))
    server = cd.AckServer()
    server.start()
    qm.eth.map_port(5020, server.port)
    qm.load_firmware(cd.DEFAULT_ELF)
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s",
                  "first round")
    machines = [qm.machine] + [c.machine for c in ctrls.values()]
    for m in machines:                           # count the timed part only
        for hot in m.sysbus.hot_ranges.values():
            for e in hot._entries:
                e.hits = e.declined = 0
    t0 = emu.clock.now_ps
    emu.run_for(f"{round(hours * 3600 * 1000)}ms")
    virt_s = (emu.clock.now_ps - t0) / 1e12
    server.stop = True
    qm.eth.close()
    return {"instructions": {m.name: m.cpu.instructions for m in machines},
            **hot_report(machines, virt_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meter-hours", type=float, default=0.1)
    ap.add_argument("--cabinet-hours", type=float, default=0.001)
    args = ap.parse_args()
    out = {}
    if args.meter_hours:
        out["meter"] = meter(args.meter_hours)
    if args.cabinet_hours:
        out["cabinet"] = cabinet(args.cabinet_hours)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
