"""An active-low reset input (RESX, RSTn): the chip resets on the falling edge and ignores its
bus until the pin goes high again."""

from __future__ import annotations


class ActiveLowReset:
    """Mixin: call `reset_pin(level)` from `on_gpio`; `in_reset` says the pin is held low."""

    in_reset = False

    def reset_pin(self, level: bool) -> None:
        if not level and not self.in_reset:
            self.in_reset = True
            self.reset()
        elif level:
            self.in_reset = False
