"""Errors of the Modbus layers: one base, one subclass per layer that can fail."""

from metersim._errors import MetersimError

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "slave device failure"}


class ModbusError(MetersimError):
    """A Modbus exchange went wrong."""


class ModbusFrameError(ModbusError):
    """Bytes that are not an RTU frame (too short, too long, bad CRC)."""


class ModbusPduError(ModbusError):
    """A PDU that does not follow its function code's layout."""


class ModbusTimeout(ModbusError):
    """No (valid) reply in time."""


class ModbusException(ModbusError):
    """The slave answered with an exception reply."""

    def __init__(self, function: int, code: int):
        self.function, self.code = function, code
        super().__init__(f"exception reply to function {function:#04x}: code {code} "
                         f"({EXCEPTION_NAMES.get(code, 'unknown')})")
