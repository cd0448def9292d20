"""Where a cabinet's RS-485 character goes, in counts that do not depend on the machine's load:
the cabinet of `cabinet_day.py` (same build, same rooms), run for `--seconds` of virtual time
after the first polling round, with counters around the engine and the models.

    .venv/bin/python benchmarks/cabinet_counts.py [--seconds 7.2]

Prints per RS-485 character: each machine's instructions, exception entries, CPU slices, core
runs inside a quantum (`CortexM.run_until`) and its busy share; quanta; what ended each slice
(the machine's next event when the slice started, or the quantum's bound, which includes a
core halting in WFI); the events scheduled by kind (clock, callback); the register accesses
answered by a model's Python `read`/`write` and those answered in C (hot registers) per
machine and register.

The Python accesses are counted by a counting `read`/`write` put on each model class before
the cabinet is built, so the C side still answers the hot registers (it takes the wrapper for
the model's own read). `cabinet_day.py --mmio` wraps every bus page instead, which hands every
hot register back to Python and gives polled SPI frames an event each: its totals are the
accesses of that run, not of this one. The counters cost CPU: no timing is printed.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cabinet_day as cd  # noqa: E402
from metersim._cabinet.board import new_bus  # noqa: E402
from metersim._cabinet.query_manager import build_controllers, build_query_manager  # noqa: E402
from metersim._engine import clock as clk, cpu as C, emulation as E, machine as M  # noqa: E402
from metersim._engine.emulation import Emulation  # noqa: E402
from metersim._resources import firmware_path  # noqa: E402

CONTROLLER_ELF = firmware_path("f103rb", "metering_controller")


class Counters:
    def __init__(self) -> None:
        self.on = False
        self.events = collections.Counter()        # (clock owner, callback) -> scheduled
        self.calls = collections.Counter()         # (machine or "emu", method) -> calls
        self.slice_ends = collections.Counter()    # (machine, what bounded the slice)
        self.py_regs = collections.defaultdict(collections.Counter)  # machine -> (addr, r/w)
        self.clock_names: dict[int, str] = {}


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def install(n: Counters) -> None:
    """Counting wrappers around the engine's and the models' methods (class level)."""
    sched = clk.Clock.schedule_at

    def schedule_at(self, t, fn, *a):
        if n.on:
            n.events[(n.clock_names.get(id(self), "emulation"), _name(fn))] += 1
        return sched(self, t, fn, *a)
    clk.Clock.schedule_at = schedule_at

    def count(cls, meth, who):
        f = getattr(cls, meth)

        def w(self, *a, **k):
            if n.on:
                n.calls[(who(self), meth)] += 1
            return f(self, *a, **k)
        setattr(cls, meth, w)

    count(C.CortexM, "run_until", lambda s: s.machine.name)
    count(M.Machine, "run_to", lambda s: s.name)
    count(E.Emulation, "_run_quantum", lambda s: "emu")
    count(E.Emulation, "_sleep_to", lambda s: "emu")
    run_slice = C.CortexM._run_slice

    def _run_slice(self, cycles, end_ps):
        if n.on:
            m = self.machine
            live = [e for e in m.clock._heap if not e[2].cancelled]
            why = "quantum bound (or WFI)"
            if live:
                t, _, ev = min(live, key=lambda e: (e[0], e[1]))
                if t == end_ps:
                    why = _name(ev.fn)
            n.slice_ends[(m.name, why)] += 1
            n.calls[(m.name, "_run_slice")] += 1
        return run_slice(self, cycles, end_ps)
    C.CortexM._run_slice = _run_slice


def count_python_registers(n: Counters) -> None:
    """A counting read/write on every model class the cabinet maps (found on a throwaway
    build), put where each method is defined."""
    emu = Emulation(seed=1)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()
    ctrls = build_controllers(emu, bus, cd.CABINET[:1], CONTROLLER_ELF)
    classes = {type(model) for m in [qm.machine] + [c.machine for c in ctrls.values()]
               for model, _ in m.sysbus._pages.values()}
    qm.eth.close()
    done = set()
    for cls in classes:
        for meth in ("read", "write"):
            owner = next(c for c in cls.__mro__ if meth in vars(c))
            if (owner, meth) in done:
                continue
            done.add((owner, meth))
            f = vars(owner)[meth]
            if meth == "read":
                def w(self, off, size, _f=f):
                    if n.on:
                        n.py_regs[self.ctx.machine.name][((self.ctx.address or 0) + off, "r")] += 1
                    return _f(self, off, size)
            else:
                def w(self, off, size, value, _f=f):
                    if n.on:
                        n.py_regs[self.ctx.machine.name][((self.ctx.address or 0) + off, "w")] += 1
                    return _f(self, off, size, value)
            setattr(owner, meth, w)


def hot_hits(machine) -> dict:
    """{(address, kind): reads answered in C} of a machine's hot registers."""
    out = {}
    for hr in machine.sysbus.hot_ranges.values():
        for key, (hits, _declined) in hr.stats().items():
            out[key] = hits
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=7.2, help="virtual s counted (default 7.2, "
                    "cabinet_day.py --hours 0.002)")
    ap.add_argument("--top", type=int, default=12, help="registers and events listed")
    args = ap.parse_args()
    n = Counters()
    count_python_registers(n)
    install(n)

    emu, qm, ctrls, server = cd.build_cabinet(args.seconds / 3600)
    machines = [qm.machine] + [c.machine for c in ctrls.values()]
    for m in machines:
        n.clock_names[id(m.clock)] = m.name
    st0 = {m.name: m.stats() for m in machines}
    hot0 = {m.name: hot_hits(m) for m in machines}
    chars0 = cd.bus_chars(machines)
    n.on = True
    emu.run_for(f"{round(args.seconds * 1000)}ms")
    n.on = False
    chars = cd.bus_chars(machines) - chars0
    server.stop = True
    qm.eth.close()

    print(f"{args.seconds} virtual s, {chars} RS-485 characters, {server.readings} readings "
          f"acknowledged; figures per character")
    print("\nmachine       instructions  exceptions  slices  core runs  busy share")
    for m in machines:
        a, b = st0[m.name], m.stats()
        cyc, idle = b["cycles"] - a["cycles"], b["idle_cycles"] - a["idle_cycles"]
        print(f"{m.name:12s} {(b['instructions'] - a['instructions']) / chars:13.1f} "
              f"{(b['exceptions'] - a['exceptions']) / chars:11.3f} "
              f"{n.calls[(m.name, '_run_slice')] / chars:7.3f} "
              f"{n.calls[(m.name, 'run_until')] / chars:10.3f} {(cyc - idle) / cyc:11.4f}")
    print(f"all four: slices {sum(n.calls[(m.name, '_run_slice')] for m in machines) / chars:.3f}, "
          f"exceptions {sum(m.stats()['exceptions'] - st0[m.name]['exceptions'] for m in machines) / chars:.3f}, "
          f"quanta {n.calls[('emu', '_run_quantum')] / chars:.3f}, "
          f"sleeps {n.calls[('emu', '_sleep_to')] / chars:.3f}, "
          f"Machine.run_to {sum(n.calls[(m.name, 'run_to')] for m in machines) / chars:.3f}")
    print("\nwhat bounded each slice")
    for (who, why), k in n.slice_ends.most_common(args.top):
        print(f"{k / chars:8.3f}  {who:12s} {why}")
    print(f"\nevents scheduled: {sum(n.events.values()) / chars:.3f}")
    for (who, fn), k in n.events.most_common(args.top * 2):
        print(f"{k / chars:8.3f}  {who:12s} {fn}")
    print("\nregister accesses (py: a model's Python read/write; C: a hot register answered in C)")
    tot_py = tot_c = 0
    for m in machines:
        py = n.py_regs[m.name]
        h0, h1 = hot0[m.name], hot_hits(m)
        c = {k: v - h0.get(k, 0) for k, v in h1.items()}
        tot_py += sum(py.values())
        tot_c += sum(c.values())
        print(f"{m.name}: py {sum(py.values()) / chars:.3f}, C {sum(c.values()) / chars:.3f}")
        for (addr, rw), k in py.most_common(args.top):
            print(f"   py {k / chars:7.3f}  {cd.register_name(m, addr)} {rw}")
        for (addr, kind), k in sorted(c.items(), key=lambda kv: -kv[1]):
            if k:
                print(f"   C  {k / chars:7.3f}  {cd.register_name(m, addr)} "
                      f"{'w' if kind.endswith('_write') else 'r'} ({kind})")
    print(f"all four: py {tot_py / chars:.3f}, C {tot_c / chars:.3f}")


if __name__ == "__main__":
    main()
