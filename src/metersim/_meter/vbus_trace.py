"""The virtual bus's trace on the management unit's console: with the trace switched on
("vbus trace on" on the console, or a write of 04A0FE02 = 01), the bus prints one line per
message it puts on a pipe:

    vbus: V_BUS_TO_MTR_SRV ca 24 sa 30 c 11 di 00010000

`parse_vbus_trace(lines)` turns such lines into `VbusRecord`s (pipe, CA, SA, control code,
data identifier or None), in order, ignoring every other line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"vbus: (V_BUS_TO_\w+) ca ([0-9a-f]{2}) sa ([0-9a-f]{2}) c ([0-9a-f]{2})"
                   r"(?: di ([0-9a-f]{8}))?$")


@dataclass(frozen=True)
class VbusRecord:
    pipe: str
    ca: int
    sa: int
    control: int
    di: int | None

    @property
    def source_process(self) -> int:
        return self.ca >> 4

    @property
    def destination_process(self) -> int:
        return self.sa >> 4


def parse_vbus_trace(lines) -> list[VbusRecord]:
    """The bus trace records in `lines` (an iterable of console lines, or one text)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    out = []
    for line in lines:
        m = _LINE.search(line.strip())
        if m:
            out.append(VbusRecord(m[1], int(m[2], 16), int(m[3], 16), int(m[4], 16),
                                  int(m[5], 16) if m[5] else None))
    return out
