"""DL/T645-2007 in layers (reference/protocols-and-chips.md §1):

- `framer`: [FE..] 68 A0..A5 68 C L DATA CS 16 with the +0x33 data offset; addresses as 12 BCD
  digits; a stream splitter that skips preambles and re-synchronises on garbage.
- `codec`: read data (11H) requests and their normal (91H/B1H) and abnormal (D1H) replies,
  data identifiers and their BCD value formats.
"""

from metersim._protocols.dlt645.errors import (  # noqa: F401
    Dlt645Abnormal, Dlt645Error, Dlt645FrameError,
)
