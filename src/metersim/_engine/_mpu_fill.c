/*
 * The MPU's TLB fill in C: the hot path of metersim._engine.mpu_guard.
 *
 * unicorn calls the fill on every TLB miss while the firmware has the MPU on,
 * and an RTOS that reprograms a process region flushes the TLB at every switch
 * between processes, so a handful of fills follow each switch. This function
 * answers the common case (a page whose rights are uniform) without entering
 * Python; anything else (a region edge inside the page, unprivileged
 * load/store instructions in the firmware) goes to the Python fill, which
 * implements the same rules in full (mpu_guard.MpuGuard._fill_slow).
 *
 * Rules (ARMv7-M B3.5, as in metersim/peripherals/cortexm/mpu.py): regions
 * highest number first, the first match wins; sub-regions; no match: the
 * default map for privileged code with PRIVDEFENA, else no access; MPU off or
 * a negative priority without HFNMIENA: the default map; the PPB always uses
 * the default map.
 *
 * The module is built from source when metersim is installed. It declares the
 * few unicorn types it uses (unicorn's public API, 2.1.4) and links to nothing:
 * uc_reg_read arrives as a function pointer in the shared state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static PyObject *S_write, *S_cpu, *S_mpu;   /* interned at import */

#define R 1u
#define W 2u
#define X 4u
#define PAGE 1024u
#define MAX_REGIONS 16
#define MAX_HANDED 1024

/* unicorn 2.1.4 public API */
typedef struct {
    uint64_t paddr;
    uint32_t perms;
} uc_tlb_entry;
enum { UC_MEM_READ = 16, UC_MEM_WRITE = 17, UC_MEM_FETCH = 18 };
typedef int (*uc_reg_read_fn)(void *uc, int regid, void *value);
typedef int (*uc_reg_write_fn)(void *uc, int regid, const void *value);
typedef bool (*fill_fn)(void *uc, uint64_t vaddr, int type, uc_tlb_entry *e, void *user_data);
/* unicorn 2.1.4's tlb_flush_page_by_mmuidx_arm(CPUState *, target_ulong, uint16_t idxmap):
 * drops one page from the TLBs (and victim TLBs) of the MMU indexes in `idxmap`, and the jump
 * cache entries that may lead into the page */
typedef void (*flush_page_fn)(void *cpu, uint32_t addr, uint16_t idxmap);

/* QEMU's M-profile MMU indexes (target/arm/cpu.h, ARMMMUIdx_M*): bit 0 privileged, bit 1
 * negative priority, bit 2 secure. A privilege's entries live in the four indexes with its
 * bit 0; flushing all four leaves no entry of that privilege behind, whatever priority or
 * security state the fill saw, and keeps every entry of the other privilege. */
#define IDX_PRIV_MAP 0xAAu      /* MPriv, MPrivNegPri, MSPriv, MSPrivNegPri */
#define IDX_USER_MAP 0x55u      /* MUser, MUserNegPri, MSUser, MSUserNegPri */

typedef struct {
    uint32_t base, size, sub, srd, priv, user;
} mf_region;

/* A region as the model decodes it (Region.as_tuple); `on` 0: off, or too small to exist.
 * `size` holds 4 GiB (SIZE=31); mf_region keeps its low 32 bits, as the Python sync does. */
typedef struct {
    uint64_t base, size;
    uint32_t on, sub, srd, priv, user, pad;
} mf_key;

typedef uint64_t (*mmio_read_fn)(void *uc, uint64_t offset, unsigned size, void *user);
typedef void (*mmio_write_fn)(void *uc, uint64_t offset, unsigned size, uint64_t value,
                              void *user);
typedef int (*uc_ctl_fn)(void *uc, int control, ...);

/* Shared with Python (mpu_guard.FastFillState mirrors this layout). */
typedef struct {
    uc_reg_read_fn reg_read;
    fill_fn slow_fill;          /* the Python fill, for what this one does not answer */
    uint64_t shadow_base;       /* data pages that need a check per access map here */
    int32_t reg_ipsr, reg_control, reg_faultmask;
    uint32_t ctrl;              /* MPU_CTRL */
    uint32_t slow_only;         /* 1: every fill goes to Python */
    uint32_t n_regions;
    uint32_t fetch_denied;      /* set on a refused instruction fetch */
    uint32_t n_handed;          /* fills since the last flush; > MAX_HANDED: too many */
    uint32_t handed[MAX_HANDED];/* page | KEY_PRIV | KEY_NEGATIVE | KEY_WRITE | KEY_FETCH */
    mf_region regions[MAX_REGIONS]; /* enabled regions, highest number first */
    uc_reg_write_fn reg_write;
    int32_t reg_xpsr;
    int64_t off_cpu;            /* uc_struct.cpu, or -1 (see uc_native._calibrate_offsets) */
    int64_t off_condexec;       /* env->condexec_bits from the CPUState */
    void *uc;                   /* the engine, for its CPUState (off_cpu) */
    flush_page_fn flush_page;   /* NULL: only whole-TLB flushes (Python) */
    uint64_t page_flushes;      /* pages dropped one by one (statistics) */
    /* MPU_RNR/RBAR/RASR word writes done here (mf_scs_write) instead of in Python; the model
     * (peripherals/cortexm/mpu.py) loads rnr, rbar and rasr before it is next asked anything */
    uint32_t regs_on;           /* 1: the SCS range's writes come through mf_scs_write */
    uint32_t guard_active;      /* MpuGuard.active: the core checks rights */
    uint32_t py_handed;         /* the Python fill handed out pages since the last flush */
    uint32_t num_regions;       /* MPU_TYPE.DREGION (8 or 16) */
    uint32_t rnr;
    uint32_t rbar[MAX_REGIONS], rasr[MAX_REGIONS];
    mf_key keys[MAX_REGIONS];   /* each region decoded (MPU's Region.as_tuple) */
    uint32_t dirty;             /* 1: registers written here that the model has not loaded */
    mmio_read_fn py_read;       /* the range's own callbacks and user data (sysbus) */
    mmio_write_fn py_write;
    void *py_user;
    uint64_t mpu_off;           /* MPU_TYPE's offset in the mapped range */
    uc_ctl_fn uc_ctl;           /* unicorn's uc_ctl, for a whole-TLB flush */
    int64_t ctl_flush;          /* its UC_CTL_TLB_FLUSH code */
    uint64_t c_writes;          /* writes done here (statistics) */
    PyObject *nvic;             /* the NVIC model whose page this is, or NULL: no C writes */
    /* what must still hold for a write to be done here (else the NVIC model gets it): the
     * bus's page still holds the NVIC (no wrapper: a tool logging or counting its accesses),
     * whose `write`, core and MPU are still the ones found at install, nor the MPU's `write`
     * replaced on the instance */
    PyObject *pages;            /* SysBus._pages */
    PyObject *page_key;         /* the page index of the MPU's registers */
    PyObject *nvic_write;       /* NVIC.write (the function) */
    PyObject *cpu_obj;          /* the core (NVIC.cpu) */
    PyObject *mpu_obj;          /* NVIC.mpu */
    PyObject *mpu_write;        /* MPU.write (the function) */
} mf_state;

/* unicorn 2.1.4 rolls the CPU back to the faulting instruction before calling the fill
 * (cpu_restore_state), which also puts that instruction's IT state into the live
 * condexec bits. A successful fill resumes the access inside the same translated block,
 * where those bits must stay 0 (the block tracks IT state at translation time): left set,
 * the next block is translated as if inside an IT block and its instructions run (or are
 * skipped) under a stale condition. So clear them after every data fill that succeeds. A fetch
 * fill comes from the translator, before the block runs: there the bits are the live IT state
 * the new block is translated with, and stay. */
#define XPSR_IT_BITS 0x0600FC00u
static bool it_cleared(const mf_state *s, void *uc, int type, bool ok)
{
    if (!ok || type == UC_MEM_FETCH)
        return ok;
    if (s->off_cpu > 0) {           /* env->condexec_bits directly (uc_native's offsets) */
        void *cpu = *(void **)((char *)uc + s->off_cpu);
        *(uint32_t *)((char *)cpu + s->off_condexec) = 0;
        return ok;
    }
    uint32_t xpsr = 0;
    if (s->reg_read(uc, s->reg_xpsr, &xpsr) == 0 && (xpsr & XPSR_IT_BITS)) {
        xpsr &= ~XPSR_IT_BITS;
        s->reg_write(uc, s->reg_xpsr, &xpsr);
    }
    return ok;
}

static uint32_t default_rights(uint32_t addr)
{
    uint32_t area = addr >> 29;
    return (area == 0 || area == 1 || area == 3 || area == 4) ? (R | W | X) : (R | W);
}

/* Rights of the whole page at `page` under MPU_CTRL `ctrl` and the enabled `regions` (highest
 * number first), or -1 if they are not uniform. */
static int64_t config_page_rights(uint32_t ctrl, uint32_t n_regions, const mf_region *regions,
                                  uint32_t page, bool priv, bool negative)
{
    if (!(ctrl & 1u) || (negative && !(ctrl & 2u)) ||
        (page >= 0xE0000000u && page < 0xE0100000u))
        return default_rights(page);
    for (uint32_t i = 0; i < n_regions; i++) {
        const mf_region *r = &regions[i];
        uint64_t end = (uint64_t)r->base + r->size;
        if ((uint64_t)page + PAGE <= r->base || page >= end)
            continue;                   /* no overlap */
        uint32_t step = r->sub ? r->sub : r->size;
        if (step < PAGE)
            return -1;                  /* an edge inside the page */
        if (r->sub && (r->srd >> ((page - r->base) / r->sub)) & 1u)
            continue;                   /* disabled sub-region: look further down */
        return priv ? r->priv : r->user;
    }
    if (priv && (ctrl & 4u))
        return default_rights(page);
    return 0;
}

static int64_t page_rights(const mf_state *s, uint32_t page, bool priv, bool negative)
{
    return config_page_rights(s->ctrl, s->n_regions, s->regions, page, priv, negative);
}

/* A handed-out page's key: the page, the privilege and priority it was filled at, and the
 * kind of access that filled it (read: neither KEY_WRITE nor KEY_FETCH). */
#define KEY_PRIV 1u
#define KEY_NEGATIVE 2u
#define KEY_WRITE 4u
#define KEY_FETCH 8u

/* Remember a page handed out since the last flush, once: pages stay in the TLB across the
 * page-wise flushes of flush_changed, and one evicted and filled again must not fill the
 * list with copies of itself. */
static void note_handed(mf_state *s, uint32_t key)
{
    uint32_t n = s->n_handed;
    if (n > MAX_HANDED)
        return;                         /* too many already: the next flush is a whole one */
    for (uint32_t i = 0; i < n; i++)
        if (s->handed[i] == key)
            return;
    if (n < MAX_HANDED)
        s->handed[n] = key;
    s->n_handed = n + 1;
}

static bool mf_fill(void *uc, uint64_t vaddr, int type, uc_tlb_entry *e, void *user_data)
{
    mf_state *s = (mf_state *)user_data;
    if (s->slow_only)
        return it_cleared(s, uc, type, s->slow_fill(uc, vaddr, type, e, NULL));
    uint32_t ipsr = 0, control = 0, faultmask = 0;
    s->reg_read(uc, s->reg_ipsr, &ipsr);
    s->reg_read(uc, s->reg_control, &control);
    s->reg_read(uc, s->reg_faultmask, &faultmask);
    ipsr &= 0x1FFu;
    bool priv = ipsr != 0 || !(control & 1u);
    bool negative = ipsr == 2 || ipsr == 3 || (faultmask & 1u);
    uint32_t page = (uint32_t)vaddr & ~(PAGE - 1u);
    int64_t rights = page_rights(s, page, priv, negative);
    if (rights < 0)
        return it_cleared(s, uc, type, s->slow_fill(uc, vaddr, type, e, NULL));
    /* With the MPU off nothing needs the list: enabling it flushes the whole TLB (and its
     * rights are the default map's, which no region write changes) */
    if (s->ctrl & 1u)
        note_handed(s, page | (priv ? KEY_PRIV : 0u) | (negative ? KEY_NEGATIVE : 0u)
                           | (type == UC_MEM_FETCH ? KEY_FETCH
                              : type == UC_MEM_WRITE ? KEY_WRITE : 0u));
    uint32_t need = type == UC_MEM_FETCH ? X : type == UC_MEM_WRITE ? W : R;
    if (type == UC_MEM_FETCH) {
        if (!(rights & X)) {
            s->fetch_denied = 1;
            return false;
        }
        e->paddr = page;
        e->perms = (uint32_t)rights;
    } else if (rights & need) {
        /* Execute right only from an instruction fetch: a page that code never ran from
         * keeps unicorn's fast stores (no translated-code check on each store). */
        e->paddr = page;
        e->perms = (uint32_t)rights & ~X;
    } else {
        e->paddr = s->shadow_base | page; /* checked one access at a time */
        e->perms = R | W;
    }
    return it_cleared(s, uc, type, true);
}

/* Exception (un)stacking (_block_clock.c): true if the MPU gives `right` on every byte of
 * [start, start + len) at this privilege, each page uniformly (MPU.refused_offsets would find
 * nothing refused); false if not, or if a page has an edge inside it (Python looks closer).
 * The MPU off: no check, as CortexM does it. */
static bool mf_frame_allowed(const mf_state *s, uint32_t start, uint32_t len, uint32_t right,
                             bool priv, bool negative)
{
    if (!(s->ctrl & 1u))
        return true;
    uint32_t first = start & ~(PAGE - 1u), last = (uint32_t)(start + len - 1u) & ~(PAGE - 1u);
    for (uint64_t page = first; page <= last; page += PAGE) {
        int64_t rights = page_rights(s, (uint32_t)page, priv, negative);
        if (rights < 0 || !(rights & right))
            return false;
    }
    return true;
}

/* Parse up to MAX_REGIONS region tuples (base, size, sub, srd, priv, user) into `out`. */
static int parse_regions(PyObject *list, mf_region *out, uint32_t *n_out)
{
    PyObject *seq = PySequence_Fast(list, "regions must be a sequence");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_REGIONS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many MPU regions");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        mf_region *r = &out[i];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "IIIIII", &r->base, &r->size,
                              &r->sub, &r->srd, &r->priv, &r->user)) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *n_out = (uint32_t)n;
    return 0;
}

/* What a fill of the kind recorded in `key` makes of a page with `rights` (mf_fill's rules):
 * a fetch maps the page with all its rights, or is refused; a data access maps it without
 * execute, or into the shadow window when it lacks the access's right. Two configurations
 * that give a key the same outcome leave its TLB entry exactly as a new fill would make it. */
static uint32_t fill_outcome(int64_t rights, uint32_t key)
{
    if (key & KEY_FETCH)
        return (rights & X) ? 0x100u | (uint32_t)rights : 0u;
    uint32_t need = (key & KEY_WRITE) ? W : R;
    if (rights & need)
        return 0x200u | ((uint32_t)rights & ~X);
    return 0x400u;
}

/* The core of flush_changed: the configuration was (old_ctrl, old_regions) and is now the
 * state's; `n_spans` address ranges [lo, hi) changed. Returns the (page, privilege) pairs
 * dropped, or -1: the caller flushes the whole TLB. */
static long flush_core(mf_state *s, const int64_t *lo, const int64_t *hi, uint32_t n_spans,
                       uint32_t old_ctrl, uint32_t old_n, const mf_region *old_regions)
{
    if (s->n_handed > MAX_HANDED || !s->flush_page || !s->uc || s->off_cpu <= 0)
        return -1;
    void *cpu = *(void **)((char *)s->uc + s->off_cpu);
    /* the (page, privilege) pairs dropped: a page's entries of one privilege go together
     * (they share MMU indexes), the other privilege's stay when their outcome did not change
     * (the kernel's entries on a process stack it saves and restores contexts on) */
    uint32_t gone[MAX_HANDED];          /* page | KEY_PRIV */
    uint32_t n_gone = 0;
    for (uint32_t i = 0; i < s->n_handed; i++) {
        uint32_t key = s->handed[i];
        uint32_t page = key & ~(PAGE - 1u);
        bool meets = false;
        for (uint32_t j = 0; j < n_spans && !meets; j++)
            meets = (int64_t)page + PAGE > lo[j] && (int64_t)page < hi[j];
        if (!meets)
            continue;
        bool priv = key & KEY_PRIV, negative = key & KEY_NEGATIVE;
        int64_t was = config_page_rights(old_ctrl, old_n, old_regions, page, priv, negative);
        int64_t now = page_rights(s, page, priv, negative);
        if (was >= 0 && now >= 0 && fill_outcome(was, key) == fill_outcome(now, key))
            continue;
        uint32_t which = page | (key & KEY_PRIV);
        bool seen = false;
        for (uint32_t k = 0; k < n_gone && !seen; k++)
            seen = gone[k] == which;
        if (!seen) {
            s->flush_page(cpu, page, priv ? IDX_PRIV_MAP : IDX_USER_MAP);
            gone[n_gone++] = which;
        }
    }
    /* forget every key of a dropped (page, privilege) */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->n_handed && n_gone; i++) {
        uint32_t key = s->handed[i], which = (key & ~(PAGE - 1u)) | (key & KEY_PRIV);
        bool dropped_pair = false;
        for (uint32_t k = 0; k < n_gone && !dropped_pair; k++)
            dropped_pair = gone[k] == which;
        if (!dropped_pair)
            s->handed[kept++] = key;
    }
    if (n_gone)
        s->n_handed = kept;
    long dropped = (long)n_gone;
    s->page_flushes += (uint64_t)dropped;
    return dropped;
}

/* flush_changed(state_address, spans, old_ctrl, old_regions): the MPU changed within `spans`
 * ((lo, hi) address pairs) from (old_ctrl, old_regions) to the state's current configuration.
 * Drops from unicorn's TLB every page this fill handed out since the last flush that meets a
 * span and that a fill of the same kind (privilege, priority, access) would now map
 * differently (fill_outcome), and forgets it; every other page would be filled again exactly
 * as it is, so its entry stays (a privileged data page losing only its execute right, say).
 * A page is dropped for one privilege at a time (its MMU indexes). Returns the number of
 * (page, privilege) pairs dropped, or -1 when the list overflowed or no page flush is
 * available: the caller then flushes the whole TLB. */
static PyObject *flush_changed(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long addr;
    unsigned int old_ctrl;
    PyObject *spans, *old_list;
    if (!PyArg_ParseTuple(args, "KOIO", &addr, &spans, &old_ctrl, &old_list))
        return NULL;
    mf_state *s = (mf_state *)(uintptr_t)addr;
    if (s->n_handed > MAX_HANDED || !s->flush_page || !s->uc || s->off_cpu <= 0)
        return PyLong_FromLong(-1);
    int64_t lo[16], hi[16];
    PyObject *seq = PySequence_Fast(spans, "spans must be a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n_spans = PySequence_Fast_GET_SIZE(seq);
    if (n_spans > 16) {
        Py_DECREF(seq);
        return PyLong_FromLong(-1);
    }
    for (Py_ssize_t i = 0; i < n_spans; i++) {
        long long a, b;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "LL", &a, &b)) {
            Py_DECREF(seq);
            return NULL;
        }
        lo[i] = a;
        hi[i] = b;
    }
    Py_DECREF(seq);
    mf_region old_regions[MAX_REGIONS];
    uint32_t old_n = 0;
    if (parse_regions(old_list, old_regions, &old_n) < 0)
        return NULL;
    return PyLong_FromLong(flush_core(s, lo, hi, (uint32_t)n_spans, old_ctrl, old_n,
                                      old_regions));
}

/* ------------------------------------------------------------------ register writes
 * An RTOS rewrites a process region (MPU_RBAR, MPU_RASR) at every context switch. Done in
 * Python, each write costs a callback into the model, its bookkeeping and the guard's; done
 * here, it costs the rights check of the pages concerned. mf_scs_write takes over the System
 * Control Space range's write callback: MPU_RNR/RBAR/RASR (and the aliases) word writes from
 * privileged code, while the guard checks rights and only the C fill handed pages out, are
 * done here exactly as MPU.write and MpuGuard.update do them (the same registers, region
 * decoding, spans and page drops); every other access, and any write these conditions do not
 * cover, goes to the range's Python callback as before. The model loads the registers
 * written here (`dirty`) before anything asks it (MpuGuard._catch_up): it stays the
 * reference, and only the last value of each register matters to it. */

static const uint32_t AP_RIGHTS[8][2] = {{0, 0}, {R | W, 0}, {R | W, R}, {R | W, R | W},
                                          {0, 0}, {R, 0}, {R, R}, {R, R}};

static uint32_t region_rights(uint32_t rasr, int priv)
{
    uint32_t data = AP_RIGHTS[(rasr >> 24) & 7u][priv ? 0 : 1];
    if ((data & R) && !((rasr >> 28) & 1u))
        data |= X;
    return data;
}

/* Region.as_tuple */
static mf_key decode_region(uint32_t rbar, uint32_t rasr)
{
    mf_key k = {0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t size_field = (rasr >> 1) & 0x1Fu;
    if (!(rasr & 1u) || size_field < 4)
        return k;
    uint64_t size = 1ull << (size_field + 1);
    uint32_t srd = size >= 256 ? (rasr >> 8) & 0xFFu : 0;
    k.on = 1;
    k.base = (uint64_t)rbar & ~(size - 1) & 0xFFFFFFE0ull;
    k.size = size;
    k.sub = srd ? (uint32_t)(size >> 3) : 0;
    k.srd = srd;
    k.priv = region_rights(rasr, 1);
    k.user = region_rights(rasr, 0);
    return k;
}

static bool same_key(const mf_key *a, const mf_key *b)
{
    if (!a->on || !b->on)
        return a->on == b->on;
    return a->base == b->base && a->size == b->size && a->sub == b->sub && a->srd == b->srd
           && a->priv == b->priv && a->user == b->user;
}

/* MPU._changed's active list (enabled regions, highest number first) into the fill's regions,
 * as MpuGuard._sync_fast writes them (the size's low 32 bits) */
static void rebuild_regions(mf_state *s)
{
    uint32_t n = 0;
    for (uint32_t i = s->num_regions; i-- > 0;) {
        const mf_key *k = &s->keys[i];
        if (!k->on)
            continue;
        mf_region *r = &s->regions[n++];
        r->base = (uint32_t)k->base;
        r->size = (uint32_t)k->size;
        r->sub = k->sub;
        r->srd = k->srd;
        r->priv = k->priv;
        r->user = k->user;
    }
    s->n_regions = (s->ctrl & 1u) ? n : 0;
}

/* One word write at `off` from MPU_TYPE; false: Python does it (nothing changed here). */
static bool regs_write(mf_state *s, void *uc, uint32_t off, uint32_t value)
{
    if (!s->regs_on || !s->guard_active || s->py_handed || !(s->ctrl & 1u)
        || !s->flush_page || !s->uc || s->off_cpu <= 0
        || !s->num_regions)
        return false;
    uint32_t ipsr = 0, control = 0;
    s->reg_read(uc, s->reg_ipsr, &ipsr);
    s->reg_read(uc, s->reg_control, &control);
    if (!(ipsr & 0x1FFu) && (control & 1u))
        return false;                   /* unprivileged: the SCS answers with a BusFault */
    uint32_t rnr = s->rnr, rbar, rasr;
    switch (off) {
    case 0x08:                          /* MPU_RNR */
        s->rnr = value % s->num_regions;
        goto done;
    case 0x0C: case 0x14: case 0x1C: case 0x24:   /* MPU_RBAR and its aliases */
        if (value & 0x10u) {            /* VALID: REGION selects the region */
            if ((value & 0xFu) >= s->num_regions)
                return false;           /* the model logs it */
            rnr = value & 0xFu;
        }
        rbar = value & 0xFFFFFFE0u;
        rasr = s->rasr[rnr];
        break;
    case 0x10: case 0x18: case 0x20: case 0x28:   /* MPU_RASR and its aliases */
        rbar = s->rbar[rnr];
        rasr = value & 0x173FFF3Fu;
        break;
    default:
        return false;
    }
    mf_key key = decode_region(rbar, rasr), was = s->keys[rnr];
    if (!same_key(&key, &was)) {
        int64_t lo[2], hi[2];
        uint32_t n_spans = 0;
        if (was.on) {
            lo[n_spans] = (int64_t)was.base;
            hi[n_spans++] = (int64_t)(was.base + was.size);
        }
        if (key.on) {
            lo[n_spans] = (int64_t)key.base;
            hi[n_spans++] = (int64_t)(key.base + key.size);
        }
        mf_region old_regions[MAX_REGIONS];
        uint32_t old_n = s->n_regions, old_ctrl = s->ctrl;
        memcpy(old_regions, s->regions, sizeof(old_regions));
        s->keys[rnr] = key;
        rebuild_regions(s);
        if (flush_core(s, lo, hi, n_spans, old_ctrl, old_n, old_regions) < 0) {
            s->n_handed = 0;            /* MpuGuard.flush */
            s->uc_ctl(uc, (int)s->ctl_flush);
        }
    }
    s->rnr = rnr;
    s->rbar[rnr] = rbar;
    s->rasr[rnr] = rasr;
done:
    s->dirty = 1;
    s->c_writes++;
    return true;
}

/* `obj.name` is a bound method of the function `fn` (not replaced on the instance). */
static bool method_is(PyObject *obj, PyObject *name, PyObject *fn)
{
    PyObject *m = PyObject_GetAttr(obj, name);
    bool same = m && PyMethod_Check(m) && PyMethod_GET_FUNCTION(m) == fn;
    Py_XDECREF(m);
    return same;
}

static bool attr_is(PyObject *obj, PyObject *name, PyObject *want)
{
    PyObject *x = PyObject_GetAttr(obj, name);
    bool same = x && x == want;
    Py_XDECREF(x);
    return same;
}

/* GIL held: the NVIC model still answers the page as it did at install (see mf_state). */
static bool scs_owned(mf_state *s)
{
    if (!s->nvic || s->nvic == Py_None || !s->pages || s->pages == Py_None)
        return false;
    PyObject *x = PyDict_GetItemWithError(s->pages, s->page_key);
    bool owned = x && PyTuple_Check(x) && PyTuple_GET_SIZE(x) >= 1
                 && PyTuple_GET_ITEM(x, 0) == s->nvic
                 && method_is(s->nvic, S_write, s->nvic_write)
                 && attr_is(s->nvic, S_cpu, s->cpu_obj) && attr_is(s->nvic, S_mpu, s->mpu_obj)
                 && method_is(s->mpu_obj, S_write, s->mpu_write);
    if (PyErr_Occurred())
        PyErr_Clear();
    return owned;
}

/* The System Control Space range's callbacks while the writes above are on (user data: the
 * state); everything else goes on to the range's own. The other SCS writes done in C (ICSR's
 * PENDSVSET, SysTick CSR/RVR/CVR) are the NVIC's hot-register write kinds (_hot_regs.c),
 * which the block clock's trampoline tries before it calls this callback: one C path for
 * them, whether the MPU guard is on or not; what they decline reaches the model here. */
static void mf_scs_write(void *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    mf_state *s = (mf_state *)user;
    uint64_t off = offset - s->mpu_off;
    if (size == 4 && s->regs_on && offset >= s->mpu_off && off < 0x2C) {
        PyGILState_STATE g = PyGILState_Ensure();
        bool done = scs_owned(s) && regs_write(s, uc, (uint32_t)off, (uint32_t)value);
        PyGILState_Release(g);
        if (done)
            return;
    }
    s->py_write(uc, offset, size, value, s->py_user);
}

static uint64_t mf_scs_read(void *uc, uint64_t offset, unsigned size, void *user)
{
    mf_state *s = (mf_state *)user;
    return s->py_read(uc, offset, size, s->py_user);
}

/* mirror_refresh(state_address): decode every region from rbar/rasr (after the model changed
 * them in Python) and resync the fill's regions. */
static PyObject *mirror_refresh(PyObject *self, PyObject *arg)
{
    (void)self;
    mf_state *s = (mf_state *)PyLong_AsVoidPtr(arg);
    if (!s)
        return NULL;
    if (s->num_regions > MAX_REGIONS) {
        PyErr_SetString(PyExc_ValueError, "too many MPU regions");
        return NULL;
    }
    for (uint32_t i = 0; i < s->num_regions; i++)
        s->keys[i] = decode_region(s->rbar[i], s->rasr[i]);
    Py_RETURN_NONE;
}

static PyObject *scs_callbacks(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return Py_BuildValue("(NN)", PyLong_FromVoidPtr((void *)mf_scs_read),
                         PyLong_FromVoidPtr((void *)mf_scs_write));
}

static PyObject *fill_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)mf_fill);
}

static PyObject *frame_check_address(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromVoidPtr((void *)mf_frame_allowed);
}

static PyObject *state_size(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromSize_t(sizeof(mf_state));
}

static PyMethodDef methods[] = {
    {"fill_address", fill_address, METH_NOARGS, "Address of the C TLB fill callback."},
    {"frame_check_address", frame_check_address, METH_NOARGS,
     "Address of the C check of an exception frame against the MPU."},
    {"flush_changed", flush_changed, METH_VARARGS,
     "Drop the handed-out pages whose rights a change within the spans altered."},
    {"state_size", state_size, METH_NOARGS, "sizeof the shared state (layout check)."},
    {"mirror_refresh", mirror_refresh, METH_O,
     "mirror_refresh(state_address): decode the regions from the register mirror."},
    {"scs_callbacks", scs_callbacks, METH_NOARGS,
     "(read, write) addresses of the System Control Space callbacks that do MPU writes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mpu_fill",
                                    "The MPU's TLB fill for unicorn, in C.", -1, methods};

PyMODINIT_FUNC PyInit__mpu_fill(void)
{
    S_write = PyUnicode_InternFromString("write");
    S_cpu = PyUnicode_InternFromString("cpu");
    S_mpu = PyUnicode_InternFromString("mpu");
    if (!S_write || !S_cpu || !S_mpu)
        return NULL;
    return PyModule_Create(&module);
}
