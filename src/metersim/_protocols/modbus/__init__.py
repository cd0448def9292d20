"""Modbus RTU in layers (Modbus over Serial Line v1.02; reference/protocols-and-chips.md §2):

- `transport`: characters with their timing on an RS-485 / UART link, and the one function
  that says how long a character lasts.
- `framer`: CRC-16/MODBUS, ADU encode/decode, t1.5/t3.5 and the frame splitter.
- `pdu`: requests and replies of the function codes the metering controller serves.
- `registers`: the metering controller's register map as data (docs/modbus_map.md).
"""

from metersim._protocols.modbus.errors import (  # noqa: F401
    ModbusError, ModbusException, ModbusFrameError, ModbusPduError, ModbusTimeout,
)
