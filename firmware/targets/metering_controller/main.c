/*
 * Metering controller of the prepaid power-metering cabinet (STM32F103RB, 72 MHz) on the
 * metersim RTOS and BSP. Board contract: notes/cabinet_board.md; register map:
 * docs/modbus_map.md; architecture, EEPROM layout and timing:
 * docs/firmware_metering_controller.md.
 *
 * Threads (0 = most urgent): "power" (2) writes the live totals when the PVD interrupt says
 * the supply is collapsing; "modbus" (5) assembles RTU frames on USART2 by the silent interval
 * and answers them; "meter" (8) runs the 1 s metering cycle (ADE7753 reads, billing,
 * protection, records, relays). Between cycles every thread sleeps, so the core idles in WFI
 * (tickless) and wakes only for the next cycle or a received byte.
 */
#include <string.h>
#include "ade7753.h"
#include "at24c.h"
#include "bsp.h"
#include "bsp_date.h"
#include "mc_app.h"
#include "ms_rtos.h"

/* ---- board (notes/cabinet_board.md) ---- */
#define CONSOLE_UART 1
#define RS485_UART 2
#define RS485_FRAME_TIM 2           /* TIM2: the Modbus silence timer */
#define RS485_DE BSP_PIN(0, 1)
#define ADE_SPI 1
#define ADE_A0 BSP_PIN(1, 0)           /* PB0..PB3: decoder address */
#define ADE_E1_LO BSP_PIN(1, 4)        /* /E1 of the decoder for channels 0..15 */
#define ADE_E1_HI BSP_PIN(1, 5)        /* /E1 of the decoder for channels 16..31 */
#define ADE_RESET BSP_PIN(1, 9)
#define RELAY_SPI 2
#define RELAY_RCLK BSP_PIN(1, 12)
#define RELAY_PL BSP_PIN(1, 11)
#define LED_RUN BSP_PIN(2, 6)
#define LED_ALARM BSP_PIN(2, 7)
#define EE_I2C 1
#define EE_ADDR 0x50
#define PVD_LEVEL 7                    /* PLS = 111: 2.9 V (RM0008 §4.4.2) */

/* ---- ADE7753 set-up (registers: drivers/ade7753.h) ---- */
/* CF at 3200 imp/kWh for the default front end: f_CF = f_LSB * (CFNUM+1)/(CFDEN+1) */
#define ADE_CFNUM_3200 4u
#define ADE_CFDEN_3200 4026u
#define ADE_MODE_RUN 0x0008u           /* reset value 0x000C with DISCF cleared: CF on */

#define POOL_SIZE (6u * 1024u)
static uint64_t g_pool[POOL_SIZE / 8u];

static struct mc_app g_app;
static at24c_t g_ee;
static ms_handle_t g_lock, g_pf_sem;
static volatile int g_ee_blocked;      /* after the power-fail save: no more EEPROM writes */
static volatile uint32_t g_pvd_hits;
static unsigned g_rooms;
static struct mc_sample g_samples[MC_MAX_ROOMS];

void ms_kputc(char c) { bsp_console_putc(c); }

/* ---- ADE7753s behind the 74HC154 chip selects (drivers/ade7753.c on a link per channel) ----
 * Several registers are read in one chip-select frame, and only the decoder address lines
 * that change are written: a cycle costs ~2 pin writes per channel, not 7 per register. */
static unsigned g_ade_addr;            /* the address now on PB0..PB3 */

static void ade_select(const ade7753_link_t *link, int selected)
{
    unsigned ch = link->chip;
    if (selected) {
        unsigned diff = (ch ^ g_ade_addr) & 15u;
        for (unsigned b = 0; b < 4; b++)
            if (diff & (1u << b))
                bsp_pin_write((bsp_pin_t)(ADE_A0 + b), (int)((ch >> b) & 1u));
        g_ade_addr = ch & 15u;
    }
    bsp_pin_write(ch < 16 ? ADE_E1_LO : ADE_E1_HI, !selected);
}

static ade7753_link_t ade_link(unsigned ch)
{
    ade7753_link_t link = {ADE_SPI, BSP_PIN_NONE, ade_select, ch};
    return link;
}

static int ade_read_regs(unsigned ch, const uint8_t *regs, unsigned n, uint32_t *out)
{
    ade7753_link_t link = ade_link(ch);
    return ade7753_link_read(&link, regs, n, out);
}

static int ade_read(unsigned ch, uint8_t reg, uint32_t *val) { return ade_read_regs(ch, &reg, 1, val); }

static int ade_write(unsigned ch, uint8_t reg, uint32_t val)
{
    ade7753_link_t link = ade_link(ch);
    return ade7753_link_write(&link, reg, val);
}

/* A channel is fitted when LINECYC takes a value and gives it back (no fixed chip ID). */
static int ade_probe(unsigned ch)
{
    uint32_t v = 0;
    if (ade_write(ch, ADE_LINECYC, 0x5AC3u) || ade_read(ch, ADE_LINECYC, &v) || v != 0x5AC3u)
        return 0;
    ade_write(ch, ADE_LINECYC, 0xFFFFu);
    return 1;
}

static void ade_configure(unsigned ch, const struct mc_cal *c)
{
    ade_write(ch, ADE_GAIN, 0);
    ade_write(ch, ADE_WGAIN, (uint16_t)c->wgain);
    ade_write(ch, ADE_APOS, (uint16_t)c->apos);
    ade_write(ch, ADE_VRMSOS, (uint16_t)c->vrmsos);
    ade_write(ch, ADE_IRMSOS, (uint16_t)c->irmsos);
    ade_write(ch, ADE_CFNUM, ADE_CFNUM_3200);
    ade_write(ch, ADE_CFDEN, ADE_CFDEN_3200);
    ade_write(ch, ADE_MODE, ADE_MODE_RUN);
}

/* One cycle's reads of a channel. The line period changes slowly: it is read with the rest
 * only when `period` says so (every PERIOD_EVERY cycles), else the last one stands. */
#define PERIOD_EVERY 8u
static void ade_sample(unsigned ch, struct mc_sample *s, int period)
{
    static const uint8_t k_cycle[4] = {ADE_RAENERGY, ADE_VRMS, ADE_IRMS, ADE_PERIOD};
    uint32_t v[4] = {0, 0, 0, 0};
    ade_read_regs(ch, k_cycle, period ? 4u : 3u, v);
    s->aenergy = ade7753_value_signed(ADE_RAENERGY, v[0]);
    s->vrms = v[1];
    s->irms = v[2];
    if (period)
        s->period = v[3];
}

/* ---- relays: 74HC595 chain (coils) and 74HC165 chain (contacts) on SPI2 ---- */
static void relays_drive(uint32_t mask)
{
    uint8_t buf[MC_MAX_ROOMS / 4];
    unsigned nbytes = (g_rooms + 3u) / 4u;
    if (!mask || !nbytes)
        return;
    memset(buf, 0, sizeof buf);
    for (unsigned r = 0; r < g_rooms; r++) {
        if (!(mask & (1u << r)))
            continue;
        unsigned bit = 2u * (r & 3u) + (g_app.room[r].closed == 1 ? 0u : 1u);
        buf[nbytes - 1u - r / 4u] |= (uint8_t)(1u << bit);   /* room 0 in the last byte */
    }
    bsp_spi_xfer(RELAY_SPI, buf, 0, nbytes);
    bsp_pin_write(RELAY_RCLK, 1);
    bsp_pin_write(RELAY_RCLK, 0);
    ms_thread_sleep_ms(25);            /* coil pulse >= 20 ms */
    memset(buf, 0, sizeof buf);
    bsp_spi_xfer(RELAY_SPI, buf, 0, nbytes);
    bsp_pin_write(RELAY_RCLK, 1);
    bsp_pin_write(RELAY_RCLK, 0);
}

static uint32_t relays_contacts(void)
{
    uint8_t buf[MC_MAX_ROOMS / 8];
    unsigned nbytes = (g_rooms + 7u) / 8u;
    bsp_pin_write(RELAY_PL, 0);        /* parallel load */
    bsp_pin_write(RELAY_PL, 1);
    memset(buf, 0, sizeof buf);
    bsp_spi_xfer(RELAY_SPI, 0, buf, nbytes);
    uint32_t bits = 0;
    for (unsigned r = 0; r < g_rooms; r++)
        if (buf[r / 8u] & (1u << (r & 7u)))
            bits |= 1u << r;
    return bits;
}

/* ---- platform hooks for the application core ---- */
static int ee_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    return at24c_read(ctx, addr, buf, len);
}

static int ee_write(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    if (g_ee_blocked)
        return MS_ERR_IO;
    return at24c_write(ctx, addr, buf, len);
}

static int hw_set_clock(void *ctx, const struct mc_time *t)
{
    (void)ctx;
    struct bsp_datetime dt = {t->year, t->month, t->day, t->hour, t->min, t->sec};
    return bsp_rtc_set(&dt);
}

static const char *const k_event_names[] = {"?", "trip", "alarm1", "alarm2", "top-up",
                                            "power-failure", "clock-change", "illegal-load",
                                            "reclose", "lock-out-reset", "watchdog-reset"};

static void hw_log_event(void *ctx, const struct mc_event_rec *e)
{
    (void)ctx;
    const char *name = e->type < sizeof k_event_names / sizeof k_event_names[0]
                           ? k_event_names[e->type] : "?";
    if (e->room == 0xFF)
        ms_printk("event %s device value %d\n", name, (int)e->value);
    else
        ms_printk("event %s room %u value %d\n", name, (unsigned)e->room, (int)e->value);
}

static void rtc_now(struct mc_time *t)
{
    struct bsp_datetime dt;
    if (bsp_rtc_get(&dt) < 0 || !bsp_date_valid(&dt)) {
        dt.year = 2000;
        dt.month = dt.day = 1;
        dt.hour = dt.min = dt.sec = 0;
    }
    t->year = dt.year;
    t->month = dt.month;
    t->day = dt.day;
    t->hour = dt.hour;
    t->min = dt.min;
    t->sec = dt.sec;
}

static uint32_t uptime_s(void) { return ms_tick_get() / MS_TICK_HZ; }

/* ---- watchdog ----
 * Only the supervisor, a soft timer (no stack of its own: the kernel's timer thread runs it),
 * refreshes the IWDG, and only while every thread is healthy: waiting for its input (blocked
 * where it may rightly wait forever: the next frame, a power failure) or, when busy, checked
 * in within WD_LATE_MS. A thread stuck in a loop or blocked where it never should be (a lock
 * never released) stops the refreshes, and the IWDG resets the MCU within WD_LATE_MS +
 * WD_CHECK_MS + WD_TIMEOUT_MS. The resets are counted in a backup register (kept like the RTC)
 * and logged as an event; after one, boot restores the stored records as after any warm
 * reset. */
#define WD_TIMEOUT_MS 4000u
#define WD_LATE_MS 3000u
#define WD_CHECK_MS 1000u
#define BK_WD_RESETS 0u                /* backup word: watchdog resets so far */
enum { WD_METER, WD_MODBUS, WD_POWER, WD_THREADS };
struct wd_state {
    volatile ms_tick_t beat;           /* last check-in */
    volatile uint8_t waiting;          /* blocked for input: healthy however long */
};
static struct wd_state g_wd[WD_THREADS] = {[WD_MODBUS] = {0, 1}, [WD_POWER] = {0, 1}};

/* A waiting thread's beat is never looked at (watchdog_check), so only a busy check-in
 * reads the tick (a SysTick access). */
static void wd_checkin(unsigned t, int waiting)
{
    if (!waiting)
        g_wd[t].beat = ms_tick_get();
    g_wd[t].waiting = (uint8_t)waiting;
}

static void watchdog_check(void *arg)
{
    (void)arg;
    ms_tick_t now = ms_tick_get();
    for (unsigned t = 0; t < WD_THREADS; t++)
        if (!g_wd[t].waiting && now - g_wd[t].beat > ms_ms_to_ticks(WD_LATE_MS))
            return;
    bsp_iwdg_refresh();
}

/* ---- threads ---- */
static void board_start(void);

static ms_tick_t g_boot_read_tick;     /* when board_start emptied the energy registers */

static void meter_thread(void *arg)
{
    (void)arg;
    wd_checkin(WD_METER, 0);
    board_start();
    ms_tick_t period = ms_ms_to_ticks(1000);
    ms_tick_t next = ms_tick_get() + period, last = g_boot_read_tick;
    uint32_t beat = 0;
    for (;;) {
        ms_tick_t now = ms_tick_get();
        if ((int32_t)(next - now) > 0)
            ms_thread_sleep(next - now);
        next += period;
        wd_checkin(WD_METER, 0);
        if (g_ee_blocked)
            continue;                   /* supply collapsing: keep the bus quiet */

        /* Samples and their billing under one lock: the power thread, which reads the energy
         * registers once more at a power failure, sees either both or neither. */
        ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
        uint32_t cal = g_app.cal_dirty;
        g_app.cal_dirty = 0;
        for (unsigned r = 0; r < g_rooms; r++)
            if (cal & (1u << r))
                ade_configure(r, &g_app.cal[r]);
        now = ms_tick_get();
        uint32_t dt_ms = (now - last) * 1000u / MS_TICK_HZ;
        last = now;
        for (unsigned r = 0; r < g_rooms; r++) {
            ade_sample(r, &g_samples[r], beat % PERIOD_EVERY == 0);
            g_samples[r].dt_ms = dt_ms;
        }
        struct mc_time t;
        rtc_now(&t);
        mc_app_cycle(&g_app, g_samples, &t, uptime_s());
        uint32_t drive = g_app.relay_dirty;
        g_app.relay_dirty = 0;
        relays_drive(drive);
        g_app.contacts = relays_contacts();
        g_app.have_contacts = 1;
        int alarm = 0;
        for (unsigned r = 0; r < g_rooms; r++)
            alarm |= g_app.room[r].alarms != 0;
        ms_mutex_unlock(g_lock);

        bsp_pin_write(LED_RUN, (int)(++beat & 1u));
        bsp_pin_write(LED_ALARM, alarm);
    }
}

static const struct bsp_uart_cfg *rs485_cfg(unsigned baud_code)
{
    static struct bsp_uart_cfg c;
    c.baud = mc_baud_of(baud_code);
    c.data_bits = 8;
    c.parity = 'N';
    c.stop_bits = 1;
    c.rs485_de = RS485_DE;
    return &c;
}

/* Frame thresholds for the RS-485 UART at its current settings (after every open). */
static void rs485_framing(void)
{
    uint32_t broken_us, end_us;
    mb_silences(mc_baud_of(g_app.dev.baud_code), bsp_uart_char_us(RS485_UART), &broken_us, &end_us);
    bsp_uart_set_framing(RS485_UART, RS485_FRAME_TIM, broken_us, end_us);
}

static void modbus_thread(void *arg)
{
    (void)arg;
    static uint8_t frame[MB_ADU_MAX];
    static uint8_t reply[MB_ADU_MAX];
    rs485_framing();
    for (;;) {
        unsigned flags;
        wd_checkin(WD_MODBUS, 1);
        int len = bsp_uart_read_frame(RS485_UART, frame, sizeof frame, 0xFFFFFFFFu, &flags);
        wd_checkin(WD_MODBUS, 0);
        if (len <= 0)
            continue;
        if (flags & BSP_UART_FRAME_OVERFLOW)
            len = MB_RX_TOO_LONG;
        else if (flags & (BSP_UART_FRAME_BROKEN | BSP_UART_FRAME_LOST))
            len = 1;                    /* not a whole frame: dropped and counted like a bad CRC */
        ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
        int rlen = mb_process(&g_app.mb, frame, len, reply);
        uint32_t drive = g_app.relay_dirty;
        g_app.relay_dirty = 0;
        relays_drive(drive);
        int comm = g_app.apply_comm;
        g_app.apply_comm = 0;
        ms_mutex_unlock(g_lock);
        /* The reply goes out from the ring by interrupt (DE released at its last stop bit):
         * the thread waits for the next frame at once, and for the end of the reply only
         * before new settings */
        if (rlen > 0)
            bsp_uart_write(RS485_UART, reply, (unsigned)rlen, 1000);
        if (comm) {                     /* new address / baud: after the reply went out */
            bsp_uart_drain(RS485_UART, 1000);
            ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
            g_app.mb.addr = g_app.dev.addr;
            bsp_uart_open(RS485_UART, rs485_cfg(g_app.dev.baud_code));
            rs485_framing();
            ms_mutex_unlock(g_lock);
            ms_printk("modbus: addr %u, %u baud\n", (unsigned)g_app.dev.addr,
                      (unsigned)mc_baud_of(g_app.dev.baud_code));
        }
    }
}

static void pvd_isr(void *arg)
{
    (void)arg;
    g_pvd_hits++;
    ms_sem_post(g_pf_sem);
}

static void power_thread(void *arg)
{
    (void)arg;
    for (;;) {
        wd_checkin(WD_POWER, 1);
        ms_sem_wait(g_pf_sem, MS_WAIT_FOREVER);
        wd_checkin(WD_POWER, 0);
        if (g_ee_blocked)
            continue;
        /* A write in progress in another thread finishes first (the lock), then nothing else
         * writes. With the lock (the ADE7753 bus is free too): the energy counted since the
         * last cycle is read and billed, the RTC gives the failure's time, and one small ring
         * record (18 + 9 N bytes, one EEPROM page for 4 rooms) saves totals and remainders. */
        int locked = ms_mutex_lock(g_lock, ms_ms_to_ticks(30)) >= 0;   /* MS_OWNER_DIED: taken too */
        struct mc_time t, *tp = 0;
        if (locked) {
            for (unsigned r = 0; r < g_rooms; r++) {
                uint32_t e = 0;
                if (ade_read(r, ADE_RAENERGY, &e) == 0)
                    mc_app_add_energy(&g_app, r, ade7753_value_signed(ADE_RAENERGY, e),
                                      g_app.cal[r].wgain);
            }
            rtc_now(&t);
            tp = &t;
        }
        int r = mc_app_power_fail(&g_app, tp);
        g_ee_blocked = 1;
        if (locked)
            ms_mutex_unlock(g_lock);
        ms_printk("power failing: totals %s\n", r == 0 ? "saved" : "NOT saved");
        /* a dip that recovers: writes allowed again once VDD stayed above for 0.5 s */
        unsigned good = 0;
        while (good < 10) {
            ms_thread_sleep_ms(50);
            wd_checkin(WD_POWER, 0);
            good = bsp_pvd_below() ? 0 : good + 1;
        }
        g_ee_blocked = 0;
        ms_printk("power restored without reset\n");
    }
}

/* ---- start-up ---- */
static void pins_init(void)
{
    for (unsigned b = 0; b < 4; b++) {
        bsp_pin_write((bsp_pin_t)(ADE_A0 + b), 0);
        bsp_pin_config((bsp_pin_t)(ADE_A0 + b), BSP_PIN_OUTPUT, 0);
    }
    g_ade_addr = 0;
    bsp_pin_write(ADE_E1_LO, 1);
    bsp_pin_write(ADE_E1_HI, 1);
    bsp_pin_config(ADE_E1_LO, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(ADE_E1_HI, BSP_PIN_OUTPUT, 0);
    bsp_pin_write(ADE_RESET, 1);
    bsp_pin_config(ADE_RESET, BSP_PIN_OUTPUT, 0);
    bsp_pin_write(RELAY_RCLK, 0);
    bsp_pin_config(RELAY_RCLK, BSP_PIN_OUTPUT, 0);
    bsp_pin_write(RELAY_PL, 1);
    bsp_pin_config(RELAY_PL, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(LED_RUN, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(LED_ALARM, BSP_PIN_OUTPUT, 0);
}

static uint32_t g_cause;
static int g_clk;

/* Energy the chips counted before this boot configures them (since their own power-up after
 * a power cut, since the previous run's last cycle after a warm reset) is kept in g_samples
 * until the restored totals can take it: aenergy = RAENERGY, period = the chip's WGAIN. */

static unsigned ade_find_channels(void)
{
    static const uint8_t k_boot[2] = {ADE_RAENERGY, ADE_WGAIN};
    unsigned n = 0;
    while (n < MC_MAX_ROOMS) {
        uint32_t v[2] = {0, 0};
        ade_read_regs(n, k_boot, 2, v);        /* first: nothing has touched the chip yet */
        if (!ade_probe(n))
            break;
        g_samples[n].aenergy = ade7753_value_signed(ADE_RAENERGY, v[0]);
        g_samples[n].period = v[1];
        n++;
    }
    return n;
}

/* Runs in the meter thread: every wait in here (EEPROM write cycles, the LSE start-up) sleeps
 * the thread, so the core idles instead of spinning on status registers. The ADE7753s are not reset: after
 * a power cut they come up from their own power-on reset, and their registers are
 * reprogrammed below anyway; a hardware reset would throw away the energy they counted while
 * the MCU booted. Only a first channel that does not answer gets a reset and a second try. */
static void board_start(void)
{
    bsp_spi_init(ADE_SPI, 1000000u, 1);
    g_rooms = ade_find_channels();
    g_boot_read_tick = ms_tick_get();
    if (g_rooms == 0) {
        bsp_pin_write(ADE_RESET, 0);        /* >= 1.2 us low, then 18 us to come out */
        bsp_delay_us(10);
        bsp_pin_write(ADE_RESET, 1);
        ms_thread_sleep_ms(1);
        g_rooms = ade_find_channels();
        g_boot_read_tick = ms_tick_get();
    }
    bsp_spi_init(RELAY_SPI, 1000000u, 0);

    bsp_i2c_init(EE_I2C, 400000u);
    int ee_ok = at24c_init(&g_ee, EE_I2C, EE_ADDR, "AT24C256") == 0;
    static const struct mc_hw hw = {hw_set_clock, hw_log_event, 0};
    struct mc_ee ee = {ee_read, ee_write, &g_ee};
    int st = mc_app_init(&g_app, g_rooms, &ee, &hw);   /* no EEPROM: defaults, in RAM */
    /* Backup domain kept by the battery: only the RSF resynchronisation. Without it (first
     * power-up, flat battery) the LSE start-up, 0.5 s here, 3 s typical on the part. */
    if (bsp_rtc_init() < 0)
        ms_printk("rtc: LSE did not start\n");
    struct mc_time t;
    rtc_now(&t);
    mc_app_boot(&g_app, &t, uptime_s(),
                (g_cause & (BSP_RESET_POR | BSP_RESET_LPWR | BSP_RESET_BOR)) != 0);
    int wd_resets = bsp_backup_read(BK_WD_RESETS);
    if (wd_resets < 0)
        wd_resets = 0;
    if (g_cause & BSP_RESET_IWDG) {
        wd_resets++;
        bsp_backup_write(BK_WD_RESETS, (uint16_t)wd_resets);
    }
    mc_app_watchdog(&g_app, (uint16_t)wd_resets, (g_cause & BSP_RESET_IWDG) != 0);
    for (unsigned r = 0; r < g_rooms; r++) {
        mc_app_add_energy(&g_app, r, g_samples[r].aenergy,
                          (int)ade7753_value_signed(ADE_WGAIN, g_samples[r].period));
        ade_configure(r, &g_app.cal[r]);
    }
    g_app.cal_dirty = 0;

    ms_printk("metering controller v%u.%u, %u channels, addr %u\n", MC_FW_MAJOR, MC_FW_MINOR,
              g_rooms, (unsigned)g_app.dev.addr);
    ms_printk("reset cause: %s; eeprom %s; rs485 %u baud; %04u-%02u-%02u %02u:%02u:%02u\n",
              bsp_reset_cause_name(g_cause),
              !ee_ok ? "MISSING" : st == MC_STORE_FORMATTED ? "formatted" : "restored",
              (unsigned)mc_baud_of(g_app.dev.baud_code), t.year, t.month, t.day, t.hour,
              t.min, t.sec);
    if (g_clk < 0)
        ms_printk("clock: HSE/PLL failed, running on HSI\n");

    if (bsp_uart_open(RS485_UART, rs485_cfg(g_app.dev.baud_code)) < 0)
        ms_panic("cannot open USART2");
    if (ms_thread_create("power", power_thread, 0, 1536, 2, 0) < 0 ||
        ms_thread_create("modbus", modbus_thread, 0, 1536, 5, 0) < 0)
        ms_panic("cannot create the threads");
    bsp_pvd_attach(PVD_LEVEL, pvd_isr, 0);
}

int main(void)
{
    /* Release the ADE7753s' RESET line first: while the MCU is in reset PB9 floats, and
     * without a pull-up on the board the line is low, which holds the chips in reset (their
     * energy count stands still). */
    bsp_pin_write(ADE_RESET, 1);
    bsp_pin_config(ADE_RESET, BSP_PIN_OUTPUT, 0);
    g_clk = bsp_clock_init();
    g_cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    bsp_uart_open(CONSOLE_UART, &console);
    bsp_console_select(CONSOLE_UART);
    pins_init();
    g_lock = ms_mutex_create("app");
    g_pf_sem = ms_sem_create("pvd", 0, 1);
    ms_handle_t wd = ms_timer_create("watchdog", watchdog_check, 0);
    if (ms_thread_create("meter", meter_thread, 0, 1792, 8, 0) < 0 || wd <= 0 ||
        ms_timer_start(wd, ms_ms_to_ticks(WD_CHECK_MS), ms_ms_to_ticks(WD_CHECK_MS)) < 0)
        ms_panic("cannot create the threads");
    bsp_iwdg_start(WD_TIMEOUT_MS);
    ms_rtos_start();
}
