/*
 * Instruction counting per translated block, in C: the hot path of the core's virtual clock.
 *
 * unicorn's exact count (emu_start with count > 0) calls a helper before every instruction.
 * Instead, one UC_HOOK_BLOCK callback (this file) adds each block's instruction count, from a
 * small cache of decoded blocks, and counts exactly only where it must:
 *  - the block in which the slice limit falls: the hook stops before that block and records
 *    where inside it the limit lies; the core then runs the block again as a count-limited
 *    translation of just the instructions before that address (run_count, below), so the
 *    slice ends at its exact instruction;
 *  - MMIO accesses: a trampoline around each MMIO callback recovers the accessing
 *    instruction's PC from the host return address (cpu_restore_state, as QEMU does when it
 *    needs the guest PC) and stores the exact count of the access for the Python clock.
 * Every instruction of a block counts, an instruction an IT block skips included (it takes
 * its cycle on a Cortex-M3/M4 too). A limit inside an IT block moves to the IT block's end.
 *
 * Built from source at install; declares the few unicorn 2.1.4 types it uses and links to
 * nothing: unicorn's functions arrive as pointers in the shared state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "_hot_regs.h"

#define UC_ARM_REG_PC 11
#define CACHE_SIZE 8192u /* decoded blocks, direct-mapped */
#define MAX_BLOCK 1024u  /* a block never crosses a 1 KiB page */
#define IO_CACHE 1024u   /* MMIO access sites already located, direct-mapped */

typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*mem_read_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
typedef int (*emu_stop_fn)(void *uc);
typedef bool (*restore_fn)(void *cpu, uintptr_t host_pc, bool will_exit);
typedef void (*observer_fn)(uint64_t addr, uint32_t size);
typedef void (*site_fn)(uint64_t addr);
typedef uint64_t (*mmio_read_fn)(void *uc, uint64_t offset, unsigned size, void *ud);
typedef void (*mmio_write_fn)(void *uc, uint64_t offset, unsigned size, uint64_t value, void *ud);

struct bc_idle;
struct bc_exc;

/* The NVIC model's interrupt summary (peripherals/cortexm/nvic.py, InterruptSummary mirrors
 * this layout): an exception can be taken exactly when `best` is below the execution
 * priority, `active` lowered by BASEPRI (with pmask, gmask), PRIMASK and FAULTMASK. */
typedef struct {
    int32_t best;    /* lowest group priority pending and enabled; NV_NO_PENDING if none */
    int32_t active;  /* lowest group priority active; 256 if none */
    int32_t gmask;   /* group-priority bits (AIRCR.PRIGROUP) */
    int32_t pmask;   /* implemented priority bits */
    int32_t v6m;     /* ARMv6-M: PRIMASK only */
    int32_t gen;     /* changes whenever the model may have replaced its containers */
    uint32_t shcsr;  /* the model's SHCSR, CCR and VTOR (NVIC.shcsr, .ccr, .vtor live here) */
    uint32_t ccr;
    uint32_t vtor;
} nv_summary;

#define NV_NO_PENDING 0x7FFF
#define NV_ASK -1000  /* `best` when the C path could not recompute it: Python decides */

typedef struct {
    uint32_t addr;
    uint16_t size;   /* 0: empty */
    uint16_t n;
} bc_entry;

/* Shared with Python (uc_native.BlockClockState mirrors this layout). */
typedef struct {
    void *uc;
    reg_read_fn reg_read;
    mem_read_fn mem_read;
    emu_stop_fn emu_stop;
    restore_fn restore;
    observer_fn observer;   /* optional: called with every block that runs (debug API) */
    int64_t off_cpu;        /* offset of `CPUState *cpu` in uc_struct */
    int64_t off_io_pc;      /* offset of `mem_io_pc` in CPUState */
    int64_t off_env;        /* offset of the register file (CPUARMState) from CPUState */
    int64_t off_condexec;   /* offset of `condexec_bits` (the IT state) in CPUARMState */
    uint64_t base;          /* instructions completed before the current block */
    uint64_t limit;         /* the slice ends once this many instructions ran */
    uint64_t mmio_exec;     /* count at the MMIO access being served (access included) */
    uint32_t cur_start, cur_size, cur_n;
    uint32_t stopped;       /* the hook stopped before the block at cur_start */
    uint32_t stop_at;       /* ... and the slice should end at this address inside it (0: none) */
    uint32_t in_mmio;
    site_fn site_cb;        /* called when a block starts at one of `sites` (sorted) */
    uint32_t *sites;
    uint64_t n_sites;
    uint64_t site_bits[64]; /* 4096-bit filter over the sites' (address >> 1) & 4095 */
    /* Stopping right after an MMIO access's instruction: Python sets stop_after_access in
     * the callback; the trampoline then stops the run inside that instruction (unicorn
     * exits after the access, the instruction unfinished) and records the access, and the
     * core runs that one instruction again with the access answered from the record. */
    uint32_t stop_after_access, stopped_at_access, replay;
    uint32_t access_pc, access_len, access_in_it; /* the instruction of the current access */
    void *rec_tramp;
    uint64_t rec_offset, rec_value;
    uint32_t rec_size, rec_write;
    bc_entry *cache;
    struct bc_idle *idle;   /* set while idle_ticks runs ticks natively (see below) */
    void (*intr_py)(void *uc, uint32_t intno, void *ud);  /* the core's interrupt hook */
    struct bc_exc *exc;     /* set for a fast slice: SVC entries and plain returns in C */
    /* Unmask sites are checked here against the NVIC's summary: site_cb runs only when an
     * interrupt can be taken now (NULL summary: always). */
    nv_summary *nv_sum;
    int32_t reg_primask, reg_faultmask, reg_basepri;
    uint64_t site_skips;    /* unmask sites passed without a Python call (statistics) */
    /* Set by the core while a fast slice runs (CortexM._fast_slice): an unmask site where an
     * interrupt can be taken then stops before its block here, as the site callback would
     * (bc_stop_before_block), without calling Python. */
    uint32_t site_stop;
    uint32_t stop_k;        /* with stop_at: the instructions of the block before stop_at */
    int64_t off_cflags;     /* offset of `cflags_next_tb` in CPUState (see run_count) */
    uint64_t code_gen;      /* moves on at every bc_clear_cache (flash content changed) */
} bc_state;

static void idle_sync(bc_state *s);
static void bc_stop_before_block(bc_state *s);

/* An MMIO access site: the host code address of the access, in the block (start, size). */
typedef struct {
    uintptr_t host_pc;
    uint32_t start, size, pc, idx;
    uint16_t len, in_it;
} bc_io_entry;

typedef struct {
    bc_state *s;
    mmio_read_fn read;
    mmio_write_fn write;
    void *user;
} bc_tramp;

static inline unsigned insn_len(uint16_t hw)
{
    unsigned top = hw >> 11;
    return (top == 0x1D || top == 0x1E || top == 0x1F) ? 4u : 2u;
}

static bool read_block(bc_state *s, uint32_t addr, uint32_t size, uint8_t *buf)
{
    if (size > MAX_BLOCK + 2)
        return false;
    return s->mem_read(s->uc, addr, buf, size) == 0;
}

static uint32_t count_insns(const uint8_t *buf, uint32_t size)
{
    uint32_t n = 0, off = 0;
    while (off + 1 < size) {
        off += insn_len((uint16_t)(buf[off] | buf[off + 1] << 8));
        n++;
    }
    return n;
}

/* A block not decoded yet (kept out of the hook's hot path: no large stack frame there). */
static __attribute__((noinline)) uint32_t decode_block(bc_state *s, bc_entry *e, uint32_t addr,
                                                       uint32_t size)
{
    uint8_t buf[MAX_BLOCK + 2];
    uint32_t n = read_block(s, addr, size, buf) ? count_insns(buf, size) : size / 2;
    e->addr = addr;
    e->size = (uint16_t)size;
    e->n = (uint16_t)n;
    return n;
}

static inline bc_entry *cache_slot(bc_state *s, uint32_t addr, uint32_t size)
{
    return &s->cache[((addr >> 1) ^ (size << 7)) & (CACHE_SIZE - 1)];
}

/* Instructions of the current block before `pc`, plus the one at `pc` if it lies inside. */
static uint64_t in_block(bc_state *s, uint32_t pc)
{
    uint32_t start = s->cur_start, size = s->cur_size;
    if (s->stopped)
        return 0;
    if (pc < start || pc >= start + size)
        return s->cur_n;
    uint8_t buf[MAX_BLOCK + 2];
    if (!read_block(s, start, size, buf))
        return s->cur_n;
    uint32_t n = 0, off = 0;
    while (off < pc - start && off + 1 < size) {
        off += insn_len((uint16_t)(buf[off] | buf[off + 1] << 8));
        n++;
    }
    return n + 1;
}

/* Offset inside the block of the first instruction boundary at or after instruction `k` that
 * is not inside an IT block, and in `*n` the instructions before it; `size` if there is none. */
static uint32_t stop_offset(const uint8_t *buf, uint32_t size, uint32_t k, uint32_t *n)
{
    uint32_t off = 0, i = 0, it_left = 0;
    while (off + 1 < size) {
        uint16_t hw = (uint16_t)(buf[off] | buf[off + 1] << 8);
        if (i >= k && it_left == 0) {
            *n = i;
            return off;
        }
        if (it_left)
            it_left--;
        else if ((hw & 0xFF00) == 0xBF00 && (hw & 0xF)) {
            unsigned mask = hw & 0xF, tz = 0;
            while (!(mask & 1)) {
                mask >>= 1;
                tz++;
            }
            it_left = 4 - tz;
        }
        off += insn_len(hw);
        i++;
    }
    return size;
}

/* The slice limit falls in the block at `addr`: stop in front of it and note where inside it
 * the slice must end (and how many instructions lie before that); false if the block has to
 * run whole (the limit lies in an IT block). With the limit reached (k == 0) it stops in
 * front of the block: how the count-limited re-run of a block ends (bc_run_count). */
static __attribute__((noinline)) bool stop_in_block(bc_state *s, void *uc, uint32_t addr,
                                                    uint32_t size)
{
    uint64_t k = s->limit > s->base ? s->limit - s->base : 0;
    uint32_t off = 0, n = 0;
    if (k) {
        uint8_t buf[MAX_BLOCK + 2];
        void *cpu = *(void **)((char *)s->uc + s->off_cpu);
        if (*(uint32_t *)((char *)cpu + s->off_env + s->off_condexec))
            off = size;                 /* entered inside an IT block: run the block */
        else if (read_block(s, addr, size, buf))
            off = stop_offset(buf, size, (uint32_t)k, &n);
        else
            off = size;
    }
    if (off >= size)
        return false;
    s->cur_n = 0;
    s->stopped = 1;
    s->stop_at = off ? addr + off : 0;
    s->stop_k = n;
    s->emu_stop(uc);
    return true;
}

static inline bool maybe_site(const bc_state *s, uint32_t addr)
{
    uint32_t h = (addr >> 1) & 4095u;
    return (s->site_bits[h >> 6] >> (h & 63)) & 1u;
}

static bool is_site(const bc_state *s, uint32_t addr)
{
    if (!maybe_site(s, addr))
        return false;
    uint64_t lo = 0, hi = s->n_sites;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (s->sites[mid] < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_sites && s->sites[lo] == addr;
}

/* CortexM._on_unmask's question, from the NVIC's summary and the mask registers: can an
 * interrupt be taken now? (NVIC.execution_priority, then pending_to_take.) */
static bool site_can_take(bc_state *s)
{
    const nv_summary *m = s->nv_sum;
    if (!m)
        return true;
    int32_t best = m->best, p = m->active;
    if (best >= p)
        return false;               /* the masks only lower the execution priority */
    uint32_t pm = 0, fm = 0, bp = 0;
    s->reg_read(s->uc, s->reg_primask, &pm);
    if (!m->v6m) {
        s->reg_read(s->uc, s->reg_faultmask, &fm);
        s->reg_read(s->uc, s->reg_basepri, &bp);
    }
    if (bp & (uint32_t)m->pmask) {
        int32_t g = (int32_t)(bp & (uint32_t)m->pmask & (uint32_t)m->gmask);
        if (g < p)
            p = g;
    }
    if ((pm & 1) && p > 0)
        p = 0;
    if ((fm & 1) && p > -1)
        p = -1;
    return best < p;
}

/* The rest of the block hook: a block not decoded yet, a limit inside it, an observer. */
static __attribute__((noinline)) void block_slow(void *uc, uint64_t address, uint32_t size,
                                                 bc_state *s, bc_entry *e)
{
    uint32_t addr = (uint32_t)address;
    uint32_t n = (e->addr == addr && e->size == size) ? e->n : decode_block(s, e, addr, size);
    if (s->base + n > s->limit && stop_in_block(s, uc, addr, size))
        return;
    s->cur_n = n;
    bool site = s->site_cb && is_site(s, addr);
    if (s->idle && (s->observer || site))
        idle_sync(s);               /* after it, the NVIC model (and its summary) is current */
    if (s->observer)
        s->observer(address, size);
    if (site) {
        if (site_can_take(s)) {
            if (s->site_stop && s->nv_sum)
                bc_stop_before_block(s);
            else
                s->site_cb(address);
        } else
            s->site_skips++;
    }
}

static void bc_block(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    bc_state *s = (bc_state *)user_data;
    uint32_t addr = (uint32_t)address;
    uint64_t base = s->base + (s->stopped ? 0 : s->cur_n);  /* the previous block ran whole */
    s->base = base;
    s->stopped = 0;
    s->cur_start = addr;
    s->cur_size = size;
    bc_entry *e = cache_slot(s, addr, size);
    if (__builtin_expect(e->addr == addr && e->size == size && base + e->n <= s->limit
                         && !s->observer && !maybe_site(s, addr), 1)) {
        s->cur_n = e->n;
        return;
    }
    block_slow(uc, address, size, s, e);
}

static void sync_mmio(bc_state *s)
{
    char *cpu = *(char **)((char *)s->uc + s->off_cpu);
    char *env = cpu + s->off_env;
    uintptr_t host_pc = *(uintptr_t *)(cpu + s->off_io_pc);
    bc_io_entry *io = (bc_io_entry *)(s->cache + CACHE_SIZE) + ((host_pc >> 2) & (IO_CACHE - 1));
    if (io->host_pc == host_pc && io->start == s->cur_start && io->size == s->cur_size
        && !s->stopped) {
        *(uint32_t *)(env + 15 * 4) = io->pc;    /* what the restore below would set */
        s->mmio_exec = s->base + io->idx;
        s->access_pc = io->pc;
        s->access_len = io->len;
        s->access_in_it = io->in_it;
        return;
    }
    uint32_t pc = 0;
    uint8_t hw[2] = {0, 0};
    s->restore(cpu, host_pc, false);
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
    s->access_pc = pc;
    s->access_in_it = *(uint32_t *)(env + s->off_condexec) != 0;
    s->access_len = s->mem_read(s->uc, pc, hw, 2) == 0 ? insn_len((uint16_t)(hw[0] | hw[1] << 8)) : 0;
    /* Inside a translated block the IT state lives in the code, and env's copy is zero
     * (QEMU clears it when a block starts); the restore set it for this instruction: put
     * the zero back, or the next block would start in a stale IT state. */
    *(uint32_t *)(env + s->off_condexec) = 0;
    uint64_t idx = in_block(s, pc);
    s->mmio_exec = s->base + idx;
    if (!s->stopped && pc >= s->cur_start && pc < s->cur_start + s->cur_size) {
        io->host_pc = host_pc;
        io->start = s->cur_start;
        io->size = s->cur_size;
        io->pc = pc;
        io->idx = (uint32_t)idx;
        io->len = (uint16_t)s->access_len;
        io->in_it = (uint16_t)s->access_in_it;
    }
}

static void stop_in_access(bc_state *s, void *uc, bc_tramp *t, uint64_t offset, unsigned size,
                           uint64_t value, uint32_t write)
{
    s->stop_after_access = 0;
    if (s->access_in_it || !s->access_len || s->stopped)
        return;     /* inside an IT block: the slice ends at the block's end instead */
    s->rec_tramp = t;
    s->rec_offset = offset;
    s->rec_size = size;
    s->rec_value = value;
    s->rec_write = write;
    s->stopped_at_access = 1;
    s->emu_stop(uc);
}

/* Common entry of an MMIO access: bring the state up to this instant, and say whether the
 * access is the one a re-run block repeats (already done: its recorded value stands). */
static int mmio_enter(bc_state *s, bc_tramp *t, uint64_t offset, unsigned size, int write)
{
    if (s->idle)
        idle_sync(s);
    sync_mmio(s);
    if (s->replay && (void *)t == s->rec_tramp && offset == s->rec_offset
        && size == s->rec_size && s->rec_write == (uint32_t)write) {
        s->replay = 0;
        return 1;
    }
    return 0;
}

static uint64_t bc_mmio_read(void *uc, uint64_t offset, unsigned size, void *ud)
{
    bc_tramp *t = (bc_tramp *)ud;
    bc_state *s = t->s;
    if (mmio_enter(s, t, offset, size, 0))
        return s->rec_value;
    uint64_t hot;   /* a register the model lets C answer (_hot_regs.c), in a fast slice */
    if (s->site_stop && hr_read(t, s->uc, s->reg_read, s->mmio_exec, s->access_pc, offset, size,
                                &hot))
        return hot;
    s->in_mmio++;
    uint64_t v = t->read(uc, offset, size, t->user);
    s->in_mmio--;
    if (s->stop_after_access)
        stop_in_access(s, uc, t, offset, size, v, 0);
    return v;
}

static void bc_mmio_write(void *uc, uint64_t offset, unsigned size, uint64_t value, void *ud)
{
    bc_tramp *t = (bc_tramp *)ud;
    bc_state *s = t->s;
    if (mmio_enter(s, t, offset, size, 1))
        return;
    s->in_mmio++;
    /* a write the model lets C make (_hot_regs.c), in a fast slice; inside the access, as
     * the Python write is: a pend it makes may end the slice after this instruction */
    int hot = s->site_stop ? hr_write(t, s->uc, s->reg_read, s->mmio_exec, s->access_pc,
                                      offset, size, value) : 0;
    if (hot <= 0) {
        t->write(uc, offset, size, value, t->user);
        if (hot < 0)
            hr_write_check(t);      /* verify mode: C's effects against the model's */
    }
    s->in_mmio--;
    if (s->stop_after_access)
        stop_in_access(s, uc, t, offset, size, value, 1);
}

/* Executed instructions now (hooks outside MMIO: unicorn has synced the PC). */
static uint64_t bc_executed(bc_state *s)
{
    uint32_t pc = 0;
    if (s->in_mmio)
        return s->mmio_exec;
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
    return s->base + in_block(s, pc);
}

/* An interrupt hook left the current block at `pc`: only what ran of it counts. */
static void bc_settle_at(bc_state *s, uint32_t pc)
{
    s->cur_n = (uint32_t)in_block(s, pc);
}

static void bc_settle(bc_state *s)
{
    uint32_t pc = 0;
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
    bc_settle_at(s, pc);
}

/* From another block hook: the current block must not run. */
static void bc_stop_before_block(bc_state *s)
{
    if (!s->stopped) {
        s->cur_n = 0;
        s->stopped = 1;
        s->stop_at = 0;
        s->emu_stop(s->uc);
    }
}

static void bc_clear_cache(bc_state *s)
{
    memset(s->cache, 0, CACHE_SIZE * sizeof(bc_entry) + IO_CACHE * sizeof(bc_io_entry));
    s->code_gen++;          /* and the exception path's cached vectors (ex_vector) */
}

/* ======================================================================== idle ticks
 * A lone core asleep in WFI whose only due event is its SysTick wrap spends its time in
 * ticks: wrap (COUNTFLAG, pend exception 15), exception entry, a short handler, exception
 * return, back to WFI. idle_ticks runs such ticks here, each exactly as the Python run loop
 * would (same slice limits, same cycle arithmetic, same frames), and stops before the first
 * tick it cannot do alone: another event due, the run's end, masks changed, a frame it does
 * not handle. Anything Python must see while a tick runs (an MMIO access, an unmask site, an
 * interrupt other than the plain return) first calls `sync`, which gives the Python objects
 * the state they would have at that point (clock, SysTick, NVIC, core counters, a slice in
 * progress); the tick then goes on as an ordinary slice. */

typedef int (*reg_write_fn)(void *uc, int regid, const void *value);
typedef int (*reg_write_batch_fn)(void *uc, int const *regs, void *const *vals, int count);
typedef int (*reg_read_batch_fn)(void *uc, int const *regs, void *const *vals, int count);
typedef int (*mem_write_fn)(void *uc, uint64_t addr, const void *buf, uint64_t size);
typedef int (*emu_start_fn)(void *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                            size_t count);

enum { RG_R0, RG_R1, RG_R2, RG_R3, RG_R12, RG_LR, RG_XPSR, RG_CONTROL, RG_SP, RG_PC, RG_MSP,
       RG_PSP, RG_APSR_NZCV, RG_XPSR_NZCVQG, RG_PRIMASK, RG_FAULTMASK, RG_BASEPRI, RG_N };

enum { IDLE_DONE = 0, IDLE_PENDING = 1, IDLE_SYNCED = 2 };

#define PS_PER_S 1000000000000ull
#define EXC_SYSTICK 15u
#define EXCP_EXCEPTION_EXIT 8u

/* Shared with Python (uc_native.IdleTicks mirrors this layout). */
typedef struct bc_idle {
    reg_write_fn reg_write;
    mem_write_fn mem_write;
    emu_start_fn emu_start;
    void (*sync)(void);     /* Python: materialise the state at this point */
    int32_t regs[RG_N];     /* unicorn register ids */
    uint32_t ccr, has_fpu, primask, faultmask, basepri, rvr;
    uint64_t t_end_ps;      /* the run's end */
    uint64_t other_ps;      /* the earliest other event */
    uint64_t qcap_ps;       /* the run loop's step for a lone core */
    uint64_t max_ticks;
    uint64_t base_ps, base_cycles, freq_hz;           /* the core's time anchor */
    uint64_t st_anchor_ps, st_hz, vector_addr;        /* SysTick clock, vector of 15 */
    int64_t st_start_edge;
    uint64_t *limit_word;   /* unicorn's emu_count (the core keeps it at the slice limit) */
    /* in/out */
    uint64_t now_ps, next_ps, ticks, last_wrap, wraps;
    uint64_t cycles, instructions, idle_cycles, exceptions;
    uint64_t slice_end_ps, slice_cycles0;
    uint32_t ipsr, phase, synced, status;
    uint32_t start_pending;  /* SysTick is pending already (the wrap ran at now_ps) */
    reg_write_batch_fn reg_write_batch;
} bc_idle;

/* Several registers in one uc_reg_write_batch, in order, as the Python path writes them: inside
 * a slice, one uc_reg_write per register differs in unicorn (after such an exception return a
 * later ROM store's stop reported the PC of its block's start, so the store was skipped at the
 * wrong instruction and ran twice). */
static void wr_batch(void *uc, reg_write_batch_fn fn, const int32_t *regs, const uint32_t *vals,
                     int n)
{
    int ids[16];
    void *ptrs[16];
    uint32_t v[16];
    for (int i = 0; i < n; i++) {
        ids[i] = regs[i];
        v[i] = vals[i];
        ptrs[i] = &v[i];
    }
    fn(uc, ids, ptrs, n);
}

static uint64_t idle_tick_time(const bc_idle *d, uint64_t ticks)
{
    unsigned __int128 x = (unsigned __int128)(uint64_t)(d->st_start_edge + (int64_t)ticks) * PS_PER_S;
    return d->st_anchor_ps + (uint64_t)((x + d->st_hz - 1) / d->st_hz);
}

static uint64_t idle_cycles_at(const bc_idle *d, uint64_t t_ps)   /* floor */
{
    unsigned __int128 x = (unsigned __int128)(t_ps - d->base_ps) * d->freq_hz;
    return d->base_cycles + (uint64_t)(x / PS_PER_S);
}

static void idle_to(bc_idle *d, uint64_t t_ps)                   /* ceil, as CortexM.idle_to */
{
    unsigned __int128 x = (unsigned __int128)(t_ps - d->base_ps) * d->freq_hz;
    uint64_t c = d->base_cycles + (uint64_t)((x + PS_PER_S - 1) / PS_PER_S);
    if (c > d->cycles) {
        d->idle_cycles += c - d->cycles;
        d->cycles = c;
    }
}

static uint32_t idle_rd(bc_state *s, bc_idle *d, int r)
{
    uint32_t v = 0;
    s->reg_read(s->uc, d->regs[r], &v);
    return v;
}

static void idle_wr(bc_state *s, bc_idle *d, int r, uint32_t v)
{
    d->reg_write(s->uc, d->regs[r], &v);
}

static void idle_sync(bc_state *s)
{
    bc_idle *d = s->idle;
    s->idle = NULL;
    d->synced = 1;
    d->sync();
}

/* Exception entry for SysTick from thread mode (CortexM._enter): false, with nothing changed,
 * where Python must do it (an FP frame, a stacking error, no vector). */
static bool idle_enter(bc_state *s, bc_idle *d)
{
    uint32_t control = idle_rd(s, d, RG_CONTROL), sp = idle_rd(s, d, RG_SP);
    if (d->has_fpu && (control & 4))
        return false;
    uint32_t vector = 0;
    if (s->mem_read(s->uc, d->vector_addr, &vector, 4) != 0 || vector == 0)
        return false;
    uint32_t pad = ((d->ccr & 0x200) && (sp & 4)) ? 4 : 0;
    uint32_t frame_sp = sp - 0x20 - pad, xpsr = idle_rd(s, d, RG_XPSR);
    uint32_t frame[8] = {idle_rd(s, d, RG_R0), idle_rd(s, d, RG_R1), idle_rd(s, d, RG_R2),
                         idle_rd(s, d, RG_R3), idle_rd(s, d, RG_R12), idle_rd(s, d, RG_LR),
                         idle_rd(s, d, RG_PC) & ~1u, (xpsr & ~(1u << 9)) | (pad ? 1u << 9 : 0)};
    if (d->mem_write(s->uc, frame_sp, frame, sizeof frame) != 0)
        return false;
    bool psp = control & 2;
    idle_wr(s, d, RG_XPSR, (1u << 24) | EXC_SYSTICK);
    idle_wr(s, d, RG_APSR_NZCV, 0);
    idle_wr(s, d, psp ? RG_PSP : RG_MSP, frame_sp);
    idle_wr(s, d, RG_LR, psp ? 0xFFFFFFFDu : 0xFFFFFFF9u);
    idle_wr(s, d, RG_PC, vector | 1);
    d->ipsr = EXC_SYSTICK;
    d->exceptions++;
    return true;
}

/* Exception return from SysTick to thread mode, basic frame (CortexM._exception_return);
 * false, with nothing changed, for anything else. */
static bool idle_return(bc_state *s, bc_idle *d)
{
    uint32_t exc_return = idle_rd(s, d, RG_PC) | 1;
    uint32_t kind = exc_return & 0xF;
    if (d->ipsr != EXC_SYSTICK || (kind != 0x9 && kind != 0xD) || !(exc_return & 0x10)
        || (exc_return & 0xFFFFFFE0u) != 0xFFFFFFE0u)
        return false;
    bool psp = exc_return & 0x4;
    uint32_t control = idle_rd(s, d, RG_CONTROL);
    uint32_t sp = idle_rd(s, d, psp ? RG_PSP : RG_MSP);
    uint32_t f[8];
    if (s->mem_read(s->uc, sp, f, sizeof f) != 0)
        return false;
    uint32_t xpsr = f[7];
    uint32_t new_sp = sp + 0x20 + (((xpsr & (1u << 9)) && (d->ccr & 0x200)) ? 4 : 0);
    uint32_t xpsr_out = (xpsr & ~(1u << 9)) | (1u << 24);
    idle_wr(s, d, RG_FAULTMASK, 0);
    const int32_t *r = d->regs;
    const int32_t ids[12] = {r[RG_R0], r[RG_R1], r[RG_R2], r[RG_R3], r[RG_R12], r[RG_LR],
                             r[RG_CONTROL], r[RG_XPSR_NZCVQG], r[psp ? RG_PSP : RG_MSP],
                             r[RG_CONTROL], r[RG_APSR_NZCV], r[RG_PC]};
    const uint32_t vals[12] = {f[0], f[1], f[2], f[3], f[4], f[5], control & ~1u,
                               xpsr_out & ~0x1FFu, new_sp, (control & ~0x6u) | (psp ? 0x2u : 0),
                               xpsr & 0xF0000000u, f[6] | 1};
    wr_batch(s->uc, d->reg_write_batch, ids, vals, 12);
    d->ipsr = 0;
    return true;
}

static void bc_settle(bc_state *s);

/* ======================================================================== exceptions
 * SVC entry, exception return and its tail chain in C (CortexM._svc/_enter,
 * CortexM._exception_return/_tail_chain) during fast slices, and the interrupt entries between
 * slices (CortexM._take_interrupts, take_interrupt). Each is done here only where the Python
 * path would make exactly the same register and memory writes, and the same slice stop, with
 * no fault, escalation or MPU refusal (nor a tail chain into a fault or NMI); all checks come
 * before any change, so everything else goes to Python untouched. The
 * NVIC's bookkeeping (pending and active bits, the active list, the core's IPSR and
 * exception count) goes straight into the Python objects, under the GIL, and SHCSR into the
 * summary, where the model keeps it (as CCR and VTOR, which C reads there): whoever looks next
 * (an MMIO access, a hook, the debug API, the end of the slice) sees the exact state. */

typedef bool (*frame_allowed_fn)(const void *mf, uint32_t start, uint32_t len, uint32_t right,
                                 bool priv, bool negative);

enum { FP_N = 17, EXC_RO_N = 8, EXC_VC_N = 256 };
#define EXC_NMI 2
#define EXC_HARDFAULT 3
#define EXC_SVCALL 11
#define EXCP_PREFETCH_ABORT 3u
#define EXCP_SWI 2u
#define RIGHT_R 1u
#define RIGHT_W 2u

/* Shared with Python (uc_native.NativeExc mirrors this layout). */
typedef struct bc_exc {
    reg_write_fn reg_write;
    mem_write_fn mem_write;
    frame_allowed_fn frame_allowed; /* _mpu_fill's check of a frame against the MPU */
    void *mpu;              /* _mpu_fill's state (regions, MPU_CTRL), or NULL: no MPU checks */
    PyObject *cpu;          /* the CortexM (borrowed: it owns this block) */
    int32_t regs[RG_N];
    int32_t fp_regs[FP_N];  /* S0..S15, FPSCR */
    uint32_t has_fpu;
    uint64_t entries, returns;  /* done here (statistics) */
    reg_write_batch_fn reg_write_batch;
    /* The NVIC model's containers (strong references, see nv_load), valid while c_sum is
     * the bound summary and its generation is c_gen; exc_release drops them. */
    PyObject *c_act, *c_prio, *c_active, *c_pending, *c_pending_set, *c_enabled, *c_level;
    nv_summary *c_sum;
    int64_t c_gen;
    reg_read_batch_fn reg_read_batch;   /* the registers an entry or return reads, at once */
    /* Vectors of tables in read-only memory, as CortexM._vector caches them: the read-only
     * ranges (memory mapped without write permission, aliases included), and the vectors of
     * table vc_vtor read while the block clock's code_gen was vc_gen (0: not read yet). */
    uint32_t ro_n;
    uint32_t ro_base[EXC_RO_N], ro_size[EXC_RO_N];
    uint32_t vc_vtor;
    uint64_t vc_gen;
    uint32_t vc[EXC_VC_N];
} bc_exc;

static PyObject *S_ipsr, *S_taken, *S_nvic, *S_act, *S_prio, *S_active, *S_pending,
    *S_pending_set, *S_enabled, *S_level, *S_summary, *S_refresh;

/* What of the NVIC model the checks read: the model (a new reference), its containers
 * (borrowed from the exception block's cache), its registers and summary. */
typedef struct {
    PyObject *nv, *act, *prio, *active, *pending, *pending_set, *enabled, *level;
    long gmask, pmask;
    Py_ssize_t n;
    nv_summary *sum;    /* the model's InterruptSummary, the one the block clock has bound */
} nv_view;

static long attr_long(PyObject *o, PyObject *name, bool *ok)
{
    PyObject *v = PyObject_GetAttr(o, name);
    long x = -1;
    if (v) {
        x = PyLong_AsLong(v);
        Py_DECREF(v);
    }
    if (!v || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        *ok = false;
    }
    return x;
}

static void nv_release(nv_view *v)
{
    Py_XDECREF(v->nv);
}

/* Drop the cached containers (the core is gone, or the model has new ones). */
static void exc_forget(bc_exc *x)
{
    Py_CLEAR(x->c_act);
    Py_CLEAR(x->c_prio);
    Py_CLEAR(x->c_active);
    Py_CLEAR(x->c_pending);
    Py_CLEAR(x->c_pending_set);
    Py_CLEAR(x->c_enabled);
    Py_CLEAR(x->c_level);
    x->c_sum = NULL;
}

/* Fetch the model's containers into the cache, for its summary `sum` at its generation now:
 * NVIC.reset and refresh_summary (whatever replaces a container calls one of them) end in
 * _summarise_priorities, which moves the generation on. */
static bool exc_cache(bc_exc *x, PyObject *nv, nv_summary *sum)
{
    exc_forget(x);
    PyObject *summary = PyObject_GetAttr(nv, S_summary);
    Py_buffer b;
    bool same = false;
    if (summary && PyObject_GetBuffer(summary, &b, PyBUF_SIMPLE | PyBUF_WRITABLE) == 0) {
        same = b.buf == (void *)sum && b.len == (Py_ssize_t)sizeof(nv_summary);
        PyBuffer_Release(&b);
    }
    Py_XDECREF(summary);
    PyErr_Clear();
    if (!same)
        return false;       /* not the summary the block clock has bound: Python decides */
    x->c_act = PyObject_GetAttr(nv, S_act);
    x->c_prio = PyObject_GetAttr(nv, S_prio);
    x->c_active = PyObject_GetAttr(nv, S_active);
    x->c_pending = PyObject_GetAttr(nv, S_pending);
    x->c_pending_set = PyObject_GetAttr(nv, S_pending_set);
    x->c_enabled = PyObject_GetAttr(nv, S_enabled);
    x->c_level = PyObject_GetAttr(nv, S_level);
    PyErr_Clear();
    if (!x->c_act || !PyList_CheckExact(x->c_act) || !x->c_prio || !PyList_CheckExact(x->c_prio)
        || !x->c_active || !PyByteArray_CheckExact(x->c_active) || !x->c_pending
        || !PyByteArray_CheckExact(x->c_pending) || !x->c_pending_set
        || !PySet_CheckExact(x->c_pending_set) || !x->c_enabled
        || !PyByteArray_CheckExact(x->c_enabled) || !x->c_level
        || !PyByteArray_CheckExact(x->c_level)) {
        exc_forget(x);
        return false;
    }
    x->c_sum = sum;
    x->c_gen = sum->gen;
    return true;
}

static bool nv_load(bc_state *s, bc_exc *x, nv_view *v)
{
    memset(v, 0, sizeof *v);
    nv_summary *sum = s->nv_sum;
    PyObject *nv = v->nv = PyObject_GetAttr(x->cpu, S_nvic);
    if (!nv || nv == Py_None || !sum)
        goto bad;
    if ((x->c_sum != sum || x->c_gen != sum->gen) && !exc_cache(x, nv, sum))
        goto bad;
    v->act = x->c_act;
    v->prio = x->c_prio;
    v->active = x->c_active;
    v->pending = x->c_pending;
    v->pending_set = x->c_pending_set;
    v->enabled = x->c_enabled;
    v->level = x->c_level;
    v->sum = sum;
    v->n = PyList_GET_SIZE(v->prio);
    if (PyByteArray_GET_SIZE(v->active) < v->n || PyByteArray_GET_SIZE(v->pending) < v->n
        || PyByteArray_GET_SIZE(v->enabled) < v->n || PyByteArray_GET_SIZE(v->level) < v->n
        || v->n < 16)
        goto bad;
    /* PRIGROUP's group mask and the implemented priority bits: the summary keeps them as
     * the model has them (NVIC._summarise_priorities) */
    v->gmask = sum->gmask;
    v->pmask = sum->pmask;
    return true;
bad:
    PyErr_Clear();
    nv_release(v);
    memset(v, 0, sizeof *v);
    return false;
}

static inline long nv_group(const nv_view *v, long raw)   /* NVIC.group_priority */
{
    return raw < 0 ? raw : raw & v->gmask;
}

static bool nv_prio(const nv_view *v, long exc, long *raw)
{
    if (exc < 0 || exc >= v->n)
        return false;
    long x = PyLong_AsLong(PyList_GET_ITEM(v->prio, exc));
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
    }
    *raw = x;
    return true;
}

/* NVIC.execution_priority, with the first `skip` of the active list left out (the exception
 * being returned from: NVIC.complete removes it first); false if the model looks odd. */
static bool nv_exec_priority(const nv_view *v, uint32_t pm, uint32_t fm, uint32_t bp, long skip,
                             long *out)
{
    long p = 256, raw;
    bool skipped = skip < 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v->act); i++) {
        long exc = PyLong_AsLong(PyList_GET_ITEM(v->act, i));
        if (!skipped && exc == skip) {
            skipped = true;
            continue;
        }
        if (!nv_prio(v, exc, &raw))
            return false;
        long g = nv_group(v, raw);
        if (g < p)
            p = g;
    }
    if (bp & v->pmask) {
        long g = nv_group(v, (long)(bp & v->pmask));
        if (g < p)
            p = g;
    }
    if ((pm & 1) && p > 0)
        p = 0;
    if ((fm & 1) && p > -1)
        p = -1;
    *out = p;
    return true;
}

static bool nv_enabled(const nv_view *v, long exc)                 /* exception_enabled */
{
    if (exc >= 16)
        return PyByteArray_AS_STRING(v->enabled)[exc] != 0;
    if (exc == 4)
        return v->sum->shcsr & (1u << 16);
    if (exc == 5)
        return v->sum->shcsr & (1u << 17);
    if (exc == 6)
        return v->sum->shcsr & (1u << 18);
    return true;
}

/* One candidate of nv_pick: keep it if it comes first in the model's order (lowest group
 * priority, then lowest raw priority, then lowest number); false if the model looks odd. */
static bool nv_pick_one(const nv_view *v, long exc, bool *have, long *bg, long *braw, long *bexc)
{
    long raw;
    if (exc < 0 || exc >= v->n || !nv_prio(v, exc, &raw))
        return false;
    if (!nv_enabled(v, exc))
        return true;
    long g = nv_group(v, raw);
    if (!*have || g < *bg || (g == *bg && (raw < *braw || (raw == *braw && exc < *bexc)))) {
        *have = true;
        *bg = g;
        *braw = raw;
        *bexc = exc;
    }
    return true;
}

/* NVIC.highest_pending, then pending_to_take's test of it against `prio`: the exception that
 * preempts at execution priority `prio`, or -1; *odd on anything unexpected. `extra` (>= 0)
 * counts as pending too (an IRQ the return is about to pend again). */
static long nv_pick(const nv_view *v, long prio, long extra, bool *odd)
{
    PyObject *it = PyObject_GetIter(v->pending_set), *key;
    bool have = false;
    long bg = 0, braw = 0, bexc = 0;
    if (!it) {
        *odd = true;
        PyErr_Clear();
        return -1;
    }
    while ((key = PyIter_Next(it)) != NULL) {
        long exc = PyLong_AsLong(key);
        Py_DECREF(key);
        if (!nv_pick_one(v, exc, &have, &bg, &braw, &bexc)) {
            *odd = true;
            break;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        *odd = true;
    }
    if (extra >= 0 && !*odd && !nv_pick_one(v, extra, &have, &bg, &braw, &bexc))
        *odd = true;
    return (have && bg < prio) ? bexc : -1;
}

/* NVIC._summarise_pending and _summarise_active, after the C path changed pending or active
 * state; a model it cannot read leaves `best` at NV_ASK (Python then decides every time). */
static void nv_summarise(const nv_view *v)
{
    nv_summary *m = v->sum;
    if (!m)
        return;
    long best = NV_NO_PENDING, act = 256, raw;
    bool odd = false;
    PyObject *it = PyObject_GetIter(v->pending_set), *key;
    if (!it) {
        odd = true;
    } else {
        while ((key = PyIter_Next(it)) != NULL) {
            long exc = PyLong_AsLong(key);
            Py_DECREF(key);
            if (exc < 0 || exc >= v->n || !nv_prio(v, exc, &raw)) {
                odd = true;
                break;
            }
            if (nv_enabled(v, exc) && nv_group(v, raw) < best)
                best = nv_group(v, raw);
        }
        Py_DECREF(it);
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v->act); i++) {
        long exc = PyLong_AsLong(PyList_GET_ITEM(v->act, i));
        if (!nv_prio(v, exc, &raw)) {
            odd = true;
            break;
        }
        if (nv_group(v, raw) < act)
            act = nv_group(v, raw);
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        odd = true;
    }
    if (odd) {                      /* not expected: let the model do it */
        PyObject *r = PyObject_CallMethodObjArgs(v->nv, S_refresh, NULL);
        Py_XDECREF(r);
        if (!r) {
            PyErr_Clear();
            m->best = NV_ASK;
        }
        return;
    }
    m->best = (int32_t)best;
    m->active = (int32_t)act;
}

static int shcsr_bit(long exc)                                     /* NVIC._SHCSR_ACT */
{
    switch (exc) {
    case 4: return 0;
    case 5: return 1;
    case 6: return 3;
    case 11: return 7;
    case 12: return 8;
    case 14: return 10;
    case 15: return 11;
    default: return -1;
    }
}

static void set_long(PyObject *o, PyObject *name, long value)
{
    PyObject *v = PyLong_FromLong(value);
    if (!v || PyObject_SetAttr(o, name, v) < 0)
        PyErr_Clear();
    Py_XDECREF(v);
}

static void nv_shcsr_active(nv_view *v, long exc, bool on)          /* _shcsr_active */
{
    int bit = shcsr_bit(exc);
    if (bit >= 0)
        v->sum->shcsr = on ? (v->sum->shcsr | (1u << bit)) : (v->sum->shcsr & ~(1u << bit));
}

/* NVIC.acknowledge's state changes (pending -> active), without the summary: the caller
 * recomputes it (nv_summarise) once its changes are all made. */
static void nv_acknowledge(nv_view *v, long exc)
{
    PyByteArray_AS_STRING(v->pending)[exc] = 0;
    PyObject *k = PyLong_FromLong(exc);
    if (k) {
        if (PySet_Discard(v->pending_set, k) < 0)
            PyErr_Clear();
        if (PyList_Append(v->act, k) < 0)
            PyErr_Clear();
        Py_DECREF(k);
    }
    PyErr_Clear();
    PyByteArray_AS_STRING(v->active)[exc] = 1;
    nv_shcsr_active(v, exc, true);
}

/* NVIC.complete's state changes for an exception whose IRQ line is low (no re-pend), without
 * the summary (as nv_acknowledge). */
static void nv_complete(nv_view *v, long exc)
{
    PyByteArray_AS_STRING(v->active)[exc] = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v->act); i++) {
        long e = PyLong_AsLong(PyList_GET_ITEM(v->act, i));
        if (e == exc) {
            if (PySequence_DelItem(v->act, i) < 0)
                PyErr_Clear();
            break;
        }
    }
    PyErr_Clear();
    nv_shcsr_active(v, exc, false);
}

static void cpu_count_exception(PyObject *cpu)
{
    bool ok = true;
    long n = attr_long(cpu, S_taken, &ok);
    if (ok)
        set_long(cpu, S_taken, n + 1);
}

static inline uint32_t ex_rd(bc_state *s, bc_exc *x, int32_t reg)
{
    uint32_t v = 0;
    (void)x;
    s->reg_read(s->uc, reg, &v);
    return v;
}

/* The registers x->regs[which[i]] into out[i], in one call where unicorn has the batch form
 * (reads have no side effects: the same values as one uc_reg_read each). */
static void ex_rd_n(bc_state *s, bc_exc *x, const int *which, uint32_t *out, int n)
{
    int ids[16];
    void *ptrs[16];
    for (int i = 0; i < n; i++) {
        ids[i] = x->regs[which[i]];
        out[i] = 0;
        ptrs[i] = &out[i];
    }
    if (x->reg_read_batch)
        x->reg_read_batch(s->uc, ids, ptrs, n);
    else
        for (int i = 0; i < n; i++)
            s->reg_read(s->uc, ids[i], &out[i]);
}

static inline void ex_wr(bc_state *s, bc_exc *x, int32_t reg, uint32_t v)
{
    x->reg_write(s->uc, reg, &v);
}

static bool ex_frame_allowed(bc_exc *x, uint32_t start, uint32_t len, uint32_t right, bool priv,
                             bool negative)
{
    return !x->mpu || x->frame_allowed(x->mpu, start, len, right, priv, negative);
}

static bool ex_read_only(const bc_exc *x, uint32_t addr)
{
    for (uint32_t i = 0; i < x->ro_n && i < EXC_RO_N; i++)
        if (addr - x->ro_base[i] < x->ro_size[i])
            return true;
    return false;
}

/* The vector of `exc` in the table at `vtor` (0: none there), false if unreadable. A table in
 * read-only memory changes only with the flash (CortexM.invalidate_code_caches, which clears
 * the block clock's cache): its vectors are read once per content, as CortexM._vector does. */
static bool ex_vector(bc_state *s, bc_exc *x, uint32_t vtor, long exc, uint32_t *vector)
{
    uint32_t addr = vtor + 4u * (uint32_t)exc;
    bool cached = exc >= 0 && exc < EXC_VC_N;
    if (cached && x->vc_vtor == vtor && x->vc_gen == s->code_gen && x->vc[exc]) {
        *vector = x->vc[exc];
        return true;
    }
    *vector = 0;
    if (s->mem_read(s->uc, addr, vector, 4) != 0)
        return false;
    if (cached && *vector && ex_read_only(x, vtor) && ex_read_only(x, addr)) {
        if (x->vc_vtor != vtor || x->vc_gen != s->code_gen) {
            memset(x->vc, 0, sizeof x->vc);
            x->vc_vtor = vtor;
            x->vc_gen = s->code_gen;
        }
        x->vc[exc] = *vector;
    }
    return true;
}

/* Exception entry (CortexM._enter) of `exc` (> UsageFault: no dead-end check), returning to PC,
 * where it needs no fault: the frame allowed by the MPU and written, a vector. */
static bool exc_entry(bc_state *s, bc_exc *x, long exc, long ipsr, nv_view *v, uint32_t fm)
{
    const int32_t *r = x->regs;
    if (exc <= 6 || exc >= v->n)
        return false;
    static const int which[10] = {RG_XPSR, RG_CONTROL, RG_SP, RG_PC, RG_R0, RG_R1, RG_R2,
                                  RG_R3, RG_R12, RG_LR};
    uint32_t g[10];
    ex_rd_n(s, x, which, g, 10);
    uint32_t xpsr = g[0], control = g[1], sp = g[2], pc = g[3];
    bool thread = ipsr == 0, use_psp = thread && (control & 2);
    bool fpca = x->has_fpu && (control & 4);
    uint32_t size = fpca ? 0x68 : 0x20;
    uint32_t pad = ((v->sum->ccr & 0x200) && (sp & 4)) ? 4 : 0;
    uint32_t frame_sp = sp - size - pad;
    uint32_t frame[26] = {g[4], g[5], g[6], g[7], g[8], g[9], pc & ~1u,
                          (xpsr & ~(1u << 9)) | (pad ? 1u << 9 : 0)};
    if (fpca)
        for (int i = 0; i < FP_N; i++)
            frame[8 + i] = ex_rd(s, x, x->fp_regs[i]);
    const char *active = PyByteArray_AS_STRING(v->active);
    bool negative = active[EXC_HARDFAULT] || active[EXC_NMI] || (fm & 1);
    if (!ex_frame_allowed(x, frame_sp, size, RIGHT_W, !thread || !(control & 1), negative))
        return false;                       /* MemManage stacking fault: Python */
    uint32_t vector = 0;
    if (!ex_vector(s, x, v->sum->vtor, exc, &vector) || !vector)
        return false;
    if (x->mem_write(s->uc, frame_sp, frame, size) != 0)
        return false;
    uint32_t exc_return = thread ? (use_psp ? 0xFFFFFFFDu : 0xFFFFFFF9u) : 0xFFFFFFF1u;
    if (fpca) {
        exc_return &= ~0x10u;
        ex_wr(s, x, r[RG_XPSR], (1u << 24) | (uint32_t)exc);
        ex_wr(s, x, r[RG_CONTROL], control & ~4u);
    }
    const int32_t ids[5] = {r[RG_XPSR], r[RG_APSR_NZCV], r[use_psp ? RG_PSP : RG_MSP], r[RG_LR],
                            r[RG_PC]};
    const uint32_t vals[5] = {(1u << 24) | (uint32_t)exc, 0, frame_sp, exc_return, vector | 1};
    wr_batch(s->uc, x->reg_write_batch, ids, vals, 5);
    nv_acknowledge(v, exc);
    nv_summarise(v);
    set_long(x->cpu, S_ipsr, exc);
    cpu_count_exception(x->cpu);
    x->entries++;
    return true;
}

/* SVC (CortexM._svc then _enter(SVCALL)): PC is already past the svc instruction. */
static bool exc_svc(bc_state *s, bc_exc *x, long ipsr, nv_view *v)
{
    static const int which[3] = {RG_PRIMASK, RG_FAULTMASK, RG_BASEPRI};
    uint32_t g[3];
    ex_rd_n(s, x, which, g, 3);
    uint32_t pm = g[0], fm = g[1], bp = g[2];
    long prio, raw;
    if (!nv_exec_priority(v, pm, fm, bp, -1, &prio) || !nv_prio(v, EXC_SVCALL, &raw)
        || nv_group(v, raw) >= prio)
        return false;                       /* escalation to HardFault: Python */
    return exc_entry(s, x, EXC_SVCALL, ipsr, v, fm);
}

/* What NVIC.complete does when the returning IRQ's line is still high: set_pending pends
 * it again and, where it could preempt now (CortexM.interrupt_pending_changed), ends the
 * slice after this instruction (CortexM._limit_slice(0)). Worked out before any change. */
typedef struct {
    bool add;           /* pend it (it was not pending) */
    bool limit;         /* lower the slice limit to limit_to */
    uint64_t limit_to;
} exc_repend;

/* The re-pend's changes, after NVIC.complete's (the summary is recomputed after). */
static void exc_repend_apply(bc_state *s, nv_view *v, long ipsr, const exc_repend *rp)
{
    if (rp->add) {
        PyByteArray_AS_STRING(v->pending)[ipsr] = 1;
        PyObject *k = PyLong_FromLong(ipsr);
        if (!k || PySet_Add(v->pending_set, k) < 0)
            PyErr_Clear();
        Py_XDECREF(k);
    }
    if (rp->limit) {
        s->limit = rp->limit_to;
        if (s->in_mmio)
            s->stop_after_access = 1;
    }
}

/* The tail chain of an exception return (CortexM._exception_return, then _tail_chain): from
 * `ipsr` straight into `exc`, the pending exception that preempts the context returned to,
 * where it needs no fault (a configurable exception with a vector). The registers are written
 * one by one, in _tail_chain's order. */
static bool exc_chain(bc_state *s, bc_exc *x, long ipsr, nv_view *v, uint32_t exc_return,
                      long exc, const exc_repend *rp)
{
    const int32_t *r = x->regs;
    uint32_t vector = 0;
    if (exc <= 6 || exc >= v->n || !ex_vector(s, x, v->sum->vtor, exc, &vector) || !vector)
        return false;
    ex_wr(s, x, r[RG_XPSR], (1u << 24) | (uint32_t)exc);
    ex_wr(s, x, r[RG_APSR_NZCV], 0);
    ex_wr(s, x, r[RG_LR], exc_return);
    ex_wr(s, x, r[RG_PC], vector | 1);
    nv_complete(v, ipsr);
    exc_repend_apply(s, v, ipsr, rp);
    nv_acknowledge(v, exc);
    nv_summarise(v);
    set_long(x->cpu, S_ipsr, exc);
    cpu_count_exception(x->cpu);
    x->returns++;
    x->entries++;
    return true;
}

/* EXC_RETURN (CortexM._exception_return): a plain return or a tail chain (exc_chain). */
static bool exc_ret(bc_state *s, bc_exc *x, long ipsr, nv_view *v, uint32_t exc_return)
{
    const int32_t *r = x->regs;
    uint32_t kind = exc_return & 0xF;
    if (ipsr == 0 || (kind != 0x1 && kind != 0x9 && kind != 0xD)
        || (!(exc_return & 0x10) && !x->has_fpu) || ipsr == EXC_NMI || ipsr == EXC_HARDFAULT
        || ipsr >= v->n || !v->sum)
        return false;
    static const int which[6] = {RG_FAULTMASK, RG_PRIMASK, RG_BASEPRI, RG_MSP, RG_PSP,
                                 RG_CONTROL};
    uint32_t g[6];
    ex_rd_n(s, x, which, g, 6);
    if (g[0])
        return false;                       /* FAULTMASK to clear, MPU flush: Python */
    uint32_t pm = g[1], bp = g[2];
    exc_repend rp = {false, false, 0};
    long best = v->sum->best;               /* the summary's, as NVIC.complete leaves it */
    long extra = -1;
    if (ipsr >= 16 && PyByteArray_AS_STRING(v->level)[ipsr]) {
        long raw, act, prio;
        if (!nv_prio(v, ipsr, &raw) || !nv_exec_priority(v, 0, 0, 0, ipsr, &act)
            || !nv_exec_priority(v, pm, 0, bp, ipsr, &prio))
            return false;
        if (!PyByteArray_AS_STRING(v->pending)[ipsr]) {
            rp.add = true;
            extra = ipsr;
            if (PyByteArray_AS_STRING(v->enabled)[ipsr] && nv_group(v, raw) < best)
                best = nv_group(v, raw);
        }
        if (best < act && best < prio) {
            rp.limit = true;
            rp.limit_to = bc_executed(s);   /* (the PC is still EXC_RETURN's) */
        }
    }
    bool nothing_pending = PySet_GET_SIZE(v->pending_set) == 0 && !rp.add;
    if (!nothing_pending) {
        long prio;
        bool odd = false;
        if (!nv_exec_priority(v, pm, 0, bp, ipsr, &prio))
            return false;
        /* NVIC.pending_to_take: the summary first, as the model asks it */
        if (best < prio) {
            long chain = nv_pick(v, prio, extra, &odd);
            if (odd)
                return false;
            if (chain >= 0)
                return exc_chain(s, x, ipsr, v, exc_return, chain, &rp);
        }
    }
    bool to_thread = exc_return & 0x8, use_psp = exc_return & 0x4;
    bool extended = !(exc_return & 0x10);
    uint32_t msp = g[3], psp = g[4], control = g[5];
    uint32_t sp = use_psp ? psp : msp, size = extended ? 0x68 : 0x20;
    const char *active = PyByteArray_AS_STRING(v->active);
    bool negative = active[EXC_HARDFAULT] || active[EXC_NMI];
    if (!ex_frame_allowed(x, sp, size, RIGHT_R, !to_thread || !(control & 1), negative))
        return false;                       /* MemManage unstacking fault: Python */
    uint32_t f[26];
    if (s->mem_read(s->uc, sp, f, size) != 0)
        return false;
    uint32_t xpsr = f[7];
    uint32_t new_sp = sp + size + (((xpsr & (1u << 9)) && (v->sum->ccr & 0x200)) ? 4 : 0);
    uint32_t xpsr_out = (xpsr & ~(1u << 9)) | (1u << 24);
    long new_ipsr = 0;
    if (nothing_pending)
        ex_wr(s, x, r[RG_FAULTMASK], 0);
    if (extended)
        for (int i = 0; i < FP_N; i++)
            ex_wr(s, x, x->fp_regs[i], f[8 + i]);
    if (to_thread) {
        uint32_t want = (control & ~0x6u) | (use_psp ? 0x2u : 0) | (extended ? 0x4u : 0);
        const int32_t ids[12] = {r[RG_R0], r[RG_R1], r[RG_R2], r[RG_R3], r[RG_R12], r[RG_LR],
                                 r[RG_CONTROL], r[RG_XPSR_NZCVQG], r[use_psp ? RG_PSP : RG_MSP],
                                 r[RG_CONTROL], r[RG_APSR_NZCV], r[RG_PC]};
        const uint32_t vals[12] = {f[0], f[1], f[2], f[3], f[4], f[5], control & ~0x1u,
                                   xpsr_out & ~0x1FFu, new_sp, want, xpsr & 0xF0000000u, f[6] | 1};
        wr_batch(s->uc, x->reg_write_batch, ids, vals, 12);
    } else {
        if (extended)
            ex_wr(s, x, r[RG_CONTROL], control | 0x4u);
        const int32_t ids[10] = {r[RG_R0], r[RG_R1], r[RG_R2], r[RG_R3], r[RG_R12], r[RG_LR],
                                 r[RG_MSP], r[RG_XPSR_NZCVQG], r[RG_APSR_NZCV], r[RG_PC]};
        const uint32_t vals[10] = {f[0], f[1], f[2], f[3], f[4], f[5], new_sp, xpsr_out,
                                   xpsr & 0xF0000000u, f[6] | 1};
        wr_batch(s->uc, x->reg_write_batch, ids, vals, 10);
        new_ipsr = xpsr & 0x1FF;
    }
    nv_complete(v, ipsr);
    exc_repend_apply(s, v, ipsr, &rp);
    nv_summarise(v);
    set_long(x->cpu, S_ipsr, new_ipsr);
    x->returns++;
    return true;
}

/* An SVC or an exception return during a fast slice: true if done here. */
static bool exc_fast(bc_state *s, bc_exc *x, uint32_t intno)
{
    uint32_t pc = 0;
    bool is_return = intno == EXCP_EXCEPTION_EXIT;
    if (!is_return && intno != EXCP_SWI && intno != EXCP_PREFETCH_ABORT)
        return false;
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);     /* (read once: nothing below moves it) */
    if (intno == EXCP_PREFETCH_ABORT) {
        is_return = (pc & 0xFFFFFFE0u) == 0xFFFFFFE0u;
        if (!is_return)
            return false;
    }
    bc_settle_at(s, pc);     /* the block ran up to here (as CortexM._on_intr does) */
    bool done = false;
    PyGILState_STATE g = PyGILState_Ensure();
    bool ok = true;
    long ipsr = attr_long(x->cpu, S_ipsr, &ok);
    nv_view v;
    if (ok && nv_load(s, x, &v)) {
        if (is_return) {
            done = exc_ret(s, x, ipsr, &v, pc | 1);
        } else {
            done = exc_svc(s, x, ipsr, &v);
        }
        nv_release(&v);
    }
    PyErr_Clear();
    PyGILState_Release(g);
    return done;
}

/* CortexM._take_interrupts between slices, in one call from Python: what it returns. */
enum { TAKE_NONE = -1,    /* nothing can be taken now: nothing changed */
       TAKE_WAKE = -2,    /* nothing to take, but WFI wakes (masked by PRIMASK only) */
       TAKE_DONE = -3,    /* an exception entered here */
       TAKE_PYTHON = -4   /* the model looks odd: Python decides (nothing changed) */
       /* >= 0: the exception to take, for Python to enter (CortexM._enter) */ };

/* _take_interrupts' first questions, from the NVIC's summary and the mask registers alone
 * (NVIC.execution_priority without PRIMASK: what wakes WFI; with it: what is taken): TAKE_NONE,
 * TAKE_WAKE, or 0 when an exception may be taken at *prio (the model decides which). */
static long take_precheck(bc_state *s, bc_exc *x, const nv_summary *m, long *prio, uint32_t *fm)
{
    long best = m->best, p = m->active;
    if (best >= p)
        return TAKE_NONE;          /* the masks only lower the execution priority */
    static const int which[3] = {RG_PRIMASK, RG_BASEPRI, RG_FAULTMASK};
    uint32_t g[3];
    ex_rd_n(s, x, which, g, 3);
    uint32_t pm = g[0], bp = g[1];
    *fm = g[2];
    if (bp & (uint32_t)m->pmask) {
        long g = (long)(bp & (uint32_t)m->pmask & (uint32_t)m->gmask);
        if (g < p)
            p = g;
    }
    if ((*fm & 1) && p > -1)
        p = -1;
    if (best >= p)
        return TAKE_NONE;
    if ((pm & 1) && p > 0)
        p = 0;
    if (best >= p)
        return TAKE_WAKE;          /* NVIC.pending_to_take's first test */
    *prio = p;
    return 0;
}

/* CortexM._take_interrupts' questions and the entry, between slices: one of the TAKE_*
 * answers, or the exception for Python to enter. The questions above, then
 * NVIC.pending_to_take's choice and the entry (exc_entry) where C can do it; the model is
 * read only when something is to be taken. */
static long take_run(bc_state *s, bc_exc *x)
{
    if (!s->nv_sum)
        return TAKE_PYTHON;
    long prio = 0;
    uint32_t fm = 0;
    long result = take_precheck(s, x, s->nv_sum, &prio, &fm);
    if (result != 0)
        return result;
    result = TAKE_PYTHON;
    bool ok = true;
    long ipsr = attr_long(x->cpu, S_ipsr, &ok);
    nv_view v;
    if (ok && nv_load(s, x, &v)) {       /* (with the summary the precheck read) */
        bool odd = false;
        long exc = nv_pick(&v, prio, -1, &odd);
        if (odd)
            result = TAKE_PYTHON;
        else if (exc < 0)
            result = TAKE_WAKE;
        else
            result = exc_entry(s, x, exc, ipsr, &v, fm) ? TAKE_DONE : exc;
        nv_release(&v);
    }
    PyErr_Clear();
    return result;
}

static bool take_addresses(PyObject *const *args, bc_state **s, bc_exc **x)
{
    *s = (bc_state *)PyLong_AsVoidPtr(args[0]);
    *x = (bc_exc *)PyLong_AsVoidPtr(args[1]);
    if (PyErr_Occurred())
        return false;
    if (!*s || !*x) {
        PyErr_SetString(PyExc_ValueError, "take_interrupt: null address");
        return false;
    }
    return true;
}

/* take_interrupt(state, exc): take_run, with the addresses of the block clock's state and
 * the core's exception parameters (bc_exc). */
static PyObject *take_interrupt(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    bc_state *s;
    bc_exc *x;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "take_interrupt(state_address, exc_address)");
        return NULL;
    }
    if (!take_addresses(args, &s, &x))
        return NULL;
    return PyLong_FromLong(take_run(s, x));
}

static PyObject *S_native_exc, *S_exact_users, *S_halted, *S_take_py, *S_enter;

/* take_interrupts(state, exc, cpu): the whole of CortexM._take_interrupts where the C path
 * answers (the core installs it in place of the method): nothing to take, WFI woken, or the
 * entry done here. An entry left to Python (a fault on the way) goes to CortexM._enter; the
 * model looking odd, exceptions in Python or the debugger's exact mode, to the method. */
static PyObject *take_interrupts(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    bc_state *s;
    bc_exc *x;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "take_interrupts(state_address, exc_address, cpu)");
        return NULL;
    }
    if (!take_addresses(args, &s, &x))
        return NULL;
    PyObject *cpu = args[2];
    PyObject *native = PyObject_GetAttr(cpu, S_native_exc);
    PyObject *exact = native ? PyObject_GetAttr(cpu, S_exact_users) : NULL;
    int use_c = exact ? PyObject_IsTrue(native) : -1;
    if (use_c > 0) {
        int ex = PyObject_IsTrue(exact);
        use_c = ex < 0 ? -1 : !ex;
    }
    Py_XDECREF(native);
    Py_XDECREF(exact);
    if (use_c < 0)
        return NULL;
    long r = use_c ? take_run(s, x) : TAKE_PYTHON;
    if (r == TAKE_NONE)
        Py_RETURN_NONE;
    if (r == TAKE_PYTHON) {            /* the method itself (the class's, under the instance's) */
        PyObject *fn = PyObject_GetAttr((PyObject *)Py_TYPE(cpu), S_take_py);
        PyObject *res = fn ? PyObject_CallOneArg(fn, cpu) : NULL;
        Py_XDECREF(fn);
        return res;
    }
    if (PyObject_SetAttr(cpu, S_halted, Py_False) < 0)
        return NULL;
    if (r >= 0) {                      /* an entry C leaves to Python */
        uint32_t pc = 0;
        s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
        PyObject *e = PyLong_FromLong(r), *p = PyLong_FromUnsignedLong(pc);
        PyObject *res = (e && p) ? PyObject_CallMethodObjArgs(cpu, S_enter, e, p, NULL) : NULL;
        Py_XDECREF(e);
        Py_XDECREF(p);
        if (!res)
            return NULL;
        Py_DECREF(res);
    }
    Py_RETURN_NONE;
}

/* ======================================================================== pending IRQs
 * A peripheral model raising an IRQ line (NVIC.on_gpio), SysTick or ICSR pending an exception
 * (NVIC.set_pending), and the core's check that follows (CortexM.interrupt_pending_changed):
 * the common cases here, in one call from Python. The model's containers are read by name at
 * each call (the debugger replaces pending_set wholesale); the summary is the one the block
 * clock has bound (NVIC.attach_cpu). */

static PyObject *S_in_slice, *S_cpu, *S_ipc, *S_beyond;

/* CortexM._limit_slice(0) in a fast slice: end after the current instruction (after this
 * access's instruction, inside an MMIO callback). */
static void fast_limit_now(bc_state *s)
{
    s->limit = bc_executed(s);
    if (s->in_mmio)
        s->stop_after_access = 1;
}

/* CortexM.interrupt_pending_changed in a fast slice: stop after this instruction if an
 * interrupt can be taken now (site_can_take: the unmask sites' rule). */
static PyObject *pending_stop(PyObject *self, PyObject *arg)
{
    (void)self;
    bc_state *s = (bc_state *)PyLong_AsVoidPtr(arg);
    if (PyErr_Occurred())
        return NULL;
    if (!s || !s->nv_sum) {
        PyErr_SetString(PyExc_ValueError, "pending_stop: no summary bound");
        return NULL;
    }
    if (site_can_take(s))
        fast_limit_now(s);
    Py_RETURN_NONE;
}

/* What NVIC.set_pending's last line asks of the core (`cpu`, not None): nothing between
 * slices; in a fast slice pending_stop's work; in an exact one the core's own method. */
static int core_pending_changed(bc_state *s, PyObject *cpu)
{
    PyObject *v = PyObject_GetAttr(cpu, S_in_slice);
    if (!v)
        return -1;
    int in = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (in <= 0)
        return in;
    if (s->site_stop) {
        if (site_can_take(s))
            fast_limit_now(s);
        return 0;
    }
    PyObject *r = PyObject_CallMethodObjArgs(cpu, S_ipc, NULL);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* A byte array attribute of the model with room for `exc`; NULL (an exception set) if not. */
static PyObject *nv_bytes(PyObject *nv, PyObject *name, long exc)
{
    PyObject *b = PyObject_GetAttr(nv, name);
    if (b && (!PyByteArray_CheckExact(b) || exc < 0 || exc >= PyByteArray_GET_SIZE(b))) {
        Py_DECREF(b);
        PyErr_Format(PyExc_IndexError, "exception %ld is beyond the NVIC's", exc);
        return NULL;
    }
    return b;
}

/* NVIC.exception_enabled */
static int nv_exc_enabled(PyObject *nv, const nv_summary *m, long exc)
{
    if (exc >= 16) {
        PyObject *en = nv_bytes(nv, S_enabled, exc);
        if (!en)
            return -1;
        int on = PyByteArray_AS_STRING(en)[exc] != 0;
        Py_DECREF(en);
        return on;
    }
    if (m->v6m && exc <= 6)
        return exc <= EXC_HARDFAULT;     /* ARMv6-M has no configurable faults */
    if (exc >= 4 && exc <= 6) {
        return (m->shcsr >> (12 + exc)) & 1;    /* MEMFAULTENA 16, BUSFAULTENA 17, USGFAULTENA 18 */
    }
    return 1;
}

/* NVIC.set_pending(exc) for the model `nv` whose summary the block clock `s` has bound. */
static int nv_set_pending(PyObject *nv, bc_state *s, long exc)
{
    nv_summary *m = s->nv_sum;
    PyObject *pending = nv_bytes(nv, S_pending, exc);
    if (!pending)
        return -1;
    char *p = PyByteArray_AS_STRING(pending);
    int rc = 0;
    if (!p[exc]) {                   /* NVIC.pend */
        PyObject *set = PyObject_GetAttr(nv, S_pending_set), *k = NULL, *prio = NULL;
        int on = -1;
        if (!set || !(k = PyLong_FromLong(exc)) || PySet_Add(set, k) < 0
            || (on = nv_exc_enabled(nv, m, exc)) < 0)
            rc = -1;
        else
            p[exc] = 1;
        if (on > 0) {                /* the summary: one more candidate */
            prio = PyObject_GetAttr(nv, S_prio);
            PyObject *item = prio ? PySequence_GetItem(prio, exc) : NULL;
            long raw = item ? PyLong_AsLong(item) : -1;
            Py_XDECREF(item);
            if (!item || (raw == -1 && PyErr_Occurred())) {
                rc = -1;
            } else {
                long g = raw < 0 ? raw : raw & m->gmask;
                if (g < m->best)
                    m->best = (int32_t)g;
            }
        }
        Py_XDECREF(prio);
        Py_XDECREF(k);
        Py_XDECREF(set);
    }
    Py_DECREF(pending);
    if (rc == 0 && m->best < m->active) {
        PyObject *cpu = PyObject_GetAttr(nv, S_cpu);
        if (!cpu)
            return -1;
        if (cpu != Py_None)
            rc = core_pending_changed(s, cpu);
        Py_DECREF(cpu);
    }
    return rc;
}

static bc_state *nv_state(PyObject *addr)
{
    bc_state *s = (bc_state *)PyLong_AsVoidPtr(addr);
    if (PyErr_Occurred())
        return NULL;
    if (!s || !s->nv_sum) {
        PyErr_SetString(PyExc_ValueError, "NVIC path: no summary bound");
        return NULL;
    }
    return s;
}

/* nv_set_pending(nvic, state_address, exc): NVIC.set_pending in C. */
static PyObject *py_nv_set_pending(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "nv_set_pending(nvic, state_address, exc)");
        return NULL;
    }
    bc_state *s = nv_state(args[1]);
    long exc = PyLong_AsLong(args[2]);
    if (!s || (exc == -1 && PyErr_Occurred()) || nv_set_pending(args[0], s, exc) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* nv_on_gpio(nvic, state_address, irq, level): NVIC.on_gpio in C (an IRQ input is
 * level-sensitive: a rising edge pends it). */
static PyObject *py_nv_on_gpio(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "nv_on_gpio(nvic, state_address, irq, level)");
        return NULL;
    }
    bc_state *s = nv_state(args[1]);
    long irq = PyLong_AsLong(args[2]);
    int high = PyObject_IsTrue(args[3]);
    if (!s || (irq == -1 && PyErr_Occurred()) || high < 0)
        return NULL;
    PyObject *nv = args[0];
    long exc = 16 + irq;
    PyObject *level = PyObject_GetAttr(nv, S_level);
    if (!level)
        return NULL;
    if (!PyByteArray_CheckExact(level) || irq < 0 || exc >= PyByteArray_GET_SIZE(level)) {
        Py_DECREF(level);              /* beyond the lines: the model says so */
        return PyObject_CallMethodObjArgs(nv, S_beyond, args[2], NULL);
    }
    char *l = PyByteArray_AS_STRING(level);
    bool was = l[exc] != 0;
    l[exc] = high ? 1 : 0;
    Py_DECREF(level);
    if (high && !was && nv_set_pending(nv, s, exc) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* privileged(cpu, state_address, control_reg): CortexM.is_privileged (handler mode, or
 * CONTROL.nPRIV clear), which the NVIC model asks at every register access. */
static PyObject *py_privileged(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "privileged(cpu, state_address, control_reg)");
        return NULL;
    }
    bc_state *s = (bc_state *)PyLong_AsVoidPtr(args[1]);
    long reg = PyLong_AsLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (!s) {
        PyErr_SetString(PyExc_ValueError, "privileged: null address");
        return NULL;
    }
    PyObject *ipsr = PyObject_GetAttr(args[0], S_ipsr);
    if (!ipsr)
        return NULL;
    int handler = PyObject_IsTrue(ipsr);
    Py_DECREF(ipsr);
    if (handler < 0)
        return NULL;
    if (handler)
        Py_RETURN_TRUE;
    uint32_t control = 0;
    s->reg_read(s->uc, (int)reg, &control);
    return PyBool_FromLong(!(control & 1));
}

/* exc_release(exc_address): drop what the exception block holds of the NVIC model (the core
 * that owns the block is being collected). */
static PyObject *exc_release(PyObject *self, PyObject *arg)
{
    (void)self;
    bc_exc *x = (bc_exc *)PyLong_AsVoidPtr(arg);
    if (PyErr_Occurred())
        return NULL;
    if (x)
        exc_forget(x);
    Py_RETURN_NONE;
}

/* The core's interrupt hook goes through here: the plain return of an idle tick is done in
 * C, and so are SVC entries and plain returns in a fast slice (exc_fast); anything else, after
 * a sync, by Python. */
static void bc_intr(void *uc, uint32_t intno, void *ud)
{
    bc_state *s = (bc_state *)ud;
    if (s->idle) {
        bc_settle(s);
        if (intno == EXCP_EXCEPTION_EXIT && idle_return(s, s->idle))
            return;
        idle_sync(s);
    } else if (s->exc && !s->observer && exc_fast(s, s->exc, intno)) {
        return;
    }
    if (s->intr_py)
        s->intr_py(uc, intno, NULL);
}

static bool idle_masks_same(bc_state *s, bc_idle *d)
{
    return idle_rd(s, d, RG_PRIMASK) == d->primask && idle_rd(s, d, RG_FAULTMASK) == d->faultmask
        && idle_rd(s, d, RG_BASEPRI) == d->basepri;
}

/* Run idle ticks; returns IDLE_DONE (halted between ticks), IDLE_PENDING (a wrap done, its
 * exception still to take: Python takes it) or IDLE_SYNCED (Python was synced inside a
 * tick's slice; `status` is unicorn's and Python completes the slice). */
static int bc_idle_ticks(bc_state *s, bc_idle *d)
{
    uint64_t done_ticks = 0;
    d->synced = 0;
    d->phase = 0;
    while (done_ticks < d->max_ticks) {
        uint64_t t = d->now_ps;
        if (d->start_pending) {
            d->start_pending = 0;       /* the wrap at now_ps ran in Python */
        } else {
            t = d->next_ps;
            if (t >= d->t_end_ps || t >= d->other_ps)
                return IDLE_DONE;
            /* the step that ends at the wrap: idle to it, the wrap event runs */
            idle_to(d, t);
            d->now_ps = t;
            d->last_wrap = d->ticks;
            d->ticks += (uint64_t)d->rvr + 1;
            d->next_ps = idle_tick_time(d, d->ticks);
            d->wraps++;
        }
        d->phase = 1;
        done_ticks++;
        /* the next step: take SysTick, run a slice to the step's target */
        uint64_t end = d->t_end_ps;
        if (t + d->qcap_ps < end)
            end = t + d->qcap_ps;
        if (d->next_ps < end)
            end = d->next_ps;
        if (d->other_ps < end)
            end = d->other_ps;
        uint64_t at_end = idle_cycles_at(d, end);
        if (at_end <= d->cycles || d->ipsr != 0 || !idle_masks_same(s, d) || !idle_enter(s, d))
            return IDLE_PENDING;
        d->phase = 2;
        uint64_t n = at_end - d->cycles;
        d->slice_end_ps = end;
        d->slice_cycles0 = d->cycles;
        s->base = 0;
        s->cur_n = 0;
        s->cur_start = s->cur_size = 0;
        s->stopped = 0;
        s->stop_at = 0;
        s->stop_after_access = s->stopped_at_access = s->replay = 0;
        s->limit = n;
        *d->limit_word = n;
        s->idle = d;
        uint32_t pc = idle_rd(s, d, RG_PC);
        int status = d->emu_start(s->uc, pc | 1, 0, 0, 0);
        d->status = (uint32_t)status;
        if (d->synced)
            return IDLE_SYNCED;
        s->idle = NULL;
        uint64_t executed = s->stopped ? s->base : bc_executed(s);
        uint16_t hw = 0;
        pc = idle_rd(s, d, RG_PC);
        bool clean = status == 0 && !s->stop_at && !s->stopped_at_access && !s->stopped
            && d->ipsr == 0 && executed > 0 && s->mem_read(s->uc, pc - 2, &hw, 2) == 0
            && hw == 0xBF30;
        if (!clean) {
            s->idle = d;
            idle_sync(s);
            return IDLE_SYNCED;
        }
        d->cycles += executed;
        d->instructions += executed;
        d->phase = 0;
    }
    return IDLE_DONE;
}

static void bc_idle_sync_from_python(bc_state *s)
{
    if (s->idle)
        idle_sync(s);
}

/* ======================================================================== a fast slice
 * One fast slice in a single call from Python (CortexM._run_slice): what BlockClock.begin
 * (with site_stop, CortexM._fast_slice's mirror), the PC read and uc_emu_start did in three,
 * then what CortexM._complete_slice does for the common ends: a plain end (no error), and a
 * stop inside a block or an access finished by running up to it again (_finish_in_block,
 * _finish_access), when no Python hook raised and no trap exits are set. Anything else is
 * left exactly as uc_emu_start leaves it, for Python to finish. */

/* Count-limited translation blocks (CortexM._run_to): QEMU's cpu_exec takes
 * `cpu->cflags_next_tb`, when it is not -1, as the compile flags of the next block it looks
 * up or translates, and sets it back to -1. Its CF_COUNT_MASK bits (the low 15) limit that
 * block to `count` instructions; the flags are part of the key under which translations are
 * cached (tb_lookup_cmp, tb_htable_lookup), so the short block is kept beside the whole one,
 * not instead of it, and the next stop at the same instruction finds it translated. unicorn
 * 2.1.4 never sets the field itself (curr_cflags() is 0 there), and uc_emu_start leaves it
 * alone. The short block ends with a jump to the next instruction, whose block starts with
 * the block hook (unicorn emits the hook inside the translated code, in front of the exit
 * check, so a chained jump reaches it too): with the limit reached, stop_in_block stops the
 * run there (k == 0), before that block runs. No jump is ever chained into the short block:
 * it is only looked up as the first block of a run (no previous block to patch), and the
 * other lookups (cpu_exec's, tb_jmp_cache, helper_lookup_tb_ptr for indirect jumps) ask for
 * the normal flags, which do not match it. The field is set back to -1 afterwards, in case
 * the run ended before its first lookup. Its offset comes from the calibration probe
 * (_uc_probe.calibrate_tb_cflags). A translation buffer that fills up while the short block
 * is translated is flushed and the lookup is made again without the limit: the whole block's
 * hook then stops in front of it again, and the caller runs it again (finish_stops). */
typedef struct bc_run_to_args {
    emu_start_fn emu_start;
} bc_run_to_args;

static int bc_run_count(bc_state *s, bc_run_to_args *a, uint32_t start, uint32_t count)
{
    char *cpu = *(char **)((char *)s->uc + s->off_cpu);
    uint32_t *cflags = (uint32_t *)(cpu + s->off_cflags);
    *cflags = count;    /* CF_COUNT_MASK: a block translated with this flag only */
    int status = a->emu_start(s->uc, (uint64_t)(start | 1u), 0, 0, 0);
    *cflags = UINT32_MAX;
    return status;
}

/* CortexM._finish_in_block: run the block the hook stopped in front of again, limited to
 * the instructions before the slice's end (stop_k; past an IT block if need be). The limit
 * stays: the next block's hook ends the slice. */
static int finish_in_block(bc_state *s, bc_run_to_args *a)
{
    uint32_t start = s->cur_start, count = s->stop_k;
    s->stop_at = 0;
    s->stopped = 0;
    return bc_run_count(s, a, start, count);
}

/* CortexM._finish_access: run the instruction of the access again alone (a block of one
 * instruction), answered from the record, so the slice ends right after it: at the next
 * block's hook, the limit being this access's count. */
static int finish_access(bc_state *s, bc_run_to_args *a)
{
    s->stopped_at_access = 0;
    uint32_t pc = s->access_pc;
    s->base = s->mmio_exec - 1;
    s->cur_n = 0;
    s->stopped = 1;
    s->limit = s->mmio_exec;
    s->replay = 1;
    int status = bc_run_count(s, a, pc, 1);
    s->replay = 0;
    return status;
}

/* Shared with Python (uc_native.SliceRun mirrors this layout). */
typedef struct bc_run {
    emu_start_fn emu_start;
    uint64_t *limit_word;   /* unicorn's emu_count (NativeCore._limit): the slice limit */
    void *exc;              /* the bc_exc to arm for this slice (NULL: exceptions in Python) */
    uint64_t n;             /* in: the slice's limit in instructions */
    uint64_t done;          /* out (plain end): instructions executed */
    uint32_t status;        /* out: unicorn's status */
    uint32_t plain;         /* out: 1 the run ended plainly (done, stopped, pc valid) */
    uint32_t stopped;       /* out (plain end): stopped by the limit */
    uint32_t pc;            /* out (plain end): the PC the run stopped at */
    PyObject *py_uc;        /* the core's Uc (borrowed): its _hook_exception */
    PyObject *py_traps;     /* the core's Traps (borrowed): its _exits */
    bc_run_to_args *run_to; /* NULL: stops inside a block or an access go back to Python */
} bc_run;

static PyObject *S_hook_exception, *S_exits;

/* May C finish the stop (CortexM._complete_slice's conditions): no exception from a Python
 * hook waiting to be raised, and no trap exits (slices with armed traps, rare, are finished
 * in Python, with the same count-limited runs). */
static bool may_finish(const bc_run *r)
{
    if (!r->run_to || !r->py_uc || !r->py_traps)
        return false;
    PyGILState_STATE g = PyGILState_Ensure();
    bool ok = false;
    PyObject *e = PyObject_GetAttr(r->py_uc, S_hook_exception);
    if (e) {
        ok = e == Py_None;
        Py_DECREF(e);
        if (ok) {
            PyObject *x = PyObject_GetAttr(r->py_traps, S_exits);
            ok = x && PyObject_IsTrue(x) == 0;
            Py_XDECREF(x);
        }
    }
    if (PyErr_Occurred())
        PyErr_Clear();   /* (Python looks again on its own path) */
    PyGILState_Release(g);
    return ok;
}

/* Finishing runs one stop may take (CortexM._complete_slice's loop): one, an access stop in
 * the re-run block a second, a translation buffer flushed under the short block a third. */
#define MAX_FINISH_RUNS 8

/* CortexM._complete_slice's finishing, in the same order: a stop inside a block, then an
 * access the re-run block asked to stop after; `*to_python` set where Python must go on. */
static int finish_stops(bc_state *s, bc_run *r, bool *to_python)
{
    int status = 0;
    for (int runs = 0; !status && (s->stop_at || s->stopped_at_access); runs++) {
        if (runs == MAX_FINISH_RUNS || !may_finish(r)) {
            *to_python = true;          /* (Python's own path takes it from here) */
            break;
        }
        status = s->stop_at ? finish_in_block(s, r->run_to) : finish_access(s, r->run_to);
    }
    return status;
}

static int64_t bc_run_slice(bc_state *s, bc_run *r)
{
    s->base = 0;
    s->cur_n = 0;
    s->cur_start = s->cur_size = 0;
    s->stopped = 0;
    s->stop_at = 0;
    s->stop_after_access = s->stopped_at_access = s->replay = 0;
    s->limit = r->n;
    *r->limit_word = r->n;
    s->exc = (struct bc_exc *)r->exc;
    s->site_stop = 1;       /* a fast slice runs (CortexM._fast_slice) */
    uint32_t pc = 0;
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
    int status = r->emu_start(s->uc, pc | 1, 0, 0, 0);
    bool to_python = false;
    if (!status)
        status = finish_stops(s, r, &to_python);
    r->status = (uint32_t)status;
    if (status || to_python) {
        r->plain = 0;          /* Python finishes it (CortexM._complete_slice) */
        return -1 - (int64_t)status;
    }
    r->plain = 1;
    r->stopped = s->stopped ? 1u : 0u;
    r->done = s->stopped ? s->base : bc_executed(s);
    s->exc = NULL;
    s->site_stop = 0;       /* (after any other end Python clears it: _complete_slice) */
    pc = 0;
    s->reg_read(s->uc, UC_ARM_REG_PC, &pc);
    r->pc = pc;
    /* the count and the stop in the return value: no field reads on the common path */
    return (int64_t)(r->done << 1) | (int64_t)r->stopped;
}

/* run_slice(state, run, n) from Python (CortexM._run_slice): bc_run_slice for a slice of `n`
 * instructions, without ctypes' call machinery (a few hundred ns a slice); it lets other
 * threads run meanwhile, as a ctypes call does. */
static PyObject *py_run_slice(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "run_slice(state_address, run_address, n)");
        return NULL;
    }
    bc_state *s = (bc_state *)PyLong_AsVoidPtr(args[0]);
    bc_run *r = (bc_run *)PyLong_AsVoidPtr(args[1]);
    uint64_t n = PyLong_AsUnsignedLongLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (!s || !r) {
        PyErr_SetString(PyExc_ValueError, "run_slice: null address");
        return NULL;
    }
    r->n = n;
    int64_t v;
    Py_BEGIN_ALLOW_THREADS
    v = bc_run_slice(s, r);
    Py_END_ALLOW_THREADS
    return PyLong_FromLongLong(v);
}

static PyObject *slice_addresses(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return Py_BuildValue("{s:N,s:N,s:N,s:N}",
                         "run_slice", PyLong_FromVoidPtr((void *)bc_run_slice),
                         "run_size", PyLong_FromSize_t(sizeof(bc_run)),
                         "run_to", PyLong_FromVoidPtr((void *)bc_run_count),
                         "run_to_size", PyLong_FromSize_t(sizeof(bc_run_to_args)));
}

static PyObject *addresses(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return Py_BuildValue("{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N}",
                         "block_hook", PyLong_FromVoidPtr((void *)bc_block),
                         "mmio_read", PyLong_FromVoidPtr((void *)bc_mmio_read),
                         "mmio_write", PyLong_FromVoidPtr((void *)bc_mmio_write),
                         "executed", PyLong_FromVoidPtr((void *)bc_executed),
                         "settle", PyLong_FromVoidPtr((void *)bc_settle),
                         "stop_before_block", PyLong_FromVoidPtr((void *)bc_stop_before_block),
                         "clear_cache", PyLong_FromVoidPtr((void *)bc_clear_cache),
                         "intr_hook", PyLong_FromVoidPtr((void *)bc_intr),
                         "idle_ticks", PyLong_FromVoidPtr((void *)bc_idle_ticks),
                         "idle_sync", PyLong_FromVoidPtr((void *)bc_idle_sync_from_python),
                         "idle_size", PyLong_FromSize_t(sizeof(bc_idle)),
                         "exc_size", PyLong_FromSize_t(sizeof(bc_exc)),
                         "summary_size", PyLong_FromSize_t(sizeof(nv_summary)),
                         "cache_bytes", PyLong_FromSize_t(CACHE_SIZE * sizeof(bc_entry)
                                                          + IO_CACHE * sizeof(bc_io_entry)));
}

static PyObject *sizes(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return Py_BuildValue("(nn)", (Py_ssize_t)sizeof(bc_state), (Py_ssize_t)sizeof(bc_tramp));
}

static PyMethodDef methods[] = {
    {"addresses", addresses, METH_NOARGS, "Addresses of the C callbacks and helpers."},
    {"sizes", sizes, METH_NOARGS, "sizeof the shared state and of a trampoline (layout check)."},
    {"slice_addresses", slice_addresses, METH_NOARGS,
     "Address of the one-call fast slice and sizeof its parameters (layout check)."},
    {"run_slice", (PyCFunction)(void (*)(void))py_run_slice, METH_FASTCALL,
     "run_slice(state_address, run_address, n): one fast slice of n instructions."},
    {"exc_release", exc_release, METH_O,
     "exc_release(exc_address): drop the exception block's references to the NVIC model."},
    {"take_interrupt", (PyCFunction)(void (*)(void))take_interrupt, METH_FASTCALL,
     "take_interrupt(state_address, exc_address): CortexM._take_interrupts in C; -1 nothing "
     "to take, -2 WFI wakes only, -3 entered, -4 Python decides, else the exception for "
     "Python to enter."},
    {"pending_stop", pending_stop, METH_O,
     "pending_stop(state_address): CortexM.interrupt_pending_changed in a fast slice."},
    {"nv_set_pending", (PyCFunction)(void (*)(void))py_nv_set_pending, METH_FASTCALL,
     "nv_set_pending(nvic, state_address, exc): NVIC.set_pending in C."},
    {"nv_on_gpio", (PyCFunction)(void (*)(void))py_nv_on_gpio, METH_FASTCALL,
     "nv_on_gpio(nvic, state_address, irq, level): NVIC.on_gpio in C."},
    {"privileged", (PyCFunction)(void (*)(void))py_privileged, METH_FASTCALL,
     "privileged(cpu, state_address, control_reg): CortexM.is_privileged in C."},
    {"take_interrupts", (PyCFunction)(void (*)(void))take_interrupts, METH_FASTCALL,
     "take_interrupts(state_address, exc_address, cpu): CortexM._take_interrupts in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_block_clock",
                                    "Per-block instruction counting for unicorn, in C.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__block_clock(void)
{
    static const char *names[] = {"ipsr", "exceptions_taken", "nvic", "_act", "prio", "active",
                                  "pending", "pending_set", "enabled", "level", "summary",
                                  "refresh_summary"};
    PyObject **slots[] = {&S_ipsr, &S_taken, &S_nvic, &S_act, &S_prio, &S_active, &S_pending,
                          &S_pending_set, &S_enabled, &S_level, &S_summary,
                          &S_refresh};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*slots[i] = PyUnicode_InternFromString(names[i])))
            return NULL;
    if (!(S_hook_exception = PyUnicode_InternFromString("_hook_exception"))
        || !(S_exits = PyUnicode_InternFromString("_exits"))
        || !(S_in_slice = PyUnicode_InternFromString("in_slice"))
        || !(S_cpu = PyUnicode_InternFromString("cpu"))
        || !(S_ipc = PyUnicode_InternFromString("interrupt_pending_changed"))
        || !(S_beyond = PyUnicode_InternFromString("_irq_beyond"))
        || !(S_native_exc = PyUnicode_InternFromString("native_exc"))
        || !(S_exact_users = PyUnicode_InternFromString("exact_users"))
        || !(S_halted = PyUnicode_InternFromString("halted"))
        || !(S_take_py = PyUnicode_InternFromString("_take_interrupts"))
        || !(S_enter = PyUnicode_InternFromString("_enter")))
        return NULL;
    return PyModule_Create(&module);
}
