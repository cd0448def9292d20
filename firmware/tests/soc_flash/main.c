/*
 * soc_flash: program and erase the on-chip flash through the flash interface registers,
 * as a bootloader or a parameter store does.
 *
 * F103 (RM0008 §3.3.3-3.3.5, PM0075 §2.3): unlock with KEY1/KEY2; page erase (PER, AR,
 * STRT) of the last 1 KiB page (0x0801FC00); half-word programming (PG); programming a
 * half-word that does not read 0xFFFF sets PGERR and leaves it unchanged, except that
 * 0x0000 may always be written; erase and re-program; LOCK.
 * F413 (RM0430 §3.5-3.8): unlock; sector erase (SER, SNB = 3: 16 KiB at 0x0800C000) with
 * PSIZE = x32; word programming; a store without PG is a programming-sequence error
 * (PGSERR) and a half-word store with PSIZE = x32 a parallelism error (PGPERR), neither
 * writes anything; programming over a programmed word can only clear bits (the cell ANDs);
 * erase and re-program; LOCK.
 *
 * Every operation is waited for with WFI: PRIMASK = 1 and the FLASH interrupt (EOPIE/ERRIE)
 * enabled in the NVIC, so the core sleeps until the operation ends without taking the
 * interrupt. Durations come from TIM2 counting at 1 MHz (it runs while the core sleeps).
 *
 * Prints (F103 / F413 variants):
 *   page erase 0x0801fc00: <us> us, erased      | sector 3 erase: <us> us, erased
 *   program: <us> us per half-word, 8 read back  | program: <us> us per word, 8 read back
 *   0x1234 over 0x<v>: pgerr, kept 0x<v>          | store without PG: pgserr, nothing written
 *   0x0000 over 0x<v>: ok                         | half-word with PSIZE x32: pgperr
 *                                                 | 0x0f0f0f0f over 0x<v>: reads 0x<v & ...>
 *   erase + program again: ok
 *   locked
 *   PASS
 */
#include "../soc_common/soc_test.h"

#if defined(SOC_FAMILY_STM32F4)
#define AREA 0x0800C000u          /* sector 3, 16 KiB */
#define SECTOR 3u
#define AREA_BYTES (16u * 1024u)
#define CR_BASE (FLASH_CR_PSIZE_X32 | FLASH_CR_EOPIE | FLASH_CR_ERRIE)
#define SR_CLEAR (FLASH_SR_EOP | FLASH_SR_ERRORS)
#define TIM_MASK 0xFFFFFFFFu
#else
#define AREA 0x0801FC00u          /* last page of the 128 KiB F103RB */
#define AREA_BYTES 1024u
#define CR_BASE (FLASH_CR_EOPIE | FLASH_CR_ERRIE)
#define SR_CLEAR (FLASH_SR_EOP | FLASH_SR_PGERR | FLASH_SR_WRPRTERR)
#define TIM_MASK 0xFFFFu
#endif

static uint32_t us_now(void) { return TIM2->CNT; }
static uint32_t us_since(uint32_t t0) { return (TIM2->CNT - t0) & TIM_MASK; }

/* Sleeps until the operation in progress ends; returns SR and clears its flags. */
static uint32_t flash_wait(void)
{
    while (FLASHIF->SR & FLASH_SR_BSY)
        cm_wfi();                      /* woken by the pending FLASH IRQ (PRIMASK = 1) */
    uint32_t sr = FLASHIF->SR;
    FLASHIF->SR = SR_CLEAR;
    nvic_clear_pending(FLASH_IRQn);
    return sr;
}

static void timer_1mhz(void)
{
    RCC->APB1ENR |= RCC_APB1ENR_TIM2EN;
    (void)RCC->APB1ENR;
    TIM2->PSC = SOC_RESET_HCLK_HZ / 1000000u - 1u;
    TIM2->ARR = TIM_MASK;
    TIM2->EGR = TIM_EGR_UG;
    TIM2->CR1 = TIM_CR1_CEN;
}

static int area_erased(void)
{
    const volatile uint32_t *w = (const volatile uint32_t *)AREA;
    for (unsigned i = 0; i < AREA_BYTES / 4u; i++)
        if (w[i] != 0xFFFFFFFFu)
            return 0;
    return 1;
}

static uint32_t erase_area(void)
{
#if defined(SOC_FAMILY_STM32F4)
    FLASHIF->CR = CR_BASE | FLASH_CR_SER | (SECTOR << FLASH_CR_SNB_POS);
    FLASHIF->CR |= FLASH_CR_STRT;
#else
    FLASHIF->CR = CR_BASE | FLASH_CR_PER;
    FLASHIF->AR = AREA;
    FLASHIF->CR |= FLASH_CR_STRT;
#endif
    uint32_t sr = flash_wait();
    if (!(sr & FLASH_SR_EOP) || (sr & (SR_CLEAR & ~FLASH_SR_EOP)))
        test_fail("erase: SR 0x%08x", (unsigned)sr);
    FLASHIF->CR = CR_BASE;
    if (!area_erased())
        test_fail("area not erased");
    return sr;
}

#if defined(SOC_FAMILY_STM32F4)
typedef uint32_t cell_t;
#define CELL_FMT "0x%08x"
#else
typedef uint16_t cell_t;
#define CELL_FMT "0x%04x"
#endif

/* Programs one cell with PG set; returns SR after the operation. */
static uint32_t program(volatile cell_t *p, cell_t v)
{
    FLASHIF->CR = CR_BASE | FLASH_CR_PG;
    *p = v;
    uint32_t sr = flash_wait();
    FLASHIF->CR = CR_BASE;
    return sr;
}

int main(void)
{
    test_begin("soc_flash");
    cm_disable_irq();                 /* interrupts only wake the core from WFI */
    timer_1mhz();
    nvic_enable(FLASH_IRQn);

    FLASHIF->KEYR = FLASH_KEY1;
    FLASHIF->KEYR = FLASH_KEY2;
    if (FLASHIF->CR & FLASH_CR_LOCK)
        test_fail("FLASH_CR still locked after the key sequence");

    uint32_t t0 = us_now();
    erase_area();
#if defined(SOC_FAMILY_STM32F4)
    con_printf("sector %u erase: %u us, erased\n", SECTOR, (unsigned)us_since(t0));
#else
    con_printf("page erase 0x%08x: %u us, erased\n", AREA, (unsigned)us_since(t0));
#endif

    volatile cell_t *cells = (volatile cell_t *)AREA;
    cell_t values[8];
    uint32_t per_cell = 0;
    for (unsigned i = 0; i < 8; i++) {
        values[i] = (cell_t)(0x5A00F00Du * (i + 1u) + 0x1111u);
        t0 = us_now();
        uint32_t sr = program(&cells[i], values[i]);
        uint32_t us = us_since(t0);
        if (i == 0)
            per_cell = us;
        if (!(sr & FLASH_SR_EOP) || (sr & (SR_CLEAR & ~FLASH_SR_EOP)))
            test_fail("program %u: SR 0x%08x", i, (unsigned)sr);
    }
    for (unsigned i = 0; i < 8; i++)
        if (cells[i] != values[i])
            test_fail("cell %u reads " CELL_FMT ", programmed " CELL_FMT, i,
                      (unsigned)cells[i], (unsigned)values[i]);
    con_printf("program: %u us per %s, 8 read back\n", (unsigned)per_cell,
               sizeof(cell_t) == 2 ? "half-word" : "word");

#if defined(SOC_FAMILY_STM32F4)
    /* Programming-sequence error: a store into flash without PG. */
    FLASHIF->CR = CR_BASE;
    cells[8] = 0x12345678u;
    uint32_t sr = FLASHIF->SR;
    FLASHIF->SR = SR_CLEAR;
    nvic_clear_pending(FLASH_IRQn);
    if (!(sr & FLASH_SR_PGSERR) || cells[8] != 0xFFFFFFFFu)
        test_fail("store without PG: SR 0x%08x, cell 0x%08x", (unsigned)sr, (unsigned)cells[8]);
    con_puts("store without PG: pgserr, nothing written\n");

    /* Parallelism error: a half-word store while PSIZE says x32. */
    FLASHIF->CR = CR_BASE | FLASH_CR_PG;
    *(volatile uint16_t *)&cells[9] = 0x1234u;
    sr = flash_wait();
    FLASHIF->CR = CR_BASE;
    if (!(sr & FLASH_SR_PGPERR) || cells[9] != 0xFFFFFFFFu)
        test_fail("half-word store: SR 0x%08x, cell 0x%08x", (unsigned)sr, (unsigned)cells[9]);
    con_puts("half-word with PSIZE x32: pgperr\n");

    /* A programmed word can only lose bits. */
    sr = program(&cells[0], 0x0F0F0F0Fu);
    if (sr & FLASH_SR_ERRORS)
        test_fail("reprogram: SR 0x%08x", (unsigned)sr);
    con_printf("0x0f0f0f0f over 0x%08x: reads 0x%08x\n", (unsigned)values[0],
               (unsigned)cells[0]);
    if (cells[0] != (values[0] & 0x0F0F0F0Fu))
        test_fail("flash cell is not AND-programmed");
#else
    /* PGERR: the half-word does not read 0xFFFF. */
    uint32_t sr = program(&cells[0], 0x1234u);
    con_printf("0x1234 over 0x%04x: %s, kept 0x%04x\n", (unsigned)values[0],
               (sr & FLASH_SR_PGERR) ? "pgerr" : "no pgerr", (unsigned)cells[0]);
    if (!(sr & FLASH_SR_PGERR) || cells[0] != values[0])
        test_fail("programming a non-erased half-word must give PGERR and change nothing");
    /* ... but 0x0000 may always be written. */
    sr = program(&cells[1], 0x0000u);
    if (sr & FLASH_SR_PGERR || cells[1] != 0)
        test_fail("0x0000 over 0x%04x: SR 0x%02x", (unsigned)values[1], (unsigned)sr);
    con_printf("0x0000 over 0x%04x: ok\n", (unsigned)values[1]);
#endif

    erase_area();
    uint32_t sr2 = program(&cells[0], (cell_t)0x12345678u);
    if (!(sr2 & FLASH_SR_EOP) || cells[0] != (cell_t)0x12345678u)
        test_fail("program after erase: SR 0x%08x cell " CELL_FMT, (unsigned)sr2,
                  (unsigned)cells[0]);
    con_puts("erase + program again: ok\n");

    FLASHIF->CR = FLASH_CR_LOCK;
    FLASHIF->CR = CR_BASE | FLASH_CR_PG;     /* ignored while locked */
    if (!(FLASHIF->CR & FLASH_CR_LOCK) || (FLASHIF->CR & FLASH_CR_PG))
        test_fail("FLASH_CR writable after LOCK");
    con_puts("locked\n");
    test_pass();
}
