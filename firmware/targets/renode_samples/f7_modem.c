/* A TCP echo client on the STM32F746 Discovery through a Quectel BG96 modem on USART2, shaped
 * like the echo client Renode's STM32F7 suite runs (no RTOS, no IP stack here: the modem's
 * own TCP/IP stack carries the socket). It powers the modem with PWRKEY (PA6) and RESET_N
 * (PA7), waits for RDY, identifies the modem and SIM, waits for network registration, sets
 * and activates PDP context 1, opens a TCP socket to the echo server (192.0.2.1:4242), then
 * sends blocks of text and reads them back (buffer access mode: +QIURC "recv", AT+QIRD),
 * printing on USART1 for each block:
 *     IPv4 TCP: Received and compared <n> bytes, all ok
 * Commands follow the BG96 AT Commands Manual and TCP/IP AT Commands Manual. Build with
 * -DTICK_MS=10 (timeouts are coarse; fewer wake-ups while waiting). */
#include "sample.h"

#define M_BASE        0x40004400u                 /* USART2 (RM0385 31.8) */
#define M_CR1         REG(M_BASE + 0x00u)
#define M_BRR         REG(M_BASE + 0x0Cu)
#define M_ISR         REG(M_BASE + 0x1Cu)
#define M_ICR         REG(M_BASE + 0x20u)
#define M_RDR         REG(M_BASE + 0x24u)
#define M_TDR         REG(M_BASE + 0x28u)
#define M_CR1_RXNEIE  (1u << 5)
#define M_ISR_ORE     (1u << 3)
#define M_ISR_RXNE    (1u << 5)
#define M_ISR_TXE     (1u << 7)
#define USART2_IRQN   38u
#define RCC_APB1ENR   REG(RCC_BASE + 0x40u)
#define GPIOA_MODER   REG(0x40020000u)
#define GPIOA_AFRL    REG(0x40020020u)
#define GPIOA_BSRR    REG(0x40020018u)
#define PWRKEY_PIN    6u
#define RESET_PIN     7u

#ifndef PEER_ADDR
#define PEER_ADDR     "192.0.2.1"
#endif
#ifndef PEER_PORT
#define PEER_PORT     "4242"
#endif
#ifndef APN
#define APN           "internet"
#endif

/* ---------------------------------------------------------------- console log lines */
static void put_2(uint32_t v)
{
    put_char((char)('0' + v / 10u % 10u));
    put_char((char)('0' + v % 10u));
}

/* "[00:00:05.120] <inf> module: " as the log lines the suite looks for begin */
static void log_head(const char *level, const char *module)
{
    uint32_t ms = ticks_ms();
    put_char('[');
    put_2(ms / 3600000u);
    put_char(':');
    put_2(ms / 60000u % 60u);
    put_char(':');
    put_2(ms / 1000u % 60u);
    put_char('.');
    put_char((char)('0' + ms / 100u % 10u));
    put_2(ms % 100u);
    put_str("] <");
    put_str(level);
    put_str("> ");
    put_str(module);
    put_str(": ");
}

static void log_line(const char *level, const char *module, const char *a, const char *b)
{
    log_head(level, module);
    put_str(a);
    if (b) {
        put_str(b);
    }
    put_char('\n');
}

#define MODEM "modem_quectel_bg9x"
#define APP   "net_echo_client_sample"

/* ---------------------------------------------------------------- the modem's UART */
#define RX_SIZE 2048u                             /* a whole AT+QIRD answer fits */
static volatile uint8_t g_rx[RX_SIZE];
static volatile uint32_t g_rx_head, g_rx_tail, g_rx_overruns;

void USART2_IRQHandler(void)
{
    uint32_t isr = M_ISR;
    if (isr & M_ISR_ORE) {
        M_ICR = M_ISR_ORE;                        /* ORECF */
        g_rx_overruns++;
    }
    if (isr & M_ISR_RXNE) {
        uint8_t c = (uint8_t)M_RDR;
        uint32_t next = (g_rx_head + 1u) % RX_SIZE;
        if (next != g_rx_tail) {
            g_rx[g_rx_head] = c;
            g_rx_head = next;
        } else {
            g_rx_overruns++;
        }
    }
}

static void modem_uart_init(void)
{
    RCC_APB1ENR |= 1u << 17;                      /* USART2EN */
    /* PA2 (TX), PA3 (RX): alternate function 7; PA6, PA7: outputs. */
    GPIOA_MODER = (GPIOA_MODER & ~((0xFu << 4) | (0xFu << 12))) | (0xAu << 4) | (0x5u << 12);
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);
    M_BRR = (HCLK_HZ + 57600u) / 115200u;         /* APB1 = HSI 16 MHz after reset */
    M_CR1 = USART_CR1_ON | M_CR1_RXNEIE;
    nvic_enable(USART2_IRQN);
}

static void modem_write(const uint8_t *p, uint32_t n)
{
    while (n--) {
        while (!(M_ISR & M_ISR_TXE)) {
        }
        M_TDR = *p++;
    }
}

static void modem_puts(const char *s)
{
    while (*s) {
        modem_write((const uint8_t *)s++, 1u);
    }
}

/* The next character from the modem, or -1 once `deadline` (ticks_ms) has passed. */
static int modem_getc(uint32_t deadline)
{
    while (g_rx_tail == g_rx_head) {
        if ((int32_t)(ticks_ms() - deadline) >= 0) {
            return -1;
        }
        __asm volatile("wfi");
    }
    uint8_t c = g_rx[g_rx_tail];
    g_rx_tail = (g_rx_tail + 1u) % RX_SIZE;
    return c;
}

/* ---------------------------------------------------------------- AT responses */
#define LINE_LEN 128
static char g_line[LINE_LEN];
static volatile int g_recv_pending;               /* +QIURC: "recv",0 seen */
static int g_open_result = -1;                    /* <err> of +QIOPEN: 0,<err> */
static int g_prompt;                              /* the "> " of AT+QISEND */
static uint8_t g_data[1500];
static uint32_t g_data_len;                       /* bytes of the last +QIRD */

static int starts_with(const char *s, const char *p)
{
    while (*p) {
        if (*s++ != *p++) {
            return 0;
        }
    }
    return 1;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static uint32_t parse_uint(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10u + (uint32_t)(*s++ - '0');
    }
    return v;
}

/* Reads one non-empty line (CR LF stripped) into g_line: 1, or 0 on timeout. A "> " data
 * prompt counts as a line of its own (g_prompt set). +QIRD: <n> is followed by its n bytes,
 * taken into g_data. URCs are noted on the way. */
static int read_line(uint32_t deadline)
{
    uint32_t n = 0;
    for (;;) {
        int c = modem_getc(deadline);
        if (c < 0) {
            return 0;
        }
        if (c == '\n' || c == '\r') {
            if (n == 0) {
                continue;
            }
            if (c == '\r') {
                continue;                         /* the LF ends the line */
            }
            g_line[n] = '\0';
            break;
        }
        if (n == 0 && c == '>') {
            (void)modem_getc(deadline);           /* the space after it */
            g_prompt = 1;
            g_line[0] = '>';
            g_line[1] = '\0';
            return 1;
        }
        if (n < LINE_LEN - 1u) {
            g_line[n++] = (char)c;
        }
    }
    if (starts_with(g_line, "+QIRD: ") && !starts_with(g_line, "+QIRD: 0")) {
        g_data_len = parse_uint(g_line + 7);
        if (g_data_len > sizeof g_data) {
            g_data_len = 0;
            return 1;
        }
        for (uint32_t i = 0; i < g_data_len; i++) {
            int c = modem_getc(deadline);
            if (c < 0) {
                return 0;
            }
            g_data[i] = (uint8_t)c;
        }
    } else if (starts_with(g_line, "+QIURC: \"recv\",0")) {
        g_recv_pending = 1;
    } else if (starts_with(g_line, "+QIOPEN: 0,")) {
        g_open_result = (int)parse_uint(g_line + 11);
    }
    return 1;
}

#define AT_OK       0
#define AT_ERROR    (-1)
#define AT_TIMEOUT  (-2)

/* Sends `cmd` and waits for its final result code; a line beginning with `prefix` is copied
 * to `out` (LINE_LEN bytes). */
static int at(const char *cmd, uint32_t timeout_ms, const char *prefix, char *out)
{
    uint32_t deadline = ticks_ms() + timeout_ms;
    modem_puts(cmd);
    modem_puts("\r");
    while (read_line(deadline)) {
        if (str_eq(g_line, "OK") || str_eq(g_line, "SEND OK")) {
            return AT_OK;
        }
        if (str_eq(g_line, "ERROR") || starts_with(g_line, "+CME ERROR") ||
                str_eq(g_line, "SEND FAIL")) {
            return AT_ERROR;
        }
        if (g_prompt) {
            return AT_OK;
        }
        if (prefix && out && starts_with(g_line, prefix)) {
            for (uint32_t i = 0; i < LINE_LEN; i++) {
                out[i] = g_line[i];
            }
        }
    }
    return AT_TIMEOUT;
}

static void halt(void)
{
    for (;;) {
        __asm volatile("wfi");
    }
}

/* ---------------------------------------------------------------- bring-up */
static void modem_power_on(void)
{
    GPIOA_BSRR = (1u << RESET_PIN) | (1u << PWRKEY_PIN);  /* out of reset, PWRKEY idle high */
    delay_ms(30);
    GPIOA_BSRR = 1u << (PWRKEY_PIN + 16u);                /* PWRKEY low >= 500 ms: power on */
    delay_ms(600);
    GPIOA_BSRR = 1u << PWRKEY_PIN;
}

static int modem_wait_ready(void)
{
    uint32_t deadline = ticks_ms() + 10000u;
    while (read_line(deadline)) {
        if (str_eq(g_line, "RDY")) {
            break;
        }
    }
    for (int tries = 0; tries < 10; tries++) {    /* RDY may have been missed: poll AT */
        if (at("AT", 300u, 0, 0) == AT_OK) {
            return 1;
        }
    }
    return 0;
}

static void show_id(const char *cmd, const char *what)
{
    char out[LINE_LEN] = "";
    uint32_t deadline = ticks_ms() + 300u;
    modem_puts(cmd);
    modem_puts("\r");
    /* identification commands answer with a bare line before OK */
    while (read_line(deadline)) {
        if (str_eq(g_line, "OK") || str_eq(g_line, "ERROR") || starts_with(g_line, "+CME")) {
            break;
        }
        /* "+QCCID: 8986..." carries its value after the command's name */
        const char *v = g_line;
        if (*v == '+') {
            while (*v && *v != ' ') {
                v++;
            }
            v += *v == ' ';
        }
        for (uint32_t i = 0; i < LINE_LEN && (i == 0 || v[i - 1]); i++) {
            out[i] = v[i];
        }
    }
    log_line("inf", MODEM, what, out);
}

static int registered(void)
{
    char out[LINE_LEN] = "";
    if (at("AT+CEREG?", 300u, "+CEREG: ", out) != AT_OK) {
        return 0;
    }
    /* +CEREG: <n>,<stat>: 1 home, 5 roaming */
    const char *p = out + 8;
    while (*p && *p != ',') {
        p++;
    }
    return *p == ',' && (p[1] == '1' || p[1] == '5');
}

static int modem_setup(void)
{
    modem_power_on();
    if (!modem_wait_ready()) {
        log_line("err", MODEM, "No response from the modem", 0);
        return 0;
    }
    at("ATE0", 300u, 0, 0);
    at("AT+CMEE=1", 300u, 0, 0);
    show_id("AT+CGMI", "Manufacturer: ");
    show_id("AT+CGMM", "Model: ");
    show_id("AT+CGMR", "Revision: ");
    show_id("AT+CGSN", "IMEI: ");
    show_id("AT+CIMI", "IMSI: ");
    show_id("AT+QCCID", "ICCID: ");
    char out[LINE_LEN] = "";
    if (at("AT+CPIN?", 5000u, "+CPIN: ", out) != AT_OK || !str_eq(out, "+CPIN: READY")) {
        log_line("err", MODEM, "SIM not ready: ", out);
        return 0;
    }
    if (at("AT+CFUN=1", 15000u, 0, 0) != AT_OK) {
        log_line("err", MODEM, "AT+CFUN=1 failed", 0);
        return 0;
    }
    int tries = 0;
    while (!registered()) {
        if (++tries == 60) {
            log_line("err", MODEM, "Not registered on a network", 0);
            return 0;
        }
        delay_ms(500);
    }
    at("AT+CSQ", 300u, "+CSQ: ", out);
    log_line("inf", MODEM, "Registered, signal ", out);
    if (at("AT+QICSGP=1,1,\"" APN "\",\"\",\"\",1", 300u, 0, 0) != AT_OK) {
        log_line("err", MODEM, "Error setting up APN", 0);
        return 0;
    }
    if (at("AT+QIACT=1", 150000u, 0, 0) != AT_OK) {
        log_line("err", MODEM, "Error activating modem with pdp context", 0);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- the echo client */
static const char lorem[] =
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Integer vitae elementum diam, "
    "in sagittis nunc. Nam varius dapibus nisl, eu tempus velit porta sit amet. Proin "
    "tristique ornare ex, ac vehicula tortor commodo quis. Curabitur fermentum dolor ac "
    "justo pretium, vel convallis enim porta. Vestibulum et ligula non lorem rutrum "
    "faucibus a id enim. Donec non dui vitae sem iaculis fermentum. Quisque nec est nunc. "
    "Etiam maximus lectus sed est convallis, eu efficitur ante interdum. Sed vitae iaculis "
    "mi. Aenean euismod mi et augue porttitor, in elementum libero dapibus. Vivamus non "
    "pulvinar ante, sed tempus eros.\n";

static int open_socket(void)
{
    g_open_result = -1;
    if (at("AT+QIOPEN=1,0,\"TCP\",\"" PEER_ADDR "\"," PEER_PORT ",0,0", 300u, 0, 0) != AT_OK) {
        return 0;
    }
    uint32_t deadline = ticks_ms() + 150000u;    /* the manual: wait up to 150 s */
    while (g_open_result < 0 && read_line(deadline)) {
    }
    return g_open_result == 0;
}

static void itoa_into(char *p, uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        *p++ = buf[--n];
    }
    *p = '\0';
}

/* Sends `len` bytes of the text from `offset` and reads them back: 1 when all came back
 * equal. */
static int echo_block(uint32_t offset, uint32_t len)
{
    char cmd[32] = "AT+QISEND=0,";
    itoa_into(cmd + 12, len);
    g_prompt = 0;
    if (at(cmd, 300u, 0, 0) != AT_OK || !g_prompt) {
        log_line("err", APP, "IPv4 TCP: no send prompt", 0);
        return 0;
    }
    g_prompt = 0;
    uint32_t deadline = ticks_ms() + 10000u;
    modem_write((const uint8_t *)lorem + offset, len);
    for (;;) {
        if (!read_line(deadline)) {
            log_line("err", APP, "IPv4 TCP: no SEND OK", 0);
            return 0;
        }
        if (str_eq(g_line, "SEND OK")) {
            break;
        }
        if (str_eq(g_line, "SEND FAIL") || str_eq(g_line, "ERROR")) {
            log_line("err", APP, "IPv4 TCP: send failed", 0);
            return 0;
        }
    }
    uint32_t got = 0;
    while (got < len) {
        while (!g_recv_pending) {
            if (!read_line(deadline)) {
                log_line("err", APP, "IPv4 TCP: no data back", 0);
                return 0;
            }
        }
        g_recv_pending = 0;
        /* read until the modem's buffer is empty (+QIRD: 0) */
        for (;;) {
            g_data_len = 0;
            if (at("AT+QIRD=0,1500", 1000u, 0, 0) != AT_OK) {
                log_line("err", APP, "IPv4 TCP: AT+QIRD failed", 0);
                return 0;
            }
            if (g_data_len == 0) {
                break;
            }
            for (uint32_t i = 0; i < g_data_len; i++) {
                if (got + i >= len || g_data[i] != (uint8_t)lorem[offset + got + i]) {
                    log_line("err", APP, "IPv4 TCP: Invalid data received", 0);
                    return 0;
                }
            }
            got += g_data_len;
        }
    }
    log_head("inf", APP);
    put_str("IPv4 TCP: Received and compared ");
    put_uint(len);
    put_line(" bytes, all ok");
    return 1;
}

int main(void)
{
    console_init();
    ticks_start();
    put_line("*** Booting the metersim echo client (Quectel BG96 over USART2) ***");
    modem_uart_init();
    if (!modem_setup()) {
        halt();
    }
    log_line("inf", APP, "Network is ready", 0);
    if (!open_socket()) {
        log_line("err", APP, "Cannot connect to TCP remote " PEER_ADDR ":" PEER_PORT, 0);
        halt();
    }
    log_line("inf", APP, "IPv4 TCP: connected to " PEER_ADDR ":" PEER_PORT, 0);
    static const uint16_t lengths[] = {15u, 170u, 600u, 39u, 333u, 512u};
    uint32_t offset = 0;
    for (uint32_t i = 0;; i++) {
        uint32_t len = lengths[i % (sizeof lengths / sizeof lengths[0])];
        if (offset + len > sizeof lorem - 1u) {
            offset = 0;
        }
        if (len > sizeof lorem - 1u) {
            len = sizeof lorem - 1u;
        }
        if (!echo_block(offset, len)) {
            halt();
        }
        offset += 7u;
        delay_ms(100);
    }
}
