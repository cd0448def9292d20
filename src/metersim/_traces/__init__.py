"""Traces and pictures of a run: pcap files of bus traffic, VCD waveforms, plots, run summaries.

- `pcap`: UART / RS-485 traffic with virtual nanosecond timestamps; Modbus RTU framed by the
  t3.5 silence (the master's own splitter, metersim._protocols.modbus.framer) and written as
  Modbus/UDP so Wireshark decodes it with no set-up (plus the raw RTU bytes in a DLT_USER0
  file and a text listing with each frame's direction); console text per line with DLT_USER1.
- `vcd`: GPIO pins, IRQ / CF / ZX lines, relay contacts, SPI bytes, UART characters (pyvcd).
- `plots`: injected waveforms, power per channel, measured energy vs the exact reference.
- `summary`: virtual / wall time, speed, instructions and MIPS per machine, checks.
"""

from metersim._traces.errors import TraceError  # noqa: F401
from metersim._traces.pcap import (  # noqa: F401
    ModbusPcap, PcapWriter, RawPcap, capture_rs485_pcap, capture_uart_pcap, read_pcap,
)
from metersim._traces.summary import format_summary  # noqa: F401
from metersim._traces.vcd import VcdTracer  # noqa: F401
