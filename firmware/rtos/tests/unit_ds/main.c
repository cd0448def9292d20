/*
 * On-target unit tests of the kernel's data structures (mstest): the units
 * rtos/host/test_units.c checks on the host, here compiled for and run on the
 * target core: ready bitmap, message ring, pipe byte ring, VFS paths,
 * deadline list, heap. One result line per case on the console.
 */
#include <string.h>
#include "mstest.h"
#include "mstest_rtos.h"
#include "rtos_test.h"
#include "../../src/ms_bitmap.h"
#include "../../src/ms_heap.h"
#include "../../src/ms_path.h"
#include "../../src/ms_ring.h"
#include "../../src/ms_tlist.h"

MSTEST(bitmap, highest_is_the_most_urgent)
{
    ms_bitmap_t b = {{0, 0}};
    MST_EQ(ms_bitmap_highest(&b), -1);
    for (unsigned p = 0; p < 64; p++) {      /* every level alone, both words */
        ms_bitmap_set(&b, p);
        MST_EQ(ms_bitmap_highest(&b), p);
        MST_TRUE(ms_bitmap_test(&b, p));
        ms_bitmap_clear(&b, p);
        MST_EQ(ms_bitmap_highest(&b), -1);
    }
    ms_bitmap_set(&b, 40);
    ms_bitmap_set(&b, 33);
    MST_EQ(ms_bitmap_highest(&b), 33);
    ms_bitmap_set(&b, 31);
    MST_EQ(ms_bitmap_highest(&b), 31);
}

MSTEST(msgring, fifo_through_wraps_and_full)
{
    uint32_t buf[4 * 3], m[3], out[3], next_in = 0, next_out = 0;
    ms_msgring_t q;
    ms_msgring_init(&q, buf, 12, 4);
    MST_EQ(ms_msgring_pop(&q, out), -1);
    for (int round = 0; round < 20; round++) {
        int n = 1 + round % 4;
        for (int i = 0; i < n; i++, next_in++) {
            m[0] = next_in; m[1] = ~next_in; m[2] = next_in * 7u;
            MST_EQ(ms_msgring_push(&q, m), 0);
        }
        if (n == 4)
            MST_EQ(ms_msgring_push(&q, m), -1);
        for (int i = 0; i < n; i++, next_out++) {
            MST_EQ(ms_msgring_pop(&q, out), 0);
            MST_EQ(out[0], next_out);
            MST_EQ(out[1], ~next_out);
        }
    }
}

MSTEST(ring, put_get_wraps_and_refuses_when_full)
{
    uint8_t buf[10], out[16];
    ms_ring_t r;
    ms_ring_init(&r, buf, sizeof buf);
    MST_EQ(ms_ring_put(&r, "abcdefg", 7), 7);
    MST_EQ(ms_ring_get(&r, out, 4), 4);
    MST_MEM_EQ(out, "abcd", 4);
    MST_EQ(ms_ring_put(&r, "hijklmnopq", 10), 7);   /* only the room left; wraps */
    MST_EQ(ms_ring_space(&r), 0);
    MST_EQ(ms_ring_put(&r, "x", 1), 0);
    MST_EQ(ms_ring_get(&r, out, sizeof out), 10);
    MST_MEM_EQ(out, "efghijklmn", 10);
    MST_EQ(ms_ring_get(&r, out, 1), 0);
}

MSTEST(path, normalize)
{
    char out[32];
    MST_GT(ms_path_normalize("/dev//ttyS1/", out, sizeof out), 0);
    MST_STR_EQ(out, "/dev/ttyS1");
    MST_GT(ms_path_normalize("/nor/./logs//a.txt", out, sizeof out), 0);
    MST_STR_EQ(out, "/nor/logs/a.txt");
    MST_EQ(ms_path_normalize("dev/tty", out, sizeof out), -1);      /* relative */
    MST_EQ(ms_path_normalize("/nor/../etc", out, sizeof out), -1);  /* escaping a mount */
    MST_EQ(ms_path_normalize("/a/very/long/path/name", out, 8), -1);
}

MSTEST(path, lookup_longest_mount_prefix)
{
    static struct ms_io_node tab[4];
    const char *rest = 0;
    memset(tab, 0, sizeof tab);
    strcpy(tab[0].path, "/dev/ttyS1"); tab[0].kind = MS_NODE_DEVICE;
    strcpy(tab[1].path, "/nor");       tab[1].kind = MS_NODE_MOUNT;
    strcpy(tab[2].path, "/nor/boot");  tab[2].kind = MS_NODE_MOUNT;
    MST_PTR_EQ(ms_path_lookup(tab, 4, "/dev/ttyS1", &rest), &tab[0]);
    MST_PTR_EQ(ms_path_lookup(tab, 4, "/dev/ttyS", &rest), 0);    /* no prefix match on devices */
    MST_PTR_EQ(ms_path_lookup(tab, 4, "/nor/logs/a.txt", &rest), &tab[1]);
    MST_STR_EQ(rest, "logs/a.txt");
    MST_PTR_EQ(ms_path_lookup(tab, 4, "/nor/boot/img.bin", &rest), &tab[2]);
    MST_STR_EQ(rest, "img.bin");
    MST_PTR_EQ(ms_path_lookup(tab, 4, "/norx/a", &rest), 0);      /* a mount ends at a '/' */
}

MSTEST(tlist, deadline_order_across_the_tick_wrap)
{
    ms_tlist_t l;
    ms_tnode_t n[3];
    ms_tlist_init(&l);
    for (int i = 0; i < 3; i++)
        ms_tnode_init(&n[i]);
    ms_tlist_insert(&l, &n[0], 0x00000010u);
    ms_tlist_insert(&l, &n[1], 0xFFFFFFF0u);
    ms_tlist_insert(&l, &n[2], 0x00000001u);
    MST_PTR_EQ(ms_tlist_first(&l), &n[1]);
    MST_PTR_EQ(ms_tlist_pop_expired(&l, 0xFFFFFFF5u), &n[1]);
    MST_PTR_EQ(ms_tlist_pop_expired(&l, 0xFFFFFFF5u), 0);   /* 0x1 is after the wrap */
    MST_PTR_EQ(ms_tlist_pop_expired(&l, 0x00000002u), &n[2]);
    ms_tlist_remove(&n[0]);
    MST_TRUE(!ms_tnode_linked(&n[0]));
    MST_PTR_EQ(ms_tlist_first(&l), 0);
}

MSTEST(heap, first_fit_refuses_double_free_and_coalesces)
{
    static uint64_t mem[256];
    ms_heap_t h;
    uint32_t used, nfree, largest;
    ms_heap_init(&h, mem, sizeof mem);
    uint32_t total = h.free_bytes;
    void *a = ms_heap_alloc(&h, 100, 1), *b = ms_heap_alloc(&h, 200, 1);
    MST_TRUE(a && b);
    MST_EQ((uintptr_t)b & 7u, 0);                           /* 8-byte aligned */
    MST_PTR_EQ(ms_heap_alloc(&h, 4096, 1), 0);              /* bigger than the heap */
    MST_EQ(ms_heap_free(&h, b), 0);
    MST_EQ(ms_heap_free(&h, b), -1);                        /* double free refused */
    MST_EQ(ms_heap_free(&h, (char *)a + 4), -1);            /* not a block start */
    MST_PTR_EQ(ms_heap_alloc(&h, 150, 1), b);               /* first fit reuses the hole */
    ms_heap_free(&h, a);
    ms_heap_free(&h, b);
    ms_heap_stats(&h, &used, &nfree, &largest);
    MST_EQ(used, 0);
    MST_EQ(nfree, 1);                                       /* coalesced back to one block */
    MST_EQ(h.free_bytes, total);
}

int main(void) { mstest_rtos_main("unit_ds"); }
