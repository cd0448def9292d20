/*
 * Ring buffers: a byte ring for pipes (one slot never wasted: a count is kept)
 * and a fixed-size message ring for message queues. No locking here; callers
 * hold the kernel lock.
 */
#ifndef MS_RING_H
#define MS_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;
    uint32_t size, head, count;   /* head = next byte to read */
} ms_ring_t;

void ms_ring_init(ms_ring_t *r, void *buf, uint32_t size);
uint32_t ms_ring_put(ms_ring_t *r, const void *data, uint32_t len);  /* bytes stored */
uint32_t ms_ring_get(ms_ring_t *r, void *out, uint32_t len);         /* bytes taken */
static inline uint32_t ms_ring_used(const ms_ring_t *r) { return r->count; }
static inline uint32_t ms_ring_space(const ms_ring_t *r) { return r->size - r->count; }

typedef struct {
    uint8_t *buf;
    uint32_t msg_size, capacity, head, count;
} ms_msgring_t;

void ms_msgring_init(ms_msgring_t *q, void *buf, uint32_t msg_size, uint32_t capacity);
int ms_msgring_push(ms_msgring_t *q, const void *msg);  /* 0 or -1 when full */
int ms_msgring_pop(ms_msgring_t *q, void *msg);         /* 0 or -1 when empty */

#endif
