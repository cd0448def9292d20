#include "ms_ring.h"
#include <string.h>

void ms_ring_init(ms_ring_t *r, void *buf, uint32_t size)
{
    r->buf = buf;
    r->size = size;
    r->head = r->count = 0;
}

uint32_t ms_ring_put(ms_ring_t *r, const void *data, uint32_t len)
{
    const uint8_t *src = data;
    uint32_t n = ms_ring_space(r);
    if (len < n)
        n = len;
    uint32_t tail = r->head + r->count;
    if (tail >= r->size)
        tail -= r->size;
    uint32_t first = r->size - tail; /* contiguous room before the wrap */
    if (first > n)
        first = n;
    memcpy(r->buf + tail, src, first);
    if (n > first) /* the part after the wrap */
        memcpy(r->buf, src + first, n - first);
    r->count += n;
    return n;
}

uint32_t ms_ring_get(ms_ring_t *r, void *out, uint32_t len)
{
    uint8_t *dst = out;
    uint32_t n = r->count < len ? r->count : len;
    uint32_t first = r->size - r->head;
    if (first > n)
        first = n;
    memcpy(dst, r->buf + r->head, first);
    if (n > first) /* the part after the wrap */
        memcpy(dst + first, r->buf, n - first);
    r->head += n;
    if (r->head >= r->size)
        r->head -= r->size;
    r->count -= n;
    return n;
}

void ms_msgring_init(ms_msgring_t *q, void *buf, uint32_t msg_size, uint32_t capacity)
{
    q->buf = buf;
    q->msg_size = msg_size;
    q->capacity = capacity;
    q->head = q->count = 0;
}

int ms_msgring_push(ms_msgring_t *q, const void *msg)
{
    if (q->count == q->capacity)
        return -1;
    uint32_t slot = q->head + q->count;
    if (slot >= q->capacity)
        slot -= q->capacity;
    memcpy(q->buf + slot * q->msg_size, msg, q->msg_size);
    q->count++;
    return 0;
}

int ms_msgring_pop(ms_msgring_t *q, void *msg)
{
    if (!q->count)
        return -1;
    memcpy(msg, q->buf + q->head * q->msg_size, q->msg_size);
    if (++q->head == q->capacity)
        q->head = 0;
    q->count--;
    return 0;
}
