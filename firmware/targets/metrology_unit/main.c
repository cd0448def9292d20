/*
 * The new-generation meter's metrology unit (the legal part, IR46 / JJF1245): STM32F103RB with
 * an ADE7753 on SPI1, its own RTC and an AT24C256 for the energy it measured, and a UART link
 * to the management unit. Board contract: platforms/boards/meter_metrology_unit.repl; link
 * protocol and EEPROM layout: docs/meter_metrology_unit.md, metrology_link.h.
 *
 * Threads: "link" (3) assembles request frames on USART2 and answers them; "meter" (5) sleeps
 * until the ADE7753 says a line-cycle window ended (CYCEND on its IRQ pin, every 200 half
 * cycles: 2 s at 50 Hz), reads the window's energy (LAENERGY), adds it, freezes the totals at
 * every 15-minute boundary of its clock, adds a record of them to its EEPROM ring every 5 Wh and
 * feeds the independent watchdog; "power" (1) saves them when the PVD announces a power cut
 * (a cut, torn save or not, then loses less than 5 Wh and a 2 s window: < 0.01 kWh below
 * 9 kW). It never waits for the management unit: metering goes on whether or not anybody asks.
 */
#include <string.h>
#include "ade7753.h"
#include "at24c.h"
#include "bsp.h"
#include "bsp_date.h"
#include "ms_rtos.h"
#include "metrology_link.h"
#include "readings.h"

#define FW_VERSION "1.0"
/* ---- board (platforms/boards/meter_metrology_unit.repl) ---- */
#define CONSOLE_UART 1
#define LINK_UART 2
#define LINK_CHAR_US 1146u              /* one 11-bit character at 9600 8E1 */
#define ADE_SPI 1
#define ADE_CS BSP_PIN(0, 4)
#define ADE_IRQ BSP_PIN(0, 8)
#define ADE_RESET BSP_PIN(1, 0)
#define EE_I2C 1
#define EE_ADDR 0x50
#define BK_CLOCK_SET 1u                 /* backup word: the calendar was set once */
#define BK_CLOCK_MAGIC 0x4D54u
#define BK_WATCHDOG_RESETS 2u           /* backup word: resets by the IWDG so far */

/* ---- the front end and its scales (readings.h) ----
 * The energy scale is kept as mWh per LSB in Q32, so adding energy is integer arithmetic with
 * the remainder carried: no drift however long it runs. The power comes from WAVEFORM, not
 * from the window's energy: it resolves 0.04 W and a load step shows in the next reading
 * whole, where a window that straddles the step would show a part of it. */
#define LSB_MWH (33554432.0 / (2.0 * 838861.0 * (CLKIN_HZ / 4.0) * K_V * K_I) / 3.6)
static const uint64_t k_mwh_per_lsb_q32 = (uint64_t)(LSB_MWH * 4294967296.0 + 0.5);
#define LINECYC 200u                    /* half line cycles per window: 2 s at 50 Hz */
#define WINDOW_TIMEOUT_MS 3000u         /* no mains: no crossings, the loop still runs */
/* Save policy. The totals go to a ring of small records (sequence number, forward and reverse
 * mWh, CRC; EE_RING_SLOTS of them, four to a page) every ENERGY_STEP_MWH and when the PVD
 * (VDD below 2.9 V) announces a power cut while the supply capacitors still hold the MCU up.
 * At start the newest valid record wins. A cut that ends inside a record's write cycle tears
 * only that record: the one before it, less than ENERGY_STEP_MWH older, stands, so a cut loses
 * less than the step and the window being counted (2 s: 1.7 Wh at 3 kW, 8.8 Wh at
 * 60 A x 264 V). Wear, every record write counted as a cycle of its whole page: a page is
 * written once per EE_RING_SLOTS / 4 records = 0.64 kWh, 10^6 cycles (AT24C256 data sheet) are
 * 640 MWh: 63 years at the basic current (5 A x 230 V), 5.3 years at Imax (60 A) without a
 * pause. Finding the newest record reads the 8 KB ring at start: 0.19 s of I2C at 400 kHz. The two copies of the full record (totals and the number of freezes) are written
 * at each interval freeze and at the power-fail save. */
#define ENERGY_STEP_MWH 5000u
#define EE_RING_BASE 0x4000u            /* 0x4000..0x5FFF: above the interval ring */
#define EE_RING_SLOTS 512u
#define EE_REC_BYTES 16u                /* seq u16, forward u48, reverse u48 mWh, CRC-16 */
#define PVD_LEVEL 7                     /* PLS = 111: 2.9 V (RM0008 4.4.2) */
#define WATCHDOG_MS 8000u               /* > one window wait (3 s) and its work */

static uint64_t g_pool[6u * 1024u / 8u];

struct state {
    struct mt_status st;
    uint64_t rem_fwd, rem_rev;          /* sub-mWh remainders, Q32 */
    uint64_t saved_mWh;                 /* fwd + rev in the newest ring record */
    uint32_t seq;                       /* of the newest copy */
    uint16_t rseq;                      /* of the newest ring record */
    uint32_t rslot;                     /* its slot */
    int ring_any;                       /* a valid ring record was found or written */
    uint32_t slot;                      /* the 15-minute slot of the clock now */
    uint32_t link_bad, link_frames;
    uint16_t gen;                       /* one more at every change of the totals (MEASURE) */
    ms_tick_t win_at;                   /* when the newest window's energy was added */
    ms_tick_t win_ticks;                /* how long that window took; 0: no window before it */
    int ee_ok;
    volatile int ee_blocked;            /* after the power-fail save: no more writes */
};

static struct state g;
static ms_handle_t g_lock, g_pf_sem;
static ade7753_t g_ade;
static at24c_t g_ee;

void ms_kputc(char c) { bsp_console_putc(c); }

static uint32_t clock_now(void)
{
    struct bsp_datetime dt;
    if (bsp_rtc_get(&dt) < 0 || !bsp_date_valid(&dt))
        return 0;
    return bsp_date_to_secs(&dt);
}

static void print_kwh(const char *what, uint64_t mWh)
{
    ms_printk("%s %u.%03u kWh", what, (unsigned)(mWh / 1000000u),
              (unsigned)(mWh / 1000u % 1000u));
}

static void print_time(uint32_t s)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    ms_printk("%04u-%02u-%02u %02u:%02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec);
}

/* ---- EEPROM: the energy ring, the full record (two copies) and the interval ring ---- */
static void put48(uint8_t *p, uint64_t v)
{
    for (unsigned k = 0; k < 6; k++)
        p[k] = (uint8_t)(v >> (8u * k));
}

static uint64_t get48(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < 6; k++)
        v |= (uint64_t)p[k] << (8u * k);
    return v;
}

/* The totals into the ring slot after the newest: one page write (16 bytes inside a page). */
static int save_ring(void)
{
    if (!g.ee_ok || g.ee_blocked)
        return -1;
    uint8_t b[EE_REC_BYTES];
    uint16_t seq = (uint16_t)(g.rseq + 1u);
    uint32_t slot = g.ring_any ? (g.rslot + 1u) % EE_RING_SLOTS : 0u;
    b[0] = (uint8_t)seq;
    b[1] = (uint8_t)(seq >> 8);
    put48(b + 2, g.st.fwd_mWh);
    put48(b + 8, g.st.rev_mWh);
    mt_crc_append(b, EE_REC_BYTES - 2u);
    int r = at24c_write(&g_ee, EE_RING_BASE + EE_REC_BYTES * slot, b, sizeof b);
    if (r < 0)
        return r;
    g.rseq = seq;
    g.rslot = slot;
    g.ring_any = 1;
    g.saved_mWh = g.st.fwd_mWh + g.st.rev_mWh;
    return 0;
}

/* The full record (totals and freezes made) over the copy that is not the newest: a cut
 * mid-write tears only that one. */
static int save_copy(void)
{
    if (!g.ee_ok || g.ee_blocked)
        return -1;
    uint8_t b[MT_ENERGY_BYTES];
    struct mt_energy e = {g.seq + 1u, g.st.fwd_mWh, g.st.rev_mWh, g.st.intervals};
    mt_energy_put(b, &e);
    int r = at24c_write(&g_ee, (e.seq & 1u) ? MT_EE_COPY_B : MT_EE_COPY_A, b, sizeof b);
    if (r < 0)
        return r;
    g.seq = e.seq;
    return 0;
}

/* Totals into the ring first (the newest record wins at start), then the full record. */
static int save_energy(void)
{
    int r = save_ring();
    return r < 0 ? r : save_copy();
}

/* The newest valid ring record: 1 (seq, slot and totals in *fwd, *rev), or 0 with none. */
static int find_ring(uint64_t *fwd, uint64_t *rev)
{
    static uint8_t chunk[256];
    int found = 0;
    for (uint32_t at = 0; at < EE_RING_SLOTS * EE_REC_BYTES; at += sizeof chunk) {
        if (at24c_read(&g_ee, EE_RING_BASE + at, chunk, sizeof chunk) < 0)
            return found;
        for (uint32_t k = 0; k < sizeof chunk; k += EE_REC_BYTES) {
            const uint8_t *p = chunk + k;
            if (!mt_crc_holds(p, EE_REC_BYTES - 2u))
                continue;                   /* erased, or torn by a cut */
            uint16_t seq = (uint16_t)(p[0] | p[1] << 8);
            /* the ring holds 512 consecutive numbers at most: the 16-bit difference orders */
            if (found && (int16_t)(seq - g.rseq) <= 0)
                continue;
            found = 1;
            g.rseq = seq;
            g.rslot = (at + k) / EE_REC_BYTES;
            *fwd = get48(p + 2);
            *rev = get48(p + 8);
        }
    }
    return found;
}

static void load_energy(void)
{
    uint8_t a[MT_ENERGY_BYTES], b[MT_ENERGY_BYTES];
    struct mt_energy ea, eb;
    int va = g.ee_ok && at24c_read(&g_ee, MT_EE_COPY_A, a, sizeof a) >= 0 && mt_energy_get(a, &ea) == 0;
    int vb = g.ee_ok && at24c_read(&g_ee, MT_EE_COPY_B, b, sizeof b) >= 0 && mt_energy_get(b, &eb) == 0;
    const struct mt_energy *e = 0;
    const char *which = "";
    if (va && (!vb || (int32_t)(ea.seq - eb.seq) > 0)) {
        e = &ea;
        which = "A";
    } else if (vb) {
        e = &eb;
        which = "B";
    }
    uint64_t fwd = 0, rev = 0;
    g.ring_any = g.ee_ok && find_ring(&fwd, &rev);
    if (e) {
        g.st.intervals = e->intervals;
        g.seq = e->seq;
        g.st.flags |= MT_ST_STORED;
        ms_printk("metrology: energy from EEPROM copy %s (seq %u)", which, (unsigned)e->seq);
    }
    if (g.ring_any) {
        g.st.fwd_mWh = fwd;
        g.st.rev_mWh = rev;
        g.st.flags |= MT_ST_STORED;
        g.saved_mWh = fwd + rev;
        ms_printk("%sring record %u (seq %u): ", e ? " and " : "metrology: energy from EEPROM ",
                  (unsigned)g.rslot, (unsigned)g.rseq);
    } else if (e) {
        /* a unit of the two-copy layout (or a jig's record): its totals start the ring */
        g.st.fwd_mWh = e->fwd_mWh;
        g.st.rev_mWh = e->rev_mWh;
        save_ring();
        ms_printk(", ring started: ");
    } else {
        ms_printk("metrology: no valid energy record%s, starting from zero: ",
                  g.ee_ok ? "" : " (no EEPROM)");
        save_ring();
        save_copy();
        save_copy();                    /* both copies */
    }
    print_kwh("forward", g.st.fwd_mWh);
    print_kwh(", reverse", g.st.rev_mWh);
    ms_printk(", %u interval records\n", (unsigned)g.st.intervals);
}

static int write_interval(const struct mt_interval *r)
{
    uint8_t b[MT_INTERVAL_BYTES + 2u];
    mt_interval_put(b, r);
    mt_crc_append(b, MT_INTERVAL_BYTES);
    return at24c_write(&g_ee, MT_EE_RING + MT_EE_SLOT * ((r->number - 1u) % MT_RING), b, sizeof b);
}

/* Record `number` from the ring: 0, or -1 when it is not (or no longer) held. */
static int read_interval(uint32_t number, struct mt_interval *r)
{
    uint8_t b[MT_INTERVAL_BYTES + 2u];
    if (!g.ee_ok || number == 0 || number > g.st.intervals || g.st.intervals - number >= MT_RING ||
        at24c_read(&g_ee, MT_EE_RING + MT_EE_SLOT * ((number - 1u) % MT_RING), b, sizeof b) < 0)
        return -1;
    if (!mt_crc_holds(b, MT_INTERVAL_BYTES))
        return -1;
    mt_interval_get(b, r);
    return r->number == number ? 0 : -1;
}

/* ---- metering ---- */
static void add_energy(int32_t lsb)
{
    uint64_t *total = lsb >= 0 ? &g.st.fwd_mWh : &g.st.rev_mWh;
    uint64_t *rem = lsb >= 0 ? &g.rem_fwd : &g.rem_rev;
    uint32_t n = lsb >= 0 ? (uint32_t)lsb : (uint32_t)-lsb;
    uint64_t q = (uint64_t)n * k_mwh_per_lsb_q32 + *rem;
    *total += q >> 32;
    *rem = q & 0xFFFFFFFFu;
}

static void instantaneous(int32_t pcode, uint32_t vcode, uint32_t icode, uint32_t period)
{
    struct mtu_readings r;
    mtu_readings(pcode, vcode, icode, period, &r);
    g.st.v_dV = r.v_dV;
    g.st.i_mA = r.i_mA;
    g.st.p_dW = r.p_dW;
    g.st.pf_m = r.pf_m;
    g.st.f_cHz = r.f_cHz;
}

/* V, I, P, PF and f from the chip now (under its lock: the link thread asks too); 0 when it
 * does not answer. The caller holds the state lock. */
static int read_instant(void)
{
    static const uint8_t k_regs[4] = {ADE_VRMS, ADE_IRMS, ADE_PERIOD, ADE_WAVEFORM};
    uint32_t v[4] = {0, 0, 0, 0};
    ms_mutex_lock(g_ade.lock, MS_WAIT_FOREVER);
    int r = ade7753_link_read(&g_ade.link, k_regs, 4, v);
    ms_mutex_unlock(g_ade.lock);
    if (r < 0) {
        instantaneous(0, 0, 0, 0);
        return 0;
    }
    instantaneous(ade7753_value_signed(ADE_WAVEFORM, v[3]), v[0], v[1], v[2]);
    return 1;
}

/* P alone (MEASURE's POWER part): WAVEFORM, as in read_instant; 0 when the chip does not
 * answer. The caller holds the state lock. */
static void read_power(void)
{
    static const uint8_t k_reg = ADE_WAVEFORM;
    uint32_t v = 0;
    ms_mutex_lock(g_ade.lock, MS_WAIT_FOREVER);
    int r = ade7753_link_read(&g_ade.link, &k_reg, 1, &v);
    ms_mutex_unlock(g_ade.lock);
    g.st.p_dW = r < 0 ? 0 : mtu_power_dW(ade7753_value_signed(ADE_WAVEFORM, v));
}

static void freeze_if_due(void)
{
    uint32_t now = g.st.clock_s;
    uint32_t slot = now / (MT_INTERVAL_MINUTES * 60u);
    if (slot <= g.slot)
        return;
    g.slot = slot;
    /* One record per boundary passed while running; boundaries missed while the unit itself
     * had no power are not made up here (supplementary freezing is the basic app's work). */
    struct mt_interval r = {g.st.intervals + 1u, slot * MT_INTERVAL_MINUTES * 60u,
                            g.st.fwd_mWh, g.st.rev_mWh};
    if (!g.ee_ok || write_interval(&r) < 0) {
        ms_printk("metrology: interval %u NOT stored\n", (unsigned)r.number);
        return;
    }
    g.st.intervals = r.number;
    save_energy();
    ms_printk("metrology: interval %u at ", (unsigned)r.number);
    print_time(r.time_s);
    print_kwh(", forward", r.fwd_mWh);
    ms_printk("\n");
}

/* How long the totals stay as they are (MEASURE's hold): until the next window ends, as long
 * as the last one took, less a sixteenth (a line up to 6 % faster, and the thread's own
 * latency, still end it later); 0 without mains or before two windows were seen. */
static uint16_t totals_hold_ms(void)
{
    if (!(g.st.flags & MT_ST_MEASURING) || !g.win_ticks)
        return 0;
    int32_t left = (int32_t)(g.win_at + g.win_ticks - g.win_ticks / 16u - ms_tick_get());
    if (left <= 0)
        return 0;
    uint32_t ms = (uint32_t)left * 1000u / MS_TICK_HZ;
    return ms > 0xFFFFu ? 0xFFFFu : (uint16_t)ms;
}

static void meter_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int32_t lsb = 0;
        int got = ade7753_line_energy(&g_ade, WINDOW_TIMEOUT_MS, &lsb) == 0;
        ms_tick_t at = ms_tick_get();
        ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
        uint64_t before_mWh = g.st.fwd_mWh + g.st.rev_mWh;
        uint32_t before_intervals = g.st.intervals;
        g.st.clock_s = clock_now();
        if (got) {
            add_energy(lsb);
            g.win_ticks = (g.st.flags & MT_ST_MEASURING) ? at - g.win_at : 0u;
            g.win_at = at;
            g.st.flags |= MT_ST_MEASURING;
        } else
            g.st.flags &= (uint16_t)~MT_ST_MEASURING;   /* no line cycles: no mains */
        /* V, I, P, PF, f are read when the management unit asks (STATUS): a window reads
         * only its energy, which keeps the unit's own work (and power) small */
        freeze_if_due();
        if (g.st.fwd_mWh + g.st.rev_mWh - g.saved_mWh >= ENERGY_STEP_MWH)
            save_ring();
        if (g.st.fwd_mWh + g.st.rev_mWh != before_mWh || g.st.intervals != before_intervals)
            g.gen++;
        ms_mutex_unlock(g_lock);
        bsp_iwdg_refresh();             /* metering goes round: a hang resets the unit */
    }
}

static void pvd_isr(void *arg)
{
    (void)arg;
    ms_sem_post(g_pf_sem);
}

/* The most urgent thread: on the PVD it saves the totals once (after a write in progress in
 * another thread), then keeps the EEPROM quiet until VDD stayed good for 0.5 s. */
static void power_thread(void *arg)
{
    (void)arg;
    for (;;) {
        ms_sem_wait(g_pf_sem, MS_WAIT_FOREVER);
        if (g.ee_blocked)
            continue;
        int locked = ms_mutex_lock(g_lock, ms_ms_to_ticks(30)) >= 0;   /* MS_OWNER_DIED: taken too */
        int r = save_energy();
        g.ee_blocked = 1;
        if (locked)
            ms_mutex_unlock(g_lock);
        ms_printk("metrology: power failing, totals %s\n", r == 0 ? "saved" : "NOT saved");
        unsigned good = 0;
        while (good < 10) {
            ms_thread_sleep_ms(50);
            good = bsp_pvd_below() ? 0 : good + 1;
        }
        g.ee_blocked = 0;
        ms_printk("metrology: power restored without reset\n");
    }
}

/* ---- the link to the management unit ---- */
static void answer(const struct mt_rx *rx)
{
    static uint8_t payload[MT_PAYLOAD_MAX], out[MT_FRAME_MAX];
    uint8_t cmd = mt_rx_cmd(rx);
    unsigned n = 0, len = mt_rx_payload_len(rx);
    const uint8_t *in = mt_rx_payload(rx);
    int err = 0;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    switch (cmd) {
    case MT_CMD_STATUS:
        if (len != 0) {
            err = MT_ERR_LENGTH;
            break;
        }
        g.st.clock_s = clock_now();
        read_instant();
        mt_status_put(payload, &g.st);
        n = MT_STATUS_BYTES;
        break;
    case MT_CMD_MEASURE: {
        if (len != MT_MEASURE_ASK_BYTES) {
            err = MT_ERR_LENGTH;
            break;
        }
        uint16_t held = (uint16_t)(in[1] | in[2] << 8);
        struct mt_measure m = {0, g.gen, totals_hold_ms()};
        if (in[0] & MT_PART_NOW) {
            g.st.clock_s = clock_now();
            read_instant();
            m.parts |= MT_PART_NOW;
        } else if (in[0] & MT_PART_POWER) {
            read_power();
            m.parts |= MT_PART_POWER;
        }
        if ((in[0] & MT_PART_TOTALS) && !((in[0] & MT_PART_HELD) && held == g.gen))
            m.parts |= MT_PART_TOTALS;
        n = mt_measure_put(payload, &m, &g.st);
        break;
    }
    case MT_CMD_INTERVALS: {
        if (len != 5 || in[4] > MT_INTERVALS_PER_READ) {
            err = MT_ERR_LENGTH;
            break;
        }
        uint32_t first = mt_get32(in);
        payload[0] = 0;
        n = 1;
        for (uint32_t k = first; k < first + in[4]; k++) {
            struct mt_interval r;
            if (read_interval(k, &r) == 0) {
                mt_interval_put(payload + n, &r);
                n += MT_INTERVAL_BYTES;
                payload[0]++;
            }
        }
        break;
    }
    case MT_CMD_CLEAR:
        if (len != 0) {
            err = MT_ERR_LENGTH;
            break;
        }
        g.st.fwd_mWh = g.st.rev_mWh = 0;
        g.rem_fwd = g.rem_rev = 0;
        g.st.intervals = 0;
        g.gen++;
        if (save_ring() < 0 || save_copy() < 0 || save_copy() < 0) {
            err = MT_ERR_STORAGE;
            break;
        }
        ms_printk("metrology: meter clear\n");
        break;
    default:
        err = MT_ERR_COMMAND;
        break;
    }
    ms_mutex_unlock(g_lock);
    unsigned m;
    if (err) {
        uint8_t e[2] = {cmd, (uint8_t)err};
        m = mt_frame(out, MT_CMD_ERROR, mt_rx_seq(rx), e, 2);
    } else
        m = mt_frame(out, (uint8_t)(cmd | MT_REPLY), mt_rx_seq(rx), payload, n);
    bsp_uart_write(LINK_UART, out, m, 1000);
}

/* Characters of the request being received still to come (of the shortest frame while its
 * length is unknown): a frame's bytes come back to back, so the thread sleeps through them
 * and reads them in one go (the UART's receive ring holds a whole frame), one or two
 * wake-ups per request, not one per character. */
static unsigned frame_rest(const struct mt_rx *rx)
{
    unsigned whole = rx->len >= 2u ? rx->buf[1] + 4u : 6u;
    return whole > rx->len ? whole - rx->len : 0u;
}

static void link_thread(void *arg)
{
    (void)arg;
    static struct mt_rx rx;
    uint8_t buf[32];
    for (;;) {
        /* a frame's bytes come back to back: 20 ms of silence inside one ends it */
        int n = bsp_uart_read(LINK_UART, buf, sizeof buf, rx.len ? 20u : 0xFFFFFFFFu);
        if (n <= 0) {
            if (rx.len)
                rx.bad++;
            mt_rx_reset(&rx);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (mt_rx_byte(&rx, buf[i])) {
                g.link_frames++;
                answer(&rx);
            }
        g.link_bad = rx.bad;
        unsigned rest = frame_rest(&rx);
        if (rx.len && rest)                 /* + 1: the last character's interrupt is in */
            ms_thread_sleep(ms_ms_to_ticks((rest * LINK_CHAR_US + 999u) / 1000u) + 1u);
    }
}

/* ---- start-up ---- */
static void clock_start(void)
{
    if (bsp_rtc_init() < 0)
        ms_printk("metrology: LSE did not start\n");
    struct bsp_datetime dt;
    if (bsp_backup_read(BK_CLOCK_SET) != BK_CLOCK_MAGIC || bsp_rtc_get(&dt) < 0 ||
        !bsp_date_valid(&dt)) {
        struct bsp_datetime start = {2026, 12, 6, 10, 0, 0};
        bsp_rtc_set(&start);
        bsp_backup_write(BK_CLOCK_SET, BK_CLOCK_MAGIC);
        ms_printk("metrology: clock lost, set to ");
    } else {
        g.st.flags |= MT_ST_CLOCK_SET;
        ms_printk("metrology: clock ");
    }
    g.st.clock_s = clock_now();
    g.slot = g.st.clock_s / (MT_INTERVAL_MINUTES * 60u);
    print_time(g.st.clock_s);
    ms_printk("\n");
}

/* The reset cause on the console, and resets by the watchdog counted in the backup domain
 * (kept with the clock on the battery; the backup domain is open after clock_start). */
static void reset_cause(void)
{
    uint32_t cause = bsp_reset_cause();
    int n = bsp_backup_read(BK_WATCHDOG_RESETS);
    if (n < 0)
        n = 0;
    if ((cause & BSP_RESET_IWDG) && n < 0xFFFF)
        bsp_backup_write(BK_WATCHDOG_RESETS, (uint16_t)++n);
    ms_printk("metrology: reset cause %s, %u watchdog reset%s so far\n",
              bsp_reset_cause_name(cause), (unsigned)n, n == 1 ? "" : "s");
}

static void start_thread(void *arg)
{
    (void)arg;
    ms_printk("metrology unit v" FW_VERSION "\n");
    bsp_spi_init(ADE_SPI, 1000000u, 1);
    ade7753_link_t link = {ADE_SPI, ADE_CS, 0, 0};
    /* PHCAL 0x0D: no phase shift (the CT of this front end adds none); CF 3200 imp/kWh */
    static const ade7753_cal_t cal = {.phcal = 0x0Du, .cfnum = 4u, .cfden = 4026u};
    int ade = ade7753_init(&g_ade, &link, ADE_IRQ, ADE_RESET);
    if (ade == 0)
        ade = ade7753_calibrate(&g_ade, &cal);
    if (ade == 0)
        ade = ade7753_start_line_cycle(&g_ade, LINECYC);
    if (ade != 0)
        ms_printk("metrology: ADE7753 not answering (%d)\n", ade);
    bsp_i2c_init(EE_I2C, 400000u);
    g.ee_ok = at24c_init(&g_ee, EE_I2C, EE_ADDR, "AT24C256") == 0;
    clock_start();
    reset_cause();
    load_energy();
    static const struct bsp_uart_cfg lcfg = {9600, 8, 'E', 1, BSP_PIN_NONE};
    if (bsp_uart_open(LINK_UART, &lcfg) < 0 || bsp_uart_dma(LINK_UART) < 0 ||
        ms_thread_create("link", link_thread, 0, 1024, 3, 0) < 0 ||
        ms_thread_create("meter", meter_thread, 0, 1280, 5, 0) < 0 ||
        ms_thread_create("power", power_thread, 0, 768, 1, 0) < 0)
        ms_panic("cannot start");
    bsp_pvd_attach(PVD_LEVEL, pvd_isr, 0);
    bsp_iwdg_start(WATCHDOG_MS);
    ms_printk("metrology: link on USART2 9600 8E1, metering\n");
}

int main(void)
{
    bsp_clock_init();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    bsp_uart_open(CONSOLE_UART, &console);
    bsp_console_select(CONSOLE_UART);
    g_lock = ms_mutex_create("state");
    g_pf_sem = ms_sem_create("pvd", 0, 1);
    if (ms_thread_create("start", start_thread, 0, 1024, 2, 0) < 0)
        ms_panic("cannot create the threads");
    ms_rtos_start();
}
