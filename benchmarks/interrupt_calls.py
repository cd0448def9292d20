"""Python calls of the interrupt bookkeeping (core and NVIC model) in one benchmark run.

    .venv/bin/python benchmarks/interrupt_calls.py benchmarks/cabinet_day.py --hours 0.002
    .venv/bin/python benchmarks/interrupt_calls.py benchmarks/meter_day.py --hours 0.1

Wraps the methods on their classes, runs the benchmark (its own output first), then prints
to stderr how often each wrapped method ran, the whole run (start-up included). Calls that
the C extension answers (an instance attribute in place of the method, or no call at all)
are not counted: that is the point of the figures. Deterministic: the counts do not depend
on the machine's load.
"""

from __future__ import annotations

import atexit
import collections
import functools
import runpy
import sys

from metersim._engine import cpu as C
from metersim._engine import uc_native as U
from metersim.peripherals.cortexm import nvic as N

CORE = ("interrupt_pending_changed", "_exec_priority", "_take_interrupts", "is_privileged",
        "_on_unmask_site", "_enter", "_exception_return", "_tail_chain", "_svc")
NVIC = ("set_pending", "on_gpio", "pend", "clear_pending", "acknowledge", "complete",
        "_summarise_pending", "_summarise_active", "_summarise_priorities", "read", "write",
        "execution_priority", "highest_pending", "pending_to_take", "_icsr", "_icsr_set",
        "_icsr_written", "_set_enable", "_clear_enable", "_set_priority")

counts: collections.Counter = collections.Counter()


def _wrap(cls, name: str) -> None:
    f = cls.__dict__.get(name)
    if f is None:
        return
    label = f"{cls.__name__}.{name}"

    @functools.wraps(f)
    def counted(*args, **kwargs):
        counts[label] += 1
        return f(*args, **kwargs)
    setattr(cls, name, counted)


def _counted_batch_reader(real):
    def batch_reader(self, regs):
        read = real(self, regs)
        label = "NativeCore.batch_reader of the mask registers" \
            if list(regs) == C._MASK_REGS else None
        if label is None:
            return read

        def counted():
            counts[label] += 1
            return read()
        return counted
    return batch_reader


def _report() -> None:
    print("Python calls (whole run):", file=sys.stderr)
    for label, n in sorted(counts.items()):
        print(f"{n:>10}  {label}", file=sys.stderr)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in CORE:
        _wrap(C.CortexM, name)
    for name in NVIC:
        _wrap(N.NVIC, name)
    U.NativeCore.batch_reader = _counted_batch_reader(U.NativeCore.batch_reader)
    atexit.register(_report)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
