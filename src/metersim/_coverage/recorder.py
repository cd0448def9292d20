"""Recording which firmware code runs, without instrumenting the firmware: the engine's block
trace (metersim._engine.debug) gives each code block the core ran, once; the firmware's DWARF
line table turns blocks into source lines and functions (metersim._coverage.report).

    rec = CoverageRecorder(emulation)     # every machine of the emulation (or machines=[m])
    rec.start()
    emulation.run_for("2s")
    data = rec.stop()                     # CoverageData of the machines' firmware
    data.write_lcov("build/coverage.info"); print(data.summary())
"""

from __future__ import annotations

from metersim._coverage.report import CoverageData
from metersim._engine.debug import Debugger
from metersim._errors import SetupError


class CoverageRecorder:
    """Records which code the machines of `emulation` (or the `machines` given) run, from
    `start()` to `stop()`, without touching the firmware; `stop()`/`data()` give the
    CoverageData of their firmware (see the module docstring)."""

    def __init__(self, emulation=None, machines=None):
        if emulation is None and not machines:
            raise SetupError("CoverageRecorder needs an emulation or machines to record")
        self.emulation = emulation
        self._machines = list(machines or [])
        self.recording = False

    @property
    def machines(self) -> list:
        """The machines recorded: those given, else the emulation's."""
        return self._machines or list(self.emulation.machines)

    def start(self) -> "CoverageRecorder":
        """Start recording on every machine (blocks recorded before are kept)."""
        machines = self.machines
        if not machines:
            raise SetupError("coverage: the emulation has no machine to record yet; create the "
                             "machines first")
        for m in machines:
            Debugger.of(m).start_block_trace()
        self.recording = True
        return self

    def stop(self) -> CoverageData:
        """Stop recording; the coverage recorded so far."""
        for m in self.machines:
            Debugger.of(m).stop_block_trace()
        self.recording = False
        return self.data()

    def blocks(self) -> dict[str, set[tuple[int, int]]]:
        """Executed blocks (start, size) per firmware ELF path (machines with one loaded)."""
        out: dict[str, set[tuple[int, int]]] = {}
        for m in self.machines:
            if m.firmware is not None:
                out.setdefault(str(m.firmware.path.resolve()), set()).update(
                    Debugger.of(m).block_trace())
        return out

    def data(self) -> CoverageData:
        """Coverage of the machines' firmware sources so far."""
        data = CoverageData()
        for elf, blocks in self.blocks().items():
            data.merge(CoverageData.from_blocks(elf, blocks))
        return data
