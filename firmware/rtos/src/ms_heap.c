#include "ms_heap.h"

#define ALIGN8(x) (((x) + 7u) & ~(__typeof__(x))7u)
#define MIN_BLOCK 16u

/* A free-list link that stays inside the heap. A process's heap lies in its own RAM window,
 * where the process can rewrite the block headers: the kernel follows a link only when it
 * points at a whole block of this heap, so a forged one makes an allocation fail instead of
 * steering the kernel's writes outside the window. */
static int blk_ok(const ms_heap_t *h, const ms_hblock_t *b)
{
    const uint8_t *p = (const uint8_t *)b;
    return p >= h->base && p < h->base + h->size && !((uintptr_t)p & 7u) && b->size >= MIN_BLOCK &&
           b->size <= (uint32_t)(h->base + h->size - p);
}

void ms_heap_init(ms_heap_t *h, void *mem, uint32_t size)
{
    uintptr_t a = ALIGN8((uintptr_t)mem);
    size -= (uint32_t)(a - (uintptr_t)mem);
    size &= ~7u;
    h->base = (uint8_t *)a;
    h->size = size;
    h->free_list = (ms_hblock_t *)a;
    h->free_list->size = size;
    h->free_list->tag = 0;
    h->free_list->next_free = 0;
    h->free_bytes = h->min_free = size;
}

void *ms_heap_alloc(ms_heap_t *h, uint32_t size, uint32_t tag)
{
    if (!size || size > h->size)
        return 0;
    uint32_t need = ALIGN8(size + MS_HEAP_HDR);
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;
    ms_hblock_t **link = &h->free_list;
    for (ms_hblock_t *b = *link; b; link = &b->next_free, b = *link) {
        if (!blk_ok(h, b))
            return 0;
        if (b->size < need)
            continue;
        if (b->size - need >= MIN_BLOCK) {
            ms_hblock_t *rest = (ms_hblock_t *)((uint8_t *)b + need);
            rest->size = b->size - need;
            rest->tag = 0;
            rest->next_free = b->next_free;
            *link = rest;
            b->size = need;
        } else {
            *link = b->next_free;
        }
        b->tag = tag ? tag : 1u;
        h->free_bytes -= b->size;
        if (h->free_bytes < h->min_free)
            h->min_free = h->free_bytes;
        return (uint8_t *)b + MS_HEAP_HDR;
    }
    return 0;
}

void *ms_heap_alloc_aligned(ms_heap_t *h, uint32_t size, uint32_t align, uint32_t tag)
{
    if (!size || size > h->size || align < 8u || (align & (align - 1u)))
        return 0;
    uint32_t need = ALIGN8(size + MS_HEAP_HDR);
    ms_hblock_t **link = &h->free_list;
    for (ms_hblock_t *b = *link; b; link = &b->next_free, b = *link) {
        if (!blk_ok(h, b))
            return 0;
        uintptr_t start = (uintptr_t)b, end = start + b->size;
        uintptr_t payload = (start + MS_HEAP_HDR + align - 1u) & ~(uintptr_t)(align - 1u);
        /* a leading remainder must be able to stand alone as a free block */
        while (payload - MS_HEAP_HDR != start && payload - MS_HEAP_HDR - start < MIN_BLOCK)
            payload += align;
        if (payload - MS_HEAP_HDR + need > end)
            continue;
        ms_hblock_t *a = (ms_hblock_t *)(payload - MS_HEAP_HDR);
        if (a != b) { /* keep the leading part free, in place in the list */
            b->size = (uint32_t)((uintptr_t)a - start);
            link = &b->next_free;
            a->next_free = b->next_free;
        } else {
            a->next_free = b->next_free;
        }
        uint32_t asize = (uint32_t)(end - (uintptr_t)a);
        if (asize - need >= MIN_BLOCK) {
            ms_hblock_t *rest = (ms_hblock_t *)((uint8_t *)a + need);
            rest->size = asize - need;
            rest->tag = 0;
            rest->next_free = a->next_free;
            *link = rest;
            asize = need;
        } else {
            *link = a->next_free;
        }
        a->size = asize;
        a->tag = tag ? tag : 1u;
        h->free_bytes -= asize;
        if (h->free_bytes < h->min_free)
            h->min_free = h->free_bytes;
        return (void *)payload;
    }
    return 0;
}

int ms_heap_owns(const ms_heap_t *h, const void *ptr)
{
    const uint8_t *p = ptr;
    return p >= h->base + MS_HEAP_HDR && p < h->base + h->size;
}

uint32_t ms_heap_block_size(const void *ptr)
{
    const ms_hblock_t *b = (const ms_hblock_t *)((const uint8_t *)ptr - MS_HEAP_HDR);
    return b->size - MS_HEAP_HDR;
}

int ms_heap_free(ms_heap_t *h, void *ptr)
{
    if (!ptr || !ms_heap_owns(h, ptr) || ((uintptr_t)ptr & 7u))
        return -1;
    ms_hblock_t *b = (ms_hblock_t *)((uint8_t *)ptr - MS_HEAP_HDR);
    if (!b->tag || b->size < MIN_BLOCK || (uint8_t *)b + b->size > h->base + h->size)
        return -1;
    b->tag = 0;
    h->free_bytes += b->size;
    /* Insert in address order, merging with neighbours. */
    ms_hblock_t *prev = 0, *cur = h->free_list;
    while (cur && cur < b) {
        if (!blk_ok(h, cur))
            return -1;
        prev = cur;
        cur = cur->next_free;
    }
    if (cur && !blk_ok(h, cur))
        return -1;
    b->next_free = cur;
    if (cur && (uint8_t *)b + b->size == (uint8_t *)cur) {
        b->size += cur->size;
        b->next_free = cur->next_free;
    }
    if (prev && (uint8_t *)prev + prev->size == (uint8_t *)b) {
        prev->size += b->size;
        prev->next_free = b->next_free;
    } else if (prev) {
        prev->next_free = b;
    } else {
        h->free_list = b;
    }
    return 0;
}

void ms_heap_stats(const ms_heap_t *h, uint32_t *used_blocks, uint32_t *free_blocks,
                   uint32_t *largest_free)
{
    uint32_t used = 0, nfree = 0, largest = 0;
    for (uint8_t *p = h->base; p < h->base + h->size;) {
        const ms_hblock_t *b = (const ms_hblock_t *)p;
        if (b->tag) {
            used++;
        } else {
            nfree++;
            if (b->size > largest)
                largest = b->size;
        }
        if (b->size < MIN_BLOCK)
            break; /* corrupt: stop walking */
        p += b->size;
    }
    *used_blocks = used;
    *free_blocks = nfree;
    *largest_free = largest > MS_HEAP_HDR ? largest - MS_HEAP_HDR : 0;
}
