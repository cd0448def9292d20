"""Code coverage of firmware without instrumenting it: `CoverageRecorder` records the code
blocks the emulated cores run; `CoverageData` maps them to source lines and functions through
the ELF's DWARF line table and writes lcov, Cobertura XML and a terminal summary."""

from metersim._coverage.recorder import CoverageRecorder
from metersim._coverage.report import CoverageData

__all__ = ["CoverageRecorder", "CoverageData"]
