#include "ms_tlist.h"

void ms_tlist_init(ms_tlist_t *l)
{
    l->head.next = l->head.prev = &l->head;
    l->head.deadline = 0;
}

void ms_tnode_init(ms_tnode_t *n) { n->next = n->prev = 0; }

void ms_tlist_insert(ms_tlist_t *l, ms_tnode_t *n, uint32_t deadline)
{
    n->deadline = deadline;
    /* Walk from the end: new deadlines tend to be the latest. */
    ms_tnode_t *p = l->head.prev;
    while (p != &l->head && ms_tick_before(deadline, p->deadline))
        p = p->prev;
    n->prev = p;
    n->next = p->next;
    p->next->prev = n;
    p->next = n;
}

void ms_tlist_remove(ms_tnode_t *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = 0;
}

ms_tnode_t *ms_tlist_pop_expired(ms_tlist_t *l, uint32_t now)
{
    ms_tnode_t *n = ms_tlist_first(l);
    if (!n || ms_tick_before(now, n->deadline))
        return 0;
    ms_tlist_remove(n);
    return n;
}
