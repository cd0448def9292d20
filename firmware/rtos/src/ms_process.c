/*
 * Processes as resource groups: a process owns a heap of 2^n KiB carved from
 * the memory pool (its thread stacks, message buffers and ms_malloc blocks),
 * its threads, kernel objects and open files, each bounded by the limits of
 * its static descriptor. Its threads run unprivileged; the descriptor's
 * permissions gate privileged calls and EEPROM address ranges. Ending a
 * process (exit, kill, or a fault in one of its threads) ends its threads,
 * closes its files, deletes its objects and returns its heap to the pool.
 */
#include <string.h>
#include "ms_kernel.h"
#include "soc.h"

static ms_process_t *proc_get(ms_handle_t pid)
{
    return ms_kobj_get(pid, MS_KOBJ_PROCESS);
}

ms_handle_t ms_process_create(const ms_process_desc_t *d)
{
    MS_SYSCALL(ms_handle_t, SYS_PROCESS_CREATE, d, 0, 0, 0);
    if (!d || !d->entry || !d->name || d->mem_order > 10u || d->prio >= MS_IDLE_PRIO ||
        !d->max_threads)
        return MS_ERR_INVAL;
    if (ms_process_find(d->name) >= 0)
        return MS_ERR_EXIST;
    unsigned slot = 0;
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < MS_MAX_PROCS; i++)
        if (!ms_procs[i]) {
            slot = i + 1u;
            break;
        }
    ms_unlock(s);
    if (!slot)
        return MS_ERR_LIMIT;
    ms_process_t *p = ms_kobj_zalloc(sizeof *p);
    if (!p)
        return MS_ERR_NOMEM;
    uint32_t bytes = 1024u << d->mem_order;
    s = ms_lock();
    p->mem = ms_heap_alloc(&ms_pool, bytes, 5);
    ms_unlock(s);
    if (!p->mem) {
        ms_kobj_mfree(p);
        return MS_ERR_NOMEM;
    }
    ms_heap_init(&p->heap, p->mem, bytes);
    p->desc = d;
    p->slot = (uint8_t)slot;
    unsigned i = 0;
    for (; d->name[i] && i < MS_NAME_MAX - 1u; i++)
        p->name[i] = d->name[i];
    p->name[i] = '\0';
    p->handle = ms_kobj_alloc(MS_KOBJ_PROCESS, p, 0);
    if (p->handle < 0) {
        ms_pool_free(p->mem);
        ms_kobj_mfree(p);
        return MS_ERR_NOMEM;
    }
    ms_procs[slot - 1u] = p;
    ms_handle_t t = ms_process_spawn_main(p);
    if (t < 0) {
        ms_procs[slot - 1u] = 0;
        ms_kobj_release(p->handle);
        ms_pool_free(p->mem);
        ms_kobj_mfree(p);
        return t;
    }
    return p->handle;
}

ms_handle_t ms_process_self(void)
{
    MS_SYSCALL(ms_handle_t, SYS_PROCESS_SELF, 0, 0, 0, 0);
    ms_process_t *p = ms_cur_proc();
    return p ? p->handle : 0;
}

ms_handle_t ms_process_find(const char *name)
{
    MS_SYSCALL(ms_handle_t, SYS_PROCESS_FIND, name, 0, 0, 0);
    if (!name)
        return MS_ERR_INVAL;
    for (unsigned i = 0; i < MS_MAX_PROCS; i++) {
        ms_process_t *p = ms_procs[i];
        if (p && !p->dying && strncmp(p->name, name, MS_NAME_MAX - 1u) == 0)
            return p->handle;
    }
    return MS_ERR_NOENT;
}

static void end_process(ms_process_t *p, int code)
{
    uint32_t s = ms_lock();
    if (!p->dying) {
        p->dying = 1;
        p->exit_code = code;
    }
    ms_process_kill_threads(p);
    ms_unlock(s);
}

int ms_process_kill(ms_handle_t pid)
{
    MS_SYSCALL(int, SYS_PROCESS_KILL, pid, 0, 0, 0);
    ms_process_t *p = proc_get(pid);
    if (!p || p->dying)
        return MS_ERR_SRCH;
    ms_process_t *me = ms_cur_proc();
    if (me && me != p && !(me->desc->perms & MS_PERM_PRIV))
        return MS_ERR_PERM;
    end_process(p, -1);
    return MS_OK;
}

void ms_process_exit(int code)
{
    if (ms_user_mode())
        ms_svc(SYS_PROCESS_EXIT, (uint32_t)code, 0, 0, 0);
    ms_process_t *p = ms_cur_proc();
    if (p)
        end_process(p, code);
    ms_thread_exit();
}

/* Fault handler: the process of the faulting thread ends (lock not held). */
void ms_process_fault_kill(ms_process_t *p) { end_process(p, -2); }

/* Idle's reaper freed one of p's threads. The last one releases everything. */
void ms_process_thread_gone(ms_process_t *p)
{
    uint32_t s = ms_lock();
    if (p->nrefs)
        p->nrefs--;
    int last_live = p->nthreads == 0;
    int cleanup = last_live && !p->cleaned;
    if (cleanup) {
        p->cleaned = 1;
        p->dying = 1;
    }
    int release = last_live && p->nrefs == 0;
    ms_unlock(s);
    if (cleanup) {
        ms_io_close_all(p);
        ms_kobj_destroy_all(p);
    }
    if (release) {
        s = ms_lock();
        ms_procs[p->slot - 1u] = 0;
        ms_kobj_release(p->handle);
        ms_heap_free(&ms_pool, p->mem);
        ms_heap_free(&ms_kheap, p);
        ms_unlock(s);
    }
}

int ms_process_check_eeprom(uint32_t addr, uint32_t len, int write)
{
    MS_SYSCALL(int, SYS_CHECK_EEPROM, addr, len, write, 0);
    ms_process_t *p = ms_cur_proc();
    if (!p)
        return MS_OK;
    uint32_t need = write ? MS_PERM_EEPROM_WR : MS_PERM_EEPROM_RD;
    if (!(p->desc->perms & need))
        return MS_ERR_PERM;
    for (unsigned i = 0; i < MS_EEPROM_RANGES; i++) {
        const ms_addr_range_t *r = &p->desc->eeprom[i];
        if (r->size && addr >= r->start && len <= r->size && addr - r->start <= r->size - len)
            return MS_OK;
    }
    return MS_ERR_PERM;
}

void *ms_malloc(size_t size)
{
    MS_SYSCALL(void *, SYS_MALLOC, size, 0, 0, 0);
    ms_process_t *p = ms_cur_proc();
    uint32_t s = ms_lock();
    void *m = ms_heap_alloc(p ? &p->heap : &ms_pool, (uint32_t)size, 6);
    ms_unlock(s);
    return m;
}

int ms_free(void *ptr)
{
    MS_SYSCALL(int, SYS_FREE, ptr, 0, 0, 0);
    if (!ptr)
        return MS_OK;
    ms_process_t *p = ms_cur_proc();
    uint32_t s = ms_lock();
    int r = ms_heap_free(p ? &p->heap : &ms_pool, ptr);
    ms_unlock(s);
    return r ? MS_ERR_FAULT : MS_OK;
}
