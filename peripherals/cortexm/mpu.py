"""ARMv7-M Memory Protection Unit (PMSAv7, ARMv7-M ARM B3.5), the registers at 0xE000ED90.

The model keeps the registers and answers one question: may an access of a given kind, at a
given privilege, reach an address? The engine (metersim._engine.mpu_guard) asks it when it fills
its per-page access table and when it checks an exception frame; the register model itself
never touches the core.

Rules implemented (B3.5.2-B3.5.9):
- 0 (Cortex-M3 on the STM32F1: no MPU, TYPE reads 0) or 8 regions; RBAR with VALID/REGION,
  RASR with XN, AP, TEX/S/C/B, SRD, SIZE, ENABLE; the three alias pairs RBAR_A1..A3/RASR_A1..A3 (0x14..0x28).
- Region sizes 32 B to 4 GiB (SIZE 4..31), base aligned down to the size; sub-regions (an
  eighth each) for regions of 256 B and more; overlapping regions: the highest number wins.
- No region matches: the privileged default map if CTRL.PRIVDEFENA, else a fault.
- MPU disabled, or the core at a negative priority (HardFault, NMI, FAULTMASK) without
  CTRL.HFNMIENA: the default map for everyone. The PPB (0xE0000000-0xE00FFFFF) always uses the
  default map; who may touch it is the System Control Space's business (unprivileged: BusFault).
- AP (Table B3-15): 000 none; 001 priv RW; 010 priv RW, user RO; 011 RW; 101 priv RO; 110/111
  RO for both; 100 reserved (treated as no access). Instruction fetch needs read permission and
  no XN, and never runs from the Peripheral, Device or System areas of the default map.
"""

from __future__ import annotations

import logging

R, W, X = 1, 2, 4      # rights bits: the same values as unicorn's UC_PROT_READ/WRITE/EXEC
RWX = R | W | X

# AP -> (privileged rights, unprivileged rights), data only (X added from XN)
_AP_RIGHTS = {0b000: (0, 0), 0b001: (R | W, 0), 0b010: (R | W, R), 0b011: (R | W, R | W),
              0b100: (0, 0), 0b101: (R, 0), 0b110: (R, R), 0b111: (R, R)}

CTRL_ENABLE, CTRL_HFNMIENA, CTRL_PRIVDEFENA = 1, 2, 4
PPB_START, PPB_END = 0xE0000000, 0xE0100000
PAGE = 1 << 10          # the engine's access-table granularity (unicorn's target page)
MIN_REGION = 32
MAX_CONFIGS = 64     # region configurations whose page answers are kept

# Register offsets inside the MPU block (the block starts at SCS + 0xD90)
TYPE, CTRL, RNR, RBAR, RASR = 0x00, 0x04, 0x08, 0x0C, 0x10
BLOCK_SIZE = 0x2C          # up to RASR_A3 at 0x28


def default_rights(addr: int) -> int:
    """Rights of the ARMv7-M default memory map (B3.1, Table B3-1)."""
    area = addr >> 29
    if area in (0, 1, 3, 4):          # Code, SRAM, RAM (0x60000000-0x9FFFFFFF)
        return RWX
    return R | W                      # Peripheral, Device, System: execute never


def touches(page: int, spans: list[tuple[int, int]]) -> bool:
    """Does the 1 KiB page at `page` overlap one of the address ranges?"""
    return any(lo < page + PAGE and page < hi for lo, hi in spans)


class Region:
    __slots__ = ("rbar", "rasr", "key")

    def __init__(self):
        self.rbar = 0
        self.rasr = 0
        self.key = None   # as_tuple(), kept up to date by MPU.write

    @property
    def enabled(self) -> bool:
        return bool(self.rasr & 1) and self.size_field >= 4

    @property
    def size_field(self) -> int:
        return (self.rasr >> 1) & 0x1F

    @property
    def size(self) -> int:
        return 1 << (self.size_field + 1)

    @property
    def base(self) -> int:
        return self.rbar & ~(self.size - 1) & 0xFFFFFFE0

    def as_tuple(self):
        """(base, size, sub-region size or 0, SRD, privileged rights, unprivileged rights), or
        None for a region that is off or too small to exist."""
        if not self.enabled:
            return None
        size = self.size
        srd = (self.rasr >> 8) & 0xFF if size >= 256 else 0
        return (self.base, size, size >> 3 if srd else 0, srd, self.rights(True),
                self.rights(False))

    def rights(self, privileged: bool) -> int:
        """Rights this region grants (R/W from AP, X unless XN and only with R)."""
        ap = (self.rasr >> 24) & 7
        data = _AP_RIGHTS[ap][0 if privileged else 1]
        if data & R and not (self.rasr >> 28) & 1:
            data |= X
        return data


class MPU:
    """The MPU registers and the permission check the engine asks."""

    def __init__(self, regions: int = 8, log=None, on_change=None):
        if regions not in (0, 8, 16):
            raise ValueError(f"an ARMv7-M MPU has 0, 8 or 16 regions, not {regions}")
        self.num_regions = regions
        self._log = log
        self.on_change = on_change    # on_change(spans) after a write that changes permissions
        # The engine may do RNR/RBAR/RASR writes itself (metersim._engine.mpu_guard, in C):
        # `catch_up()` then hands them to this model before it answers anything, and
        # `on_write()` tells the engine after each change made here.
        self.catch_up = None
        self.on_write = None
        self.reset()

    def reset(self) -> None:
        if self.catch_up is not None:
            self.catch_up()
        self._reset()
        if self.on_write is not None:
            self.on_write()

    def _reset(self) -> None:
        self.ctrl = 0
        self.rnr = 0
        self.regions = [Region() for _ in range(self.num_regions)]
        self._configs: dict[tuple, dict[tuple[int, bool, bool], tuple[int, int]]] = {}
        self._keys: dict[tuple[int, int], tuple | None] = {}   # (RBAR, RASR) -> as_tuple()
        self._changed()

    @property
    def enabled(self) -> bool:
        return bool(self.ctrl & CTRL_ENABLE)

    # -- registers (offsets from 0xE000ED90) ----------------------------------------------
    def read(self, offset: int) -> int:
        if self.catch_up is not None:
            self.catch_up()
        if not self.num_regions:
            return 0
        if offset == TYPE:
            return self.num_regions << 8
        if offset == CTRL:
            return self.ctrl
        if offset == RNR:
            return self.rnr
        if offset in (RBAR, 0x14, 0x1C, 0x24):       # RBAR and its aliases read the same
            return (self.regions[self.rnr].rbar & 0xFFFFFFE0) | self.rnr
        if offset in (RASR, 0x18, 0x20, 0x28):
            return self.regions[self.rnr].rasr
        return 0

    def write(self, offset: int, value: int) -> None:
        if self.catch_up is not None:
            self.catch_up()
        self._write(offset, value)
        if self.on_write is not None:
            self.on_write()

    def _write(self, offset: int, value: int) -> None:
        if not self.num_regions:
            return                                # no MPU: RAZ/WI
        if offset == CTRL:
            if self.ctrl != value & 7:
                self.ctrl = value & 7
                self._changed()
            return
        if offset == RNR:
            self.rnr = value % self.num_regions
            return
        if offset in (RBAR, 0x14, 0x1C, 0x24):
            if value & 0x10:                      # VALID: the REGION field selects the region
                number = value & 0xF
                if number >= self.num_regions:
                    if self._log:
                        self._log(logging.WARNING, "MPU_RBAR selects region %d of %d; ignored",
                                  number, self.num_regions)
                    return
                self.rnr = number
            region = self.regions[self.rnr]
            region.rbar = value & 0xFFFFFFE0
        elif offset in (RASR, 0x18, 0x20, 0x28):
            region = self.regions[self.rnr]
            region.rasr = value & 0x173FFF3F   # XN, AP, TEX/S/C/B, SRD, SIZE, ENABLE
        else:
            return
        key = self._key(region)
        if key == region.key:
            return                      # the same effective region: no permission changed
        spans = [(k[0], k[0] + k[1]) for k in (region.key, key) if k is not None]
        region.key = key
        self._changed(spans)

    def _key(self, region: Region):
        """region.as_tuple(): it depends on RBAR and RASR only, and an RTOS writes the same few
        pairs at every context switch, so each pair is decoded once."""
        pair = (region.rbar, region.rasr)
        keys = self._keys
        try:
            return keys[pair]
        except KeyError:
            if len(keys) >= MAX_CONFIGS:
                keys.clear()
            key = keys[pair] = region.as_tuple()
            return key

    def load(self, rnr: int, pairs) -> None:
        """Take register values written elsewhere: RNR and each region's (RBAR, RASR), as
        written (the engine's writes in C, which did their effects on the core already; the
        values follow the rules of `write`). No `on_change`."""
        self.rnr = rnr
        for region, (rbar, rasr) in zip(self.regions, pairs):
            region.rbar, region.rasr = rbar, rasr
            region.key = self._key(region)
        self._rebuild()

    def _changed(self, spans: list[tuple[int, int]] | None = None) -> None:
        """Rebuild the lookup after a write. `spans` (address ranges) limit what changed;
        None means anything may have (CTRL, reset)."""
        self._rebuild()
        if self.on_change is not None:
            self.on_change(spans)

    def _rebuild(self) -> None:
        # The enabled regions, highest number first (the first match wins), as plain tuples
        # for the hot path: (base, size, sub-region size or 0, SRD, priv rights, user rights).
        self._active = [r.key for r in reversed(self.regions)
                        if r.key is not None] if self.ctrl & CTRL_ENABLE else []
        # The page answers depend on CTRL and the active regions only, and an RTOS switches
        # between the same few configurations at every context switch: each configuration
        # keeps its own answers, so returning to one finds them again.
        config = (self.ctrl, tuple(self._active))
        pages = self._configs.get(config)
        if pages is None:
            if len(self._configs) >= MAX_CONFIGS:
                self._configs.clear()       # a firmware that never repeats itself
            pages = self._configs[config] = {}
        self._pages: dict[tuple[int, bool, bool], tuple[int, int]] = pages

    # -- the permission check ---------------------------------------------------------------
    def bypassed(self, negative_priority: bool) -> bool:
        """The MPU does not apply: disabled, or HardFault/NMI/FAULTMASK without HFNMIENA."""
        return not self.ctrl & CTRL_ENABLE or (negative_priority and not self.ctrl & CTRL_HFNMIENA)

    def rights(self, addr: int, privileged: bool, negative_priority: bool = False) -> int:
        """R/W/X rights at `addr` for an access at the given privilege."""
        if self.catch_up is not None:
            self.catch_up()
        return self._rights(addr, privileged, negative_priority)

    def _rights(self, addr: int, privileged: bool, negative_priority: bool = False) -> int:
        if self.bypassed(negative_priority) or PPB_START <= addr < PPB_END:
            return default_rights(addr)
        for base, size, sub, srd, priv, user in self._active:
            off = addr - base
            if 0 <= off < size and not (sub and srd >> (off // sub) & 1):
                return priv if privileged else user
        if privileged and self.ctrl & CTRL_PRIVDEFENA:
            return default_rights(addr)
        return 0

    def page_rights(self, page: int, privileged: bool, negative_priority: bool = False
                    ) -> tuple[int, int]:
        """(rights held on every byte of the 1 KiB page at `page`, rights held on some byte).

        Equal values mean the page is uniform and can be mapped whole; otherwise accesses to it
        must be checked one by one. Answers are kept until the next register write."""
        if self.catch_up is not None:
            self.catch_up()
        return self._page_rights(page, privileged, negative_priority)

    def _page_rights(self, page: int, privileged: bool, negative_priority: bool = False
                     ) -> tuple[int, int]:
        key = (page, privileged, negative_priority)
        known = self._pages.get(key)
        if known is not None:
            return known
        if self.bypassed(negative_priority) or PPB_START <= page < PPB_END or not any(
                (sub or size) < PAGE and base < page + PAGE and page < base + size
                for base, size, sub, _srd, _p, _u in self._active):
            rights = self._rights(page, privileged, negative_priority)
            known = (rights, rights)
        else:
            every, some = RWX, 0
            for off in range(0, PAGE, MIN_REGION):
                rights = self._rights(page + off, privileged, negative_priority)
                every &= rights
                some |= rights
            known = (every, some)
        self._pages[key] = known
        return known

    def refused_offsets(self, start: int, length: int, right: int, privileged: bool,
                        negative_priority: bool = False) -> list[int]:
        """Offsets (multiples of 4) in [start, start+length) where `right` is refused."""
        if self.catch_up is not None:
            self.catch_up()
        pages = self._pages
        first = start & ~(PAGE - 1)
        known = pages.get((first, privileged, negative_priority))
        if known is None:
            known = self._page_rights(first, privileged, negative_priority)
        if known[0] & right and (start + length - 1) & ~(PAGE - 1) == first:
            return []                           # the usual case: one page, uniformly allowed
        last = (start + length - 1) & ~(PAGE - 1)
        if all(self._page_rights(p, privileged, negative_priority)[0] & right
               for p in range(first, last + PAGE, PAGE)):
            return []
        return [off for off in range(0, length, 4)
                if not self._rights(start + off, privileged, negative_priority) & right]

    def describe(self) -> list[str]:
        """One line per enabled region, for the fault report and `platform show`."""
        if self.catch_up is not None:
            self.catch_up()
        lines = []
        for n, r in enumerate(self.regions):
            if not r.enabled:
                continue
            ap = (r.rasr >> 24) & 7
            srd = (r.rasr >> 8) & 0xFF
            lines.append(f"region {n}: 0x{r.base:08x} size {r.size} AP={ap:03b}"
                         f"{' XN' if r.rasr >> 28 & 1 else ''}"
                         f"{f' SRD=0x{srd:02x}' if srd else ''}")
        return lines
