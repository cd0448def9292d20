/*
 * msh: a small console shell on an RTOS tty (e.g. /dev/ttyS1). Line editing with backspace,
 * prompt "msh> ", built-in commands help, ps, free, ls, cat, echo, date, uptime, reboot, and
 * commands a program adds with its own table.
 */
#ifndef SHELL_H
#define SHELL_H

#include <stdint.h>

struct shell;
typedef void (*shell_fn_t)(struct shell *sh, int argc, char **argv);

struct shell_cmd {
    const char *name;
    const char *help;
    shell_fn_t fn;
};

struct shell_cfg {
    const char *tty;                     /* device path, e.g. "/dev/ttyS1" */
    unsigned prio;
    uint32_t stack_size;
    const struct shell_cmd *extra;       /* NULL-name terminated, may be NULL */
    void (*init)(struct shell *sh);      /* runs in the shell thread before the first prompt */
};

/* Starts the shell thread ("shell"); returns its handle or an MS_ERR_* code. */
int shell_start(const struct shell_cfg *cfg);
int shell_printf(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int shell_write(struct shell *sh, const void *buf, unsigned len);

/* Nodes `ls` lists (the IO system has no directory listing): the BSP reports the ttys it
 * registers; programs add their own devices and mount points. */
void shell_note_node(const char *path);

#endif
