/*
 * msh, the console shell. It reads its tty one byte at a time through the RTOS IO system
 * (ms_io_read blocks the shell thread until the UART interrupt brings a byte), echoes what
 * is typed, handles backspace/DEL and Ctrl-C, and runs a command on CR or LF (a CR LF pair
 * counts once). Output lines end with CR LF.
 */
#include <stdarg.h>
#include <string.h>
#include "bsp.h"
#include "ms_rtos.h"
#include "shell.h"

#if defined(STM32F103xB)
#define LINE_MAX 64u
#define MAX_NODES 8u
#define PS_MAX 10
#else
#define LINE_MAX 128u
#define MAX_NODES 16u
#define PS_MAX 24
#endif
#define MAX_ARGS 16
#define PS_PROCS 8
#define PROMPT "msh> "

struct shell {
    int fd;
    const struct shell_cfg *cfg;
    char line[LINE_MAX];
    unsigned len;
    char last;
};

static struct shell g_shell;
static const char *g_nodes[MAX_NODES];
static unsigned g_nnodes;

void shell_note_node(const char *path)
{
    for (unsigned i = 0; i < g_nnodes; i++)
        if (strcmp(g_nodes[i], path) == 0)
            return;
    if (g_nnodes < MAX_NODES)
        g_nodes[g_nnodes++] = path;
}

/* The BSP reports the ttys it registers through this hook (weak in the BSP). */
void bsp_note_node(const char *path) { shell_note_node(path); }

int shell_write(struct shell *sh, const void *buf, unsigned len)
{
    return ms_io_write(sh->fd, buf, len);
}

static void puts_raw(struct shell *sh, const char *s) { shell_write(sh, s, (unsigned)strlen(s)); }

int shell_printf(struct shell *sh, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = ms_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    /* "\n" -> "\r\n" so terminals return to column 0 */
    int start = 0;
    for (int i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            shell_write(sh, buf + start, (unsigned)(i - start));
            shell_write(sh, "\r\n", 2);
            start = i + 1;
        }
    }
    if (start < n)
        shell_write(sh, buf + start, (unsigned)(n - start));
    return n;
}

/* ---- built-in commands ---- */
static void cmd_help(struct shell *sh, int argc, char **argv);

static void cmd_ps(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static ms_thread_info_t info[PS_MAX];
    int n = ms_ps(info, PS_MAX);
    if (n < 0) {
        shell_printf(sh, "ps: %s\n", ms_strerror(n));
        return;
    }
    shell_printf(sh, "%-12s %-10s %4s %-9s %s\n", "NAME", "PROCESS", "PRIO", "STATE", "STACK USED/SIZE");
    for (int i = 0; i < n && i < PS_MAX; i++) {
        ms_thread_info_t *t = &info[i];
        shell_printf(sh, "%-12s %-10s %4u %-9s %u/%u\n", t->name, t->process[0] ? t->process : "-",
                     (unsigned)t->prio, ms_state_name(t->state), (unsigned)t->stack_used,
                     (unsigned)t->stack_size);
    }
    /* processes, when there are any: memory window and use, limits and current counts */
    static ms_proc_info_t procs[PS_PROCS];
    int np = ms_proc_list(procs, PS_PROCS);
    if (np <= 0)
        return;
    shell_printf(sh, "%-12s %-21s %-11s %-7s %-5s %-5s %4s %s\n", "PROCESS", "WINDOW", "USED/SIZE",
                 "THREADS", "KOBJS", "FILES", "PRIO", "MEMORY");
    for (int i = 0; i < np; i++) {
        const ms_proc_info_t *p = &procs[i];
        char win[24], used[16], th[8], ko[8], fi[8];
        ms_snprintf(win, sizeof win, "0x%08x-0x%08x", (unsigned)p->mem_base,
                    (unsigned)(p->mem_base + p->mem_size - 1u));
        ms_snprintf(used, sizeof used, "%u/%u", (unsigned)p->mem_used, (unsigned)p->mem_size);
        ms_snprintf(th, sizeof th, "%u/%u", p->nthreads, p->max_threads);
        ms_snprintf(ko, sizeof ko, "%u/%u", p->nkobjs, p->max_kobjs);
        ms_snprintf(fi, sizeof fi, "%u/%u", p->nfiles, p->max_files);
        shell_printf(sh, "%-12s %-21s %-11s %-7s %-5s %-5s %4u %s\n", p->name, win, used, th, ko, fi,
                     (unsigned)p->prio, p->isolated ? "mpu" : "shared");
    }
}

static void cmd_events(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static ms_evlog_rec_t ev[MS_EVLOG_SIZE];
    int n = ms_evlog_read(ev, (int)MS_EVLOG_SIZE);
    if (n < 0) {
        shell_printf(sh, "events: %s\n", ms_strerror(n));
        return;
    }
    shell_printf(sh, "%4s %8s %-14s %-12s %4s %-10s %s\n", "SEQ", "TICK", "KIND", "NAME", "CODE", "A", "B");
    for (int i = 0; i < n; i++)
        shell_printf(sh, "%4u %8u %-14s %-12s %4u 0x%08x 0x%08x\n", (unsigned)ev[i].seq,
                     (unsigned)ev[i].tick, ms_evlog_kind_name(ev[i].kind), ev[i].name,
                     (unsigned)ev[i].code, (unsigned)ev[i].a, (unsigned)ev[i].b);
}

static void cmd_free(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ms_heap_stats_t k, p;
    int r = ms_kheap_stats(&k, &p);
    if (r < 0) {
        shell_printf(sh, "free: %s\n", ms_strerror(r));
        return;
    }
    shell_printf(sh, "%-8s %8s %8s %8s %8s %8s\n", "", "total", "used", "free", "min-free", "largest");
    shell_printf(sh, "%-8s %8u %8u %8u %8u %8u\n", "kernel", (unsigned)k.total,
                 (unsigned)(k.total - k.free), (unsigned)k.free, (unsigned)k.min_free,
                 (unsigned)k.largest_free);
    shell_printf(sh, "%-8s %8u %8u %8u %8u %8u\n", "pool", (unsigned)p.total,
                 (unsigned)(p.total - p.free), (unsigned)p.free, (unsigned)p.min_free,
                 (unsigned)p.largest_free);
}

static int node_exists(const char *path)
{
    int fd = ms_io_open(path, O_RDONLY | O_NONBLOCK, 0);
    if (fd >= 0) {
        ms_io_close(fd);
        return 1;
    }
    return fd != MS_ERR_NOENT && fd != MS_ERR_INVAL;
}

static void cmd_ls(struct shell *sh, int argc, char **argv)
{
    if (argc > 1) {
        unsigned plen = (unsigned)strlen(argv[1]);
        int shown = 0;
        for (unsigned i = 0; i < g_nnodes; i++)
            if (strncmp(g_nodes[i], argv[1], plen) == 0 &&
                (g_nodes[i][plen] == 0 || g_nodes[i][plen] == '/' || argv[1][plen - 1] == '/')) {
                shell_printf(sh, "%s\n", g_nodes[i]);
                shown = 1;
            }
        if (!shown) {
            if (node_exists(argv[1]))
                shell_printf(sh, "%s\n", argv[1]);
            else
                shell_printf(sh, "ls: %s: no such file or device\n", argv[1]);
        }
        return;
    }
    for (unsigned i = 0; i < g_nnodes; i++)
        shell_printf(sh, "%s\n", g_nodes[i]);
}

static void cmd_cat(struct shell *sh, int argc, char **argv)
{
    if (argc < 2) {
        shell_printf(sh, "usage: cat FILE\n");
        return;
    }
    int fd = ms_io_open(argv[1], O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) {
        shell_printf(sh, "cat: %s: %s\n", argv[1], ms_strerror(fd));
        return;
    }
    char buf[64];
    char last = '\n';
    unsigned total = 0;
    for (;;) {
        int n = ms_io_read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && n != MS_ERR_AGAIN)
                shell_printf(sh, "cat: %s: %s\n", argv[1], ms_strerror(n));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (buf[i] == '\n')
                shell_write(sh, "\r\n", 2);
            else
                shell_write(sh, &buf[i], 1);
        }
        last = buf[n - 1];
        total += (unsigned)n;
        if (total >= 4096u)
            break;                             /* a device that never ends */
    }
    if (last != '\n')
        shell_write(sh, "\r\n", 2);
    ms_io_close(fd);
}

static void cmd_echo(struct shell *sh, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        shell_printf(sh, i + 1 < argc ? "%s " : "%s", argv[i]);
    shell_printf(sh, "\n");
}

static int parse_num(const char *s, unsigned digits, unsigned *out)
{
    unsigned v = 0;
    for (unsigned i = 0; i < digits; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static void print_date(struct shell *sh)
{
    struct bsp_datetime dt;
    int r = bsp_rtc_get(&dt);
    if (r < 0) {
        shell_printf(sh, "date: RTC error %d\n", r);
        return;
    }
    shell_printf(sh, "%04u-%02u-%02u %02u:%02u:%02u\n", dt.year, dt.month, dt.day, dt.hour,
                 dt.min, dt.sec);
}

static void cmd_date(struct shell *sh, int argc, char **argv)
{
    if (argc == 1) {
        print_date(sh);
        return;
    }
    struct bsp_datetime dt;
    unsigned y, mo, d, h, mi, s;
    if (argc != 4 || strcmp(argv[1], "set") != 0 || strlen(argv[2]) != 10 || strlen(argv[3]) != 8 ||
        argv[2][4] != '-' || argv[2][7] != '-' || argv[3][2] != ':' || argv[3][5] != ':' ||
        parse_num(argv[2], 4, &y) || parse_num(argv[2] + 5, 2, &mo) || parse_num(argv[2] + 8, 2, &d) ||
        parse_num(argv[3], 2, &h) || parse_num(argv[3] + 3, 2, &mi) || parse_num(argv[3] + 6, 2, &s)) {
        shell_printf(sh, "usage: date [set YYYY-MM-DD HH:MM:SS]\n");
        return;
    }
    dt.year = (uint16_t)y;
    dt.month = (uint8_t)mo;
    dt.day = (uint8_t)d;
    dt.hour = (uint8_t)h;
    dt.min = (uint8_t)mi;
    dt.sec = (uint8_t)s;
    int r = bsp_rtc_set(&dt);
    if (r == BSP_ERR_INVAL) {
        shell_printf(sh, "date: invalid date or time\n");
        return;
    }
    if (r < 0) {
        shell_printf(sh, "date: RTC error %d\n", r);
        return;
    }
    print_date(sh);
}

static void cmd_uptime(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ms_tick_t t = ms_tick_get();
    uint32_t ms = (uint32_t)((uint64_t)t * 1000u / MS_TICK_HZ);
    shell_printf(sh, "up %u ticks (%u.%03u s)\n", (unsigned)t, (unsigned)(ms / 1000u), (unsigned)(ms % 1000u));
}

static void cmd_reboot(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    shell_printf(sh, "rebooting\n");
    ms_thread_sleep_ms(20);                    /* let the line leave the UART */
    bsp_reboot();
}

static const struct shell_cmd k_builtins[] = {
    {"help", "list commands", cmd_help},
    {"ps", "threads (name, process, priority, state, stack use), processes (memory, limits)", cmd_ps},
    {"free", "kernel heap and memory pool", cmd_free},
    {"events", "kernel event log: faults, refused images, process starts", cmd_events},
    {"ls", "[PATH] device nodes and mount points", cmd_ls},
    {"cat", "FILE print a file", cmd_cat},
    {"echo", "[ARGS] print the arguments", cmd_echo},
    {"date", "[set YYYY-MM-DD HH:MM:SS] show or set the RTC", cmd_date},
    {"uptime", "ticks since start", cmd_uptime},
    {"reboot", "software reset (SYSRESETREQ)", cmd_reboot},
    {0, 0, 0},
};

static void cmd_help(struct shell *sh, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (const struct shell_cmd *c = k_builtins; c->name; c++)
        shell_printf(sh, "  %-8s %s\n", c->name, c->help);
    if (sh->cfg->extra)
        for (const struct shell_cmd *c = sh->cfg->extra; c->name; c++)
            shell_printf(sh, "  %-8s %s\n", c->name, c->help);
}

static const struct shell_cmd *lookup(struct shell *sh, const char *name)
{
    for (const struct shell_cmd *c = k_builtins; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    if (sh->cfg->extra)
        for (const struct shell_cmd *c = sh->cfg->extra; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return 0;
}

static void execute(struct shell *sh)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    sh->line[sh->len] = 0;
    char *p = sh->line;
    while (*p && argc < MAX_ARGS) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    if (argc == 0)
        return;
    const struct shell_cmd *c = lookup(sh, argv[0]);
    if (!c) {
        shell_printf(sh, "msh: unknown command: %s (try help)\n", argv[0]);
        return;
    }
    c->fn(sh, argc, argv);
}

static void on_char(struct shell *sh, char c)
{
    char prev = sh->last;
    sh->last = c;
    if (c == '\n' && prev == '\r')
        return;                                /* CR LF counts once */
    if (c == '\r' || c == '\n') {
        shell_write(sh, "\r\n", 2);
        execute(sh);
        sh->len = 0;
        puts_raw(sh, PROMPT);
    } else if (c == 0x08 || c == 0x7F) {
        if (sh->len) {
            sh->len--;
            shell_write(sh, "\b \b", 3);
        }
    } else if (c == 0x03) {                    /* Ctrl-C drops the line */
        sh->len = 0;
        puts_raw(sh, "^C\r\n" PROMPT);
    } else if (c >= 0x20 && c < 0x7F) {
        if (sh->len < LINE_MAX - 1) {
            sh->line[sh->len++] = c;
            shell_write(sh, &c, 1);
        } else {
            shell_write(sh, "\a", 1);          /* line full */
        }
    }
}

static void shell_thread(void *arg)
{
    struct shell *sh = arg;
    if (sh->cfg->init)
        sh->cfg->init(sh);
    puts_raw(sh, PROMPT);
    char buf[16];
    for (;;) {
        int n = ms_io_read(sh->fd, buf, sizeof buf);
        if (n < 0) {
            ms_thread_sleep(10);
            continue;
        }
        for (int i = 0; i < n; i++)
            on_char(sh, buf[i]);
    }
}

int shell_start(const struct shell_cfg *cfg)
{
    struct shell *sh = &g_shell;
    memset(sh, 0, sizeof *sh);
    sh->cfg = cfg;
    sh->fd = ms_io_open(cfg->tty, O_RDWR, 0);
    if (sh->fd < 0)
        return sh->fd;
    return ms_thread_create("shell", shell_thread, sh, cfg->stack_size, cfg->prio, 0);
}
