/*
 * Kernel event log: a ring of the last MS_EVLOG_SIZE records (process faults,
 * refused images, process starts) with their tick, for the console (`events`)
 * and for a later part to store in non-volatile memory. Safe from fault
 * handlers: a record is written with interrupts masked and never allocates.
 */
#include <string.h>
#include "ms_kernel.h"

static ms_evlog_rec_t g_log[MS_EVLOG_SIZE];
static uint32_t g_seq;

void ms_evlog_add(int kind, int code, const char *name, uint32_t a, uint32_t b)
{
    uint32_t s = ms_lock();
    ms_evlog_rec_t *r = &g_log[g_seq % MS_EVLOG_SIZE];
    r->seq = ++g_seq;
    r->tick = ms_tick_now();
    r->kind = (uint16_t)kind;
    r->code = (uint16_t)code;
    r->a = a;
    r->b = b;
    unsigned i = 0;
    for (; name && name[i] && i < MS_NAME_MAX - 1u; i++)
        r->name[i] = name[i];
    memset(r->name + i, 0, MS_NAME_MAX - i);
    ms_unlock(s);
}

int ms_evlog_read(ms_evlog_rec_t *out, int max)
{
    MS_SYSCALL(int, SYS_EVLOG_READ, out, max, 0, 0);
    if (max < 0 || (max && (unsigned)max > MS_EVLOG_SIZE))
        return MS_ERR_INVAL;
    if (ms_uaccess(out, (size_t)max * sizeof *out, 1) != MS_OK)
        return MS_ERR_FAULT;
    uint32_t s = ms_lock();
    uint32_t held = g_seq < MS_EVLOG_SIZE ? g_seq : MS_EVLOG_SIZE;
    int n = 0;
    for (uint32_t seq = g_seq - held + 1u; seq <= g_seq && n < max; seq++)
        out[n++] = g_log[(seq - 1u) % MS_EVLOG_SIZE];
    ms_unlock(s);
    return n;
}

const char *ms_evlog_kind_name(int kind)
{
    switch (kind) {
    case MS_EV_FAULT: return "fault";
    case MS_EV_IMAGE_REFUSED: return "image-refused";
    case MS_EV_PROCESS_START: return "process-start";
    default: return "?";
    }
}
