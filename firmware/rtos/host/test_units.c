/*
 * Host unit tests of the kernel's data structures (the same sources the
 * firmware links): ready bitmap, message ring, pipe byte ring, VFS path
 * lookup, deadline list ordering, heap. Prints "ok <name>" per test and
 * "FAIL <file>:<line> <expr>" on the first failure (exit status 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ms_bitmap.h"
#include "ms_heap.h"
#include "ms_path.h"
#include "ms_ring.h"
#include "ms_tlist.h"

#define T(cond) do { if (!(cond)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

static void test_bitmap(void)
{
    ms_bitmap_t b = {{0, 0}};
    T(ms_bitmap_highest(&b) == -1);
    for (unsigned p = 0; p < 64; p++) {  /* every level alone */
        ms_bitmap_set(&b, p);
        T(ms_bitmap_highest(&b) == (int)p);
        T(ms_bitmap_test(&b, p));
        ms_bitmap_clear(&b, p);
        T(ms_bitmap_highest(&b) == -1);
    }
    for (int p = 63; p >= 0; p--) {      /* filling from the bottom: the newest is the most urgent */
        ms_bitmap_set(&b, (unsigned)p);
        T(ms_bitmap_highest(&b) == p);
    }
    for (unsigned p = 0; p < 63; p++) {  /* emptying from the top */
        ms_bitmap_clear(&b, p);
        T(ms_bitmap_highest(&b) == (int)p + 1);
    }
    ms_bitmap_t c = {{0, 0}};
    ms_bitmap_set(&c, 40);
    ms_bitmap_set(&c, 33);
    ms_bitmap_set(&c, 63);
    T(ms_bitmap_highest(&c) == 33);
    ms_bitmap_set(&c, 31);
    T(ms_bitmap_highest(&c) == 31);
    puts("ok bitmap");
}

static void test_msgring(void)
{
    uint32_t buf[4 * 3];
    ms_msgring_t q;
    ms_msgring_init(&q, buf, 12, 4);
    uint32_t m[3], out[3];
    T(ms_msgring_pop(&q, out) == -1);
    uint32_t next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {   /* wraps many times, FIFO order */
        int n = 1 + round % 4;
        for (int i = 0; i < n; i++) {
            m[0] = next_in; m[1] = ~next_in; m[2] = next_in * 7u;
            T(ms_msgring_push(&q, m) == 0);
            next_in++;
        }
        if (n == 4) {
            T(ms_msgring_push(&q, m) == -1);     /* full */
            T(q.count == 4);
        }
        for (int i = 0; i < n; i++) {
            T(ms_msgring_pop(&q, out) == 0);
            T(out[0] == next_out && out[1] == ~next_out && out[2] == next_out * 7u);
            next_out++;
        }
        T(ms_msgring_pop(&q, out) == -1);
    }
    puts("ok msgring");
}

static void test_pipe_ring(void)
{
    uint8_t buf[10], out[32];
    ms_ring_t r;
    ms_ring_init(&r, buf, sizeof buf);
    T(ms_ring_space(&r) == 10 && ms_ring_used(&r) == 0);
    T(ms_ring_put(&r, "abcdefg", 7) == 7);
    T(ms_ring_get(&r, out, 4) == 4 && memcmp(out, "abcd", 4) == 0);
    T(ms_ring_put(&r, "hijklmnopq", 10) == 7);   /* only the room left; wraps */
    T(ms_ring_space(&r) == 0 && ms_ring_used(&r) == 10);
    T(ms_ring_put(&r, "x", 1) == 0);
    T(ms_ring_get(&r, out, sizeof out) == 10 && memcmp(out, "efghijklmn", 10) == 0);
    T(ms_ring_get(&r, out, 1) == 0);
    /* byte stream through a small ring in odd chunks keeps order */
    uint8_t src[1000], dst[1000];
    for (int i = 0; i < 1000; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    size_t in = 0, got = 0;
    while (got < 1000) {
        in += ms_ring_put(&r, src + in, (uint32_t)((in + 3 < 1000) ? 3 : 1000 - in));
        got += ms_ring_get(&r, dst + got, 2);
    }
    T(memcmp(src, dst, 1000) == 0);
    puts("ok pipe_ring");
}

static void test_path(void)
{
    char out[64];
    T(ms_path_normalize("/dev//ttyS1/", out, sizeof out) > 0 && strcmp(out, "/dev/ttyS1") == 0);
    T(ms_path_normalize("/nor/./logs//a.txt", out, sizeof out) > 0 && strcmp(out, "/nor/logs/a.txt") == 0);
    T(ms_path_normalize("/", out, sizeof out) == 1 && strcmp(out, "/") == 0);
    T(ms_path_normalize("dev/tty", out, sizeof out) == -1);     /* relative */
    T(ms_path_normalize("/nor/../etc", out, sizeof out) == -1); /* no escaping a mount */
    T(ms_path_normalize("/a/very/long/path/name", out, 8) == -1);

    struct ms_io_node tab[6];
    memset(tab, 0, sizeof tab);
    strcpy(tab[0].path, "/dev/ttyS1"); tab[0].kind = MS_NODE_DEVICE;
    strcpy(tab[1].path, "/nor");       tab[1].kind = MS_NODE_MOUNT;
    strcpy(tab[2].path, "/nor/boot");  tab[2].kind = MS_NODE_MOUNT;
    strcpy(tab[3].path, "/dev/pipe0"); tab[3].kind = MS_NODE_DEVICE;
    strcpy(tab[5].path, "/dev/gone");  tab[5].kind = MS_NODE_FREE;
    const char *rest = 0;
    T(ms_path_lookup(tab, 6, "/dev/ttyS1", &rest) == &tab[0]);
    T(ms_path_lookup(tab, 6, "/dev/ttyS", &rest) == 0);          /* no prefix match on devices */
    T(ms_path_lookup(tab, 6, "/dev/ttyS1/x", &rest) == 0);
    T(ms_path_lookup(tab, 6, "/dev/gone", &rest) == 0);          /* free slots never match */
    T(ms_path_lookup(tab, 6, "/nor", &rest) == &tab[1] && strcmp(rest, "") == 0);
    T(ms_path_lookup(tab, 6, "/nor/logs/a.txt", &rest) == &tab[1] && strcmp(rest, "logs/a.txt") == 0);
    T(ms_path_lookup(tab, 6, "/norx/a", &rest) == 0);            /* mount boundary is a '/' */
    T(ms_path_lookup(tab, 6, "/nor/boot/img.bin", &rest) == &tab[2] && strcmp(rest, "img.bin") == 0);
    T(ms_path_lookup(tab, 6, "/nor/bootx", &rest) == &tab[1] && strcmp(rest, "bootx") == 0);
    strcpy(tab[4].path, "/"); tab[4].kind = MS_NODE_MOUNT;         /* a root mount catches the rest */
    T(ms_path_lookup(tab, 6, "/etc/passwd", &rest) == &tab[4] && strcmp(rest, "etc/passwd") == 0);
    T(ms_path_lookup(tab, 6, "/nor/x", &rest) == &tab[1]);       /* longest prefix still wins */
    puts("ok path");
}

static void test_tlist(void)
{
    ms_tlist_t l;
    ms_tnode_t n[8];
    ms_tlist_init(&l);
    for (int i = 0; i < 8; i++)
        ms_tnode_init(&n[i]);
    static const uint32_t when[8] = {50, 10, 30, 10, 70, 20, 30, 5};
    for (int i = 0; i < 8; i++)
        ms_tlist_insert(&l, &n[i], when[i]);
    static const int order[8] = {7, 1, 3, 5, 2, 6, 0, 4};   /* by deadline, FIFO among equals */
    ms_tnode_t *p = ms_tlist_first(&l);
    for (int i = 0; i < 8; i++, p = p->next)
        T(p == &n[order[i]]);
    T(ms_tlist_pop_expired(&l, 4) == 0);
    T(ms_tlist_pop_expired(&l, 10) == &n[7]);
    T(ms_tlist_pop_expired(&l, 10) == &n[1]);
    T(ms_tlist_pop_expired(&l, 10) == &n[3]);
    T(ms_tlist_pop_expired(&l, 10) == 0);
    ms_tlist_remove(&n[2]);                                  /* cancel one */
    T(!ms_tnode_linked(&n[2]));
    ms_tlist_remove(&n[2]);                                  /* twice is harmless */
    T(ms_tlist_pop_expired(&l, 100) == &n[5]);
    T(ms_tlist_pop_expired(&l, 100) == &n[6]);
    T(ms_tlist_pop_expired(&l, 100) == &n[0]);
    T(ms_tlist_pop_expired(&l, 100) == &n[4]);
    T(ms_tlist_first(&l) == 0);
    /* deadlines across the 32-bit tick wrap keep their order */
    ms_tlist_insert(&l, &n[0], 0x00000010u);
    ms_tlist_insert(&l, &n[1], 0xFFFFFFF0u);
    ms_tlist_insert(&l, &n[2], 0x00000001u);
    T(ms_tlist_first(&l) == &n[1]);
    T(ms_tlist_pop_expired(&l, 0xFFFFFFF5u) == &n[1]);
    T(ms_tlist_pop_expired(&l, 0xFFFFFFF5u) == 0);           /* 0x1 is after the wrap: not due */
    T(ms_tlist_pop_expired(&l, 0x00000002u) == &n[2]);
    T(ms_tlist_pop_expired(&l, 0x00000020u) == &n[0]);
    puts("ok tlist");
}

static void test_heap(void)
{
    static uint64_t mem[512];
    ms_heap_t h;
    ms_heap_init(&h, mem, sizeof mem);
    uint32_t total = h.free_bytes, used, nfree, largest;
    void *a = ms_heap_alloc(&h, 100, 1), *b = ms_heap_alloc(&h, 200, 1), *c = ms_heap_alloc(&h, 300, 1);
    T(a && b && c && ((uintptr_t)a & 7u) == 0 && ((uintptr_t)b & 7u) == 0);
    T(ms_heap_block_size(a) >= 100);
    T(ms_heap_alloc(&h, 8192, 1) == 0);                      /* bigger than the heap */
    T(ms_heap_free(&h, b) == 0);
    T(ms_heap_free(&h, b) == -1);                            /* double free refused */
    T(ms_heap_free(&h, (char *)a + 4) == -1);                /* not a block start */
    void *d = ms_heap_alloc(&h, 150, 1);
    T(d == b);                                               /* first fit reuses the hole */
    ms_heap_free(&h, a);
    ms_heap_free(&h, c);
    ms_heap_free(&h, d);
    ms_heap_stats(&h, &used, &nfree, &largest);
    T(used == 0 && nfree == 1 && h.free_bytes == total);     /* coalesced back to one block */
    T(h.min_free < total);
    puts("ok heap");
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    test_bitmap();
    test_msgring();
    test_pipe_ring();
    test_path();
    test_tlist();
    test_heap();
    puts("ALL PASSED");
    return 0;
}
