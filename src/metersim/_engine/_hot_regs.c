/*
 * Hot registers: the status and time registers firmware reads most, answered in C.
 *
 * An MMIO read normally goes C trampoline -> ctypes callback -> the model's Python `read`,
 * 4-6 µs. A model may declare some of its registers hot (metersim._engine.hot_regs): the
 * bus registers them here, per MMIO range (keyed by the range's trampoline), and the
 * trampoline asks `hr_read` first during a fast slice. Each kind below computes the value
 * exactly as the model's Python read does, from the model's own attributes and the core's
 * time (read under the GIL, no Python code runs), and makes the same state changes; anything
 * it cannot do the same way (a side effect only Python does, an unusual state, an attribute
 * missing) declines, and the Python read answers as before. The Python objects stay the one
 * copy of the state, so a Python read, the debugger and the tests see what the firmware sees.
 *
 * Why attributes, not a mirror: every kind worth doing here is a function of the core's
 * time, which is Python state of the core (cycles, stall, clock anchor), so the GIL is taken
 * anyway; reading the model's attributes then costs tens of nanoseconds each and can never
 * drift from the Python view (SysTick's state is also written by the core's idle-tick path).
 *
 * A declared register stays hot only while the bus's page still holds the declaring model
 * and the model's `read` is its class's: a wrapper put in its place (access logging, access
 * counting) or a read replaced on the instance sees every access again.
 *
 * Verify mode (per range): the value is computed without state changes and left in the
 * range for the bus's Python read to compare with the model's answer (tests).
 *
 * Hot writes (kinds from HR_FIRST_WRITE on) are the same idea for register writes: `hr_write`
 * applies a write whose whole effect C can make exactly (the model's attributes and register
 * dict it sets, an exception pended through the NVIC's C path) and leaves every other write
 * to the model's Python `write` (one that starts a transfer, schedules or cancels an event,
 * moves an interrupt line). In verify mode C records the effects it would make and snapshots
 * the model's attributes and register dict; after the Python write, `hr_write_check` compares:
 * every recorded effect must be what Python left, and nothing else may have changed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "_hot_regs.h"

#define PS_PER_S 1000000000000LL

/* Register kinds (metersim._engine.hot_regs.KINDS mirrors these numbers). */
enum {
    HR_SYST_CSR = 1,   /* SysTick CSR: COUNTFLAG clears on read (SysTick.read(0)) */
    HR_SYST_RVR = 2,   /* SysTick RVR (SysTick.rvr) */
    HR_SYST_CVR = 3,   /* SysTick CVR, a function of time (SysTick.current) */
    HR_DWT_CTRL = 4,   /* DWT CTRL (DWT.ctrl) */
    HR_DWT_CYCCNT = 5, /* DWT CYCCNT, the core's active cycles (DWT.read(4)) */
    HR_SPI_SR = 6,     /* STM32 SPI SR, a polled frame end seen (STM32Spi.read(SR)) */
    HR_USART_SR = 7,   /* STM32 F1/F4 USART SR (STM32Usart.read(SR)) */
    HR_USART_ISR = 8,  /* STM32 "v2" USART ISR (STM32Usart2.read(ISR)) */
    HR_I2C_SR1 = 9,    /* STM32 I2C SR1 while no polled step's end has passed */
    HR_I2C_SR2 = 10,   /* STM32 I2C SR2 when it clears no ADDR (STM32I2c.read(SR2)) */
    HR_TIMER_SR = 11,  /* STM32 timer SR while nothing is due (STM32Timer.read(SR)) */
    HR_I2C_CR1 = 12,   /* STM32 I2C CR1 while no polled step's end has passed */
    /* System Control Space reads */
    HR_ICSR = 24,      /* SCB ICSR while nothing is pending (NVIC._icsr) */
    HR_FIRST_WRITE = 32,
    HR_I2C_DR_W = 32,  /* STM32 I2C DR write that only stores or queues a byte */
    HR_ICSR_W = 33,    /* SCB ICSR write: PENDSVSET through the NVIC's C set_pending */
    HR_TIMER_SR_W = 34, /* STM32 timer SR write (rc_w0) while stopped, no line moving */
    HR_GPIO_F1_BSRR_W = 35, /* STM32F1 GPIO BSRR write moving no watched pin */
    HR_GPIO_F4_BSRR_W = 36, /* STM32F4 GPIO BSRR write moving no watched pin */
    HR_SPI_DR_W = 40,  /* STM32 SPI DR write in polled firmware: queued, or a frame started */
    /* System Control Space writes (SysTick.write): the one C path for them, with and
     * without the MPU guard (mf_scs_write hands nothing of these to C itself) */
    HR_SYST_CSR_W = 48,  /* SysTick CSR: enable, TICKINT, CLKSOURCE; counting restarted */
    HR_SYST_RVR_W = 49,  /* SysTick RVR: the next reload value */
    HR_SYST_CVR_W = 50,  /* SysTick CVR: any write clears CVR and COUNTFLAG, restarts */
};

/* One hot register (the layout of hot_regs.HotEntry). */
typedef struct hr_entry {
    uint32_t offset;     /* in the MMIO range */
    uint32_t kind;
    uint32_t sizes;      /* bit n set: an access of n bytes may be answered here */
    uint32_t privileged; /* SCS rule: an unprivileged access goes to Python (a BusFault) */
    PyObject *owner;     /* the model the bus's page must still hold (borrowed) */
    PyObject *page;      /* that page's number, a Python int (borrowed) */
    PyObject *state;     /* the object whose attributes hold the register's state (borrowed) */
    PyObject *method;    /* the owner class's `read` (`write` for a write kind): an
                            instance's own (patched) method wins */
    uint64_t hits;       /* accesses answered here */
    uint64_t declined;   /* accesses left to Python */
    uint64_t verified;   /* verify mode, writes: C's effects were Python's */
    uint64_t mismatched; /* verify mode, writes: they were not (details in the range's wlog) */
} hr_entry;

/* The hot registers of one MMIO range (the layout of hot_regs.HotRange). */
typedef struct hr_range {
    const void *tramp;   /* the range's trampoline: the registry's key */
    PyObject *cpu;       /* the core (borrowed) */
    PyObject *pages;     /* the bus's page table, a dict (borrowed) */
    hr_entry *entries;
    uint32_t n;
    int32_t reg_control; /* unicorn's id of CONTROL */
    uint32_t verify;     /* compute only, for the bus's Python read to compare */
    uint32_t pending;    /* verify: entry index + 1 of the value computed for this access */
    uint64_t value;      /* verify: that value */
    PyObject *wlog;      /* verify: a list, write mismatches appended (borrowed) */
    void *wv;            /* verify: the write C would have made, until hr_write_check */
} hr_range;

/* ---------------------------------------------------------------- registry (by trampoline) */
#define HR_SLOTS 1024u
#define HR_GONE ((hr_range *)1)
static hr_range *registry[HR_SLOTS];
static unsigned n_registered;

static unsigned slot_of(const void *tramp)
{
    uint64_t x = (uint64_t)(uintptr_t)tramp;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (unsigned)(x >> 54) & (HR_SLOTS - 1);
}

static hr_range *lookup(const void *tramp)
{
    for (unsigned i = slot_of(tramp), k = 0; k < HR_SLOTS; i = (i + 1) & (HR_SLOTS - 1), k++) {
        hr_range *r = registry[i];
        if (!r)
            return NULL;
        if (r != HR_GONE && r->tramp == tramp)
            return r;
    }
    return NULL;
}

/* From Python (GIL held): 0 registered, -1 the table is full (the range stays in Python). */
int hr_register(hr_range *r)
{
    if (lookup(r->tramp) || n_registered >= HR_SLOTS / 2)
        return -1;
    unsigned i = slot_of(r->tramp);
    while (registry[i] && registry[i] != HR_GONE)
        i = (i + 1) & (HR_SLOTS - 1);
    registry[i] = r;
    n_registered++;
    return 0;
}

static void wv_free(hr_range *r);

void hr_unregister(hr_range *r)
{
    wv_free(r);     /* (GIL held: from Python) */
    for (unsigned i = 0; i < HR_SLOTS; i++)
        if (registry[i] == r) {
            registry[i] = HR_GONE;
            n_registered--;
        }
}

/* ---------------------------------------------------------------- attributes */
static PyObject *S_in_slice, *S_cycles, *S_stall, *S_base_ps, *S_base_cycles, *S_freq_hz,
    *S_idle_cycles, *S_ipsr, *S_poll_pc, *S_poll_value, *S_poll_repeats, *S_poll_done, *S_csr,
    *S_rvr, *S_hz, *S_anchor_ps, *S_start_edge, *S_cvr_at_start, *S_last_wrap, *S_reload,
    *S_ctrl, *S_cyc_base, *S_anchor, *S_cpu, *S_st, *S_due_ps, *S_settling,
    *S_end, *S_regs, *S_SR, *S_ovr_dr_read, *S_poll_hint_fn, *S_read, *S_sr_snapshot, *S_cr1,
    *S_tx_full, *S_shifting, *S_data, *S_CR1, *S_IRQ, *S_DMATransmit, *S_DMAReceive, *S_level,
    *S_seen_end, *S_SR1, *S_SR2, *S_sr1_snapshot, *S_running, *S_t0, *S_f, *S_quiet_until, *S_CR2, *S_write, *S_DR, *S_phase, *S_dr_full,
    *S_EventInterrupt, *S_ErrorInterrupt, *S_ev, *S_irq_active, *S_DIER, *S_set_pending,
    *S_pending, *S_func, *S_args, *S_dict, *S_odr, *S_levels, *S_ext, *S_connections,
    *S_targets, *S_watchers, *S_cr_f1, *S_moder, *S_otyper, *S_on_gpio, *S_set,
    *S_UpdateInterrupt, *S_CaptureCompareInterrupt, *S_CommutationInterrupt,
    *S_TriggerInterrupt, *S_BreakInterrupt;
/* the System Control Space's kinds: SysTick's wrap event, clock and rate; the NVIC's state */
static PyObject *S_event, *S_clock, *S_rate_fn, *S_schedule_at, *S_on_wrap, *S_cancelled,
    *S_time_ps, *S_fn, *S_pending_set, *S_act;

/* The SPI DR write's attributes (spi_dr_write). */
static PyObject *S_txbuf, *S_frame, *S_spi_due_ps, *S_quiet, *S_fn, *S_frame_done, *S_clk,
    *S_clk_hz, *S_backstop, *S_time_ps, *S_cancelled, *S_polled_fast_path, *S_pins_watched,
    *S_fast_slice, *S_slice_target_ps, *S_bc_state, *S_limit;

static int hr_init_spi(void)
{
    static const char *names[] = {"_txbuf", "_frame", "_due_ps", "_quiet", "fn", "_frame_done",
                                  "_clk", "hz", "backstop", "time_ps", "cancelled",
                                  "polled_fast_path", "_pins_watched", "_fast_slice",
                                  "_slice_target_ps", "_bc_state", "limit"};
    PyObject **slots[] = {&S_txbuf, &S_frame, &S_spi_due_ps, &S_quiet, &S_fn, &S_frame_done,
                          &S_clk, &S_clk_hz, &S_backstop, &S_time_ps, &S_cancelled,
                          &S_polled_fast_path, &S_pins_watched, &S_fast_slice,
                          &S_slice_target_ps, &S_bc_state, &S_limit};
    _Static_assert(sizeof names / sizeof names[0] == sizeof slots / sizeof slots[0],
                   "one name per slot");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!*slots[i] && !(*slots[i] = PyUnicode_InternFromString(names[i])))
            return -1;
    return 0;
}

/* From Python once (GIL held): 0 ok. */
int hr_init(void)
{
    static const char *names[] = {
        "in_slice", "cycles", "_stall", "_base_ps", "_base_cycles", "freq_hz", "idle_cycles",
        "ipsr", "_poll_pc", "_poll_value", "_poll_repeats", "_poll_done", "csr", "rvr", "_hz",
        "_anchor_ps", "_start_edge", "_cvr_at_start", "_last_wrap", "_reload", "ctrl",
        "_cyc_base", "_anchor", "cpu", "_st", "due_ps", "settling", "_end", "regs",
        "SR", "_ovr_dr_read", "_poll_hint_fn", "read", "_sr_snapshot", "_cr1", "_tx_full",
        "_shifting", "data", "CR1", "IRQ", "DMATransmit", "DMAReceive", "level", "_seen_end",
        "SR1", "SR2", "_sr1_snapshot", "_running", "_t0", "_f", "_quiet_until", "CR2", "write",
        "DR", "_phase", "_dr_full", "EventInterrupt", "ErrorInterrupt", "_ev", "_irq_active",
        "DIER", "set_pending", "pending", "func", "args", "__dict__", "odr", "_levels", "_ext",
        "connections", "_targets", "_watchers", "_cr", "moder", "otyper", "on_gpio", "set",
        "UpdateInterrupt", "CaptureCompareInterrupt", "CommutationInterrupt",
        "TriggerInterrupt", "BreakInterrupt"};
    PyObject **slots[] = {
        &S_in_slice, &S_cycles, &S_stall, &S_base_ps, &S_base_cycles, &S_freq_hz,
        &S_idle_cycles, &S_ipsr, &S_poll_pc, &S_poll_value, &S_poll_repeats, &S_poll_done,
        &S_csr, &S_rvr, &S_hz, &S_anchor_ps, &S_start_edge, &S_cvr_at_start, &S_last_wrap,
        &S_reload, &S_ctrl, &S_cyc_base, &S_anchor, &S_cpu, &S_st, &S_due_ps,
        &S_settling, &S_end, &S_regs, &S_SR, &S_ovr_dr_read, &S_poll_hint_fn, &S_read,
        &S_sr_snapshot, &S_cr1, &S_tx_full, &S_shifting, &S_data, &S_CR1, &S_IRQ,
        &S_DMATransmit, &S_DMAReceive, &S_level, &S_seen_end, &S_SR1, &S_SR2, &S_sr1_snapshot,
        &S_running, &S_t0, &S_f, &S_quiet_until, &S_CR2, &S_write, &S_DR, &S_phase,
        &S_dr_full, &S_EventInterrupt, &S_ErrorInterrupt, &S_ev, &S_irq_active, &S_DIER,
        &S_set_pending, &S_pending, &S_func, &S_args, &S_dict, &S_odr, &S_levels, &S_ext,
        &S_connections, &S_targets, &S_watchers, &S_cr_f1, &S_moder, &S_otyper, &S_on_gpio,
        &S_set, &S_UpdateInterrupt, &S_CaptureCompareInterrupt, &S_CommutationInterrupt,
        &S_TriggerInterrupt, &S_BreakInterrupt};
    _Static_assert(sizeof names / sizeof names[0] == sizeof slots / sizeof slots[0],
                   "one name per slot");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!*slots[i] && !(*slots[i] = PyUnicode_InternFromString(names[i])))
            return -1;
    static const char *scs_names[] = {"_event", "_clock", "_rate_fn", "schedule_at", "_on_wrap",
                                      "cancelled", "time_ps", "fn", "pending_set", "_act"};
    PyObject **scs_slots[] = {&S_event, &S_clock, &S_rate_fn, &S_schedule_at, &S_on_wrap,
                              &S_cancelled, &S_time_ps, &S_fn, &S_pending_set, &S_act};
    _Static_assert(sizeof scs_names / sizeof scs_names[0]
                   == sizeof scs_slots / sizeof scs_slots[0], "one name per slot");
    for (size_t i = 0; i < sizeof scs_names / sizeof scs_names[0]; i++)
        if (!*scs_slots[i] && !(*scs_slots[i] = PyUnicode_InternFromString(scs_names[i])))
            return -1;
    return hr_init_spi();
}

static bool as_ll(PyObject *x, long long *v)
{
    if (!PyLong_Check(x))
        return false;
    *v = PyLong_AsLongLong(x);
    return !(*v == -1 && PyErr_Occurred());
}

/* An int attribute; false if missing or not an int. */
static bool get_ll(PyObject *o, PyObject *name, long long *v)
{
    PyObject *x = PyObject_GetAttr(o, name);
    if (!x)
        return false;
    bool ok = as_ll(x, v);
    Py_DECREF(x);
    return ok;
}

/* An int-or-None attribute: 1 an int, 0 None, -1 anything else. */
static int get_opt(PyObject *o, PyObject *name, long long *v)
{
    PyObject *x = PyObject_GetAttr(o, name);
    if (!x)
        return -1;
    int r = x == Py_None ? 0 : (as_ll(x, v) ? 1 : -1);
    Py_DECREF(x);
    return r;
}

/* An attribute's truth: 1, 0, or -1 if it cannot be read. */
static int get_truth(PyObject *o, PyObject *name)
{
    PyObject *x = PyObject_GetAttr(o, name);
    if (!x)
        return -1;
    int r = PyObject_IsTrue(x);
    Py_DECREF(x);
    return r;
}

static bool set_ll(PyObject *o, PyObject *name, long long v)
{
    PyObject *x = PyLong_FromLongLong(v);
    if (!x)
        return false;
    int r = PyObject_SetAttr(o, name, x);
    Py_DECREF(x);
    return r == 0;
}

/* Python's floor and ceiling division, by a positive divisor. */
typedef __int128 i128;

static i128 floor_div(i128 a, i128 b)
{
    i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static i128 ceil_div(i128 a, i128 b)
{
    return -floor_div(-a, b);
}

/* ---------------------------------------------------------------- the core's time */
typedef struct {
    void *uc;
    hr_reg_read_fn reg_read;
    uint64_t exec;
    uint32_t pc;
} hr_access;

typedef struct {
    long long c;            /* cycles at the access (CortexM.cycles_now) */
    long long base_ps, base_cycles, freq;
} hr_time;

/* CortexM.cycles_now and its time anchor, at the access (a fast slice, in its MMIO callback). */
static bool core_now(PyObject *cpu, const hr_access *a, hr_time *t)
{
    long long cycles, stall;
    if (get_truth(cpu, S_in_slice) != 1 || !get_ll(cpu, S_cycles, &cycles)
        || !get_ll(cpu, S_stall, &stall) || !get_ll(cpu, S_base_ps, &t->base_ps)
        || !get_ll(cpu, S_base_cycles, &t->base_cycles) || !get_ll(cpu, S_freq_hz, &t->freq))
        return false;
    t->c = cycles + stall + (long long)a->exec;
    return t->freq > 0;
}

static i128 now_ps(const hr_time *t)           /* CortexM.now_ps */
{
    return t->base_ps + floor_div((i128)(t->c - t->base_cycles) * PS_PER_S, t->freq);
}

/* NVIC.read's check: unprivileged accesses to the SCS are a BusFault (Python raises it). */
static bool privileged(PyObject *cpu, const hr_access *a, int32_t reg_control)
{
    long long ipsr;
    if (!get_ll(cpu, S_ipsr, &ipsr))
        return false;
    if (ipsr)
        return true;
    uint32_t control = 0;
    a->reg_read(a->uc, reg_control, &control);
    return !(control & 1);
}

/* ---------------------------------------------------------------- the kinds */
/* SysTick.current() */
static bool systick_cvr(PyObject *st, const hr_time *t_now, PyObject *cpu, const hr_access *a,
                        long long *out)
{
    long long csr, hz, cvr0, anchor, start_edge, reload, last_wrap = 0;
    if (!get_ll(st, S_csr, &csr) || !get_ll(st, S_hz, &hz) || !get_ll(st, S_cvr_at_start, &cvr0))
        return false;
    if (!(csr & 1) || hz <= 0) {
        *out = cvr0;
        return true;
    }
    hr_time t;
    if (!t_now) {
        if (!core_now(cpu, a, &t))
            return false;
        t_now = &t;
    }
    int has_wrap = get_opt(st, S_last_wrap, &last_wrap);
    if (has_wrap < 0 || !get_ll(st, S_anchor_ps, &anchor) || !get_ll(st, S_start_edge, &start_edge)
        || !get_ll(st, S_reload, &reload))
        return false;
    i128 elapsed = ceil_div((now_ps(t_now) - anchor) * hz, PS_PER_S) - start_edge;
    if (!has_wrap) {
        if (elapsed <= cvr0) {
            *out = (long long)(cvr0 - elapsed);
            return true;
        }
        last_wrap = cvr0;   /* counting on from CVR = 0 (SysTick.current) */
    }
    i128 k = elapsed - last_wrap;
    *out = (k <= 0 || reload == 0) ? 0 : (long long)(reload - (k - 1) % ((i128)reload + 1));
    return true;
}

/* A read of a register that counts time (CYCCNT, SysTick CVR): a polling loop that reads
 * one may time out before its status changes, so its skip is bounded. Marked in
 * _poll_repeats until the next status read (cpu.POLL_TIMED, CortexM.time_register_read). */
#define POLL_TIMED (1LL << 32)
static bool time_read(PyObject *cpu)
{
    long long rep;
    if (!get_ll(cpu, S_poll_repeats, &rep))
        return false;
    return rep >= POLL_TIMED || set_ll(cpu, S_poll_repeats, rep + POLL_TIMED);
}

/* DWT.read(4): CYCCNT */
static bool dwt_cyccnt(PyObject *dwt, PyObject *cpu, const hr_access *a, long long *out)
{
    long long base, anchor = 0, idle;
    int running = get_opt(dwt, S_anchor, &anchor);
    if (running < 0 || !get_ll(dwt, S_cyc_base, &base))
        return false;
    if (!running) {
        *out = base & 0xFFFFFFFFLL;
        return true;
    }
    hr_time t;
    if (!core_now(cpu, a, &t) || !get_ll(cpu, S_idle_cycles, &idle))
        return false;
    *out = (long long)(((i128)base + (t.c - idle) - anchor) & 0xFFFFFFFF);
    return true;
}

/* CortexM.poll_hint's count of the same instruction reading the same status value again a
 * few instructions later (poll: its _poll_pc, _poll_value, _poll_repeats, _poll_done): the
 * repeats this read makes, 0 for a new loop, or -1 for a loop that also read a time register
 * (POLL_TIMED, time_read): its skip is bounded by its time-out, which only Python finds
 * (CortexM._timed_skip_end). */
static long long poll_repeats(const hr_access *a, long long value, long long ppc, long long pval,
                              long long prep, long long pdone)
{
    long long since = (long long)a->exec - pdone;
    if (ppc != (long long)a->pc || pval != value || since <= 0 || since >= 64)
        return 0;
    return prep >= POLL_TIMED ? -1 : prep + 1;
}

/* Peripheral.poll_hint(value) -> Machine.poll_hint -> CortexM.poll_hint, for a status read
 * of `value` by `model`: the core's poll bookkeeping (the same instruction reading the same
 * value again, a few instructions later), made unless `dry`; false, with nothing changed,
 * where the hint would skip ahead (a polling loop: Python does it) or cannot be followed. */
static bool poll_plain(PyObject *model, PyObject *cpu, const hr_access *a, long long value,
                       bool dry)
{
    if (get_truth(model, S_poll_hint_fn) != 1)
        return false;     /* (looked up by the first read, in Python) */
    long long ppc, pval, prep, pdone;
    if (get_truth(cpu, S_in_slice) != 1 || !get_ll(cpu, S_poll_pc, &ppc)
        || !get_ll(cpu, S_poll_value, &pval) || !get_ll(cpu, S_poll_repeats, &prep)
        || !get_ll(cpu, S_poll_done, &pdone))
        return false;
    long long done = (long long)a->exec, repeats = poll_repeats(a, value, ppc, pval, prep, pdone);
    if (repeats < 0 || repeats >= 2)
        return false;
    return dry || (set_ll(cpu, S_poll_repeats, repeats) && set_ll(cpu, S_poll_pc, a->pc)
                   && set_ll(cpu, S_poll_value, value) && set_ll(cpu, S_poll_done, done));
}

/* model.regs[key], a new reference (NULL if it is not an int in a dict). */
static PyObject *regs_item(PyObject *model, PyObject *key, long long *v)
{
    PyObject *x = PyObject_GetAttr(model, S_regs);
    if (!x)
        return NULL;
    PyObject *item = PyDict_Check(x) ? PyDict_GetItemWithError(x, key) : NULL;
    Py_XINCREF(item);
    Py_DECREF(x);
    if (item && !as_ll(item, v))
        Py_CLEAR(item);
    return item;
}

static PyObject *regs_sr(PyObject *model, long long *sr)
{
    return regs_item(model, S_SR, sr);
}

/* model.regs[key] = v */
static bool regs_set(PyObject *model, PyObject *key, long long v)
{
    PyObject *x = PyObject_GetAttr(model, S_regs);
    if (!x)
        return false;
    PyObject *n = PyDict_Check(x) ? PyLong_FromLongLong(v) : NULL;
    bool ok = n && PyDict_SetItem(x, key, n) == 0;
    Py_XDECREF(n);
    Py_DECREF(x);
    return ok;
}

/* CortexM.cycles_at_time(t_ps): whole cycles that complete by then. */
static long long cycles_at(const hr_time *t, long long t_ps)
{
    return (long long)(t->base_cycles + floor_div((i128)(t_ps - t->base_ps) * t->freq, PS_PER_S));
}

/* The model's polled step (a polled.PolledEnd in `_end`), seen from this access, as
 * polled.is_past sees it: 0 none on the bus or its end not passed, 1 passed (the Python read
 * would finish it first), -1 unknown (an end being finished, an odd attribute). */
static int polled_end(PyObject *model, PyObject *cpu, const hr_access *a)
{
    PyObject *end = PyObject_GetAttr(model, S_end);
    if (!end)
        return -1;
    long long due = 0;
    int has = get_opt(end, S_due_ps, &due);
    int settling = has > 0 ? get_truth(end, S_settling) : 0;
    Py_DECREF(end);
    if (has <= 0)
        return has;
    if (settling != 0)
        return -1;
    hr_time t;
    if (!core_now(cpu, a, &t))
        return -1;
    return t.c > cycles_at(&t, due);
}

#define SPI_RXNE 0x01
#define SPI_MODF 0x20
#define SPI_OVR 0x40
#define SPI_BSY 0x80
#define SPI_CRCEN (1 << 13)
#define SPI_LINE_ENABLES 0xE3   /* CR2: TXEIE RXNEIE ERRIE, TXDMAEN RXDMAEN */

/* A GPIO output of `model` (its attribute `name`) is low: 1, high: 0, unknown: -1. */
static int line_low(PyObject *model, PyObject *name)
{
    PyObject *x = PyObject_GetAttr(model, name);
    if (!x)
        return -1;
    int high = get_truth(x, S_level);
    Py_DECREF(x);
    return high < 0 ? -1 : !high;
}

/* The SPI's IRQ and DMA request lines are low. */
static bool spi_lines_low(PyObject *spi)
{
    return line_low(spi, S_IRQ) == 1 && line_low(spi, S_DMATransmit) == 1
        && line_low(spi, S_DMAReceive) == 1;
}

/* SR as STM32Spi._frame_done leaves it for a polled data frame whose end has passed, seen
 * without running it: RXNE set (OVR instead when RXNE was still set), BSY clear. Only where
 * the frame's end changes nothing else firmware can see before the model's next Python
 * access: nothing in the Tx buffer (no next frame starts), CRC off, the IRQ and DMA request
 * lines low (they stay low). The devices' byte (DR, their own state) waits for that access,
 * which finishes the frame as of its end time (STM32Spi._seen_end). */
static bool spi_end_view(PyObject *spi, long long *sr)
{
    if (get_truth(spi, S_tx_full) != 0)
        return false;
    PyObject *x = PyObject_GetAttr(spi, S_shifting);
    if (!x)
        return false;
    bool data = PyUnicode_Check(x) && PyUnicode_Compare(x, S_data) == 0;
    Py_DECREF(x);
    long long cr1 = 0;
    PyObject *v = data ? regs_item(spi, S_CR1, &cr1) : NULL;
    if (!v)
        return false;
    Py_DECREF(v);
    if (cr1 & SPI_CRCEN || !spi_lines_low(spi))
        return false;
    *sr = ((*sr & SPI_RXNE) ? *sr | SPI_OVR : *sr | SPI_RXNE) & ~SPI_BSY;
    return true;
}

/* CortexM.poll_hint(ready_ps, value) for a status read by `model` that cannot change before
 * `ready_ps`, made here: the poll bookkeeping (poll_plain) and, at the third same read in a
 * row (a polling loop), the skip ahead to `ready_ps` or the slice's end: the cycles stalled
 * (`_stall`) and the slice's instruction limit lowered to match, as CortexM.poll_hint and
 * _limit_slice make them in a fast slice's MMIO callback (where the count executed is the
 * access's). False, with nothing changed, where the skip reaches the slice's end at this
 * very instruction (Python then stops the slice right after the access). */
static bool poll_until(PyObject *model, PyObject *cpu, const hr_access *a, long long value,
                       long long ready_ps, bool dry)
{
    if (get_truth(model, S_poll_hint_fn) != 1)
        return false;     /* (looked up by the first read, in Python) */
    long long ppc, pval, prep, pdone, cycles, stall_now, target_ps;
    hr_time t;
    if (!core_now(cpu, a, &t) || !get_ll(cpu, S_poll_pc, &ppc) || !get_ll(cpu, S_poll_value, &pval)
        || !get_ll(cpu, S_poll_repeats, &prep) || !get_ll(cpu, S_poll_done, &pdone))
        return false;
    long long done = (long long)a->exec, repeats = poll_repeats(a, value, ppc, pval, prep, pdone);
    if (repeats < 0)
        return false;
    long long new_stall = -1, limit = 0;
    if (repeats >= 2) {
        if (get_truth(cpu, S_fast_slice) != 1 || !get_ll(cpu, S_cycles, &cycles)
            || !get_ll(cpu, S_stall, &stall_now) || !get_ll(cpu, S_slice_target_ps, &target_ps))
            return false;
        long long to_ps = ready_ps < target_ps ? ready_ps : target_ps;
        long long want = cycles_at(&t, to_ps);
        if (ceil_div((i128)(to_ps - t.base_ps) * t.freq, PS_PER_S) + t.base_cycles > want)
            want += 1;                               /* reach to_ps, not just before it */
        long long stall = want - (cycles + stall_now + done);
        if (stall > 0) {
            new_stall = stall_now + stall;
            limit = cycles_at(&t, target_ps) - cycles - new_stall;
            if (limit <= done)
                return false;
        }
    }
    if (dry)
        return true;
    if (!set_ll(cpu, S_poll_repeats, repeats) || !set_ll(cpu, S_poll_pc, a->pc)
        || !set_ll(cpu, S_poll_value, value) || !set_ll(cpu, S_poll_done, done))
        return false;
    if (new_stall < 0)
        return true;
    PyObject *st = PyObject_GetAttr(cpu, S_bc_state);
    bool ok = st && set_ll(st, S_limit, limit) && set_ll(cpu, S_stall, new_stall);
    Py_XDECREF(st);
    return ok;
}

/* STM32Spi.read(SR) with its poll hint (Machine.poll_hint -> CortexM.poll_hint), when no DMA
 * stream runs, the read changes no flag (MODF, OVR after a DR read) and the poll hint does
 * not skip ahead; a polled frame on the wire whose end has passed is seen as its end leaves
 * SR (spi_end_view). The state changes: the core's poll bookkeeping, and `_seen_end`. */
static bool spi_sr(PyObject *spi, PyObject *cpu, const hr_access *a, bool dry, long long *out)
{
    PyObject *x = PyObject_GetAttr(spi, S_st);
    if (!x)
        return false;
    bool streaming = x != Py_None;
    Py_DECREF(x);
    if (streaming)
        return false;
    int ended = polled_end(spi, cpu, a);
    if (ended < 0)
        return false;
    long long sr = 0;
    PyObject *v = regs_sr(spi, &sr);
    if (!v)
        return false;
    Py_DECREF(v);
    if (ended && !spi_end_view(spi, &sr))
        return false;
    if (sr & SPI_MODF)
        return false;
    bool clear_ovr = false;
    if (sr & SPI_OVR) {
        int dr_read = get_truth(spi, S_ovr_dr_read);
        if (dr_read < 0)
            return false;
        if (dr_read) {
            /* DR read then SR read clears OVR (this read still shows it), where _set_sr has
             * no interrupt or DMA line to update; not before a frame end seen here (that
             * end comes first) */
            long long cr2 = 0;
            PyObject *c = regs_item(spi, S_CR2, &cr2);
            if (!c)
                return false;
            Py_DECREF(c);
            if (ended || cr2 & SPI_LINE_ENABLES || !spi_lines_low(spi))
                return false;
            clear_ovr = true;
        }
    }
    /* the Python read's hint: the end of the frame still on the wire (after an end seen
     * here, no frame follows: the machine's next event, which only Python finds) */
    long long due = 0;
    int on_wire = ended ? 0 : get_opt(spi, S_spi_due_ps, &due);
    if (on_wire < 0 || !(on_wire ? poll_until(spi, cpu, a, sr, due, dry)
                                 : poll_plain(spi, cpu, a, sr, dry)))
        return false;
    if (!dry) {
        if (ended && PyObject_SetAttr(spi, S_seen_end, Py_True) != 0)
            return false;
        if (clear_ovr && (!regs_set(spi, S_SR, sr & ~SPI_OVR)
                          || PyObject_SetAttr(spi, S_ovr_dr_read, Py_False) != 0))
            return false;
    }
    *out = sr;
    return true;
}

#define I2C_ADDR 0x02

/* STM32I2c.read of SR1, SR2 or CR1 while no polled step's end has passed (the Python read
 * would finish it, with the device's answer): SR1 is kept as `_sr1_snapshot` (for the DR
 * access or SR2 read that follows); an SR2 read after an SR1 read showing ADDR clears ADDR and
 * goes on with the transfer, which only Python does; CR1 is read as it is. */
static bool i2c_reg(PyObject *i2c, PyObject *cpu, const hr_access *a, uint32_t kind, bool dry,
                    long long *out)
{
    if (polled_end(i2c, cpu, a) != 0)
        return false;
    long long v = 0;
    bool sr1 = kind == HR_I2C_SR1;
    PyObject *item = regs_item(i2c, sr1 ? S_SR1 : kind == HR_I2C_SR2 ? S_SR2 : S_CR1, &v);
    if (!item)
        return false;
    bool ok = true;
    if (sr1) {
        ok = dry || PyObject_SetAttr(i2c, S_sr1_snapshot, item) == 0;
    } else if (kind == HR_I2C_SR2) {
        long long snap = 0, now1 = 0;
        PyObject *r1 = regs_item(i2c, S_SR1, &now1);
        ok = r1 && get_ll(i2c, S_sr1_snapshot, &snap) && !(snap & I2C_ADDR && now1 & I2C_ADDR);
        Py_XDECREF(r1);
    }
    Py_DECREF(item);
    *out = v;
    return ok;
}

/* STM32Usart.read(SR): regs["SR"], kept as `_sr_snapshot` (the flags a following DR read or
 * write may clear), and its poll hint with no ready time (SR changes only in the model's
 * events), unless that hint skips ahead. The snapshot is stored first: if the hint then
 * declines, the Python read stores the same object again. */
static bool usart_sr(PyObject *usart, PyObject *cpu, const hr_access *a, bool dry,
                     long long *out)
{
    PyObject *v = regs_sr(usart, out);
    if (!v)
        return false;
    bool ok = (dry || PyObject_SetAttr(usart, S_sr_snapshot, v) == 0)
        && poll_plain(usart, cpu, a, *out, dry);
    Py_DECREF(v);
    return ok;
}

#define USART2_UE 0x01      /* CR1 (v2 layout) */
#define USART2_RE 0x04
#define USART2_TE 0x08
#define USART2_TEACK (1 << 21)
#define USART2_REACK (1 << 22)

/* STM32Usart2.read(ISR): STM32Usart2._isr() (SR's low byte, TEACK/REACK following TE/RE
 * while UE is set) and its poll hint with no ready time, unless that hint skips ahead. */
static bool usart_isr(PyObject *usart, PyObject *cpu, const hr_access *a, bool dry,
                      long long *out)
{
    long long sr, cr1;
    PyObject *v = regs_sr(usart, &sr);
    if (!v)
        return false;
    Py_DECREF(v);
    if (!get_ll(usart, S_cr1, &cr1))
        return false;
    long long isr = sr & 0xFF;
    if (cr1 & USART2_UE)
        isr |= (cr1 & USART2_TE ? USART2_TEACK : 0) | (cr1 & USART2_RE ? USART2_REACK : 0);
    if (!poll_plain(usart, cpu, a, isr, dry))
        return false;
    *out = isr;
    return true;
}

/* STM32Timer.read(SR) when its `_advance` has nothing to do: the counter stopped, or its
 * cycle now ((now - _t0) * _f // 1 s) before `_quiet_until` (no compare or update due; a
 * float infinity while the counter is blocked). Then SR is regs["SR"], nothing changes. */
static bool timer_sr(PyObject *tim, PyObject *cpu, const hr_access *a, long long *out)
{
    int running = get_truth(tim, S_running);
    if (running < 0)
        return false;
    if (running) {
        long long t0, f, quiet = 0;
        if (!get_ll(tim, S_t0, &t0) || !get_ll(tim, S_f, &f))
            return false;
        PyObject *q = PyObject_GetAttr(tim, S_quiet_until);
        if (!q)
            return false;
        bool never = PyFloat_Check(q) && isinf(PyFloat_AS_DOUBLE(q)) && PyFloat_AS_DOUBLE(q) > 0;
        bool ok = never || as_ll(q, &quiet);
        Py_DECREF(q);
        if (!ok)
            return false;
        if (!never) {
            hr_time t;
            if (!core_now(cpu, a, &t))
                return false;
            if (floor_div((now_ps(&t) - t0) * (i128)f, PS_PER_S) >= quiet)
                return false;             /* something is due: Python's _advance runs it */
        }
    }
    PyObject *v = regs_sr(tim, out);
    Py_XDECREF(v);
    return v != NULL;
}

/* NVIC._icsr while no exception is pending (an RTOS about to sleep checks that none is):
 * VECTACTIVE from the core's IPSR, RETTOBASE while at most one exception is active; with
 * something pending (VECTPENDING, ISRPENDING and the pend bits to work out) Python answers. */
static bool icsr_read(PyObject *nv, PyObject *cpu, long long *out)
{
    long long ipsr;
    PyObject *pending = PyObject_GetAttr(nv, S_pending_set);
    PyObject *act = pending ? PyObject_GetAttr(nv, S_act) : NULL;
    bool ok = act && PyAnySet_CheckExact(pending) && PySet_GET_SIZE(pending) == 0
        && PyList_CheckExact(act) && get_ll(cpu, S_ipsr, &ipsr);
    if (ok)
        *out = (ipsr & 0x1FF) | (PyList_GET_SIZE(act) <= 1 ? 1LL << 11 : 0);   /* RETTOBASE */
    Py_XDECREF(pending);
    Py_XDECREF(act);
    return ok;
}

/* The bus's page still holds the declaring model (no wrapper put in its place), and its
 * `read` (or `write`) is still its class's (not replaced on the instance, as a test or a
 * tool may do). */
static bool page_owned(hr_range *r, hr_entry *e)
{
    PyObject *x = PyDict_GetItemWithError(r->pages, e->page);
    if (!x || !PyTuple_Check(x) || PyTuple_GET_SIZE(x) < 1 || PyTuple_GET_ITEM(x, 0) != e->owner)
        return false;
    PyObject *m = PyObject_GetAttr(e->owner, e->kind >= HR_FIRST_WRITE ? S_write : S_read);
    bool same = m && PyMethod_Check(m) && PyMethod_GET_FUNCTION(m) == e->method;
    Py_XDECREF(m);
    return same;
}

/* The entry's model is still the bus's, and for the System Control Space the access is
 * privileged (else Python raises the BusFault). */
static bool may_answer(hr_range *r, hr_entry *e, const hr_access *a)
{
    if (!page_owned(r, e))
        return false;
    if (e->privileged) {
        PyObject *x = PyObject_GetAttr(e->owner, S_cpu);    /* NVIC.cpu: the core it checks */
        if (!x)
            return false;
        bool same = x == r->cpu;
        Py_DECREF(x);
        if (!same || !privileged(r->cpu, a, r->reg_control))
            return false;
    }
    return true;
}

static bool answer(hr_range *r, hr_entry *e, const hr_access *a, bool dry, long long *out)
{
    if (!may_answer(r, e, a))
        return false;
    PyObject *st = e->state, *cpu = r->cpu;
    long long v;
    switch (e->kind) {
    case HR_SYST_CSR:
        if (!get_ll(st, S_csr, &v))
            return false;
        if (!dry && (v & (1 << 16)) && !set_ll(st, S_csr, v & ~(1LL << 16)))
            return false;       /* COUNTFLAG clears on read */
        break;
    case HR_SYST_RVR:
        if (!get_ll(st, S_rvr, &v))
            return false;
        break;
    case HR_SYST_CVR:
        if (!systick_cvr(st, NULL, cpu, a, &v) || (!dry && !time_read(cpu)))
            return false;
        break;
    case HR_DWT_CTRL:
    case HR_DWT_CYCCNT: {
        PyObject *x = PyObject_GetAttr(st, S_cpu);          /* DWT.cpu: whose cycles it counts */
        if (!x)
            return false;
        bool same = x == cpu;
        Py_DECREF(x);
        if (!same)
            return false;
        if (e->kind == HR_DWT_CTRL ? !get_ll(st, S_ctrl, &v)
                                   : !dwt_cyccnt(st, cpu, a, &v) || (!dry && !time_read(cpu)))
            return false;
        break;
    }
    case HR_SPI_SR:
        if (!spi_sr(st, cpu, a, dry, &v))
            return false;
        break;
    case HR_USART_SR:
        if (!usart_sr(st, cpu, a, dry, &v))
            return false;
        break;
    case HR_USART_ISR:
        if (!usart_isr(st, cpu, a, dry, &v))
            return false;
        break;
    case HR_TIMER_SR:
        if (!timer_sr(st, cpu, a, &v))
            return false;
        break;
    case HR_I2C_SR1:
    case HR_I2C_SR2:
    case HR_I2C_CR1:
        if (!i2c_reg(st, cpu, a, e->kind, dry, &v))
            return false;
        break;
    case HR_ICSR:
        if (!icsr_read(st, cpu, &v))
            return false;
        break;
    default:
        return false;
    }
    *out = v;
    return true;
}

/* The hot register of the range behind `tramp` at `offset` for a read (write: false) or a
 * write of `size` bytes; NULL if there is none. */
static hr_entry *find_entry(const void *tramp, uint64_t offset, unsigned size, bool write,
                            hr_range **range)
{
    if (!n_registered || size > 8)
        return NULL;
    hr_range *r = lookup(tramp);
    if (!r)
        return NULL;
    for (uint32_t i = 0; i < r->n; i++) {
        hr_entry *e = &r->entries[i];
        if (e->offset == offset && (e->kind >= HR_FIRST_WRITE) == write) {
            if (!(e->sizes & (1u << size)))
                return NULL;
            *range = r;
            return e;
        }
    }
    return NULL;
}

int hr_read(const void *tramp, void *uc, hr_reg_read_fn reg_read, uint64_t exec, uint32_t pc,
            uint64_t offset, unsigned size, uint64_t *value)
{
    hr_range *r = NULL;
    hr_entry *e = find_entry(tramp, offset, size, false, &r);
    if (!e)
        return 0;
    hr_access a = {uc, reg_read, exec, pc};
    long long v = 0;
    PyGILState_STATE g = PyGILState_Ensure();
    bool dry = r->verify != 0;
    bool ok = answer(r, e, &a, dry, &v);
    if (PyErr_Occurred()) {
        PyErr_Clear();          /* (Python's own read meets the same state and says why) */
        ok = false;
    }
    PyGILState_Release(g);
    if (dry) {
        r->pending = ok ? (uint32_t)(e - r->entries) + 1 : 0;
        r->value = (uint64_t)v & 0xFFFFFFFFu;
        return 0;
    }
    if (!ok) {
        e->declined++;
        return 0;
    }
    e->hits++;
    *value = (uint64_t)v & 0xFFFFFFFFu;
    return 1;
}

/* ======================================================================== hot writes */
/* The effects of one write: made at once, or (verify mode, `dry`) recorded for
 * hr_write_check to find after the model's Python write. */
#define HR_MAX_EFFECTS 20     /* a BSRR write: ODR, the levels, 16 lines */
typedef struct {
    PyObject *obj;       /* the model (an attribute), or a container (an item) */
    PyObject *key;       /* attribute name or item key */
    PyObject *value;     /* what C sets there */
    bool item;
    bool event;          /* an event scheduled into the attribute: `value` is its
                            (time_ps, fn, args) (effect_event) */
} hr_effect;

typedef struct {
    bool dry;
    int n;
    hr_effect e[HR_MAX_EFFECTS];
} hr_effects;

static bool effect(hr_effects *fx, PyObject *obj, PyObject *key, PyObject *value, bool item)
{
    if (!value)
        return false;
    if (!fx->dry) {
        int rc = item ? PyObject_SetItem(obj, key, value) : PyObject_SetAttr(obj, key, value);
        Py_DECREF(value);
        return rc == 0;
    }
    if (fx->n >= HR_MAX_EFFECTS) {
        Py_DECREF(value);
        return false;
    }
    Py_INCREF(obj);
    Py_INCREF(key);
    fx->e[fx->n++] = (hr_effect){obj, key, value, item};
    return true;
}

static void effects_clear(hr_effects *fx)
{
    for (int i = 0; i < fx->n; i++) {
        Py_DECREF(fx->e[i].obj);
        Py_DECREF(fx->e[i].key);
        Py_DECREF(fx->e[i].value);
    }
    fx->n = 0;
}

/* model.regs[key] = v (the model's register dict) */
static bool effect_reg(hr_effects *fx, PyObject *model, PyObject *key, long long v)
{
    PyObject *regs = PyObject_GetAttr(model, S_regs);
    if (!regs)
        return false;
    bool ok = PyDict_CheckExact(regs) && effect(fx, regs, key, PyLong_FromLongLong(v), true);
    Py_DECREF(regs);
    return ok;
}

/* model.regs[key] as an int, without a reference kept. */
static bool reg_ll(PyObject *model, PyObject *key, long long *v)
{
    PyObject *x = regs_item(model, key, v);
    Py_XDECREF(x);
    return x != NULL;
}

/* An attribute is this ASCII string. */
static int attr_is(PyObject *o, PyObject *name, const char *want)
{
    PyObject *x = PyObject_GetAttr(o, name);
    if (!x)
        return -1;
    int r = PyUnicode_Check(x) ? PyUnicode_CompareWithASCIIString(x, want) == 0 : 0;
    Py_DECREF(x);
    return r;
}

#define I2C_BTF 0x04
#define I2C_TXE 0x80
#define I2C_TRA 0x04            /* SR2 */
#define I2C_IT_LINES 0x300      /* CR2: ITEVTEN ITERREN */

/* STM32I2c.write(DR) -> _write_dr, where no polled step's end has passed (no settle), the
 * interrupts are off with both lines low (_update_irq does nothing: polled firmware), and
 * the byte starts nothing: not the address after START (phase "sb"), not a transmitter's
 * byte with nothing shifting (_tx_next would start it). Then DR takes the byte, a BTF seen by
 * the last SR1 read clears, and a transmitter queues it behind the byte shifting (TXE clear,
 * _dr_full); the SR1 snapshot is consumed. */
static bool i2c_dr_write(PyObject *i2c, PyObject *cpu, const hr_access *a, long long value,
                         hr_effects *fx)
{
    if (polled_end(i2c, cpu, a) != 0)
        return false;
    long long cr2, sr1, sr2, snap;
    if (!reg_ll(i2c, S_CR2, &cr2) || !reg_ll(i2c, S_SR1, &sr1) || !reg_ll(i2c, S_SR2, &sr2)
        || !get_ll(i2c, S_sr1_snapshot, &snap))
        return false;
    if (cr2 & I2C_IT_LINES || line_low(i2c, S_EventInterrupt) != 1
        || line_low(i2c, S_ErrorInterrupt) != 1)
        return false;
    int sb = attr_is(i2c, S_phase, "sb"), tx = attr_is(i2c, S_phase, "tx");
    int addr_done = attr_is(i2c, S_phase, "addr_done");
    if (sb != 0 || tx < 0 || addr_done < 0)
        return false;
    bool queue = (tx || addr_done) && (sr2 & I2C_TRA);
    if (queue && tx && get_truth(i2c, S_shifting) != 1)
        return false;                     /* the byte would start at once: Python */
    bool clear = snap & I2C_BTF;
    long long new_sr1 = sr1 & ~(clear ? I2C_BTF : 0) & ~(queue ? I2C_TXE : 0);
    if (!effect(fx, i2c, S_sr1_snapshot, PyLong_FromLong(0), false)
        || !effect_reg(fx, i2c, S_DR, value & 0xFF))
        return false;
    if ((clear || queue) && !effect_reg(fx, i2c, S_SR1, new_sr1))
        return false;
    if (queue) {
        Py_INCREF(Py_True);
        if (!effect(fx, i2c, S_dr_full, Py_True, false))
            return false;
    }
    return true;
}

/* obj.key = clock.schedule_at(time_ps, fn, *args) (takes `args`); in verify mode the event
 * Python's write leaves there must be a live one with this time, callback and arguments. */
static bool effect_event(hr_effects *fx, PyObject *obj, PyObject *key, PyObject *clock,
                         long long time_ps, PyObject *fn, PyObject *args)
{
    if (!args)
        return false;
    if (!fx->dry) {
        PyObject *t = PyLong_FromLongLong(time_ps);
        PyObject *call = t ? PyTuple_Pack(2, t, fn) : NULL;
        PyObject *all = call ? PySequence_Concat(call, args) : NULL;
        PyObject *at = all ? PyObject_GetAttr(clock, S_schedule_at) : NULL;
        PyObject *ev = at ? PyObject_Call(at, all, NULL) : NULL;
        Py_XDECREF(at);
        Py_XDECREF(all);
        Py_XDECREF(call);
        Py_XDECREF(t);
        Py_DECREF(args);
        return effect(fx, obj, key, ev, false);
    }
    if (fx->n >= HR_MAX_EFFECTS) {
        Py_DECREF(args);
        return false;
    }
    PyObject *want = Py_BuildValue("(LON)", time_ps, fn, args);
    if (!want)
        return false;
    Py_INCREF(obj);
    Py_INCREF(key);
    fx->e[fx->n++] = (hr_effect){obj, key, want, false, true};
    return true;
}

/* Verify mode: the event in an attribute is the one C would have scheduled. */
static bool event_is(PyObject *ev, PyObject *want)
{
    if (!ev || ev == Py_None)
        return false;
    PyObject *t = PyObject_GetAttr(ev, S_time_ps), *fn = PyObject_GetAttr(ev, S_fn);
    PyObject *args = PyObject_GetAttr(ev, S_args);
    int cancelled = get_truth(ev, S_cancelled);
    PyObject *seen = t && fn && args ? PyTuple_Pack(3, t, fn, args) : NULL;
    bool same = seen && cancelled == 0 && PyObject_RichCompareBool(seen, want, Py_EQ) == 1;
    Py_XDECREF(seen);
    Py_XDECREF(t);
    Py_XDECREF(fn);
    Py_XDECREF(args);
    PyErr_Clear();
    return same;
}

#define TIMER_SR_RC_W0 0x1EFF

static PyObject *native_pend;   /* _block_clock.nv_set_pending (hr_natives) */
static PyObject *native_gpio;   /* _block_clock.nv_on_gpio */
static PyObject *gpio_set;      /* GPIO.set, as the models' lines have it */

/* `fn` is the C path `native` (a partial of it) bound to `model` (NVIC.attach_cpu). */
static bool is_native(PyObject *fn, PyObject *native, PyObject *model)
{
    if (!fn || !native)
        return false;
    PyObject *f = PyObject_GetAttr(fn, S_func);
    PyObject *args = f ? PyObject_GetAttr(fn, S_args) : NULL;
    bool ok = f == native && args && PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 1
        && PyTuple_GET_ITEM(args, 0) == model;
    Py_XDECREF(args);
    Py_XDECREF(f);
    PyErr_Clear();                        /* (a Python method has no func: not native) */
    return ok;
}

/* GPIO.set(level) on `line` where the level moves, when each receiver is an NVIC's own C
 * on_gpio: the line's level, then each receiver's call (recorded, in verify mode, as the
 * NVIC's input level it leaves). `check` only looks. */
static bool line_set(PyObject *line, bool high, bool check, hr_effects *fx)
{
    if (!gpio_set)
        return false;
    PyObject *cls_set = PyObject_GetAttr((PyObject *)Py_TYPE(line), S_set);
    bool plain = cls_set == gpio_set;     /* (a GPIO class with another set: Python) */
    Py_XDECREF(cls_set);
    PyErr_Clear();
    PyObject *targets = plain ? PyObject_GetAttr(line, S_targets) : NULL;
    if (!targets || !PyList_CheckExact(targets)) {
        Py_XDECREF(targets);
        return false;
    }
    bool ok = true;
    Py_ssize_t n = PyList_GET_SIZE(targets);
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        PyObject *t = PyList_GET_ITEM(targets, i);
        ok = PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 2 && PyLong_Check(PyTuple_GET_ITEM(t, 1));
        PyObject *rx = ok ? PyTuple_GET_ITEM(t, 0) : NULL;
        PyObject *fn = rx ? PyObject_GetAttr(rx, S_on_gpio) : NULL;
        ok = ok && is_native(fn, native_gpio, rx);
        if (ok && !check) {
            PyObject *pin = PyTuple_GET_ITEM(t, 1);
            if (fx->dry) {
                long irq = PyLong_AsLong(pin);
                PyObject *lv = PyObject_GetAttr(rx, S_level), *k = PyLong_FromLong(16 + irq);
                ok = lv && k && effect(fx, lv, k, PyLong_FromLong(high), true);
                Py_XDECREF(lv);
                Py_XDECREF(k);
            } else {
                PyObject *res = PyObject_CallFunctionObjArgs(fn, pin, high ? Py_True : Py_False,
                                                             NULL);
                ok = res != NULL;
                Py_XDECREF(res);
            }
        }
        Py_XDECREF(fn);
    }
    Py_DECREF(targets);
    if (ok && !check) {
        PyObject *v = high ? Py_True : Py_False;
        Py_INCREF(v);
        /* before the receivers, as GPIO.set: in verify mode only its end state counts */
        ok = effect(fx, line, S_level, v, false);
    }
    return ok;
}

/* STM32Timer.write(SR) while the counter is stopped (_advance does nothing) with no event
 * scheduled (_reschedule does nothing): SR &= value (its rc_w0 bits), then _update_irq: the
 * enabled flags left (`_irq_active`) and the six lines, where a line that moves has only
 * NVICs' C on_gpio as receivers (a timer's IRQ to the NVIC; lowering it only lowers the
 * NVIC's input level). */
static bool timer_sr_write(PyObject *tim, long long value, hr_effects *fx)
{
    if (get_truth(tim, S_running) != 0)
        return false;
    PyObject *ev = PyObject_GetAttr(tim, S_ev);
    if (!ev)
        return false;
    bool idle = ev == Py_None;
    Py_DECREF(ev);
    long long sr, dier, shown = 0;
    if (!idle || !reg_ll(tim, S_SR, &sr) || !reg_ll(tim, S_DIER, &dier)
        || get_opt(tim, S_irq_active, &shown) != 1)
        return false;
    long long nsr = sr & (value | ~(long long)TIMER_SR_RC_W0), active = nsr & dier & 0xFF;
    if (active == shown)
        return effect_reg(fx, tim, S_SR, nsr);
    /* _update_irq's lines, in its order, and the flags each shows */
    PyObject *names[6] = {S_IRQ, S_UpdateInterrupt, S_CaptureCompareInterrupt,
                          S_CommutationInterrupt, S_TriggerInterrupt, S_BreakInterrupt};
    const long long masks[6] = {0xFF, 0x01, 0x1E, 0x20, 0x40, 0x80};
    PyObject *lines[6] = {0};
    bool moves[6] = {0}, ok = true;
    for (int i = 0; ok && i < 6; i++) {
        lines[i] = PyObject_GetAttr(tim, names[i]);
        PyObject *lv = lines[i] ? PyObject_GetAttr(lines[i], S_level) : NULL;
        int was = lv ? PyObject_IsTrue(lv) : -1;
        Py_XDECREF(lv);
        moves[i] = was != ((active & masks[i]) != 0);
        ok = was >= 0 && (!moves[i] || line_set(lines[i], active & masks[i], true, fx));
    }
    if (ok)
        ok = effect_reg(fx, tim, S_SR, nsr)
            && effect(fx, tim, S_irq_active, PyLong_FromLongLong(active), false);
    for (int i = 0; ok && i < 6; i++)
        if (moves[i])
            ok = line_set(lines[i], active & masks[i], false, fx);
    for (int i = 0; i < 6; i++)
        Py_XDECREF(lines[i]);
    return ok;
}

#define ICSR_NMIPENDSET (1LL << 31)
#define ICSR_PENDSVSET (1LL << 28)
#define ICSR_PENDSVCLR (1LL << 27)
#define ICSR_PENDSTSET (1LL << 26)
#define ICSR_PENDSTCLR (1LL << 25)
#define EXC_PENDSV 14

/* NVIC._icsr_set for a word that pends PendSV (or sets nothing), through the NVIC's own
 * set_pending when it is the core's C path (NVIC.attach_cpu: a partial of nv_set_pending for
 * this NVIC), which also ends the slice after this access if PendSV can be taken now. */
static bool icsr_write(PyObject *nv, long long value, hr_effects *fx)
{
    if (value & (ICSR_NMIPENDSET | ICSR_PENDSTSET | ICSR_PENDSTCLR))
        return false;
    if (!(value & ICSR_PENDSVSET))
        return !(value & ICSR_PENDSVCLR);   /* no set or clear bit: nothing happens */
    PyObject *fn = PyObject_GetAttr(nv, S_set_pending);
    bool native = is_native(fn, native_pend, nv);
    bool ok = false;
    if (native) {
        if (fx->dry) {
            PyObject *pending = PyObject_GetAttr(nv, S_pending), *k = PyLong_FromLong(EXC_PENDSV);
            ok = pending && k && effect(fx, pending, k, PyLong_FromLong(1), true);
            Py_XDECREF(pending);
            Py_XDECREF(k);
        } else {
            PyObject *k = PyLong_FromLong(EXC_PENDSV);
            PyObject *res = k ? PyObject_CallOneArg(fn, k) : NULL;
            ok = res != NULL;
            Py_XDECREF(res);
            Py_XDECREF(k);
        }
    }
    Py_XDECREF(fn);
    return ok;
}

/* ---- SysTick writes (SysTick.write; peripherals/cortexm/systick.py) */
#define SYST_ENABLE 0x1LL
#define SYST_CLKSOURCE 0x4LL
#define SYST_COUNTFLAG (1LL << 16)

/* The core's time at this access, fetched once per write (only where counting restarts). */
typedef struct {
    PyObject *cpu;
    const hr_access *a;
    bool have;
    hr_time t;
} hr_lazy_time;

static const hr_time *lazy_time(hr_lazy_time *lt)
{
    if (!lt->have && !(lt->have = core_now(lt->cpu, lt->a, &lt->t)))
        return NULL;
    return &lt->t;
}

/* The wrap event goes: `_event.cancel()` (its `cancelled` flag), and `_event = None` unless
 * `keep` (a restart that schedules the next one sets it once, for verify mode's sake). */
static bool systick_cancel(PyObject *st, bool keep, hr_effects *fx)
{
    PyObject *ev = PyObject_GetAttr(st, S_event);
    if (!ev)
        return false;
    bool ok = true;
    if (ev != Py_None) {
        Py_INCREF(Py_True);
        ok = effect(fx, ev, S_cancelled, Py_True, false);
        if (!keep) {
            Py_INCREF(Py_None);
            ok = ok && effect(fx, st, S_event, Py_None, false);
        }
    }
    Py_DECREF(ev);
    return ok;
}

/* SysTick._restart(cvr) once CSR holds `csr`: the wrap event cancelled, counting anchored at
 * now with CVR = cvr at the rate `csr` selects (HCLK, or HCLK/8 with CLKSOURCE clear, asked
 * of the model's rate function as _rate does), RVR captured for the first reload, and the next
 * wrap scheduled on the clock as _schedule_wrap does (cvr ticks, or RVR+1 from CVR = 0; none
 * while RVR and CVR are 0). */
static bool systick_restart(PyObject *st, long long csr, long long cvr, hr_lazy_time *lt,
                            hr_effects *fx)
{
    long long rvr, anchor;
    const hr_time *t = lazy_time(lt);
    if (!t || !get_ll(st, S_rvr, &rvr) || !get_ll(st, S_anchor_ps, &anchor))
        return false;
    PyObject *rate_fn = PyObject_GetAttr(st, S_rate_fn);
    PyObject *rate = rate_fn ? PyObject_CallNoArgs(rate_fn) : NULL;
    Py_XDECREF(rate_fn);
    long long hclk = 0;
    bool ok = rate && as_ll(rate, &hclk);
    Py_XDECREF(rate);
    if (!ok)
        return false;
    long long hz = csr & SYST_CLKSOURCE ? hclk : (long long)floor_div(hclk, 8);
    long long start_edge = hz > 0 ? (long long)ceil_div((now_ps(t) - anchor) * hz, PS_PER_S) : 0;
    bool wraps = (csr & SYST_ENABLE) && hz > 0 && (cvr || rvr);
    /* everything read before anything changes: a decline leaves the model as it was */
    PyObject *clock = PyObject_GetAttr(st, S_clock), *wrap = PyObject_GetAttr(st, S_on_wrap);
    if (!clock || !wrap) {
        Py_XDECREF(clock);
        Py_XDECREF(wrap);
        return false;
    }
    bool set = systick_cancel(st, wraps, fx)
        && effect(fx, st, S_cvr_at_start, PyLong_FromLongLong(cvr), false)
        && effect(fx, st, S_hz, PyLong_FromLongLong(hz), false)
        && effect(fx, st, S_start_edge, PyLong_FromLongLong(start_edge), false)
        && effect(fx, st, S_last_wrap, Py_NewRef(Py_None), false)
        && effect(fx, st, S_reload, PyLong_FromLongLong(rvr), false);
    if (!set || !wraps) {
        Py_DECREF(clock);
        Py_DECREF(wrap);
        return set;
    }
    long long ticks = cvr ? cvr : rvr + 1;
    long long at = anchor + (long long)ceil_div((i128)(start_edge + ticks) * PS_PER_S, hz);
    ok = effect_event(fx, st, S_event, clock, at, wrap, Py_BuildValue("(L)", ticks));
    Py_DECREF(clock);
    Py_DECREF(wrap);
    return ok;
}

/* SysTick.write(0x0): CSR takes ENABLE, TICKINT and CLKSOURCE (COUNTFLAG stays); counting
 * restarts from the current count while enabled (the clock source may have changed), and a
 * stop keeps the count. */
static bool systick_csr_write(PyObject *st, long long value, hr_lazy_time *lt, hr_effects *fx)
{
    long long csr, current;
    if (!get_ll(st, S_csr, &csr))
        return false;
    bool was = csr & SYST_ENABLE;
    if (!systick_cvr(st, was ? lazy_time(lt) : NULL, lt->cpu, lt->a, &current))
        return false;
    long long ncsr = (csr & SYST_COUNTFLAG) | (value & 0x7);
    if (!effect(fx, st, S_csr, PyLong_FromLongLong(ncsr), false))
        return false;
    if (ncsr & SYST_ENABLE)
        return systick_restart(st, ncsr, current, lt, fx);
    if (was)
        return systick_cancel(st, false, fx)
            && effect(fx, st, S_cvr_at_start, PyLong_FromLongLong(current), false);
    return true;
}

/* SysTick.write_cvr: COUNTFLAG clears; CVR is 0, counting restarts from there if enabled. */
static bool systick_cvr_write(PyObject *st, hr_lazy_time *lt, hr_effects *fx)
{
    long long csr;
    if (!get_ll(st, S_csr, &csr)
        || !effect(fx, st, S_csr, PyLong_FromLongLong(csr & ~SYST_COUNTFLAG), false))
        return false;
    if (csr & SYST_ENABLE)
        return systick_restart(st, csr & ~SYST_COUNTFLAG, 0, lt, fx);
    return effect(fx, st, S_cvr_at_start, PyLong_FromLong(0), false);
}

static bool systick_write(PyObject *st, PyObject *cpu, const hr_access *a, uint32_t kind,
                          long long value, hr_effects *fx)
{
    hr_lazy_time lt = {cpu, a, false, {0}};
    switch (kind) {
    case HR_SYST_CSR_W:
        return systick_csr_write(st, value, &lt, fx);
    case HR_SYST_RVR_W:
        return effect(fx, st, S_rvr, PyLong_FromLongLong(value & 0xFFFFFF), false);
    case HR_SYST_CVR_W:
        return systick_cvr_write(st, &lt, fx);
    default:
        return false;
    }
}

/* From Python once (GIL held): the NVIC's C paths and GPIO.set (None where missing). */
void hr_natives(PyObject *pend, PyObject *on_gpio, PyObject *set)
{
    PyObject **slots[3] = {&native_pend, &native_gpio, &gpio_set}, *objs[3] = {pend, on_gpio, set};
    for (int i = 0; i < 3; i++) {
        PyObject *o = objs[i] == Py_None ? NULL : objs[i];
        Py_XINCREF(o);
        Py_XSETREF(*slots[i], o);
    }
}

/* Is the pin's ODR bit its level (a push-pull output: 1), or does ODR not decide its level
 * (0)? -1: it does some other way (an F1 input's pull, an open-drain output): Python. */
static int gpio_odr_drives(PyObject *port, bool f1, int pin)
{
    long long cfg, ot = 0;
    if (f1) {
        if (!get_ll(port, S_cr_f1, &cfg))
            return -1;
        long long nib = (cfg >> (4 * pin)) & 0xF, mode = nib & 3, cnf = nib >> 2;
        if (mode == 0)                     /* input: analog, floating, pull (ODR picks it) */
            return cnf == 2 ? -1 : 0;
        if (cnf & 2)
            return 0;                      /* alternate function: its source's level */
        return cnf & 1 ? -1 : 1;           /* open-drain : push-pull */
    }
    if (!get_ll(port, S_moder, &cfg) || !get_ll(port, S_otyper, &ot))
        return -1;
    if (((cfg >> (2 * pin)) & 3) != 1)
        return 0;                          /* input, AF, analog: ODR is not the level */
    return (ot >> pin) & 1 ? -1 : 1;
}

/* The pin's output line has no receiver: GPIO.set only stores its level. */
static PyObject *gpio_quiet_line(PyObject *port, int pin)
{
    PyObject *conns = PyObject_GetAttr(port, S_connections);
    PyObject *k = conns ? PyLong_FromLong(pin) : NULL;
    PyObject *line = k && PyDict_CheckExact(conns) ? PyDict_GetItemWithError(conns, k) : NULL;
    Py_XINCREF(line);
    Py_XDECREF(k);
    Py_XDECREF(conns);
    PyObject *targets = line ? PyObject_GetAttr(line, S_targets) : NULL;
    bool quiet = targets && PyList_CheckExact(targets) && PyList_GET_SIZE(targets) == 0;
    Py_XDECREF(targets);
    if (!quiet)
        Py_CLEAR(line);
    return line;
}

/* GpioPortBase._bsrr_written (Peripheral.write's word path to it): ODR takes the set and
 * reset bits (set wins); each pin whose ODR bit changed is re-resolved, and one that changes
 * level is announced on its line and to the port's watchers. Made here where every such pin
 * is a push-pull output with no external drive (its level is its ODR bit), and a pin that
 * changes level is watched by nobody: no receiver on its line (a device, the EXTI, another
 * machine), no watcher of the port (AFIO/EXTI routing, a trace). */
static bool gpio_bsrr_write(PyObject *port, bool f1, long long value, hr_effects *fx)
{
    long long odr, levels;
    if (!get_ll(port, S_odr, &odr) || !get_ll(port, S_levels, &levels))
        return false;
    long long set = value & 0xFFFF, reset = (value >> 16) & 0xFFFF;
    long long nodr = ((odr & ~reset) | set) & 0xFFFF, nlevels = levels;
    PyObject *lines[16] = {0};
    int line_pin[16], n_lines = 0;
    bool ok = true;
    for (int pin = 0; ok && pin < 16; pin++) {
        if (!((odr ^ nodr) >> pin & 1))
            continue;
        int drives = gpio_odr_drives(port, f1, pin);
        if (drives <= 0) {
            ok = drives == 0;
            continue;
        }
        PyObject *ext = PyObject_GetAttr(port, S_ext);
        PyObject *x = ext && PyList_CheckExact(ext) && PyList_GET_SIZE(ext) > pin
            ? PyList_GET_ITEM(ext, pin) : NULL;
        ok = x == Py_None;                 /* (an external drive: contention, logged) */
        Py_XDECREF(ext);
        long long bit = 1LL << pin, level = (nodr >> pin) & 1;
        if (!ok || level == ((levels >> pin) & 1))
            continue;
        nlevels ^= bit;
        if (!n_lines) {                    /* a level moves: the port's watchers first (an F1's
                                              AFIO watches every port: Python, at once) */
            PyObject *w = PyObject_GetAttr(port, S_watchers);
            ok = w && PyList_CheckExact(w) && PyList_GET_SIZE(w) == 0;
            Py_XDECREF(w);
        }
        if (ok) {
            ok = (lines[n_lines] = gpio_quiet_line(port, pin)) != NULL;
            line_pin[n_lines] = pin;
            n_lines += ok;
        }
    }
    /* every check made: the effects (a line takes the pin's new level, as GPIO.set) */
    ok = ok && effect(fx, port, S_odr, PyLong_FromLongLong(nodr), false);
    if (ok && nlevels != levels)
        ok = effect(fx, port, S_levels, PyLong_FromLongLong(nlevels), false);
    for (int i = 0; i < n_lines; i++) {
        PyObject *lv = PyBool_FromLong((long)((nlevels >> line_pin[i]) & 1));
        if (ok)
            ok = effect(fx, lines[i], S_level, lv, false);     /* (takes lv) */
        else
            Py_XDECREF(lv);
        Py_DECREF(lines[i]);
    }
    return ok;
}

#define SPI_TXE 0x02
#define SPI_MSTR 0x04
#define SPI_SPE 0x40
#define SPI_DFF (1 << 11)

/* A new reference to `o`. */
static PyObject *ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

/* The polled end's backstop (`spi._end.backstop`) is a live event due at or before `due_ps`:
 * PolledEnd.start(due_ps, ...) would schedule nothing. 1 yes, 0 no, -1 unknown. */
static int backstop_covers(PyObject *end, long long due_ps)
{
    PyObject *bs = PyObject_GetAttr(end, S_backstop);
    if (!bs)
        return -1;
    long long at = 0;
    int r = 0;
    if (bs != Py_None) {
        int cancelled = get_truth(bs, S_cancelled);
        r = cancelled < 0 || !get_ll(bs, S_time_ps, &at) ? -1 : !cancelled && at <= due_ps;
    }
    Py_DECREF(bs);
    return r;
}

/* STM32Spi.write(DR) -> _try_start -> _schedule_end for a frame started from an idle bus in
 * master mode: the byte goes straight to the shift register (TXE set again, BSY set) and
 * the frame's end is a polled end (spi._end: due_ps, fn, args) at now + the frame time,
 * where the backstop already runs no later (PolledEnd.start schedules nothing). */
static bool spi_start_frame(PyObject *spi, PyObject *cpu, const hr_access *a, long long cr1,
                            long long sr, long long data, hr_effects *fx)
{
    if (!(cr1 & SPI_SPE) || !(cr1 & SPI_MSTR) || get_truth(spi, S_tx_full) != 0
        || get_truth(spi, S_polled_fast_path) != 1 || get_truth(spi, S_pins_watched) != 1)
        return false;
    PyObject *clk = PyObject_GetAttr(spi, S_clk);
    PyObject *hz_obj = clk ? PyObject_GetAttr(clk, S_clk_hz) : NULL;   /* (a property) */
    long long hz = 0;
    bool ok = hz_obj && as_ll(hz_obj, &hz) && hz > 0;
    Py_XDECREF(hz_obj);
    Py_XDECREF(clk);
    hr_time t;
    if (!ok || !core_now(cpu, a, &t))
        return false;
    long long bits = cr1 & SPI_DFF ? 16 : 8;
    i128 frame_ps = (i128)bits * (2LL << ((cr1 >> 3) & 7)) * PS_PER_S / hz;
    long long due = (long long)(now_ps(&t) + frame_ps);
    PyObject *end = PyObject_GetAttr(spi, S_end);
    if (!end)
        return false;
    PyObject *fn = NULL, *frame = NULL;
    ok = backstop_covers(end, due) == 1 && (fn = PyObject_GetAttr(spi, S_frame_done))
        && (frame = Py_BuildValue("(OLL)", S_data, data, bits));
    ok = ok && effect(fx, spi, S_txbuf, PyLong_FromLongLong(data), false)
        && effect_reg(fx, spi, S_SR, sr | SPI_TXE | SPI_BSY)
        && effect(fx, spi, S_shifting, ref(S_data), false)
        && effect(fx, spi, S_frame, ref(frame), false)
        && effect(fx, spi, S_spi_due_ps, PyLong_FromLongLong(due), false)
        && effect(fx, spi, S_quiet, ref(Py_True), false)
        && effect(fx, end, S_due_ps, PyLong_FromLongLong(due), false)
        && effect(fx, end, S_fn, ref(fn), false)
        && effect(fx, end, S_args, PyTuple_New(0), false);
    Py_XDECREF(frame);
    Py_XDECREF(fn);
    Py_DECREF(end);
    return ok;
}

/* STM32Spi.write(DR) in polled firmware (CR2's interrupt and DMA enables clear and the IRQ
 * and DMA request lines low: _set_sr moves no line), with no DMA stream and no polled frame
 * end passed (nothing settles first): behind a quiet frame on the wire the byte waits in the
 * Tx buffer (TXE clear); on an idle bus it starts a frame (spi_start_frame). The frame's end,
 * with the devices' byte, then comes as for a frame the Python write started. */
static bool spi_dr_write(PyObject *spi, PyObject *cpu, const hr_access *a, long long value,
                         hr_effects *fx)
{
    PyObject *x = PyObject_GetAttr(spi, S_st);
    if (!x)
        return false;
    bool streaming = x != Py_None;
    Py_DECREF(x);
    if (streaming || polled_end(spi, cpu, a) != 0)
        return false;
    long long cr1, cr2, sr, due = 0;
    if (!reg_ll(spi, S_CR1, &cr1) || !reg_ll(spi, S_CR2, &cr2) || !reg_ll(spi, S_SR, &sr)
        || cr2 & SPI_LINE_ENABLES || !spi_lines_low(spi))
        return false;
    int on_wire = get_opt(spi, S_spi_due_ps, &due);
    long long data = value & (cr1 & SPI_DFF ? 0xFFFF : 0xFF);
    if (on_wire < 0)
        return false;
    if (!on_wire)
        return spi_start_frame(spi, cpu, a, cr1, sr, data, fx);
    return get_truth(spi, S_quiet) == 1
        && effect(fx, spi, S_txbuf, PyLong_FromLongLong(data), false)
        && effect(fx, spi, S_tx_full, ref(Py_True), false)
        && effect_reg(fx, spi, S_SR, sr & ~SPI_TXE);
}

static bool apply_write(hr_range *r, hr_entry *e, const hr_access *a, long long value,
                        hr_effects *fx)
{
    if (!may_answer(r, e, a))
        return false;
    switch (e->kind) {
    case HR_I2C_DR_W:
        return i2c_dr_write(e->state, r->cpu, a, value, fx);
    case HR_TIMER_SR_W:
        return timer_sr_write(e->state, value, fx);
    case HR_ICSR_W:
        return icsr_write(e->state, value, fx);
    case HR_GPIO_F1_BSRR_W:
    case HR_GPIO_F4_BSRR_W:
        return gpio_bsrr_write(e->state, e->kind == HR_GPIO_F1_BSRR_W, value, fx);
    case HR_SYST_CSR_W:
    case HR_SYST_RVR_W:
    case HR_SYST_CVR_W:
        return systick_write(e->state, r->cpu, a, e->kind, value, fx);
    case HR_SPI_DR_W:
        return spi_dr_write(e->state, r->cpu, a, value, fx);
    default:
        return false;
    }
}

/* Verify mode: the write C would have made, waiting for the Python write to finish (one per
 * range: the Python write runs no firmware, so no other access of the range comes between). */
typedef struct {
    hr_entry *e;
    PyObject *model;       /* the model, its attributes and its register dict before */
    PyObject *attrs;
    PyObject *regs;
    PyObject *state;       /* the state object where it is not the model (SysTick in the
                              NVIC's page), and its attributes before; else NULL */
    PyObject *sattrs;
    hr_effects fx;
} hr_wv;

static void wv_free(hr_range *r)
{
    hr_wv *w = r->wv;
    if (!w)
        return;
    r->wv = NULL;
    effects_clear(&w->fx);
    Py_XDECREF(w->model);
    Py_XDECREF(w->attrs);
    Py_XDECREF(w->regs);
    Py_XDECREF(w->state);
    Py_XDECREF(w->sattrs);
    PyMem_Free(w);
}

/* A copy of a dict attribute of `o` (NULL, no error, if it has none). */
static PyObject *dict_copy(PyObject *o, PyObject *name)
{
    PyObject *d = PyObject_GetAttr(o, name);
    PyObject *c = d && PyDict_Check(d) ? PyDict_Copy(d) : NULL;
    Py_XDECREF(d);
    PyErr_Clear();
    return c;
}

int hr_write(const void *tramp, void *uc, hr_reg_read_fn reg_read, uint64_t exec, uint32_t pc,
             uint64_t offset, unsigned size, uint64_t value)
{
    hr_range *r = NULL;
    hr_entry *e = find_entry(tramp, offset, size, true, &r);
    if (!e)
        return 0;
    hr_access a = {uc, reg_read, exec, pc};
    long long v = (long long)(size >= 8 ? value : value & ((1ull << (8 * size)) - 1));
    PyGILState_STATE g = PyGILState_Ensure();
    bool dry = r->verify != 0;
    hr_effects fx = {.dry = dry, .n = 0};
    bool ok = apply_write(r, e, &a, v, &fx);
    if (PyErr_Occurred()) {
        PyErr_Clear();          /* (Python's own write meets the same state and says why) */
        ok = false;
    }
    int rc = ok;
    if (dry) {
        rc = 0;
        wv_free(r);
        hr_wv *w = ok ? PyMem_Malloc(sizeof *w) : NULL;
        if (w) {
            w->e = e;
            w->fx = fx;
            fx.n = 0;
            Py_INCREF(e->owner);
            w->model = e->owner;
            w->attrs = dict_copy(e->owner, S_dict);
            w->regs = dict_copy(e->owner, S_regs);
            w->state = e->state != e->owner ? Py_NewRef(e->state) : NULL;
            w->sattrs = w->state ? dict_copy(e->state, S_dict) : NULL;
            r->wv = w;
            rc = -1;
        }
        effects_clear(&fx);
    } else if (ok) {
        e->hits++;
    } else {
        e->declined++;
    }
    PyGILState_Release(g);
    return rc;
}

/* Verify mode: note a difference between C's write and Python's. */
static void wv_mismatch(hr_range *r, hr_wv *w, PyObject *key, PyObject *c_value,
                        PyObject *py_value)
{
    hr_entry *e = w->e;
    e->mismatched++;
    if (r->wlog && PyList_Check(r->wlog)) {
        PyObject *t = Py_BuildValue("(IIOOO)", e->offset, e->kind, key,
                                    c_value ? c_value : Py_None, py_value ? py_value : Py_None);
        if (t)
            PyList_Append(r->wlog, t);
        Py_XDECREF(t);
    }
    PyErr_Clear();
}

/* Is `key` one C sets in `obj` (as an attribute or an item)? */
static bool is_effect(const hr_effects *fx, PyObject *obj, PyObject *key, bool item)
{
    for (int i = 0; i < fx->n; i++)
        if (fx->e[i].obj == obj && fx->e[i].item == item
            && PyObject_RichCompareBool(fx->e[i].key, key, Py_EQ) == 1)
            return true;
    return false;
}

/* `before` and `now` differ only at keys C sets in `obj`. */
static bool same_but_effects(hr_range *r, hr_wv *w, PyObject *before, PyObject *now,
                             PyObject *obj, bool item)
{
    if (!before || !now || !PyDict_Check(now))
        return true;
    bool same = true;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(before, &pos, &k, &v)) {
        if (is_effect(&w->fx, obj, k, item))
            continue;
        PyObject *other = PyDict_GetItemWithError(now, k);
        if (!other || PyObject_RichCompareBool(v, other, Py_EQ) != 1) {
            same = false;
            wv_mismatch(r, w, k, v, other);   /* (C leaves it as it was) */
        }
    }
    pos = 0;
    while (PyDict_Next(now, &pos, &k, &v))
        if (!is_effect(&w->fx, obj, k, item) && !PyDict_GetItemWithError(before, k)) {
            same = false;
            wv_mismatch(r, w, k, NULL, v);    /* Python added it */
        }
    PyErr_Clear();
    return same;
}

void hr_write_check(const void *tramp)
{
    hr_range *r = lookup(tramp);
    if (!r || !r->wv)
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    hr_wv *w = r->wv;
    bool same = true;
    for (int i = 0; i < w->fx.n; i++) {
        hr_effect *x = &w->fx.e[i];
        PyObject *now = x->item ? PyObject_GetItem(x->obj, x->key)
                                : PyObject_GetAttr(x->obj, x->key);
        if (!now || !(x->event ? event_is(now, x->value)
                               : PyObject_RichCompareBool(now, x->value, Py_EQ) == 1)) {
            same = false;
            wv_mismatch(r, w, x->key, x->value, now);
        }
        Py_XDECREF(now);
        PyErr_Clear();
    }
    /* nothing else changed: the model's attributes (by value) and its register dict */
    PyObject *attrs = PyObject_GetAttr(w->model, S_dict);
    PyObject *regs = PyObject_GetAttr(w->model, S_regs);
    PyErr_Clear();
    same = same_but_effects(r, w, w->attrs, attrs, w->model, false) && same;
    if (w->state) {
        PyObject *sattrs = PyObject_GetAttr(w->state, S_dict);
        PyErr_Clear();
        same = same_but_effects(r, w, w->sattrs, sattrs, w->state, false) && same;
        Py_XDECREF(sattrs);
    }
    same = same_but_effects(r, w, w->regs, regs, regs, true) && same;
    Py_XDECREF(attrs);
    Py_XDECREF(regs);
    if (same)
        w->e->verified++;
    wv_free(r);
    PyGILState_Release(g);
}
