/*
 * Processes as resource groups: a process owns a RAM window of 2^n KiB carved
 * from the memory pool, or fixed by its image (ms_loader), which holds its
 * heap (its thread stacks, message buffers and ms_malloc blocks); with the MPU
 * the window is one region and nothing else in RAM is reachable (ms_mpu.c);
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

/* Another live process's window overlapping [base, base+size)? Lock held. */
static int window_taken(uint32_t base, uint32_t size)
{
    for (unsigned i = 0; i < MS_MAX_PROCS; i++) {
        const ms_process_t *q = ms_procs[i];
        if (q && base < q->win_base + q->win_size && q->win_base < base + size)
            return 1;
    }
    return 0;
}

ms_handle_t ms_process_create(const ms_process_desc_t *d)
{
    MS_SYSCALL(ms_handle_t, SYS_PROCESS_CREATE, d, 0, 0, 0);
    if (!d || !d->entry || !d->name || d->mem_order > 10u || d->prio >= MS_IDLE_PRIO ||
        !d->max_threads)
        return MS_ERR_INVAL;
    ms_process_t *me = ms_cur_proc();
    if (me && ms_ustr(d->name) != MS_OK)
        return MS_ERR_FAULT;
    if (me && d->mem_base)
        return MS_ERR_PERM; /* only the kernel places fixed windows (it checked the image) */
    uint32_t bytes = 1024u << d->mem_order;
    if (d->mem_base) {
        bytes = d->mem_size;
        if (bytes < MS_MPU_MIN_WINDOW || (bytes & (bytes - 1u)) || (d->mem_base & (bytes - 1u)) ||
            d->mem_static > bytes - MS_STACK_MIN)
            return MS_ERR_INVAL;
    } else if (ms_isolation_enabled()) {
        bytes = ms_mpu_window_size(bytes);
    }
    if (ms_process_find(d->name) >= 0)
        return MS_ERR_EXIST;
    unsigned slot = 0;
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < MS_MAX_PROCS; i++)
        if (!ms_procs[i]) {
            slot = i + 1u;
            break;
        }
    int taken = d->mem_base && window_taken(d->mem_base, bytes);
    ms_unlock(s);
    if (!slot)
        return MS_ERR_LIMIT;
    if (taken)
        return MS_ERR_BUSY;
    ms_process_t *p = ms_kobj_zalloc(sizeof *p);
    if (!p)
        return MS_ERR_NOMEM;
    p->desc_copy = *d;
    if (me) /* a process hands on at most its own permissions */
        p->desc_copy.perms &= me->desc->perms;
    p->desc = &p->desc_copy;
    if (d->mem_base) {
        p->win_base = d->mem_base;
    } else {
        s = ms_lock();
        p->mem = ms_isolation_enabled() ? ms_heap_alloc_aligned(&ms_pool, bytes, bytes, 5)
                                        : ms_heap_alloc(&ms_pool, bytes, 5);
        ms_unlock(s);
        if (!p->mem) {
            ms_kobj_mfree(p);
            return MS_ERR_NOMEM;
        }
        p->win_base = (uint32_t)(uintptr_t)p->mem;
    }
    p->win_size = bytes;
    uint32_t stat = (d->mem_static + 7u) & ~7u;
    ms_heap_init(&p->heap, (void *)(uintptr_t)(p->win_base + stat), bytes - stat);
    p->slot = (uint8_t)slot;
    unsigned i = 0;
    for (; d->name[i] && i < MS_NAME_MAX - 1u; i++)
        p->name[i] = d->name[i];
    p->name[i] = '\0';
    p->desc_copy.name = p->name;
    p->handle = ms_kobj_alloc(MS_KOBJ_PROCESS, p, 0);
    if (p->handle < 0) {
        if (p->mem)
            ms_pool_free(p->mem);
        ms_kobj_mfree(p);
        return MS_ERR_NOMEM;
    }
    ms_procs[slot - 1u] = p;
    ms_handle_t t = ms_process_spawn_main(p);
    if (t < 0) {
        ms_procs[slot - 1u] = 0;
        ms_kobj_release(p->handle);
        if (p->mem)
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
    if (ms_ustr(name) != MS_OK)
        return MS_ERR_FAULT;
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
        ms_shm_process_gone(p->handle);
    }
    if (release) {
        s = ms_lock();
        ms_procs[p->slot - 1u] = 0;
        ms_kobj_release(p->handle);
        if (p->mem)
            ms_heap_free(&ms_pool, p->mem);
        ms_mpu_forget(p);
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

int ms_proc_list(ms_proc_info_t *out, int max)
{
    MS_SYSCALL(int, SYS_PROC_LIST, out, max, 0, 0);
    if (max < 0 || (unsigned)max > MS_MAX_PROCS)
        max = max < 0 ? 0 : (int)MS_MAX_PROCS;
    if (ms_uaccess(out, (size_t)max * sizeof *out, 1) != MS_OK)
        return MS_ERR_FAULT;
    int n = 0;
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < MS_MAX_PROCS && n < max; i++) {
        const ms_process_t *p = ms_procs[i];
        if (!p || p->cleaned)
            continue;
        ms_proc_info_t *o = &out[n++];
        const ms_process_desc_t *d = p->desc;
        memcpy(o->name, p->name, MS_NAME_MAX);
        o->pid = p->handle;
        o->mem_base = p->win_base;
        o->mem_size = p->win_size;
        o->mem_used = p->win_size - p->heap.free_bytes;
        o->perms = d->perms;
        o->prio = d->prio;
        o->isolated = (uint8_t)ms_isolation_enabled();
        o->nthreads = p->nthreads;
        o->max_threads = d->max_threads;
        o->nkobjs = p->nkobjs;
        o->max_kobjs = d->max_kobjs;
        o->nfiles = p->nfiles;
        o->max_files = d->max_files;
    }
    ms_unlock(s);
    return n;
}
