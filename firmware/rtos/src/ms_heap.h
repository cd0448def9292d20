/*
 * First-fit heap with address-ordered free list and coalescing on free.
 * Blocks carry an 8-byte header (size, owner tag); payloads are 8-byte aligned.
 * Used for the kernel heap (kernel objects), the memory pool (stacks, process
 * heaps, IPC buffers) and each process heap.
 */
#ifndef MS_HEAP_H
#define MS_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_hblock {
    uint32_t size;              /* whole block in bytes, header included */
    uint32_t tag;               /* 0 = free; else owner tag */
    struct ms_hblock *next_free; /* only in free blocks (payload area) */
} ms_hblock_t;

typedef struct {
    uint8_t *base;
    uint32_t size;
    uint32_t free_bytes, min_free;
    ms_hblock_t *free_list;
} ms_heap_t;

#define MS_HEAP_HDR 8u

void ms_heap_init(ms_heap_t *h, void *mem, uint32_t size);
void *ms_heap_alloc(ms_heap_t *h, uint32_t size, uint32_t tag);
/* A payload of `size` bytes at an address aligned to `align` (a power of two >= 8). */
void *ms_heap_alloc_aligned(ms_heap_t *h, uint32_t size, uint32_t align, uint32_t tag);
int ms_heap_free(ms_heap_t *h, void *ptr);  /* 0, or -1 when ptr is not a live block */
int ms_heap_owns(const ms_heap_t *h, const void *ptr);
uint32_t ms_heap_block_size(const void *ptr); /* payload bytes */
void ms_heap_stats(const ms_heap_t *h, uint32_t *used_blocks, uint32_t *free_blocks,
                   uint32_t *largest_free);

#endif
