"""Python MMIO calls per virtual second with and without hot registers (reads the engine
answers in C, metersim._engine.hot_regs), and the reads answered in C per register, in the
meter's and the cabinet's benchmark scenarios; or the host CPU per read (--micro).

    .venv/bin/python benchmarks/hot_regs.py [--meter-hours 0.1] [--cabinet-hours 0.001]
    METERSIM_HOT_REGS=verify .venv/bin/python benchmarks/hot_regs.py   # C vs Python, each read
    .venv/bin/python benchmarks/hot_regs.py --micro   # host CPU per read, C vs Python
    .venv/bin/python benchmarks/hot_regs.py --timed 3  # CPU, without/with alternated 3 times
    .venv/bin/python benchmarks/hot_regs.py --timed 3 --only usart_sr,usart_isr
        # the same, "without" holding back only those kinds (the others answered in C)

Counts are deterministic (they do not depend on machine load): each scenario runs with every
read in Python ("python"), then with hot registers ("hot"); the Python calls are counted at
the bus's callbacks, which changes nothing else. In verify mode nothing is answered in C: each
value C would have given is compared with the model's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))


def _recording(count: bool = True) -> list:
    """Record every Emulation made from now on (the scenarios keep theirs to themselves) and
    count each machine's Python MMIO calls (`sysbus.python_mmio`: [reads, writes]) by wrapping
    the bus's callbacks: the hot registers still answer in C, and nothing else changes."""
    import metersim
    from metersim._engine import emulation, sysbus
    from unicorn.unicorn_py3.unicorn import MMIO_READ_CFUNC, MMIO_WRITE_CFUNC

    made: list = []
    init = emulation.Emulation.__init__

    def record(self, *a, **kw):
        init(self, *a, **kw)
        made.append(self)

    emulation.Emulation.__init__ = metersim.Emulation.__init__ = record
    make = sysbus.SysBus._make_mmio_callbacks

    def counting(bus) -> None:
        make(bus)
        read, write = bus._read_cfn, bus._write_cfn
        n = bus.python_mmio = [0, 0]

        def counted_read(h, offset, size, base):
            n[0] += 1
            return read(h, offset, size, base)

        def counted_write(h, offset, size, value, base):
            n[1] += 1
            write(h, offset, size, value, base)

        bus._read_cfn = MMIO_READ_CFUNC(counted_read)
        bus._write_cfn = MMIO_WRITE_CFUNC(counted_write)

    if count:
        sysbus.SysBus._make_mmio_callbacks = counting
    return made


def hot_report(machines, virt_s: float) -> dict:
    out = {}
    for m in machines:
        regs, checked, bad, by_kind = {}, 0, [], {}
        for hot in m.sysbus.hot_ranges.values():
            for (addr, kind), (hits, declined) in hot.stats().items():
                if hits or declined:
                    regs[f"0x{addr:08x} {kind}"] = {"c_per_s": round(hits / virt_s),
                                                    "python_per_s": round(declined / virt_s)}
            checked += hot.checked
            bad += hot.mismatches
            for kind, n in hot.verified.items():
                by_kind[kind] = by_kind.get(kind, 0) + n
        reads, writes = getattr(m.sysbus, "python_mmio", (0, 0))
        out[m.name] = {"python_mmio_calls_per_virtual_s": round((reads + writes) / virt_s),
                       "c_reads_per_virtual_s": round(sum(v["c_per_s"] for v in regs.values())),
                       "registers": regs}
        if checked or bad:
            out[m.name]["verified_reads"] = checked
            out[m.name]["verified_reads_by_kind"] = by_kind
            out[m.name]["mismatches"] = [f"0x{a:08x} {k}: C 0x{c:x}, Python 0x{p:x}"
                                         for a, k, c, p in bad[:10]]
    return out


def _zero(machines) -> None:
    for m in machines:
        if hasattr(m.sysbus, "python_mmio"):
            m.sysbus.python_mmio[:] = [0, 0]
        for hot in m.sysbus.hot_ranges.values():
            for e in hot._entries:
                e.hits = e.declined = 0


def _hold_back(kinds: set) -> None:
    """Machines made from now on declare no hot register of these kinds (the others still
    answer in C): the "without" of one kind's figures."""
    from metersim._engine import hot_regs

    declared = getattr(hot_regs.declared, "__wrapped__", hot_regs.declared)

    def some(model):
        return [r for r in declared(model) if r.kind not in kinds]

    some.__wrapped__ = declared
    hot_regs.declared = some if kinds else declared


def meter(made: list, hours: float) -> dict:
    """meter_day.run's scenario; rates over the whole run, start-up included."""
    import tempfile

    import meter_day
    from metersim._image.pack import pack

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
        res = meter_day.run(image, hours)
    emu = made[-1]
    return {"trace_sha1": res["trace_sha1"],
            "cpu_s_per_virtual_hour": res["cpu_s_per_virtual_hour"],
            **hot_report(emu.machines, emu.clock.now_ps / 1e12)}


def cabinet(hours: float) -> dict:
    """cabinet_day.py's scenario; rates over the timed part."""
    import cabinet_day as cd
    from metersim import Emulation

    emu = Emulation(seed=1, wall_guard_s=7 * 86400.0)
    bus = cd.new_bus(emu)
    qm = cd.build_query_manager(emu, bus)
    qm.machine.power_off()
    ctrls = cd.build_controllers(emu, bus, cd.CABINET,
                                 cd.firmware_path("f103rb", "metering_controller"))
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
    chars0 = cd.bus_chars(machines)
    _zero(machines)
    t0, c0 = emu.clock.now_ps, time.process_time()
    emu.run_for(f"{round(hours * 3600 * 1000)}ms")
    cpu_s = time.process_time() - c0
    virt_s = (emu.clock.now_ps - t0) / 1e12
    chars = cd.bus_chars(machines) - chars0
    server.stop = True
    qm.eth.close()
    out = hot_report(machines, virt_s)
    calls = sum(v["python_mmio_calls_per_virtual_s"] for v in out.values()) * virt_s
    return {"instructions": {m.name: m.cpu.instructions for m in machines},
            "cpu_us_per_uart_char": round(cpu_s / chars * 1e6, 1),
            "python_mmio_calls_per_uart_char": round(calls / chars, 1), **out}


# ldr r1, =ADDR; 1: ldr r0, [r1]; b 1b  -- one read of ADDR per two instructions
_LOOP = struct.pack("<4H", 0x4901, 0x6808, 0xE7FD, 0)


def per_read_us(address: int, how: str, reads: int = 200_000) -> float:
    """Host CPU µs per firmware read of `address` in a tight loop (SysTick enabled), with hot
    registers `how` ("1" or "0")."""
    os.environ["METERSIM_HOT_REGS"] = how
    from metersim._engine.emulation import Emulation
    from metersim._engine.machine import Machine
    from metersim._units import PS_PER_S

    emu = Emulation()
    m = Machine.bare(emu, f"loop{how}", "cortex-m4f")
    m.sysbus.write_memory(0x08000000, struct.pack("<II", 0x20001000, 0x08000009) + _LOOP
                          + struct.pack("<I", address))
    m.finalize()
    m.reset_cpu_only()
    m.sysbus.write_word(0xE000E014, 0xFFFFFF)    # SysTick: a long period, no interrupt
    m.sysbus.write_word(0xE000E010, 0b101)
    m.sysbus.write_word(0xE0001000, 1)           # DWT CYCCNT on
    t0 = time.process_time()
    emu.run_until_time(emu.now_ps + 2 * reads * PS_PER_S // m.cpu.freq_hz)
    return (time.process_time() - t0) / reads * 1e6


# ldr r1, =ADDR; 1: ldr r0, [r1]; ldr r2, [r1]; b 1b  -- two reads per three instructions, by
# two instructions in turn: a status register that keeps its value is not a polling loop
_LOOP2 = struct.pack("<6H", 0x4902, 0x6808, 0x680A, 0xE7FC, 0, 0)


def usart_sr_per_read_us(how: str, reads: int = 200_000) -> float:
    """Host CPU µs per firmware read of USART2 SR (F103, USART idle) in a tight loop."""
    os.environ["METERSIM_HOT_REGS"] = how
    from metersim._engine.emulation import Emulation
    from metersim._engine.platform_builder import create_machine
    from metersim._units import PS_PER_S

    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus/stm32f103rb.repl", name=f"usart{how}")
    m.sysbus.write_memory(0x08000000, struct.pack("<II", 0x20001000, 0x08000009) + _LOOP2
                          + struct.pack("<I", 0x40004400))
    m.finalize()
    m.reset_cpu_only()
    t0 = time.process_time()
    emu.run_until_time(emu.now_ps + 3 * reads // 2 * PS_PER_S // m.cpu.freq_hz)
    return (time.process_time() - t0) / reads * 1e6


def micro() -> dict:
    out = {}
    reads = {"systick_cvr": lambda how: per_read_us(0xE000E018, how),
             "dwt_cyccnt": lambda how: per_read_us(0xE0001004, how),
             "usart_sr": usart_sr_per_read_us}
    for name, per_read in reads.items():
        runs = {how: [] for how in ("0", "1")}
        for _ in range(3):                          # alternated
            for how in ("0", "1"):
                runs[how].append(round(per_read(how), 2))
        out[name] = {"python_us_per_read": runs["0"], "c_us_per_read": runs["1"]}
    os.environ.pop("METERSIM_HOT_REGS", None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meter-hours", type=float, default=0.1)
    ap.add_argument("--cabinet-hours", type=float, default=0.001)
    ap.add_argument("--micro", action="store_true",
                    help="only the host CPU per read of CVR, CYCCNT and USART SR in a tight loop")
    ap.add_argument("--timed", type=int, default=0, metavar="N",
                    help="CPU time only: N alternations of the scenarios without and with")
    ap.add_argument("--only", default="", metavar="KINDS",
                    help="with --timed: 'without' holds back only these kinds (comma-separated)")
    args = ap.parse_args()
    if args.micro:
        print(json.dumps(micro(), indent=2))
        return
    if args.timed:
        # CPU only (no counting wrapper): python, hot, python, hot ... in one process
        made = _recording(count=False)
        held = set(args.only.split(",")) if args.only else set()
        names = ("without " + args.only, "with") if held else ("python", "hot")
        times: dict[str, dict[str, list]] = {name: {} for name in names}
        for _ in range(args.timed):
            for how, name in zip(("0", "1"), names):
                os.environ["METERSIM_HOT_REGS"] = "1" if held else how
                _hold_back(held if how == "0" else set())
                if args.meter_hours:
                    times[name].setdefault("meter_cpu_s_per_virtual_hour", []).append(
                        meter(made, args.meter_hours)["cpu_s_per_virtual_hour"])
                if args.cabinet_hours:
                    times[name].setdefault("cabinet_cpu_us_per_uart_char", []).append(
                        cabinet(args.cabinet_hours)["cpu_us_per_uart_char"])
        print(json.dumps(times, indent=2))
        return
    made = _recording()
    out = {}
    modes = ["0", "1"] if os.environ.get("METERSIM_HOT_REGS") != "verify" else ["verify"]
    for how in modes:
        os.environ["METERSIM_HOT_REGS"] = how
        res = out[{"0": "python", "1": "hot", "verify": "verify"}[how]] = {}
        if args.meter_hours:
            res["meter"] = meter(made, args.meter_hours)
        if args.cabinet_hours:
            res["cabinet"] = cabinet(args.cabinet_hours)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
