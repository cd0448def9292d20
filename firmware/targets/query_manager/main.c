/*
 * Query manager of the prepaid power-metering cabinet (STM32F103RC, 72 MHz) on the metersim
 * RTOS and BSP. Board contract: platforms/boards/query_manager.repl; behaviour and timing:
 * docs/firmware_query_manager.md.
 *
 * Threads (0 = most urgent): "poll" (5) owns the RS-485 bus: it polls the controllers in turn
 * (Modbus RTU master, timeout and retries, offline marking), carries out the keypad's commands
 * (top-ups) between two polls and broadcasts the clock; "ui" (8) scans the keypad when a column
 * interrupt says a key went down and draws the menus on the TFT.
 */
#include <string.h>
#include "bsp.h"
#include "bsp_date.h"
#include "ili9341.h"
#include "modbus_rtu_timing.h"
#include "ms_driver.h"
#include "ms_rtos.h"
#include "qm_dma.h"
#include "qm_master.h"
#include "qm_store.h"
#include "w5500.h"

#define QM_FW_MAJOR 1u
#define QM_FW_MINOR 1u

/* ---- board (platforms/boards/query_manager.repl) ---- */
#define CONSOLE_UART 1
#define RS485_UART 2
#define RS485_FRAME_TIM 2
#define RS485_DE BSP_PIN(0, 1)
#define RS485_BAUD 9600u
#define TFT_SPI 2
#define TFT_CS BSP_PIN(1, 12)
#define TFT_DC BSP_PIN(1, 11)
#define TFT_RST BSP_PIN(1, 10)
#define ETH_RST BSP_PIN(1, 9)
#define ETH_SPI 1
#define ETH_CS BSP_PIN(0, 4)
#define ETH_INT BSP_PIN(0, 0)          /* INTn, active low: EXTI0 */
#define LED_RUN BSP_PIN(1, 0)
#define KP_ROW0 BSP_PIN(2, 0)          /* PC0..PC3 */
#define KP_COL0 BSP_PIN(2, 4)          /* PC4..PC11 */
#define KP_ROWS 4u
#define KP_COLS 8u

/* ---- polling (docs/firmware_query_manager.md, "Polling") ---- */
#define REPLY_TIMEOUT_MS 100u          /* first reply byte after our request left the wire */
#define RETRIES 2u                     /* a request is tried 1 + RETRIES times */
#define OFFLINE_RETRY_MS 10000u        /* an offline controller is probed again after this */
#define ABSENT_RETRY_MS 60000u         /* an address that never answered */
#define ROUND_MIN_MS 1000u             /* a round of every room starts at most once a second */
#define CLOCK_SYNC_MS 600000u          /* broadcast the clock every 10 min (SYNC changes it) */
#define START_DELAY_MS 500u            /* first poll after power-on (controllers boot in 50 ms) */

/* ---- server link (docs/firmware_query_manager.md, "Server link") ---- */
#define NET_SOCKET 0
#define NET_LOCAL_PORT 40001u
#define NET_SERVER_PORT 5020u
#define NET_RETRY_MS 5000u             /* reconnect after a failed or lost connection */
#define NET_REPORT_MS 10000u           /* a reading of every room every 10 s while connected */
#define NET_OFFLINE_MS 1800000u        /* and every 30 min while not (qm_store.h: 796 places) */
#define NET_BACKLOG_MS 50u             /* between groups of FLUSH_MAX readings to send */
#define NET_EVENTS (W5500_IR_RECV | W5500_IR_DISCON | W5500_IR_TIMEOUT)
static const uint8_t g_mac[6] = {0x02, 0x00, 0x4D, 0x51, 0x4D, 0x01};   /* locally administered */
static const uint8_t g_ip[4] = {192, 168, 1, 50}, g_mask[4] = {255, 255, 255, 0};
static const uint8_t g_gw[4] = {192, 168, 1, 1}, g_server[4] = {192, 168, 1, 2};

#define POOL_SIZE (12u * 1024u)
static uint64_t g_pool[POOL_SIZE / 8u];

/* The readings table, read by the UI (and by tests through the debug port). */
struct qm_ctrl g_ctrl[QM_MAX_CTRL];
static ms_handle_t g_lock, g_kp_sem, g_done_sem, g_cmd_lock, g_net_sem;
/* Wakes the poll thread between polls: a command is pending (g_cmd.state) or the server
 * set the clock (g_sync_now); both are checked on every wake. */
static ms_handle_t g_work_sem;
static ili9341_t g_tft = {TFT_SPI, TFT_CS, TFT_DC, TFT_RST, qm_tft_bulk};
static uint32_t g_rounds;
static uint32_t g_sync_ms = CLOCK_SYNC_MS;
/* Our RTC minus the server's clock, in ms, as set by the last TIME (-500..500): the F1 RTC
 * takes whole seconds only, so the broadcast is timed by the server's second, not ours. */
static int32_t g_rtc_ahead_ms;
static volatile uint8_t g_sync_now;     /* the server set the clock: broadcast it now */
static uint32_t g_snap_at;              /* tick of the next reading snapshot */

/* A write of holding registers for the poll thread (one at a time), from the keypad or the
 * server link: a room's top-up, relay command or schedule (docs/modbus_map.md, "Room
 * settings"), or a controller's tariff registers ("Device settings").
 * Its life: IDLE -> PENDING (ctrl_write) -> RUNNING (the poll thread took it) -> IDLE (result
 * posted), or PENDING -> IDLE when ctrl_write withdraws it at CMD_START_MS: failed, and never
 * sent, so nothing the keypad or the server was told "failed" is carried out later. The
 * state moves under the kernel lock, so the command has exactly one owner. */
enum cmd_kind { CMD_TOPUP, CMD_RELAY, CMD_SCHED, CMD_TARIFF };
enum cmd_state { CMD_IDLE, CMD_PENDING, CMD_RUNNING };
#define CMD_REGS_MAX 16u                /* the 16 TOU period registers are the longest write */
#define CMD_START_MS 10000u             /* not begun on the bus by then: withdrawn, failed */
static struct {
    uint8_t kind, addr, room, count;    /* enum cmd_kind; room: for the log */
    uint16_t start;
    uint16_t v[CMD_REGS_MAX];
    int result;
    volatile uint8_t state;             /* enum cmd_state */
} g_cmd;

void ms_kputc(char c) { bsp_console_putc(c); }

static uint32_t now_ms(void) { return ms_tick_get() * (1000u / MS_TICK_HZ); }

/* ---- watchdog ----
 * Only the supervisor, a soft timer run by the kernel's timer thread, refreshes the IWDG, and
 * only while every thread is healthy: blocked where it may rightly wait long (the ui thread
 * for a key, the net thread for its link) or, when busy, checked in within WD_LATE_MS. A thread
 * stuck in a loop, or blocked where it never should be, stops the refreshes and the IWDG
 * resets the MCU within WD_LATE_MS + WD_CHECK_MS + WD_TIMEOUT_MS. The resets are counted in
 * backup word 1 (kept like the RTC) and logged at boot. */
#define WD_TIMEOUT_MS 4000u
#define WD_LATE_MS 3000u
#define WD_CHECK_MS 1000u
#define BK_WD_RESETS 1u                 /* backup word (word 0 is the RTC's marker) */
enum { WD_POLL, WD_UI, WD_NET, WD_THREADS };
static struct {
    volatile ms_tick_t beat;            /* last check-in */
    volatile uint8_t waiting;           /* blocked for input: healthy however long */
} g_wd[WD_THREADS] = {[WD_POLL] = {0, 1}, [WD_UI] = {0, 1}, [WD_NET] = {0, 1}};

static ms_handle_t g_ui_thread = -1, g_net_thread = -1;

/* A waiting thread's beat is never looked at (watchdog_check), so only a busy check-in
 * reads the tick (a SysTick access). */
static void wd_checkin(unsigned t, int waiting)
{
    if (t >= WD_THREADS)
        return;
    if (!waiting)
        g_wd[t].beat = ms_tick_get();
    g_wd[t].waiting = (uint8_t)waiting;
}

/* The calling thread's watchdog entry (WD_THREADS: none), for code both ui and net run. */
static unsigned wd_self(void)
{
    ms_handle_t me = ms_thread_self();
    return me == g_ui_thread ? WD_UI : me == g_net_thread ? WD_NET : WD_THREADS;
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

/* ---- RS-485 transactions ---- */
static void rs485_open(void)
{
    static const struct bsp_uart_cfg cfg = {RS485_BAUD, 8, 'N', 1, RS485_DE};
    uint32_t broken_us, end_us;
    bsp_uart_open(RS485_UART, &cfg);
    mb_silences(RS485_BAUD, bsp_uart_char_us(RS485_UART), &broken_us, &end_us);
    bsp_uart_set_framing(RS485_UART, RS485_FRAME_TIM, broken_us, end_us);
}

/* One request with retries. Returns 0 (registers in out for reads), or the last error. */
static int transact(const uint8_t *req, unsigned len, uint16_t *out, unsigned tries)
{
    static uint8_t rep[QM_ADU_MAX];
    int err = MS_ERR_TIMEOUT;
    for (unsigned t = 0; t < tries; t++) {
        unsigned flags;
        while (bsp_uart_read_frame(RS485_UART, rep, sizeof rep, 0, &flags) > 0)
            ;                           /* stale frames (a late reply to an earlier try) */
        bsp_uart_write(RS485_UART, req, len, 100);
        if (req[0] == 0) {              /* broadcast: no reply; leave the slaves time to act */
            bsp_uart_drain(RS485_UART, 100);
            ms_thread_sleep_ms(20);
            return 0;
        }
        /* The request goes out by interrupt; the thread sleeps once, until the reply has
         * ended, its timeout counted from the request's last stop bit as before. */
        uint32_t tx_ms = (len * bsp_uart_char_us(RS485_UART) + 999u) / 1000u;
        int n = bsp_uart_read_frame(RS485_UART, rep, sizeof rep, REPLY_TIMEOUT_MS + tx_ms, &flags);
        if (n <= 0) {
            err = MS_ERR_TIMEOUT;
            continue;
        }
        if (flags) {
            err = MS_ERR_IO;
            continue;
        }
        err = qm_check_reply(req, rep, (unsigned)n, out);
        if (err == 0 || err <= QM_EXCEPTION)
            return err;                 /* an exception is an answer: no retry */
    }
    return err;
}

static void set_state(struct qm_ctrl *c, uint8_t state)
{
    if (c->state == state)
        return;
    if (state == QM_ONLINE) {
        c->online_since_ms = now_ms();
        ms_printk("poll: controller %u online, %u rooms\n", c->addr, c->rooms);
    } else if (state == QM_OFFLINE) {
        ms_printk("poll: controller %u offline\n", c->addr);
    }
    c->state = state;
}

/* Poll the next thing of controller c; returns 1 when its round is complete. */
static int poll_ctrl(struct qm_ctrl *c)
{
    uint8_t req[8];
    uint16_t regs[QM_ROOM_REGS];
    unsigned tries = c->state == QM_ONLINE ? 1u + RETRIES : 1u;
    c->requests++;
    if (!c->rooms) {
        qm_build_read(req, c->addr, 0x04, 0x0001, 1);          /* channels */
        if (transact(req, sizeof req, regs, tries) == 0 && regs[0] >= 1) {
            ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
            c->rooms = (uint8_t)(regs[0] > QM_MAX_ROOMS ? QM_MAX_ROOMS : regs[0]);
            c->next_room = 0;
            set_state(c, QM_ONLINE);
            ms_mutex_unlock(g_lock);
            return 0;
        }
        goto failed;
    }
    unsigned r = c->next_room;
    qm_build_read(req, c->addr, 0x04, (uint16_t)(QM_ROOM_BASE + QM_ROOM_STRIDE * r), QM_ROOM_REGS);
    if (transact(req, sizeof req, regs, tries) == 0) {
        ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
        memcpy(c->room[r].regs, regs, sizeof regs);
        c->room[r].polled_ms = now_ms();
        c->room[r].valid = 1;
        set_state(c, QM_ONLINE);
        ms_mutex_unlock(g_lock);
        c->next_room = (uint8_t)((r + 1u) % c->rooms);
        return c->next_room == 0;
    }
failed:
    c->failures++;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    if (c->state == QM_ONLINE)
        set_state(c, QM_OFFLINE);
    c->retry_ms = now_ms() + (c->state == QM_OFFLINE ? OFFLINE_RETRY_MS : ABSENT_RETRY_MS);
    ms_mutex_unlock(g_lock);
    return 1;
}

/* Sleep until the RTC's next second tick (at most 1.1 s); returns its time then, or -1. */
static int rtc_wait_tick(struct bsp_datetime *dt)
{
    struct bsp_datetime was;
    if (bsp_rtc_get(&was) != 0)
        return -1;
    for (unsigned waited = 0; waited < 1100u; waited += 2u) {
        ms_thread_sleep_ms(2);
        if (bsp_rtc_get(dt) != 0)
            return -1;
        if (dt->sec != was.sec)
            return 0;
    }
    return -1;
}

/* Broadcast the server's time to every controller. A controller's RTC takes the whole
 * seconds without its sub-second phase (the F1 prescaler keeps counting through a counter
 * write), so the frame is timed to end half a second after the server's second began (our
 * tick corrected by how far our own RTC is from the server's, g_rtc_ahead_ms): whatever its
 * phase, a controller is then within half a second of the server, not of us. */
#define SYNC_FRAME_MS 26u               /* 21 bytes at 9600 baud and the t3.5 silence */
static void clock_sync(void)
{
    struct bsp_datetime dt;
    if (rtc_wait_tick(&dt) != 0)
        return;
    /* our tick showing dt.sec was the server's dt.sec - ahead: its dt.sec comes `ahead` later */
    int32_t wait_ms = 500 - (int32_t)SYNC_FRAME_MS + g_rtc_ahead_ms;
    if (wait_ms < 0) {                  /* too late for this second: the next one */
        bsp_date_from_secs(bsp_date_to_secs(&dt) + 1u, &dt);
        wait_ms += 1000;
    }
    ms_thread_sleep_ms((uint32_t)wait_ms);
    uint16_t v[6] = {dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec};
    uint8_t req[QM_ADU_MAX];
    unsigned n = qm_build_write(req, 0, 0x0002, 6, v);
    transact(req, n, 0, 1);
}

/* The console line of a room command's outcome (a tariff's two writes are logged by
 * tariff()). */
static void cmd_log(const char *res)
{
    if (g_cmd.kind == CMD_TOPUP)
        ms_printk("poll: top-up %u cents controller %u room %u: %s\n",
                  (unsigned)((uint32_t)g_cmd.v[0] << 16 | g_cmd.v[1]), g_cmd.addr, g_cmd.room, res);
    else if (g_cmd.kind == CMD_RELAY)
        ms_printk("poll: relay %u controller %u room %u: %s\n", g_cmd.v[0], g_cmd.addr, g_cmd.room,
                  res);
    else if (g_cmd.kind == CMD_SCHED)
        ms_printk("poll: schedule %u %u controller %u room %u: %s\n", g_cmd.v[0], g_cmd.v[1],
                  g_cmd.addr, g_cmd.room, res);
}

/* No valid answer came (silence, a broken or foreign frame), as opposed to an exception
 * reply, which is the controller's answer. */
static int no_answer(int e)
{
    return e == MS_ERR_TIMEOUT || e == MS_ERR_IO || (e < 0 && e > QM_EXCEPTION);
}

/* Read the room's last applied top-up token (room settings +0x14) into *token. */
static int read_topup_token(uint16_t token_reg, uint16_t *token)
{
    uint8_t req[QM_ADU_MAX];
    unsigned n = qm_build_read(req, g_cmd.addr, 0x03, token_reg, 1);
    return transact(req, n, token, 1u + RETRIES);
}

/* A top-up (g_cmd: amount at v[0..1], the write at +0x12..+0x14 with its token in v[2]).
 * The token is the one after the room's last applied, read from the controller now: it
 * differs from every token the room took before, needs no state of ours that a restart or a
 * replaced query manager could lose, and every retry of the write carries it, so a retry
 * after a lost reply is answered "done" without crediting twice (docs/modbus_map.md, "Top-up
 * tokens"). When no try got an answer, the token read back tells whether the write was
 * applied: a top-up that was is never reported failed. */
static int run_top_up(void)
{
    uint16_t token_reg = (uint16_t)(g_cmd.start + 2u), last;
    int e = read_topup_token(token_reg, &last);
    if (e != 0)
        return e;                       /* never written: failed, and nothing applied */
    g_cmd.v[2] = (uint16_t)(last % 0xFFFFu + 1u);       /* 1..65535: 0 is no token */
    uint8_t req[QM_ADU_MAX];
    unsigned n = qm_build_write(req, g_cmd.addr, g_cmd.start, g_cmd.count, g_cmd.v);
    e = transact(req, n, 0, 1u + RETRIES);
    if (no_answer(e) && read_topup_token(token_reg, &last) == 0 && last == g_cmd.v[2])
        e = 0;                          /* applied, every reply lost */
    return e;
}

/* Carry out the pending command, if ctrl_write has not withdrawn it meanwhile. */
static void run_command(void)
{
    uint32_t s = ms_irq_lock();
    int mine = g_cmd.state == CMD_PENDING;
    if (mine)
        g_cmd.state = CMD_RUNNING;
    ms_irq_unlock(s);
    if (!mine)
        return;
    if (g_cmd.kind == CMD_TOPUP) {
        g_cmd.result = run_top_up();
    } else {
        uint8_t req[QM_ADU_MAX];
        unsigned n = qm_build_write(req, g_cmd.addr, g_cmd.start, g_cmd.count, g_cmd.v);
        g_cmd.result = transact(req, n, 0, 1u + RETRIES);
    }
    cmd_log(g_cmd.result == 0 ? "ok" : "failed");
    g_cmd.state = CMD_IDLE;
    ms_sem_post(g_done_sem);            /* its caller always waits for a command begun */
}

/* Broadcast the clock when its period is up or the server just set it. */
static void sync_if_due(uint32_t *sync_at)
{
    if ((int32_t)(now_ms() - *sync_at) >= 0 || g_sync_now) {
        g_sync_now = 0;
        clock_sync();
        *sync_at = now_ms() + g_sync_ms;
    }
}

static void poll_thread(void *arg)
{
    (void)arg;
    rs485_open();
    for (unsigned i = 0; i < QM_MAX_CTRL; i++)
        g_ctrl[i].addr = (uint8_t)(i + 1u);
    ms_thread_sleep_ms(START_DELAY_MS);     /* controllers on the same supply boot meanwhile */
    wd_checkin(WD_POLL, 0);
    uint32_t round_start = now_ms(), sync_at = now_ms();
    for (;;) {
        int busy = 0;
        for (unsigned i = 0; i < QM_MAX_CTRL; i++) {
            struct qm_ctrl *c = &g_ctrl[i];
            if (c->state != QM_ONLINE && (int32_t)(now_ms() - c->retry_ms) < 0)
                continue;
            busy = 1;
            for (;;) {
                wd_checkin(WD_POLL, 0);
                if (ms_sem_wait(g_work_sem, 0) == 0)
                    run_command();
                sync_if_due(&sync_at);
                if (poll_ctrl(c))
                    break;
            }
        }
        if (++g_rounds == 1)
            ms_printk("poll: first round done\n");
        uint32_t next = round_start + ROUND_MIN_MS;
        while ((int32_t)(next - now_ms()) > 0) {   /* the rest of the second: commands only */
            wd_checkin(WD_POLL, 0);
            if (ms_sem_wait(g_work_sem, ms_ms_to_ticks(next - now_ms())) == 0) {
                run_command();
                sync_if_due(&sync_at);  /* a clock set by the server goes out now */
            }
        }
        wd_checkin(WD_POLL, 0);
        round_start = now_ms();
        (void)busy;
    }
}

/* ---- keypad: 4 rows driven, 8 columns with pull-ups; a falling column edge wakes the scan ---- */
static const char *const g_keys[KP_ROWS * KP_COLS] = {
    "1", "2", "3", "A", "QUERY", "PAY", "SET", "ESC",
    "4", "5", "6", "B", "UP", "DOWN", "LEFT", "RIGHT",
    "7", "8", "9", "C", "F1", "F2", "F3", "F4",
    "*", "0", "#", "D", "CLR", "BKSP", "MENU", "OK",
};

static void kp_isr(void *arg)
{
    (void)arg;
    ms_sem_post(g_kp_sem);
}

static void kp_rows(int idle)
{
    for (unsigned r = 0; r < KP_ROWS; r++)
        bsp_pin_write((bsp_pin_t)(KP_ROW0 + r), idle ? 0 : 1);
}

/* The one key down (index), -1 for none, -2 for several. */
static int kp_scan(void)
{
    int key = -1;
    for (unsigned r = 0; r < KP_ROWS; r++) {
        kp_rows(0);
        bsp_pin_write((bsp_pin_t)(KP_ROW0 + r), 0);
        bsp_delay_us(5);
        for (unsigned c = 0; c < KP_COLS; c++)
            if (!bsp_pin_read((bsp_pin_t)(KP_COL0 + c)))
                key = key == -1 ? (int)(r * KP_COLS + c) : -2;
    }
    kp_rows(1);
    return key;
}

static void kp_init(void)
{
    for (unsigned r = 0; r < KP_ROWS; r++)
        bsp_pin_config((bsp_pin_t)(KP_ROW0 + r), BSP_PIN_OUTPUT, 0);
    kp_rows(0);                         /* from whatever the pins did before: high, then idle */
    kp_rows(1);
    for (unsigned c = 0; c < KP_COLS; c++) {
        bsp_pin_config((bsp_pin_t)(KP_COL0 + c), BSP_PIN_INPUT_PULLUP, 0);
        bsp_pin_irq_attach((bsp_pin_t)(KP_COL0 + c), BSP_EDGE_FALLING, kp_isr, 0);
    }
}

/* Wait up to timeout_ms for a key press (debounced: the same key in two scans 20 ms apart);
 * returns its label or 0. Returns after the key is released. */
static const char *kp_wait(uint32_t timeout_ms)
{
    wd_checkin(WD_UI, 1);
    int got = ms_sem_wait(g_kp_sem, ms_ms_to_ticks(timeout_ms));
    wd_checkin(WD_UI, 0);
    if (got != 0)
        return 0;
    int k = kp_scan();
    ms_thread_sleep_ms(20);
    if (k < 0 || kp_scan() != k)
        return 0;
    while (kp_scan() != -1) {           /* a key held down: waiting for the user */
        wd_checkin(WD_UI, 1);
        ms_thread_sleep_ms(20);
    }
    wd_checkin(WD_UI, 0);
    ms_sem_wait(g_kp_sem, 0);           /* edges of our own scanning */
    return g_keys[k];
}

/* ---- display ---- */
#define FG RGB565(255, 255, 255)
#define BG RGB565(0, 0, 64)
#define HL RGB565(255, 255, 0)
#define LINE_Y(n) ((unsigned)(n) * 16u)

#define LINES 20u
#define COLS 40u
/* What each text line shows: only characters that change are sent to the display (a full
 * line is 40 cells of 96 bytes on SPI). */
static char g_shown[LINES][COLS];
static uint16_t g_shown_fg[LINES];

static void line(unsigned n, const char *s, uint16_t fg)
{
    char buf[COLS + 1];
    unsigned i = 0;
    for (; s[i] && i < COLS; i++)
        buf[i] = s[i];
    for (; i < COLS; i++)
        buf[i] = ' ';                   /* pad: clears what the line showed before */
    buf[COLS] = 0;
    if (n >= LINES)
        return;
    int all = g_shown_fg[n] != fg;
    for (i = 0; i < COLS; i++) {
        if (!all && g_shown[n][i] == buf[i])
            continue;
        unsigned j = i;                 /* a run of changed characters in one window */
        while (j < COLS && (all || g_shown[n][j] != buf[j]))
            j++;
        char run[COLS + 1];
        memcpy(run, buf + i, j - i);
        run[j - i] = 0;
        ili9341_text(&g_tft, i * 6u, LINE_Y(n), run, fg, BG);
        memcpy(&g_shown[n][i], buf + i, j - i);
        i = j;
    }
    g_shown_fg[n] = fg;
}

static void clear_lines(unsigned from, unsigned to)
{
    for (unsigned n = from; n < to; n++)
        line(n, "", FG);
}

/* Decimal with `dec` decimals of a scaled integer: fixed(12345, 3) = "12.345" */
static char *fixed(char *p, int32_t v, unsigned dec)
{
    char tmp[12];
    unsigned n = 0;
    uint32_t u = v < 0 ? (uint32_t)-v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u || n <= dec);
    if (v < 0)
        *p++ = '-';
    while (n) {
        *p++ = tmp[--n];
        if (n == dec && dec)
            *p++ = '.';
    }
    *p = 0;
    return p;
}

static char *cat(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    *p = 0;
    return p;
}

static void field(unsigned n, const char *label, int32_t v, unsigned dec, const char *unit)
{
    char buf[41];
    char *p = cat(buf, label);
    while (p < buf + 10)
        *p++ = ' ';
    p = fixed(p, v, dec);
    if (unit[0]) {
        *p++ = ' ';
        p = cat(p, unit);
    }
    line(n, buf, FG);
}

static int32_t u32_of(const uint16_t *r) { return (int32_t)((uint32_t)r[0] << 16 | r[1]); }

static const char *const g_reasons[] = {"none", "balance", "load limit", "overload",
                                        "over-current", "malicious load", "schedule", "remote"};

static void show_room(unsigned addr, unsigned room)
{
    struct qm_room rm;                  /* a copy of one room (not the whole controller: */
    uint8_t state, rooms;               /* 1.3 KiB would not fit the UI thread's stack) */
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    state = g_ctrl[addr - 1u].state;
    rooms = g_ctrl[addr - 1u].rooms;
    rm = g_ctrl[addr - 1u].room[room];
    ms_mutex_unlock(g_lock);
    char buf[41], *p = cat(buf, "Controller ");
    p = fixed(p, (int32_t)addr, 0);
    p = cat(p, "  room ");
    p = fixed(p, (int32_t)room, 0);
    p = cat(p, state == QM_ONLINE ? "  online" : state == QM_OFFLINE ? "  OFFLINE" : "  absent");
    line(2, buf, HL);
    if (!rooms || room >= rooms || !rm.valid) {
        line(3, rooms && room >= rooms ? "no such room" : "no reading yet", FG);
        clear_lines(4, 16);
        return;
    }
    const uint16_t *r = rm.regs;
    uint16_t st = r[0];
    p = cat(buf, "Relay     ");
    p = cat(p, st & 1u ? "closed" : "open");
    if (st & 2u) {
        p = cat(p, " (");
        p = cat(p, r[1] < 8u ? g_reasons[r[1]] : "?");
        cat(p, ")");
    }
    line(3, buf, FG);
    field(4, "Energy", u32_of(r + 8), 3, "kWh");
    field(5, "Cost", u32_of(r + 10), 2, "");
    field(6, "Balance", u32_of(r + 12), 2, "");
    field(7, "Voltage", r[2], 2, "V");
    field(8, "Current", r[3], 3, "A");
    field(9, "Power", u32_of(r + 4), 1, "W");
    field(10, "PF", (int16_t)r[6], 3, "");
    field(11, "Freq", r[7], 2, "Hz");
    field(12, "Trips", r[14], 0, "");
    p = cat(buf, "Alarms    ");
    p = cat(p, st & 4u ? "1 " : "- ");
    p = cat(p, st & 8u ? "2 " : "- ");
    cat(p, st & 16u ? "locked out" : "");
    line(13, buf, FG);
    field(14, "Age", (int32_t)((now_ms() - rm.polled_ms) / 1000u), 0, "s");
}

static void home(void)
{
    unsigned on = 0, off = 0, rooms = 0;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    for (unsigned i = 0; i < QM_MAX_CTRL; i++) {
        on += g_ctrl[i].state == QM_ONLINE;
        off += g_ctrl[i].state == QM_OFFLINE;
        rooms += g_ctrl[i].state != QM_ABSENT ? g_ctrl[i].rooms : 0u;
    }
    ms_mutex_unlock(g_lock);
    char buf[41], *p;
    struct bsp_datetime dt;
    line(0, "QUERY MANAGER v1.1", HL);
    if (bsp_rtc_get(&dt) == 0) {
        p = buf;
        static const unsigned w[6] = {4, 2, 2, 2, 2, 2};
        const unsigned v[6] = {dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec};
        static const char sep[6] = {'-', '-', ' ', ':', ':', 0};
        for (unsigned i = 0; i < 6; i++) {
            char t[8];
            fixed(t, (int32_t)v[i], 0);
            for (unsigned k = (unsigned)strlen(t); k < w[i]; k++)
                *p++ = '0';
            p = cat(p, t);
            if (sep[i])
                *p++ = sep[i];
        }
        *p = 0;
        line(1, buf, FG);
    }
    p = cat(buf, "Controllers online ");
    p = fixed(p, (int32_t)on, 0);
    p = cat(p, ", offline ");
    fixed(p, (int32_t)off, 0);
    line(2, buf, FG);
    p = cat(buf, "Rooms ");
    fixed(p, (int32_t)rooms, 0);
    line(3, buf, FG);
    int wd = bsp_backup_read(BK_WD_RESETS);     /* counted at boot (main) */
    p = cat(buf, "Watchdog resets ");
    fixed(p, wd < 0 ? 0 : wd, 0);
    line(4, buf, FG);
    line(5, "QUERY  room query", FG);
    line(6, "PAY    top-up", FG);
    clear_lines(7, 16);
}

/* Read a number typed on the keypad on line n after `prompt`; OK ends, ESC cancels (-1). */
static int32_t read_number(unsigned n, const char *prompt, int secret)
{
    char buf[41], *end = cat(buf, prompt);
    int32_t v = 0;
    unsigned digits = 0;
    line(n, buf, FG);
    for (;;) {
        const char *k = kp_wait(30000);
        if (!k || !strcmp(k, "ESC"))
            return -1;
        if (!strcmp(k, "OK") && digits)
            return v;
        if (k[0] >= '0' && k[0] <= '9' && !k[1] && digits < 8u) {
            v = v * 10 + (k[0] - '0');
            end[digits++] = secret ? '*' : k[0];
            end[digits] = 0;
        } else if (!strcmp(k, "CLR") || !strcmp(k, "BKSP")) {
            v = 0;
            digits = 0;
            end[0] = 0;
        }
        line(n, buf, FG);
    }
}

/* A new screen titled `title` asking for a controller and a room; 0 when cancelled. */
static int ask_room(const char *title, int32_t *addr, int32_t *room)
{
    line(0, title, HL);
    clear_lines(1, 16);
    *addr = read_number(2, "Controller: ", 0);
    if (*addr < 1 || *addr > (int32_t)QM_MAX_CTRL)
        return 0;
    *room = read_number(3, "Room: ", 0);
    return *room >= 0 && *room < (int32_t)QM_MAX_ROOMS;
}

static void room_query(void)
{
    int32_t addr, room;
    if (!ask_room("ROOM QUERY", &addr, &room))
        return;
    clear_lines(1, 16);
    for (;;) {
        show_room((unsigned)addr, (unsigned)room);
        const char *k = kp_wait(1000);
        if (!k)
            continue;                   /* refresh once a second */
        if (!strcmp(k, "ESC"))
            return;
        if (!strcmp(k, "UP") && room + 1 < (int32_t)QM_MAX_ROOMS)
            room++;
        else if (!strcmp(k, "DOWN") && room > 0)
            room--;
    }
}

/* A write of `count` holding registers from `start` of controller `addr` through the poll
 * thread (the bus owner, which logs room writes); 0 when the controller took it, an error
 * when it did not or when the poll thread could not begin it within CMD_START_MS: then it is
 * dropped, never sent later (docs/firmware_query_manager.md, "Commands"). */
static int ctrl_write(uint8_t kind, uint8_t addr, uint8_t room, uint16_t start, uint8_t count,
                      const uint16_t *v)
{
    unsigned wd = wd_self();
    wd_checkin(wd, 1);                  /* the poll thread's turn: it is watched itself */
    ms_mutex_lock(g_cmd_lock, MS_WAIT_FOREVER);
    g_cmd.kind = kind;
    g_cmd.addr = addr;
    g_cmd.room = room;
    g_cmd.start = start;
    g_cmd.count = count;
    memcpy(g_cmd.v, v, count * sizeof v[0]);
    uint32_t s = ms_irq_lock();         /* the fields above are in place before it is seen */
    g_cmd.state = CMD_PENDING;
    ms_irq_unlock(s);
    ms_sem_post(g_work_sem);
    int r;
    if (ms_sem_wait(g_done_sem, ms_ms_to_ticks(CMD_START_MS)) == 0) {
        r = g_cmd.result;
    } else {
        /* Not done in time: withdrawn if the poll thread has not begun it, so it is never
         * sent later. Begun, it is on the bus now and its answer is the truth (one write's
         * tries, under half a second; a top-up's token read, write and read back about
         * 1.1 s; the poll thread is watched by the IWDG). */
        s = ms_irq_lock();
        int withdrawn = g_cmd.state == CMD_PENDING;
        if (withdrawn)
            g_cmd.state = CMD_IDLE;
        ms_irq_unlock(s);
        if (withdrawn) {
            cmd_log("failed, not sent in 10 s");
            r = MS_ERR_TIMEOUT;
        } else {
            ms_sem_wait(g_done_sem, MS_WAIT_FOREVER);
            r = g_cmd.result;
        }
    }
    ms_mutex_unlock(g_cmd_lock);
    wd_checkin(wd, 0);
    return r;
}

/* A write at `reg` of a room's settings block (0x2000 + 0x20 room). */
static int room_write(uint8_t kind, uint8_t addr, uint8_t room, uint8_t reg, uint8_t count,
                      uint16_t v0, uint16_t v1)
{
    const uint16_t v[2] = {v0, v1};
    return ctrl_write(kind, addr, room, (uint16_t)(0x2000u + 0x20u * room + reg), count, v);
}

/* A top-up (room settings +0x12..+0x14: u32 cents and the token run_top_up sets); from the
 * UI or the server link. */
static int top_up(uint8_t addr, uint8_t room, uint32_t cents)
{
    const uint16_t v[3] = {(uint16_t)(cents >> 16), (uint16_t)cents, 0};
    return ctrl_write(CMD_TOPUP, addr, room, (uint16_t)(0x2000u + 0x20u * room + 0x12u), 3u, v);
}

/* Relay command (+0x00: 0 open, 1 close if allowed, 2 reset lock-out) from the server link. */
static int relay_command(uint8_t addr, uint8_t room, uint16_t cmd)
{
    return room_write(CMD_RELAY, addr, room, 0x00u, 1u, cmd, 0);
}

/* Schedule (+0x0F off, +0x10 on: minute of day, 0xFFFF none) from the server link. */
static int schedule(uint8_t addr, uint8_t room, uint16_t off_min, uint16_t on_min)
{
    return room_write(CMD_SCHED, addr, room, 0x0Fu, 2u, off_min, on_min);
}

/* A controller's tariff registers from the server link (device settings): t[0..5] = flat
 * price, mode, the four TOU prices (0x0008..0x000D); t[6..21] = the eight TOU periods (start
 * minute, price index: 0x0010..0x001F). Two writes, as 0x000E..0x000F are not registers: the
 * periods first, then prices and mode, so a controller going from flat to time-of-use bills
 * by its old flat price until the whole tariff is in place. Written again, the same values
 * leave the same registers: a re-sent TARIFF is harmless. */
static int tariff(uint8_t addr, const uint16_t *t)
{
    int e = ctrl_write(CMD_TARIFF, addr, 0, 0x0010u, 16u, t + 6);
    if (e == 0)
        e = ctrl_write(CMD_TARIFF, addr, 0, 0x0008u, 6u, t);
    ms_printk("poll: tariff mode %u flat %u controller %u: %s\n", t[1], t[0], addr,
              e == 0 ? "ok" : "failed");
    return e;
}

#define TOPUP_PIN 1234                  /* operator PIN (settings menu: not yet) */

static void payment(void)
{
    int32_t addr, room;
    if (!ask_room("TOP-UP", &addr, &room))
        return;
    int32_t amount = read_number(4, "Amount (cents): ", 0);
    if (amount <= 0)
        return;
    int32_t pin = read_number(5, "PIN: ", 1);
    if (pin < 0)
        return;
    if (pin != TOPUP_PIN) {
        line(7, "Wrong PIN", HL);
        ms_printk("ui: top-up refused, wrong PIN\n");
        kp_wait(3000);
        return;
    }
    line(7, "Sending...", FG);
    int ok = top_up((uint8_t)addr, (uint8_t)room, (uint32_t)amount) == 0;
    line(7, ok ? "Top-up done" : "Top-up FAILED", HL);
    kp_wait(3000);
}


/* ---- server link: W5500 TCP client, text lines (docs/firmware_query_manager.md) ---- */
static w5500_t g_eth = {ETH_SPI, ETH_CS, ETH_RST};

/* Readings waiting for the server's ACK: the ring in the EEPROM (qm_store.h). */
#define EE_I2C 1
#define EE_ADDR 0x50
static at24c_t g_ee;
static int g_store_ok;                  /* the EEPROM answered and the ring is mounted */
static uint32_t g_send;                 /* the next sequence number to send on this connection */
static uint32_t g_log_dropped;          /* overwritten before the server acknowledged them */
static uint32_t g_report_ms = NET_REPORT_MS, g_offline_ms = NET_OFFLINE_MS;

static uint32_t rtc_secs(void)
{
    struct bsp_datetime dt;
    return bsp_rtc_get(&dt) == 0 ? bsp_date_to_secs(&dt) : 0u;
}

/* One record per room of every online controller, all with the same RTC time, appended to
 * the store; its ends are persisted once per snapshot. */
static void log_snapshot(void)
{
    if (!g_store_ok)
        return;
    uint32_t secs = rtc_secs();
    int added = 0;
    for (unsigned i = 0; i < QM_MAX_CTRL; i++) {
        for (unsigned r = 0; r < QM_MAX_ROOMS; r++) {
            struct qm_room rm;
            ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
            int use = g_ctrl[i].state == QM_ONLINE && r < g_ctrl[i].rooms && g_ctrl[i].room[r].valid;
            rm = g_ctrl[i].room[r];
            ms_mutex_unlock(g_lock);
            if (!use)
                continue;
            struct qm_rec e;
            const uint16_t *g = rm.regs;
            uint32_t age = (now_ms() - rm.polled_ms) / 1000u;
            e.secs = secs;
            e.energy_wh = (uint32_t)u32_of(g + 8);
            e.cost = (uint32_t)u32_of(g + 10);
            e.balance = (uint32_t)u32_of(g + 12);
            e.power = (uint32_t)u32_of(g + 4);
            e.voltage = g[2];
            e.current = g[3];
            e.pf = g[6];
            e.freq = g[7];
            e.trips = g[14];
            e.addr = (uint8_t)(i + 1u);
            e.room = (uint8_t)r;
            e.status = (uint8_t)g[0];
            e.reason = (uint8_t)g[1];
            e.age_s = (uint8_t)(age > 255u ? 255u : age);
            int d = qm_store_append(&e);
            if (d < 0) {
                ms_printk("net: EEPROM write failed (%d), reading lost\n", d);
                continue;
            }
            added = 1;
            if (d && (++g_log_dropped == 1 || g_log_dropped % 100u == 0))
                ms_printk("net: buffer full, %u readings dropped\n", (unsigned)g_log_dropped);
        }
    }
    if (added)
        qm_store_commit();
}

/* The server acknowledged every reading up to seq. */
static void log_ack(uint32_t seq)
{
    qm_store_ack(seq);
}

static int net_send(const char *s)
{
    wd_checkin(WD_NET, 0);
    return w5500_send(&g_eth, NET_SOCKET, s, (unsigned)strlen(s), 2000) < 0 ? -1 : 0;
}

static char *num(char *p, int32_t v)
{
    *p++ = ' ';
    return fixed(p, v, 0);
}

#define UNIX_2000 946684800u

/* The records not sent on this connection yet, in order: per snapshot `T unix_time`, one
 * `R seq addr room status reason energy_Wh cost_cents balance_cents voltage_10mV current_mA
 * power_100mW pf_milli freq_10mHz trips age_s` line per room, `END`; at most FLUSH_MAX
 * records per call (a snapshot may span two groups with the same T). A record whose CRC or
 * number is wrong in the EEPROM is skipped (logged): the server sees a gap. */
#define FLUSH_MAX 64u                  /* records per call: commands are looked at between */
static int net_flush(void)
{
    struct qm_rec rec, *e = &rec;
    if ((int32_t)(g_send - qm_store_first()) < 0)
        g_send = qm_store_first();      /* acknowledged or dropped meanwhile */
    uint32_t stop = g_send + FLUSH_MAX;
    if ((int32_t)(stop - qm_store_next()) > 0)
        stop = qm_store_next();
    while ((int32_t)(stop - g_send) > 0) {
        if (qm_store_read(g_send, e) != 0) {
            ms_printk("net: reading %u unreadable in the EEPROM, skipped\n", (unsigned)g_send);
            g_send++;
            continue;
        }
        uint32_t secs = e->secs;
        char buf[128], *p = cat(buf, "T");
        num(p, (int32_t)(secs + UNIX_2000));
        cat(buf + strlen(buf), "\n");
        if (net_send(buf))
            return -1;
        int have = 1;                   /* e holds record g_send */
        while (have && e->secs == secs) {
            p = cat(buf, "R");
            p = num(p, (int32_t)e->seq);
            p = num(p, e->addr);
            p = num(p, e->room);
            p = num(p, e->status);
            p = num(p, e->reason);
            p = num(p, (int32_t)e->energy_wh);
            p = num(p, (int32_t)e->cost);
            p = num(p, (int32_t)e->balance);
            p = num(p, e->voltage);
            p = num(p, e->current);
            p = num(p, (int32_t)e->power);
            p = num(p, (int16_t)e->pf);
            p = num(p, e->freq);
            p = num(p, e->trips);
            p = num(p, e->age_s);
            cat(p, "\n");
            if (net_send(buf))
                return -1;
            g_send++;
            have = (int32_t)(stop - g_send) > 0 && qm_store_read(g_send, e) == 0;
        }
        if (net_send("END\n"))
            return -1;
    }
    return 0;
}

static int32_t parse_num(const char **s)
{
    int32_t v = 0;
    while (**s == ' ')
        (*s)++;
    if (**s < '0' || **s > '9')
        return -1;
    while (**s >= '0' && **s <= '9') {
        int d = *(*s)++ - '0';
        v = v > (INT32_MAX - d) / 10 ? INT32_MAX : v * 10 + d;   /* saturate, never overflow */
    }
    return v;
}

/* Exactly n numbers of at most 65535 each, and nothing after them; 0 when so. */
static int parse_u16s(const char *s, uint16_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int32_t x = parse_num(&s);
        if (x < 0 || x > 0xFFFF)
            return -1;
        v[i] = (uint16_t)x;
    }
    return *s == 0 ? 0 : -1;
}

/* The TARIFF line's values as the controller takes them (docs/modbus_map.md): mode 0..1,
 * period starts 0..1439 or 65535 (unused), price indexes 0..3 (the controller checks them
 * again). */
static int tariff_ok(const uint16_t *t)
{
    if (t[0] < 1 || t[0] > QM_MAX_CTRL || t[2] > 1)
        return 0;
    for (unsigned i = 0; i < 8u; i++) {
        uint16_t start = t[7 + 2 * i], idx = t[8 + 2 * i];
        if ((start >= 1440u && start != 0xFFFFu) || idx > 3u)
            return 0;
    }
    return 1;
}

/* ACK seq (no answer); TIME unix_s -> OK TIME; PERIOD report_s offline_s -> OK PERIOD;
 * SYNC clock_broadcast_s -> OK SYNC; TOPUP addr room cents -> OK TOPUP / ERR TOPUP;
 * RELAY addr room cmd -> OK RELAY / ERR RELAY; SCHED addr room off_min on_min -> OK SCHED /
 * ERR SCHED; TARIFF addr flat mode sharp peak flat valley (start index) x 8 -> OK TARIFF /
 * ERR TARIFF; else ERR UNKNOWN */
static void net_command(const char *cmd)
{
    const char *p;
    if (!strncmp(cmd, "ACK ", 4)) {
        p = cmd + 4;
        int32_t seq = parse_num(&p);
        if (seq >= 0)
            log_ack((uint32_t)seq);
    } else if (!strncmp(cmd, "TIME ", 5)) {
        p = cmd + 5;
        int32_t t = parse_num(&p);
        struct bsp_datetime dt;
        if (t < (int32_t)UNIX_2000) {
            net_send("ERR TIME\n");
            return;
        }
        /* Set just after our own tick, to the server's time then (rounded): the F1 RTC keeps
         * its sub-second phase through a counter write, so this leaves at most half a second
         * plus the link's latency. */
        uint32_t got_ms = now_ms();
        if (rtc_wait_tick(&dt) != 0) {
            net_send("ERR TIME\n");
            return;
        }
        uint32_t late_ms = now_ms() - got_ms;     /* the server's second began this long ago */
        bsp_date_from_secs((uint32_t)t - UNIX_2000 + (late_ms + 500u) / 1000u, &dt);
        g_rtc_ahead_ms = (int32_t)((late_ms + 500u) / 1000u * 1000u) - (int32_t)late_ms;
        if (bsp_rtc_set(&dt) != 0) {
            net_send("ERR TIME\n");
            return;
        }
        g_sync_now = 1;
        ms_sem_post(g_work_sem);
        net_send("OK TIME\n");
    } else if (!strncmp(cmd, "PERIOD ", 7)) {
        p = cmd + 7;
        int32_t a = parse_num(&p), b = parse_num(&p);
        if (a < 1 || b < 1 || a > 86400 || b > 86400) {
            net_send("ERR PERIOD\n");
            return;
        }
        g_report_ms = (uint32_t)a * 1000u;
        g_offline_ms = (uint32_t)b * 1000u;
        g_snap_at = now_ms() + g_report_ms;
        net_send("OK PERIOD\n");
    } else if (!strncmp(cmd, "SYNC ", 5)) {
        p = cmd + 5;
        int32_t a = parse_num(&p);
        if (a < 1 || a > 86400) {
            net_send("ERR SYNC\n");
            return;
        }
        g_sync_ms = (uint32_t)a * 1000u;
        g_sync_now = 1;
        ms_sem_post(g_work_sem);
        net_send("OK SYNC\n");
    } else if (!strncmp(cmd, "TOPUP ", 6)) {
        p = cmd + 6;
        int32_t a = parse_num(&p), r = parse_num(&p), c = parse_num(&p);
        int ok = a >= 1 && a <= (int32_t)QM_MAX_CTRL && r >= 0 && r < (int32_t)QM_MAX_ROOMS &&
                 c > 0 && top_up((uint8_t)a, (uint8_t)r, (uint32_t)c) == 0;
        net_send(ok ? "OK TOPUP\n" : "ERR TOPUP\n");
    } else if (!strncmp(cmd, "RELAY ", 6)) {
        p = cmd + 6;
        int32_t a = parse_num(&p), r = parse_num(&p), c = parse_num(&p);
        int ok = a >= 1 && a <= (int32_t)QM_MAX_CTRL && r >= 0 && r < (int32_t)QM_MAX_ROOMS &&
                 c >= 0 && c <= 2 && relay_command((uint8_t)a, (uint8_t)r, (uint16_t)c) == 0;
        net_send(ok ? "OK RELAY\n" : "ERR RELAY\n");
    } else if (!strncmp(cmd, "SCHED ", 6)) {
        p = cmd + 6;
        int32_t a = parse_num(&p), r = parse_num(&p), off = parse_num(&p), on = parse_num(&p);
        /* minutes of the day, 65535 for none (the controller checks them again) */
        int ok = a >= 1 && a <= (int32_t)QM_MAX_CTRL && r >= 0 && r < (int32_t)QM_MAX_ROOMS &&
                 (off == 0xFFFF || (off >= 0 && off < 1440)) &&
                 (on == 0xFFFF || (on >= 0 && on < 1440)) &&
                 schedule((uint8_t)a, (uint8_t)r, (uint16_t)off, (uint16_t)on) == 0;
        net_send(ok ? "OK SCHED\n" : "ERR SCHED\n");
    } else if (!strncmp(cmd, "TARIFF ", 7)) {
        uint16_t t[1 + 22];             /* addr, then the registers 0x0008..0x000D, 0x0010..0x001F */
        int ok = parse_u16s(cmd + 7, t, 23u) == 0 && tariff_ok(t) && tariff((uint8_t)t[0], t + 1) == 0;
        net_send(ok ? "OK TARIFF\n" : "ERR TARIFF\n");
    } else {
        net_send("ERR UNKNOWN\n");
    }
}

/* A snapshot every g_report_ms while connected, every g_offline_ms while not (the buffer then
 * lasts longer); none before the first polling round is done. */

static void net_tick(int connected)
{
    wd_checkin(WD_NET, 0);
    if (!g_rounds)
        return;
    if ((int32_t)(now_ms() - g_snap_at) >= 0) {
        log_snapshot();
        g_snap_at = now_ms() + (connected ? g_report_ms : g_offline_ms);
    }
}

/* INTn fell: the server's socket has news (data, disconnection, timeout). */
static void eth_isr(void *arg)
{
    (void)arg;
    ms_sem_post(g_net_sem);
}

/* Connected: sleep until the W5500 has news for the socket (INTn), the next snapshot is due,
 * more readings wait to be sent (NET_BACKLOG_MS, as before) or a second passed (the watchdog
 * check-in). Polling the W5500 every 50 ms instead cost twenty SPI rounds a second. */
static void net_wait_connected(void)
{
    uint32_t wait_ms = WD_CHECK_MS;
    if ((int32_t)(qm_store_next() - g_send) > 0)
        wait_ms = NET_BACKLOG_MS;
    int32_t snap = (int32_t)(g_snap_at - now_ms());
    if (g_rounds && snap < (int32_t)wait_ms)
        wait_ms = snap > 0 ? (uint32_t)snap : 0u;
    if (wait_ms)
        ms_sem_wait(g_net_sem, ms_ms_to_ticks(wait_ms));
}

/* Not connected: wait until `until` (ms tick), taking the snapshots due meanwhile. The thread
 * sleeps to whichever comes first, the next snapshot or `until`, and at most a second (its
 * watchdog check-in), rather than waking every 100 ms to find nothing due. */
static void net_wait_until(uint32_t until)
{
    for (;;) {
        net_tick(0);
        int32_t left = (int32_t)(until - now_ms());
        if (left <= 0)
            return;
        int32_t snap = (int32_t)(g_snap_at - now_ms());
        if (g_rounds && snap > 0 && snap < left)
            left = snap;
        ms_thread_sleep_ms(left > 1000 ? 1000u : (uint32_t)left);
    }
}

static void net_thread(void *arg)
{
    (void)arg;
    bsp_spi_init(ETH_SPI, 36000000u, 0);
    bsp_i2c_init(EE_I2C, 400000u);
    int e = at24c_init(&g_ee, EE_I2C, EE_ADDR, "AT24C256");
    if (e == 0)
        e = qm_store_init(&g_ee);
    g_store_ok = e == 0;
    if (g_store_ok)
        ms_printk("net: buffer in the EEPROM: readings %u..%u kept, %u places\n",
                  (unsigned)qm_store_first(), (unsigned)(qm_store_next() - 1u), QM_STORE_CAP);
    else
        ms_printk("net: no EEPROM (%d): readings are not buffered\n", e);
    g_snap_at = now_ms() + g_report_ms;     /* the first snapshot a period after start-up */
    bsp_pin_config(ETH_INT, BSP_PIN_INPUT_PULLUP, 0);      /* INTn is open drain */
    bsp_pin_irq_attach(ETH_INT, BSP_EDGE_FALLING, eth_isr, 0);
    if (w5500_init(&g_eth, g_mac, g_ip, g_mask, g_gw) != 0) {
        ms_printk("net: no W5500\n");
        wd_checkin(WD_NET, 1);          /* gone: nothing left to watch */
        return;
    }
    for (;;) {
        while (!w5500_link_up(&g_eth)) {
            net_tick(0);
            ms_thread_sleep_ms(1000);
        }
        w5500_tcp_connect(&g_eth, NET_SOCKET, g_server, NET_SERVER_PORT, NET_LOCAL_PORT);
        int st;
        while ((st = w5500_status(&g_eth, NET_SOCKET)) == W5500_SOCK_SYNSENT) {
            wd_checkin(WD_NET, 0);
            ms_thread_sleep_ms(10);
        }
        if (st != W5500_SOCK_ESTABLISHED) {
            w5500_close(&g_eth, NET_SOCKET);
            net_wait_until(now_ms() + NET_RETRY_MS);
            continue;
        }
        ms_printk("net: connected to the server\n");
        /* a server that comes back gets a fresh snapshot within the connected period, not
         * at the next one of the outage's slower pace */
        if ((int32_t)(g_snap_at - (now_ms() + g_report_ms)) > 0)
            g_snap_at = now_ms() + g_report_ms;
        ms_printk("net: %u readings to send\n", (unsigned)(qm_store_next() - qm_store_first()));
        net_send("HELLO query-manager 1.1\n");
        g_send = qm_store_first();      /* what the last connection did not get acknowledged */
        static char cmd[128];           /* the longest command, TARIFF, is under 120 */
        unsigned n = 0;
        w5500_irq_enable(&g_eth, NET_SOCKET, NET_EVENTS);
        while (w5500_status(&g_eth, NET_SOCKET) == W5500_SOCK_ESTABLISHED) {
            net_tick(1);
            if (net_flush())
                break;
            /* news taken before the data is read: what comes after raises INTn again */
            w5500_irq(&g_eth, NET_SOCKET, NET_EVENTS);
            static char in[64];
            int got;
            while ((got = w5500_recv(&g_eth, NET_SOCKET, in, sizeof in)) > 0) {
                for (int i = 0; i < got; i++) {
                    char c = in[i];
                    if (c == '\n') {
                        cmd[n] = 0;
                        net_command(cmd);
                        n = 0;
                    } else if (c != '\r' && n + 1 < sizeof cmd) {
                        cmd[n++] = c;
                    }
                }
            }
            net_wait_connected();
        }
        ms_printk("net: connection lost\n");
        ms_printk("net: %u readings not acknowledged\n",
                  (unsigned)(qm_store_next() - qm_store_first()));
        w5500_close(&g_eth, NET_SOCKET);
        net_wait_until(now_ms() + NET_RETRY_MS);
    }
}

static void ui_thread(void *arg)
{
    (void)arg;
    bsp_spi_init(TFT_SPI, 18000000u, 0);
    if (qm_dma_init() != 0)
        g_tft.bulk = 0;                 /* pixels by polled SPI then */
    ili9341_init(&g_tft);
    ili9341_fill(&g_tft, 0, 0, ILI9341_WIDTH, ILI9341_HEIGHT, BG);
    memset(g_shown, ' ', sizeof g_shown);
    for (unsigned n = 0; n < LINES; n++)
        g_shown_fg[n] = FG;
    kp_init();
    for (;;) {
        home();
        const char *k = kp_wait(1000);
        if (!k)
            continue;
        if (!strcmp(k, "QUERY"))
            room_query();
        else if (!strcmp(k, "PAY"))
            payment();
    }
}

int main(void)
{
    bsp_pin_write(ETH_RST, 0);          /* W5500 held in reset until the network starts */
    bsp_pin_config(ETH_RST, BSP_PIN_OUTPUT, 0);
    int clk = bsp_clock_init();
    uint32_t cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    bsp_uart_open(CONSOLE_UART, &console);
    bsp_console_select(CONSOLE_UART);
    bsp_pin_config(LED_RUN, BSP_PIN_OUTPUT, 0);
    int rtc = bsp_rtc_init();
    ms_printk("query manager v%u.%u, reset cause: %s%s%s\n", QM_FW_MAJOR, QM_FW_MINOR,
              bsp_reset_cause_name(cause), clk ? "; clock: HSE/PLL failed" : "",
              rtc ? "; rtc: LSE did not start" : "");
    if (cause & BSP_RESET_IWDG) {
        int n = bsp_backup_read(BK_WD_RESETS);
        n = n < 0 ? 1 : n + 1;
        bsp_backup_write(BK_WD_RESETS, (uint16_t)n);
        ms_printk("watchdog: the IWDG reset the query manager (%d so far)\n", n);
    }
    g_lock = ms_mutex_create("table");
    g_kp_sem = ms_sem_create("keypad", 0, 1);
    g_work_sem = ms_sem_create("work", 0, 1);
    g_done_sem = ms_sem_create("done", 0, 1);
    g_net_sem = ms_sem_create("eth", 0, 1);
    g_cmd_lock = ms_mutex_create("cmd");
    ms_handle_t wd = ms_timer_create("watchdog", watchdog_check, 0);
    if (ms_thread_create("poll", poll_thread, 0, 1280, 5, 0) < 0 ||
        (g_ui_thread = ms_thread_create("ui", ui_thread, 0, 2048, 8, 0)) < 0 ||
        (g_net_thread = ms_thread_create("net", net_thread, 0, 1536, 9, 0)) < 0 || wd < 0 ||
        ms_timer_start(wd, ms_ms_to_ticks(WD_CHECK_MS), ms_ms_to_ticks(WD_CHECK_MS)) < 0)
        ms_panic("cannot create the threads");
    bsp_iwdg_start(WD_TIMEOUT_MS);
    ms_rtos_start();
}
