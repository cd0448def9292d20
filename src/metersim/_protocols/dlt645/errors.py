"""Errors of the DL/T645 layers."""

from metersim._errors import MetersimError

SERR_BITS = ("other error", "no requested data", "password error / not authorised",
             "baud rate cannot be changed", "too many year time zones",
             "too many day periods", "too many rates", "reserved")


class Dlt645Error(MetersimError):
    """A DL/T645 exchange went wrong."""


class Dlt645FrameError(Dlt645Error):
    """Bytes that are not a DL/T645 frame (start, length, checksum or end wrong)."""


class Dlt645Abnormal(Dlt645Error):
    """The meter answered with an abnormal reply (C | 0x40) carrying the error word SERR."""

    def __init__(self, control: int, serr: int):
        self.control, self.serr = control, serr
        names = [n for i, n in enumerate(SERR_BITS) if serr >> i & 1] or ["no bit set"]
        super().__init__(f"abnormal reply to control code {control:#04x}: SERR {serr:#04x} "
                         f"({', '.join(names)})")
