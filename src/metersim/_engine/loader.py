"""ELF loading and symbols (the image itself is read by metersim._engine.firmware.Firmware).

Segments are placed by physical address (`p_paddr`), so `.data` initial values land in flash
where the startup code copies them from. Symbols serve the fault report, the bus-error log
and the GDB stub: `symbolize(addr)` gives `func+0x12`.
"""

from __future__ import annotations

from pathlib import Path

from metersim._engine.firmware import Firmware, Segment, Symbols

__all__ = ["Firmware", "Segment", "Symbols", "find_unmask_sites", "load_elf"]


def load_elf(path: str | Path) -> Firmware:
    """Read an ELF firmware (SetupError when missing or not an ARM ELF)."""
    return Firmware(path)


def find_unmask_sites(fw: Firmware) -> list[int]:
    """Addresses just after instructions that can unmask interrupts: `cpsie i`/`cpsie f`,
    and `msr PRIMASK|BASEPRI|BASEPRI_MAX|FAULTMASK, rN` (ARMv7-M A7.7.76 / A7.7.83)."""
    sites = []
    for base, data in fw.executable_bytes():
        n = len(data) - 1
        i = 0
        while i < n:
            hw = data[i] | (data[i + 1] << 8)
            if hw in (0xB662, 0xB661):  # cpsie i / cpsie f
                sites.append(base + i + 2)
            elif (hw & 0xFFF0) == 0xF380 and i + 3 < len(data):
                hw2 = data[i + 2] | (data[i + 3] << 8)
                if (hw2 & 0xFF00) == 0x8800 and (hw2 & 0xFF) in (0x10, 0x11, 0x12, 0x13):
                    sites.append(base + i + 4)
            i += 2
    return sites
