"""pyrenode3's `pyrenode3.wrappers`, backed by metersim (see metersim.pyrenode3)."""

from metersim.pyrenode3.wrappers.emulation import Emulation, ExternalsManager
from metersim.pyrenode3.wrappers.machine import Machine, Peripheral
from metersim.pyrenode3.wrappers.monitor import Monitor
from metersim.pyrenode3.wrappers.testers import Analyzer, LEDTester, TerminalTester

__all__ = [
    "Analyzer",
    "Emulation",
    "ExternalsManager",
    "Machine",
    "Monitor",
    "Peripheral",
    "TerminalTester",
    "LEDTester",
]
