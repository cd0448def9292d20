"""Human inputs: a push button (Renode's Miscellaneous.Button) and a key matrix (4x8 keypad).

Push button: `press()` / `release()` / `press_and_release(hold_ps)` from Python set the output
`IRQ` (= connections[0], Renode's name). Renode semantics: pressed drives the output high unless
`invert=True` (the usual button to GND with a pull-up: pressed = low). With `bounce_ps` > 0 every
press and release chatters: an even number (2-6) of extra edges at seeded random times within
`bounce_ps` before the level settles, as mechanical contacts do for a few ms.

Key matrix (`KeypadMatrix`, default 4 rows x 8 columns as on the query manager): the firmware
drives the row lines (GPIO inputs 0..rows-1), the column lines are outputs
`connections[0..cols-1]` with pull-ups, read back by the firmware. A pressed key joins its row
and column; a column reads low when it is joined, directly or through other pressed keys, to a
row driven low (so three keys on a rectangle's corners "ghost" the fourth, as on an undiode'd
matrix). Rows driven high or not driven do not pull anything. Keys are (row, col) tuples or labels
from `keymap` (row-major). Not modelled: key bounce in the matrix, row-to-row short currents,
diodes.
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim._units import PS_PER_MS
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.registry import model


@model("Miscellaneous.Button", "metersim.Button")
class PushButton:
    def __init__(self, ctx: Context, invert: bool = False, bounce_ps: int = 0):
        self.ctx = ctx
        self.invert = bool(invert)
        self.bounce_ps = int(bounce_ps)
        self.pressed = False
        self.IRQ = GPIO("IRQ", self.invert)
        self.connections = {0: self.IRQ}
        self._rng = ctx.rng("bounce")
        self._bounce_events: list = []

    def outputs(self) -> dict[str, GPIO]:
        return {"IRQ": self.IRQ}

    def _level(self, pressed: bool) -> bool:
        return pressed != self.invert

    def _set(self, pressed: bool) -> None:
        for ev in self._bounce_events:
            ev.cancel()
        self._bounce_events = []
        self.pressed = pressed
        final = self._level(pressed)
        self.IRQ.set(final)
        if self.bounce_ps <= 0:
            return
        n = 2 * self._rng.randint(1, 3)
        times = sorted(self._rng.randrange(1, self.bounce_ps) for _ in range(n))
        for k, t in enumerate(times):
            level = final if k % 2 else not final   # toggles, ending on the final level
            self._bounce_events.append(self.ctx.clock.schedule(t, self.IRQ.set, level))

    def press(self) -> None:
        self._set(True)

    def release(self) -> None:
        self._set(False)

    def press_and_release(self, hold_ps: int = 100 * PS_PER_MS) -> None:
        """Press now and release `hold_ps` later (virtual time; 0 = a pulse, as in Renode)."""
        self.press()
        if hold_ps <= 0:
            self.release()
        else:
            self.ctx.clock.schedule(hold_ps, self.release)

    def toggle(self) -> None:
        self._set(not self.pressed)

    def reset(self) -> None:
        pass


@model("metersim.KeypadMatrix")
class KeypadMatrix:
    def __init__(self, ctx: Context, rows: int = 4, cols: int = 8, keymap: list[str] | None = None):
        if rows < 1 or cols < 1:
            raise SetupError(f"a key matrix needs at least one row and column, got {rows}x{cols}")
        if keymap is not None and len(keymap) != rows * cols:
            raise SetupError(f"keymap has {len(keymap)} labels for a {rows}x{cols} matrix")
        self.ctx = ctx
        self.rows, self.cols = rows, cols
        self.keymap = list(keymap) if keymap else [f"K{r}{c}" for r in range(rows) for c in range(cols)]
        if len(set(self.keymap)) != len(self.keymap):
            raise SetupError("keymap labels must be unique")
        self.row_levels = [True] * rows        # undriven rows count as high
        self.pressed: set[tuple[int, int]] = set()
        self.connections = {c: GPIO(f"C{c}", True) for c in range(cols)}

    def outputs(self) -> dict[str, GPIO]:
        return {f"C{c}": g for c, g in self.connections.items()}

    def _key(self, key) -> tuple[int, int]:
        if isinstance(key, tuple):
            r, c = key
            if 0 <= r < self.rows and 0 <= c < self.cols:
                return r, c
            raise SetupError(f"key {key} is outside the {self.rows}x{self.cols} matrix")
        try:
            i = self.keymap.index(key)
        except ValueError:
            raise SetupError(f"no key labelled {key!r}; keys: {' '.join(self.keymap)}") from None
        return divmod(i, self.cols)

    def press(self, key) -> None:
        self.pressed.add(self._key(key))
        self._update()

    def release(self, key=None) -> None:
        """Release one key, or all with no argument."""
        if key is None:
            self.pressed.clear()
        else:
            self.pressed.discard(self._key(key))
        self._update()

    def tap(self, key, hold_ps: int = 100 * PS_PER_MS) -> None:
        self.press(key)
        self.ctx.clock.schedule(hold_ps, self.release, key)

    def type_keys(self, keys, hold_ps: int = 100 * PS_PER_MS, gap_ps: int = 150 * PS_PER_MS) -> int:
        """Tap `keys` one after the other (a string of one-character labels, or a list of
        labels / (row, col) tuples): each held `hold_ps`, then `gap_ps` released. Returns the
        virtual time the sequence takes; the keys are checked before anything is scheduled."""
        seq = [self._key(k) for k in keys]
        step = int(hold_ps) + int(gap_ps)
        if hold_ps <= 0 or gap_ps < 0:
            raise SetupError(f"hold_ps must be > 0 and gap_ps >= 0, got {hold_ps}, {gap_ps}")
        for i, key in enumerate(seq):
            self.ctx.clock.schedule(i * step, self.press, key)
            self.ctx.clock.schedule(i * step + int(hold_ps), self.release, key)
        return len(seq) * step

    def on_gpio(self, pin: int, level: bool) -> None:
        if not 0 <= pin < self.rows:
            self.ctx.log_once(("pin", pin), logging.WARNING, "no row input %d (rows 0..%d)",
                              pin, self.rows - 1)
            return
        self.row_levels[pin] = bool(level)
        self._update()

    def column_levels(self) -> list[bool]:
        # union-find over rows (0..R-1) and columns (R..R+C-1) joined by pressed keys
        parent = list(range(self.rows + self.cols))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for r, c in self.pressed:
            parent[find(r)] = find(self.rows + c)
        low_nets = {find(r) for r in range(self.rows) if not self.row_levels[r]}
        return [find(self.rows + c) not in low_nets for c in range(self.cols)]

    def _update(self) -> None:
        for c, level in enumerate(self.column_levels()):
            self.connections[c].set(level)

    def reset(self) -> None:
        pass


@model("metersim.CoverSwitch")
class CoverSwitch(PushButton):
    """The meter's cover-open (tamper) switch: a micro switch held closed by the terminal cover.
    `open_cover()` / `close_cover()` from Python; the output `IRQ` is high while the cover is
    open (`invert=True`: low while open, for a switch to GND with a pull-up). Mechanically a
    push button pressed by the cover, so it inherits `bounce_ps`."""

    def __init__(self, ctx: Context, invert: bool = False, bounce_ps: int = 0):
        super().__init__(ctx, invert=invert, bounce_ps=bounce_ps)

    @property
    def cover_open(self) -> bool:
        return self.pressed

    def open_cover(self) -> None:
        self.press()

    def close_cover(self) -> None:
        self.release()
