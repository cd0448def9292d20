/*
 * CPU benchmark: a deterministic integer workload with the shape of real
 * firmware (table-driven CRC32, an 8x8 matrix multiply, a prime sieve, an
 * insertion sort of pseudo-random data, data-dependent branches). No
 * interrupts, no peripherals except the console at start and end.
 *
 * Output:
 *   bench start
 *   checksum 0x<8 hex digits>      (same on every core and engine)
 *   bench done
 * then the core sleeps in WFI. BENCH_ITERATIONS sets the length; the measured
 * instruction counts are documented in tests/README.md.
 */
#include "test.h"

#ifndef BENCH_ITERATIONS
#define BENCH_ITERATIONS 64000u
#endif

#define CRC_LEN 256u
#define MAT_N 8u
#define SIEVE_N 2048u
#define SORT_N 64u

static uint32_t crc_table[256];
static uint8_t crc_buf[CRC_LEN];
static int32_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];
static uint8_t sieve[SIEVE_N];
static uint32_t sort_buf[SORT_N];
static uint32_t lcg_state = 12345u;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u; /* Numerical Recipes LCG */
    return lcg_state;
}

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256u; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return ~c;
}

static uint32_t matmul(uint32_t seed)
{
    for (uint32_t i = 0; i < MAT_N; i++)
        for (uint32_t j = 0; j < MAT_N; j++) {
            mat_a[i][j] = (int32_t)((seed >> ((i + j) & 15u)) & 0xFFu) - 128;
            mat_b[i][j] = (int32_t)(i * 3u + j) - (int32_t)(seed & 7u);
        }
    uint32_t sum = 0;
    for (uint32_t i = 0; i < MAT_N; i++)
        for (uint32_t j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (uint32_t k = 0; k < MAT_N; k++)
                acc += mat_a[i][k] * mat_b[k][j];
            mat_c[i][j] = acc;
            sum = sum * 31u + (uint32_t)acc;
        }
    return sum;
}

static uint32_t prime_sieve(void)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < SIEVE_N; i++)
        sieve[i] = 1;
    for (uint32_t i = 2; i < SIEVE_N; i++) {
        if (!sieve[i])
            continue;
        count++;
        for (uint32_t j = i * i; j < SIEVE_N; j += i)
            sieve[j] = 0;
    }
    return count;
}

static uint32_t insertion_sort(void)
{
    for (uint32_t i = 0; i < SORT_N; i++)
        sort_buf[i] = lcg() >> 8;
    for (uint32_t i = 1; i < SORT_N; i++) {
        uint32_t v = sort_buf[i];
        uint32_t j = i;
        while (j > 0 && sort_buf[j - 1] > v) {
            sort_buf[j] = sort_buf[j - 1];
            j--;
        }
        sort_buf[j] = v;
    }
    return sort_buf[0] ^ sort_buf[SORT_N / 2] ^ sort_buf[SORT_N - 1];
}

/* Branchy state machine over the CRC buffer: counts byte classes. */
static uint32_t classify(void)
{
    uint32_t digits = 0, upper = 0, other = 0;
    for (uint32_t i = 0; i < CRC_LEN; i++) {
        uint8_t b = crc_buf[i];
        if (b >= '0' && b <= '9')
            digits++;
        else if (b >= 'A' && b <= 'Z')
            upper++;
        else if (b & 0x80u)
            other += 2;
        else
            other++;
    }
    return digits * 65536u + upper * 256u + other;
}

int main(void)
{
    console_init();
    con_puts("bench start\n");
    crc_init();
    uint32_t checksum = 0;
    for (uint32_t it = 0; it < BENCH_ITERATIONS; it++) {
        for (uint32_t i = 0; i < CRC_LEN; i++)
            crc_buf[i] = (uint8_t)(lcg() >> 24);
        uint32_t crc = crc32(crc_buf, CRC_LEN);
        checksum = (checksum << 5 | checksum >> 27) ^ crc;
        checksum += matmul(crc);
        if ((it & 15u) == 0)
            checksum ^= prime_sieve() << (it & 7u);
        checksum += insertion_sort();
        checksum ^= classify();
    }
    con_printf("checksum 0x%08x\n", (unsigned)checksum);
    con_puts("bench done\n");
    con_flush();
    for (;;)
        cm_wfi();
}
