/*
 * Vector table relocation (ARMv7-M B3.2.5 VTOR; PM0214 4.4.4): the core must
 * read VTOR at every exception entry.
 * Phase 1: SysTick (1 ms, core clock) runs the flash table's handler 5 times.
 * Phase 2: the table is copied to a 512-byte aligned SRAM array, the SysTick
 * entry and the IRQ0 (WWDG) entry are patched to second handlers, VTOR is
 * pointed at the copy; 5 more ticks must reach only the SRAM handler, and an
 * IRQ0 pended through STIR must reach its SRAM handler.
 * Output: "flash handler 5", "vtor 0x<addr>", "sram handler 5, flash handler 5",
 * "irq0 via sram table", PASS.
 */
#include "test.h"

#define TABLE_WORDS (EXC_IRQ0 + SOC_IRQ_COUNT)
#define TABLE_SLOTS 128u /* 512 bytes: power of two covering the table */

_Static_assert(TABLE_WORDS <= TABLE_SLOTS, "vector table larger than the SRAM copy");

typedef void (*vector_t)(void);
extern const vector_t g_vectors[]; /* bsp/cortex_m/startup.c */

static uint32_t g_sram_vectors[TABLE_SLOTS] __attribute__((aligned(512)));
static volatile uint32_t g_flash_hits, g_sram_hits, g_irq0_flash, g_irq0_sram;

void SysTick_Handler(void) { g_flash_hits++; }
void WWDG_IRQHandler(void) { g_irq0_flash++; }
static void sram_systick_handler(void) { g_sram_hits++; }
static void sram_irq0_handler(void) { g_irq0_sram++; }

static void wait_ticks(volatile uint32_t *counter, uint32_t n)
{
    systick_start(HCLK_HZ / 1000u, 1);
    while (*counter < n)
        cm_wfi();
    systick_stop();
}

int main(void)
{
    test_begin("vtor_reloc");
    wait_ticks(&g_flash_hits, 5);
    con_printf("flash handler %u\n", (unsigned)g_flash_hits);

    for (uint32_t i = 0; i < TABLE_WORDS; i++)
        g_sram_vectors[i] = (uint32_t)(uintptr_t)g_vectors[i];
    g_sram_vectors[EXC_SYSTICK] = (uint32_t)(uintptr_t)sram_systick_handler;
    g_sram_vectors[EXC_IRQ0 + WWDG_IRQn] = (uint32_t)(uintptr_t)sram_irq0_handler;
    cm_dsb();
    SCB->VTOR = (uint32_t)(uintptr_t)g_sram_vectors;
    cm_dsb();
    cm_isb();
    if (SCB->VTOR != (uint32_t)(uintptr_t)g_sram_vectors)
        test_fail("VTOR reads 0x%08x after writing 0x%08x", (unsigned)SCB->VTOR,
                  (unsigned)(uintptr_t)g_sram_vectors);
    con_printf("vtor 0x%08x\n", (unsigned)SCB->VTOR);

    wait_ticks(&g_sram_hits, 5);
    con_printf("sram handler %u, flash handler %u\n", (unsigned)g_sram_hits,
               (unsigned)g_flash_hits);
    if (g_flash_hits != 5)
        test_fail("flash SysTick handler ran %u times after VTOR moved", (unsigned)g_flash_hits);

    nvic_enable(WWDG_IRQn);
    NVIC_STIR = WWDG_IRQn;
    cm_dsb();
    cm_isb();
    nvic_disable(WWDG_IRQn);
    if (g_irq0_sram != 1 || g_irq0_flash != 0)
        test_fail("irq0 reached sram handler %u times, flash handler %u times",
                  (unsigned)g_irq0_sram, (unsigned)g_irq0_flash);
    con_puts("irq0 via sram table\n");
    test_pass();
}
