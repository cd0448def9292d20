/*
 * Deadline list: nodes sorted by an absolute tick deadline, compared
 * wrap-safely ((int32_t)(a - b) < 0), FIFO among equal deadlines. Holds the
 * timeouts of sleeping/blocked threads and the soft timers.
 */
#ifndef MS_TLIST_H
#define MS_TLIST_H

#include <stdint.h>

typedef struct ms_tnode {
    struct ms_tnode *next, *prev;
    uint32_t deadline;
} ms_tnode_t;

typedef struct {
    ms_tnode_t head;   /* sentinel: head.next = earliest */
} ms_tlist_t;

static inline int ms_tick_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

void ms_tlist_init(ms_tlist_t *l);
void ms_tnode_init(ms_tnode_t *n);
static inline int ms_tnode_linked(const ms_tnode_t *n) { return n->next != 0; }
void ms_tlist_insert(ms_tlist_t *l, ms_tnode_t *n, uint32_t deadline);
void ms_tlist_remove(ms_tnode_t *n);
/* Earliest node, or 0. */
static inline ms_tnode_t *ms_tlist_first(ms_tlist_t *l) { return l->head.next == &l->head ? 0 : l->head.next; }
/* Unlinks and returns the earliest node whose deadline is <= now, or 0. */
ms_tnode_t *ms_tlist_pop_expired(ms_tlist_t *l, uint32_t now);

#endif
