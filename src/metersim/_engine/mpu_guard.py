"""The MPU enforced on the unicorn core: permissions per 1 KiB page through unicorn's virtual TLB.

The core runs in unicorn's virtual-TLB mode from its first slice when the C fill is built
(`use_virtual_tlb`: it is much faster than unicorn's own TLB, whose SRAM pages stay executable
and send every store through a check for translated code); otherwise only while
MPU_CTRL.ENABLE is set. In that mode every TLB miss asks the fill for the page's mapping and
rights (with the MPU off: the default memory map; execute only for instruction fetches):

- a page whose rights for the access are uniform (at the current privilege) maps one to one
  with those rights, so accesses run at full speed; unicorn keeps separate TLBs for privileged
  and unprivileged code, so a privilege change costs nothing;
- a data access to a page that is not uniformly allowed (a region or sub-region edge inside the
  page, or no access at all) maps the page into a shadow window above 4 GiB, an MMIO range whose
  callbacks check each access at its exact address and size: allowed ones reach the memory or
  the peripheral, a denied one stops the core on the faulting instruction (it has no effect)
  and becomes a MemManage fault with DACCVIOL and the exact MMFAR;
- an instruction fetch from a page without execute rights is refused: MemManage IACCVIOL.

A right handed out since the last flush is taken back when it may have changed. After an MPU
register write that changes a region (rewriting a region with the same values changes nothing
and costs nothing), the C fill drops, one page at a time, the pages it handed out that meet the
region's old or new extent and that a new fill of the same kind would map differently, for
that privilege only (`_mpu_fill.flush_changed`: an RTOS reprogramming a process region at every
switch then costs the refill of those few pages, not of every page in use, and the kernel's
entries on the process's stack stay); the whole TLB is flushed where that
does not apply (CTRL writes, pages the Python fill handed out, more than 1024 pages noted) and
at an exception return that leaves a negative priority (HardFault, NMI, FAULTMASK) while
HFNMIENA is clear.
Exception stacking and unstacking are done by the core, which checks each frame with
`MPU.refused_offsets` in Python, or, for the SVC entries and plain returns it does in C, with
the C fill's regions (`mpu_frame_check`: uniform pages only, anything else goes to Python).

The fill runs in C (`_mpu_fill`, built at install) for pages with uniform rights and calls the
Python fill below for the rest; without the extension everything runs in Python, slower.

Region rewrites themselves run in C too: the guard takes over the System Control Space range's
MMIO callbacks (`_take_register_writes`), and _mpu_fill.c does the privileged MPU_RNR/RBAR/RASR
word writes (the register values, the region's decoding, the page drops above) while the guard
checks rights and only the C fill handed pages out; everything else reaches the NVIC model as
before (the ICSR and SysTick writes an RTOS makes at every switch and sleep are the NVIC's
hot-register writes, tried before). The `MPU` model loads the registers written there before
it answers anything.

Limits: execute rights inside a page with a region edge are decided per translated block (from
its first instruction); `cpsid f`/`cpsie f` outside exception boundaries take effect for the
MPU at the next exception entry or return.
"""

from __future__ import annotations

import ctypes

from unicorn import UC_HOOK_TLB_FILL, UC_MEM_FETCH, UC_MEM_WRITE, UC_TLB_CPU, UC_TLB_VIRTUAL
from unicorn.arm_const import (UC_ARM_REG_CONTROL, UC_ARM_REG_FAULTMASK, UC_ARM_REG_IPSR,
                               UC_ARM_REG_XPSR)
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH
from unicorn.unicorn_py3.unicorn import (HOOK_TLB_FILL_CFUNC, MMIO_READ_CFUNC, MMIO_WRITE_CFUNC,
                                         uc_hook_h)
from unicorn.unicorn_py3.unicorn import uclib as _uclib

from metersim._engine import uc_native
from metersim._engine.sysbus import PAGE_SHIFT
from metersim._engine.traps import scan_sites
from metersim._errors import PlatformError
from metersim.peripherals.cortexm.mpu import PAGE, R, W, X

_uc_ctl = _uclib.uc_ctl
_TLB_FLUSH = (UC_CTL_IO_WRITE << 30) | UC_CTL_TLB_FLUSH   # uc_ctl code, no arguments
SHADOW_BASE = 1 << 32          # unicorn's ARM physical space has 40 bits; the core sees 32
_NEED = {UC_MEM_WRITE: W, UC_MEM_FETCH: X}

try:
    from metersim._engine import _mpu_fill
except ImportError:            # not built: the Python fill does everything
    _mpu_fill = None

MAX_REGIONS, MAX_HANDED = 16, 1024
MPU_TYPE_ADDR = 0xE000ED90
XPSR_IT_BITS = 0x0600FC00      # IT[1:0] at 26:25, IT[7:2] at 15:10


def mpu_frame_check() -> int | None:
    """Address of the C check of an exception frame against the MPU (_mpu_fill.c,
    mf_frame_allowed), for the core's exception path in C; None without the extension."""
    if _mpu_fill is None or _mpu_fill.state_size() != ctypes.sizeof(FastFillState):
        return None
    return _mpu_fill.frame_check_address()


class RegionKey(ctypes.Structure):
    """A decoded region (mf_key in _mpu_fill.c: Region.as_tuple, `on` 0 for None)."""
    _fields_ = [("base", ctypes.c_uint64), ("size", ctypes.c_uint64), ("on", ctypes.c_uint32),
                ("sub", ctypes.c_uint32), ("srd", ctypes.c_uint32), ("priv", ctypes.c_uint32),
                ("user", ctypes.c_uint32), ("pad", ctypes.c_uint32)]


class FastFillState(ctypes.Structure):
    """The C fill's shared state (the layout of mf_state in _mpu_fill.c)."""
    _fields_ = [("reg_read", ctypes.c_void_p), ("slow_fill", ctypes.c_void_p),
                ("shadow_base", ctypes.c_uint64),
                ("reg_ipsr", ctypes.c_int32), ("reg_control", ctypes.c_int32),
                ("reg_faultmask", ctypes.c_int32),
                ("ctrl", ctypes.c_uint32), ("slow_only", ctypes.c_uint32),
                ("n_regions", ctypes.c_uint32), ("fetch_denied", ctypes.c_uint32),
                ("n_handed", ctypes.c_uint32), ("handed", ctypes.c_uint32 * MAX_HANDED),
                ("regions", (ctypes.c_uint32 * 6) * MAX_REGIONS),
                ("reg_write", ctypes.c_void_p), ("reg_xpsr", ctypes.c_int32),
                ("off_cpu", ctypes.c_int64), ("off_condexec", ctypes.c_int64),
                ("uc", ctypes.c_void_p), ("flush_page", ctypes.c_void_p),
                ("page_flushes", ctypes.c_uint64),
                # MPU register writes in C (_mpu_fill.c, mf_scs_write)
                ("regs_on", ctypes.c_uint32), ("guard_active", ctypes.c_uint32),
                ("py_handed", ctypes.c_uint32), ("num_regions", ctypes.c_uint32),
                ("rnr", ctypes.c_uint32),
                ("rbar", ctypes.c_uint32 * MAX_REGIONS), ("rasr", ctypes.c_uint32 * MAX_REGIONS),
                ("keys", RegionKey * MAX_REGIONS),
                ("dirty", ctypes.c_uint32),
                ("py_read", ctypes.c_void_p), ("py_write", ctypes.c_void_p),
                ("py_user", ctypes.c_void_p), ("mpu_off", ctypes.c_uint64),
                ("uc_ctl", ctypes.c_void_p), ("ctl_flush", ctypes.c_int64),
                ("c_writes", ctypes.c_uint64),
                ("nvic", ctypes.py_object),
                ("pages", ctypes.py_object), ("page_key", ctypes.py_object),
                ("nvic_write", ctypes.py_object), ("cpu_obj", ctypes.py_object),
                ("mpu_obj", ctypes.py_object), ("mpu_write", ctypes.py_object)]


def is_unprivileged_load_store(hw1: int, hw2: int) -> bool:
    """LDRT/STRT/LDRBT/STRBT/LDRHT/STRHT/LDRSBT/LDRSHT (T1): an unprivileged access even when
    the code runs privileged (ARMv7-M A7.7.x, `1111 100x 0xxx nnnn | tttt 1110 imm8`)."""
    return (hw1 & 0xFE80) == 0xF800 and (hw2 & 0x0F00) == 0x0E00


class MpuGuard:
    def __init__(self, cpu):
        self.cpu = cpu
        self.uc = cpu.uc
        self.active = False            # virtual TLB mode with MPU checks
        self.always_virtual = False    # virtual TLB mode even with the MPU off (use_virtual_tlb)
        self._installed = False
        self.data_fault: tuple[int, bool, int] | None = None   # (address, is_write, pc)
        self._fetch_denied = False
        self._fast: FastFillState | None = None
        self._synced: list[tuple] = []        # the regions last handed to the C fill
        self._unpriv_sites: set[int] = set()
        self._handed: set[tuple[int, bool, bool]] = set()   # fills since the last flush

    @property
    def mpu(self):
        return self.cpu.nvic.mpu

    @property
    def fetch_denied(self) -> bool:
        """An instruction fetch was refused (the slice then ends with UC_ERR_EXCEPTION)."""
        return self._fetch_denied or bool(self._fast and self._fast.fetch_denied)

    @fetch_denied.setter
    def fetch_denied(self, value: bool) -> None:
        self._fetch_denied = value
        if self._fast is not None:
            self._fast.fetch_denied = int(value)

    # -- switching ---------------------------------------------------------------------------
    def update(self, spans: list[tuple[int, int]] | None = None) -> None:
        """The MPU's registers changed (within the address `spans`, or anywhere if None):
        follow CTRL.ENABLE, and drop the TLB entries whose rights may have changed."""
        self._catch_up()
        want = self.mpu.enabled
        if want and not self._installed:
            self._install()
        fast = self._fast
        if want != self.active:
            if not self.always_virtual:
                self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL if want else UC_TLB_CPU)
            self.active = want
            if fast is not None:
                fast.guard_active = int(want)
            self.flush()
        elif self.active:
            if fast is not None and fast.flush_page and spans is not None \
                    and not (self._handed and self._touched(spans, python_only=True)):
                # an RTOS reprogramming a process region: only the pages the C fill handed
                # out that a new fill would map differently go (a whole flush would make
                # every page in use be filled again)
                old_ctrl, old_regions = fast.ctrl, self._synced
                self._sync_fast()
                if _mpu_fill.flush_changed(self._fast_addr, spans, old_ctrl, old_regions) < 0:
                    self.flush()
                return
            if self._touched(spans):
                self.flush()
        if fast is not None:
            self._sync_fast()

    def use_virtual_tlb(self) -> bool:
        """Run in virtual-TLB mode from now on, the MPU off or on, when the C fill is built:
        unicorn's own TLB keeps SRAM executable and sends every store through its check for
        translated code on the page (about half the run time of store-heavy code); the C
        fill grants execute only to pages code is fetched from. False without the C fill
        or without the private offsets the fill needs (uc_native)."""
        if self.always_virtual:
            return True
        if _mpu_fill is None or _mpu_fill.state_size() != ctypes.sizeof(FastFillState) \
                or uc_native.private_offsets()[0] < 0:
            return False
        if not self._installed:
            self._install()
        self._sync_fast()
        self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.always_virtual = True
        self.flush()
        return True

    def _touched(self, spans, python_only: bool = False) -> bool:
        """Was a page inside `spans` (None: anywhere) handed out since the last flush (by
        the Python fill only, `python_only`)?"""
        fast = self._fast
        n_fast = fast.n_handed if fast is not None and not python_only else 0
        if not self._handed and not n_fast:
            return False
        if spans is None or n_fast > MAX_HANDED:
            return True
        pages = [key[0] for key in self._handed]
        if n_fast:
            pages += [h & ~(PAGE - 1) for h in fast.handed[:n_fast]]   # without the flag bits
        for lo, hi in spans:
            lo -= PAGE
            for p in pages:
                if lo < p < hi:                 # the page [p, p + 1 KiB) meets the span
                    return True
        return False

    def flush(self) -> None:
        self._handed.clear()
        if self._fast is not None:
            self._fast.n_handed = 0
            self._fast.py_handed = 0
        _uc_ctl(self.uc._uch, _TLB_FLUSH)

    def _sync_fast(self) -> None:
        """Hand the MPU's current regions to the C fill."""
        self._catch_up()
        fast = self._fast
        mpu = self._mpu
        active = mpu._active
        fast.ctrl = mpu.ctrl
        fast.n_regions = len(active)
        synced = self._synced
        for i, region in enumerate(active):
            if i >= len(synced) or synced[i] != region:
                fast.regions[i][:] = region
        self._synced = list(active)

    def _install(self) -> None:
        self._read_cfn = MMIO_READ_CFUNC(self._shadow_read)
        self._write_cfn = MMIO_WRITE_CFUNC(self._shadow_write)
        bc = self.cpu.bc
        if bc is not None:   # through the block clock's trampoline: exact PC and time
            ud = bc.trampoline(self._read_cfn, self._write_cfn, None)
            status = _uclib.uc_mmio_map(self.uc._uch, SHADOW_BASE, 1 << 32,
                                        ctypes.c_void_p(bc.mmio_read), ud,
                                        ctypes.c_void_p(bc.mmio_write), ud)
        else:
            status = _uclib.uc_mmio_map(self.uc._uch, SHADOW_BASE, 1 << 32, self._read_cfn,
                                        None, self._write_cfn, None)
        if status:
            raise PlatformError(f"cannot map the MPU shadow window (unicorn error {status})")
        # Fills follow every flush and an RTOS flushes at every switch between processes: the
        # C fill answers uniform pages; this raw callback (no binding wrapper) the rest.
        self._fill_cfn = HOOK_TLB_FILL_CFUNC(self._fill_raw)
        callback = ctypes.cast(self._fill_cfn, ctypes.c_void_p)
        user_data = None
        if _mpu_fill is not None and _mpu_fill.state_size() == ctypes.sizeof(FastFillState):
            fast = self._fast = FastFillState()
            fast.reg_read = ctypes.cast(_uclib.uc_reg_read, ctypes.c_void_p).value
            fast.reg_write = ctypes.cast(_uclib.uc_reg_write, ctypes.c_void_p).value
            fast.reg_xpsr = UC_ARM_REG_XPSR
            fast.slow_fill = callback.value
            fast.shadow_base = SHADOW_BASE
            fast.reg_ipsr, fast.reg_control, fast.reg_faultmask = (
                UC_ARM_REG_IPSR, UC_ARM_REG_CONTROL, UC_ARM_REG_FAULTMASK)
            offsets = uc_native.private_offsets()
            fast.off_cpu = offsets[0]
            fast.off_condexec = offsets[2] + offsets[3]
            fast.uc = ctypes.cast(self.uc._uch, ctypes.c_void_p).value
            # one page and one privilege at a time where unicorn exports it (flush_changed)
            flush_page = getattr(_uclib, "tlb_flush_page_by_mmuidx_arm", None)
            if flush_page is not None and offsets[0] > 0:
                fast.flush_page = ctypes.cast(flush_page, ctypes.c_void_p).value
            callback = ctypes.c_void_p(_mpu_fill.fill_address())
            user_data = self._fast_addr = ctypes.addressof(fast)
        self._fill_hook = uc_hook_h()
        status = _uclib.uc_hook_add(self.uc._uch, ctypes.byref(self._fill_hook), UC_HOOK_TLB_FILL,
                                    callback, user_data, ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status:
            raise PlatformError(f"cannot hook unicorn's TLB fill (unicorn error {status})")
        self._mpu = self.mpu
        self._installed = True
        if self._fast is not None:
            self._take_register_writes()

    # -- MPU register writes in C -----------------------------------------------------------------
    def _take_register_writes(self) -> None:
        """Let the C side do the MPU's RNR/RBAR/RASR word writes (`_mpu_fill.c`, mf_scs_write:
        an RTOS rewrites a process region at every switch): the System Control Space
        range's callbacks in the block clock's trampoline become the
        C ones, which hand every other access to the range's own. The model loads the
        registers written there before it answers anything (`_catch_up`) and reports its own
        changes back (`_mirror_refresh`)."""
        fast, mpu, bc = self._fast, self._mpu, self.cpu.bc
        if bc is None or not mpu.num_regions or not fast.flush_page:
            return
        ranges = [start for start, size in self.cpu.machine.sysbus._mmio_ranges
                  if start <= MPU_TYPE_ADDR < start + size]
        tramp = next((t for t in bc._tramps if ranges and t.user == ranges[0]), None)
        if tramp is None:
            return
        # Only while the bus's page still holds this NVIC, with its class's `write`, this core
        # and MPU, and the MPU's class's `write` (_mpu_fill.c, scs_owned): a tool that wraps
        # or patches them to log or count accesses sees every write, as before.
        from metersim.peripherals.cortexm.mpu import MPU
        from metersim.peripherals.cortexm.nvic import NVIC

        nvic = self.cpu.nvic
        pages = self.cpu.machine.sysbus._pages
        model, base = pages.get(MPU_TYPE_ADDR >> PAGE_SHIFT, (None, 0))
        if model is not nvic or base < ranges[0]:
            return
        fast.py_read, fast.py_write, fast.py_user = tramp.read, tramp.write, tramp.user
        fast.mpu_off = MPU_TYPE_ADDR - ranges[0]
        fast.uc_ctl = ctypes.cast(_uc_ctl, ctypes.c_void_p).value
        fast.ctl_flush = _TLB_FLUSH
        fast.num_regions = mpu.num_regions
        fast.guard_active = int(self.active)
        fast.pages, fast.page_key = pages, MPU_TYPE_ADDR >> PAGE_SHIFT
        fast.nvic_write, fast.cpu_obj = NVIC.write, self.cpu
        fast.mpu_obj, fast.mpu_write = mpu, MPU.write
        fast.nvic = nvic
        mpu.catch_up = self._catch_up
        mpu.on_write = self._mirror_refresh
        self._mirror_refresh()
        tramp.read, tramp.write = _mpu_fill.scs_callbacks()
        tramp.user = self._fast_addr
        fast.regs_on = 1

    def _catch_up(self) -> None:
        """Load into the model the registers the C side wrote since the model last looked (it
        did their effects on the TLB and the fill already)."""
        fast = self._fast
        if fast is None or not fast.dirty:
            return
        fast.dirty = 0
        n = self._mpu.num_regions
        self._mpu.load(fast.rnr, zip(fast.rbar[:n], fast.rasr[:n]))
        self._synced = list(self._mpu._active)

    def _mirror_refresh(self) -> None:
        """The model's registers changed in Python: copy them to the C side's mirror."""
        fast, mpu = self._fast, self._mpu
        n = mpu.num_regions
        fast.rnr = mpu.rnr
        fast.rbar[:n] = [r.rbar for r in mpu.regions]
        fast.rasr[:n] = [r.rasr for r in mpu.regions]
        _mpu_fill.mirror_refresh(self._fast_addr)

    def _fill_raw(self, _handle, page, access, entry_ptr, _ud) -> bool:
        """unicorn's TLB miss for `page`: its mapping and rights for the current privilege."""
        try:
            cpu = self.cpu
            if cpu.bc is not None:
                cpu.bc.idle_sync()   # an idle tick running in C: Python's state first
            mpu = self._mpu
            privileged, negative = cpu.access_state()
            if privileged and self._unpriv_sites and access != UC_MEM_FETCH \
                    and cpu.pc in self._unpriv_sites:
                privileged = False                  # LDRT/STRT family: unprivileged access
            key = (page, privileged, negative)
            every, some = mpu.page_rights(*key)
            self._handed.add(key)
            if self._fast is not None:
                self._fast.py_handed = 1        # region writes go through Python again
            entry = entry_ptr[0]
            if access == UC_MEM_FETCH:
                if not every & X and some & X and mpu.rights(cpu.pc, privileged, negative) & X:
                    every |= X                      # a region edge in the page: per block
                if not every & X:
                    self.fetch_denied = True
                    return False
                entry.paddr = page
            elif every & _NEED.get(access, R):
                entry.paddr = page
            else:
                entry.paddr = SHADOW_BASE | page    # check every access to this page
                every = R | W
            entry.perms = every
            if self._fast is None and access != UC_MEM_FETCH:
                self._clear_it_state()          # (the C fill does it for its own calls)
            return True
        except BaseException as e:  # noqa: BLE001 - handed back to the run loop
            self._fail(e)
            return False

    def _clear_it_state(self) -> None:
        """unicorn 2.1.4 rolls the CPU back to the faulting instruction before a TLB fill
        (cpu_restore_state), which leaves that instruction's IT state in the live condexec
        bits; the access then resumes inside the same translated block, where those bits
        must be 0. Left set, the next block is translated as if inside an IT block (its
        instructions run or are skipped under a stale condition), so a successful data fill
        clears them (the C fill does the same, _mpu_fill.c). A fetch fill comes from the
        translator, where the bits are the live IT state of the block being translated."""
        xpsr = self.uc.reg_read(UC_ARM_REG_XPSR)
        if xpsr & XPSR_IT_BITS:
            self.uc.reg_write(UC_ARM_REG_XPSR, xpsr & ~XPSR_IT_BITS)

    def scan(self, segments) -> None:
        """Find the firmware's unprivileged loads/stores (run at load): with any, every fill
        runs in Python, which tells them apart."""
        self._unpriv_sites |= scan_sites(segments, is_unprivileged_load_store)
        if self._fast is not None:
            self._fast.slow_only = 1 if self._unpriv_sites else 0

    # -- the shadow window: one access at a time ------------------------------------------------
    def _allowed(self, addr: int, size: int, right: int) -> bool:
        privileged, negative = self.cpu.access_state()
        if privileged and self.cpu.pc in self._unpriv_sites:
            privileged = False
        rights = self.mpu.rights
        return bool(rights(addr, privileged, negative) & right
                    and rights(addr + size - 1, privileged, negative) & right)

    def _shadow_read(self, _handle, addr, size, _ud):
        try:
            if not self._allowed(addr, size, R):
                self._deny(addr, False)
                return 0
            value = self.cpu.machine.sysbus.cpu_read(addr, size)
            if value is None:
                self.cpu.bus_error_from_mmio(addr, False)
                return 0
            return value
        except BaseException as e:  # noqa: BLE001 - handed back to the run loop
            self._fail(e)
            return 0

    def _shadow_write(self, _handle, addr, size, value, _ud):
        try:
            if not self._allowed(addr, size, W):
                self._deny(addr, True)
            elif not self.cpu.machine.sysbus.cpu_write(addr, size, value):
                self.cpu.bus_error_from_mmio(addr, True)
        except BaseException as e:  # noqa: BLE001
            self._fail(e)

    def _deny(self, addr: int, is_write: bool) -> None:
        # Stop right after this access: the instruction is abandoned with PC on it, its
        # destination register unwritten, as a precise MemManage fault requires.
        if self.data_fault is None:
            self.data_fault = (addr, is_write, self.cpu.pc)
        _uclib.uc_emu_stop(self.uc._uch)

    def _fail(self, e: BaseException) -> None:
        if self.uc._hook_exception is None:
            self.uc._hook_exception = e
        _uclib.uc_emu_stop(self.uc._uch)

    # -- exception frames -------------------------------------------------------------------------
