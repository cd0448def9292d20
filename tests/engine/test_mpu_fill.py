"""The C TLB fill (_mpu_fill) answers exactly what the MPU model says, page by page."""

import ctypes
import random

import pytest
from unicorn.arm_const import (UC_ARM_REG_CONTROL, UC_ARM_REG_FAULTMASK, UC_ARM_REG_IPSR,
                               UC_ARM_REG_XPSR)
from unicorn.unicorn_py3.unicorn import HOOK_TLB_FILL_CFUNC, uc_tlb_entry

from metersim._engine import mpu_guard as G
from metersim.peripherals.cortexm.mpu import MPU, R, W, X



def test_the_c_fill_is_built_and_matches_the_python_layout():
    assert G._mpu_fill is not None, "metersim._engine._mpu_fill was not built: `make venv`"
    assert G._mpu_fill.state_size() == ctypes.sizeof(G.FastFillState)

REG_READ = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
REG_WRITE = REG_READ
FILL = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int,
                        ctypes.POINTER(uc_tlb_entry), ctypes.c_void_p)


class FakeCore:
    """Register values the C fill reads, and the Python fallback it calls."""

    def __init__(self):
        self.regs = {UC_ARM_REG_IPSR: 0, UC_ARM_REG_CONTROL: 0, UC_ARM_REG_FAULTMASK: 0,
                     UC_ARM_REG_XPSR: 0x01000000}
        self.slow_calls = 0
        self.reg_read = REG_READ(self._read)
        self.reg_write = REG_WRITE(self._write)
        self.slow = HOOK_TLB_FILL_CFUNC(self._slow)

    def _read(self, _uc, reg, out):
        ctypes.c_uint32.from_address(out).value = self.regs[reg]
        return 0

    def _write(self, _uc, reg, value):
        self.regs[reg] = ctypes.c_uint32.from_address(value).value
        return 0

    def _slow(self, *_args):
        self.slow_calls += 1
        return False


def make_state(mpu: MPU, core: FakeCore) -> G.FastFillState:
    st = G.FastFillState()
    st.reg_read = ctypes.cast(core.reg_read, ctypes.c_void_p).value
    st.reg_write = ctypes.cast(core.reg_write, ctypes.c_void_p).value
    st.reg_xpsr = UC_ARM_REG_XPSR
    st.slow_fill = ctypes.cast(core.slow, ctypes.c_void_p).value
    st.shadow_base = G.SHADOW_BASE
    st.reg_ipsr, st.reg_control, st.reg_faultmask = (UC_ARM_REG_IPSR, UC_ARM_REG_CONTROL,
                                                     UC_ARM_REG_FAULTMASK)
    st.ctrl = mpu.ctrl
    st.n_regions = len(mpu._active)
    for i, region in enumerate(mpu._active):
        st.regions[i][:] = region
    return st


def random_mpu(rng: random.Random) -> MPU:
    mpu = MPU(8)
    for n in range(8):
        if rng.random() < 0.7:
            size_log2 = rng.choice([5, 8, 10, 11, 12, 13, 14, 16, 20])
            base = 0x20000000 + rng.randrange(0, 0x10000) & ~((1 << size_log2) - 1)
            srd = rng.choice([0, 0, 0x80, 0x0F, rng.randrange(256)])
            rasr = (rng.random() < 0.3) << 28 | rng.randrange(8) << 24 | srd << 8 \
                | (size_log2 - 1) << 1 | 1
            mpu.write(0x0C, base | 0x10 | n)
            mpu.write(0x10, rasr)
    mpu.write(0x04, rng.choice([1, 3, 5, 7, 0]))
    return mpu


@pytest.mark.parametrize("seed", range(40))
def test_c_fill_agrees_with_the_model(seed):
    rng = random.Random(seed)
    mpu = random_mpu(rng)
    core = FakeCore()
    st = make_state(mpu, core)
    fill = FILL(G._mpu_fill.fill_address())
    deferred = 0
    for _ in range(60):
        page = 0x20000000 + rng.randrange(0, 0x14000) & ~0x3FF
        core.regs[UC_ARM_REG_IPSR] = rng.choice([0, 0, 3, 11])
        core.regs[UC_ARM_REG_CONTROL] = rng.choice([0, 1])
        core.regs[UC_ARM_REG_FAULTMASK] = rng.choice([0, 0, 0, 1])
        access = rng.choice([16, 17, 18])
        privileged = core.regs[UC_ARM_REG_IPSR] != 0 or not core.regs[UC_ARM_REG_CONTROL] & 1
        negative = core.regs[UC_ARM_REG_IPSR] == 3 or bool(core.regs[UC_ARM_REG_FAULTMASK])
        every, some = mpu.page_rights(page, privileged, negative)
        entry = uc_tlb_entry()
        st.fetch_denied = 0
        before = core.slow_calls
        ok = fill(None, page, access, ctypes.byref(entry), ctypes.addressof(st))
        if core.slow_calls == before + 1:
            deferred += 1                          # a region edge in the page: Python decides
            continue
        assert every == some, "the C fill answered for a page whose rights are mixed"
        need = {16: R, 17: W, 18: X}[access]
        if access == 18 and not every & X:
            assert not ok and st.fetch_denied
        elif every & need:
            # execute rights only go with a fetch (data pages keep unicorn's fast stores)
            assert ok and entry.paddr == page and entry.perms == (every if access == 18
                                                                  else every & ~X)
        else:
            assert ok and entry.paddr == G.SHADOW_BASE | page and entry.perms == R | W
    assert deferred < 60                           # the C fill answered some pages itself


IT_STATE = 0x0600FC00           # xPSR IT[1:0] (26:25) and IT[7:2] (15:10)


def test_a_fill_inside_an_it_block_leaves_no_it_state_behind():
    """unicorn rolls the core back to the faulting instruction before the fill, putting that
    instruction's IT state into the live xPSR; the access then resumes inside its translated
    block, so a successful data fill must clear it (else the next block runs under a stale
    condition). A fetch fill comes from the translator, where the IT state is live: it stays."""
    mpu = MPU(8)
    mpu.write(0x0C, 0x08000000 | 0x10 | 0)
    mpu.write(0x10, 6 << 24 | (20 - 1) << 1 | 1)            # flash RO+X
    mpu.write(0x0C, 0x20000000 | 0x10 | 1)
    mpu.write(0x10, 1 << 28 | 3 << 24 | (16 - 1) << 1 | 1)  # RAM RW, execute never
    mpu.write(0x04, 5)
    core = FakeCore()
    st = make_state(mpu, core)
    fill = FILL(G._mpu_fill.fill_address())
    stale = 0x01000000 | 0x81 >> 2 << 10 | (0x81 & 3) << 25  # `itttt hi` after its first store
    for page, access, allowed, cleared in ((0x20000400, 17, True, True),
                                           (0x20000400, 16, True, True),
                                           (0x08000400, 18, True, False),
                                           (0x20000800, 18, False, False)):
        core.regs[UC_ARM_REG_XPSR] = stale
        entry = uc_tlb_entry()
        ok = fill(None, page, access, ctypes.byref(entry), ctypes.addressof(st))
        assert ok == allowed
        assert core.regs[UC_ARM_REG_XPSR] == (stale & ~IT_STATE if cleared else stale)


FLUSH_PAGE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint16)
PRIV_INDEXES, USER_INDEXES = 0xAA, 0x55     # QEMU's M-profile MMU indexes of each privilege


def fill_outcome(rights: tuple[int, int], access: int):
    """What the fill maps for an access of kind `access` to a page with uniform `rights`
    (the rules test_c_fill_agrees_with_the_model checks): None for a refused fetch."""
    every = rights[0]
    if access == 18:
        return ("page", every) if every & X else None
    need = W if access == 17 else R
    return ("page", every & ~X) if every & need else ("shadow", R | W)


@pytest.mark.parametrize("seed", range(30))
def test_a_region_rewrite_drops_exactly_the_pages_a_fill_would_now_map_differently(seed):
    """An RTOS reprogramming a process region at every switch: the TLB keeps the entry of
    every page that a new fill of the same kind (privilege, access) would map exactly as
    before, and drops each one it would map otherwise (other rights, the shadow window, a
    region edge in the page), whatever kind of access filled it; a page is dropped only for
    the privilege whose entries changed (the kernel keeps its entries on a process stack)."""
    rng = random.Random(1000 + seed)
    mpu = random_mpu(rng)
    mpu.write(0x04, 5)                             # enabled, PRIVDEFENA
    core = FakeCore()
    st = make_state(mpu, core)
    dropped = []
    flush_page = FLUSH_PAGE(lambda _cpu, page, idxmap: dropped.append(
        (page, {PRIV_INDEXES: True, USER_INDEXES: False}[idxmap])))
    cpu = ctypes.create_string_buffer(64)           # a CPUState, its IT bits at offset 0
    uc = (ctypes.c_void_p * 2)(None, ctypes.addressof(cpu))   # uc_struct: the CPU at offset 8
    st.uc, st.off_cpu, st.off_condexec = ctypes.addressof(uc), 8, 0
    st.flush_page = ctypes.cast(flush_page, ctypes.c_void_p).value
    fill = FILL(G._mpu_fill.fill_address())
    handed = set()
    for _ in range(80):
        page = 0x20000000 + rng.randrange(0, 0x14000) & ~0x3FF
        core.regs[UC_ARM_REG_IPSR] = rng.choice([0, 0, 11])
        core.regs[UC_ARM_REG_CONTROL] = rng.choice([0, 1])
        privileged = core.regs[UC_ARM_REG_IPSR] != 0 or not core.regs[UC_ARM_REG_CONTROL] & 1
        access = rng.choice([16, 17, 18])
        before = core.slow_calls
        st.fetch_denied = 0
        fill(st.uc, page, access, ctypes.byref(uc_tlb_entry()), ctypes.addressof(st))
        if core.slow_calls == before:
            handed.add((page, privileged, access))
    assert st.n_handed == len(handed)              # each page, privilege and access once
    old_ctrl, old_regions = mpu.ctrl, list(mpu._active)
    old = {key: mpu.page_rights(key[0], key[1], False) for key in handed}
    # rewrite one region (RBAR with VALID, then RASR), as a context switch does
    n = rng.randrange(8)
    size_log2 = rng.choice([10, 11, 12, 13, 14])
    base = 0x20000000 + rng.randrange(0, 0x10000) & ~((1 << size_log2) - 1)
    spans = []
    mpu.on_change = spans.append
    mpu.write(0x0C, base | 0x10 | n)
    mpu.write(0x10, rng.randrange(8) << 24 | (size_log2 - 1) << 1 | 1)
    st.ctrl, st.n_regions = mpu.ctrl, len(mpu._active)
    for i, region in enumerate(mpu._active):
        st.regions[i][:] = region
    span = spans[-1] if spans and spans[-1] else []
    got = G._mpu_fill.flush_changed(ctypes.addressof(st), span, old_ctrl, old_regions)
    stale = set()
    for page, privileged, access in handed:
        new = mpu.page_rights(page, privileged, False)
        meets = any(page + 1024 > lo and page < hi for lo, hi in span)
        if meets and (new[0] != new[1]
                      or fill_outcome(new, access) != fill_outcome(old[(page, privileged,
                                                                            access)], access)):
            stale.add((page, privileged))
    kept = {(h & ~0x3FF, bool(h & 1)) for h in st.handed[:st.n_handed]}   # KEY_PRIV = 1
    assert kept == {(page, privileged) for page, privileged, _ in handed} - set(dropped)
    assert len(dropped) == len(set(dropped)) == got    # each page and privilege dropped once
    assert stale <= set(dropped)
    for page, privileged in set(dropped) - stale:
        # dropped though its rights look the same: the C fill leaves the page to Python now
        # (a region or sub-region edge inside it), as it would when filling it again
        core.regs[UC_ARM_REG_IPSR], core.regs[UC_ARM_REG_CONTROL] = 0, 0 if privileged else 1
        before = core.slow_calls
        fill(st.uc, page, 16, ctypes.byref(uc_tlb_entry()), ctypes.addressof(st))
        assert core.slow_calls == before + 1


def test_the_c_register_writes_decode_every_region_as_the_model_does():
    """The C side decodes MPU_RBAR/MPU_RASR pairs itself when it does a region rewrite: every
    size (32 B to 4 GiB), AP, XN, SRD and ENABLE gives the model's region (or none)."""
    from metersim.peripherals.cortexm.mpu import Region

    rng = random.Random(7)
    st = G.FastFillState()
    st.num_regions = 16
    pairs = []
    for i in range(2000):
        rbar = rng.getrandbits(32) & ~0x1F
        rasr = rng.getrandbits(32) & 0x173FFF3F
        if i % 4 == 0:
            rasr |= 1                                   # enabled more often than not
        pairs.append((rbar, rasr))
    for chunk in range(0, len(pairs), 16):
        batch = pairs[chunk:chunk + 16]
        st.rbar[:] = [p[0] for p in batch]
        st.rasr[:] = [p[1] for p in batch]
        G._mpu_fill.mirror_refresh(ctypes.addressof(st))
        for (rbar, rasr), key in zip(batch, st.keys):
            region = Region()
            region.rbar, region.rasr = rbar, rasr
            want = region.as_tuple()
            got = (key.base, key.size, key.sub, key.srd, key.priv, key.user) if key.on else None
            assert got == want, (hex(rbar), hex(rasr))
