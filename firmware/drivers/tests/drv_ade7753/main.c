/*
 * drv_ade7753: the ADE7753 driver against the chip on the storage board (SPI2, CS PB12, IRQ
 * PB1), with whatever load the test attaches to the model.
 *
 * Calibration record for the board's front end (1000:1 divider, 50 A / 20 mA CT, 10 ohm
 * burden, PGA gains 1, WGAIN 0), from the data sheet's full-scale codes:
 *   VRMS 1 561 400 codes per 0.5 V / sqrt 2 at the pin -> 226.434 uV (line) per code;
 *   IRMS 1 868 467 codes per 0.5 V / sqrt 2 at the pin -> 47.305 uA (line) per code;
 *   AENERGY: LPF2 0xCCCCD every 4 / CLKIN at full scale, bits 48..25 -> 388.007 uWh per LSB.
 * Prints (codes and scaled values):
 *   "ade7753 die rev <n>", "calibrated",
 *   "vrms <code> <mV>", "irms <code> <mA>", "period <code> <mHz>",
 *   "raenergy <lsb> <uWh> over <ms> ms" (RAENERGY read, 1000 ms sleep, RAENERGY read),
 *   "laenergy <lsb> <uWh> irq <n>" twice (line-cycle mode, LINECYC = 100 half cycles, each
 *   ended by the CYCEND interrupt), then PASS.
 */
#include "ade7753.h"
#include "drv_test.h"

static ade7753_t g_ade;

static const ade7753_cal_t g_cal = {
    .gain = 0, .wgain = 0, .vagain = 0, .apos = 0, .vrmsos = 0, .irmsos = 0,
    .phcal = 0x0D, .wdiv = 0, .cfnum = 0x3F, .cfden = 0x3F,
    .uv_per_code_q16 = 14839551u,     /* 226.434 uV * 65536 */
    .ua_per_code_q16 = 3100199u,      /* 47.305 uA * 65536 */
    .uwh_per_lsb_q16 = 25428428u,     /* 388.007 uWh * 65536 */
};

static void body(void *arg)
{
    (void)arg;
    int r = bsp_spi_init(ADE_SPI, 1000000u, 1);
    CHECK(r == 0, "spi init %d", r);
    static const ade7753_link_t link = {.bus = ADE_SPI, .cs = ADE_CS};
    r = ade7753_init(&g_ade, &link, ADE_IRQ, BSP_PIN_NONE);
    CHECK(r == 0, "ade7753 init %d", r);
    ms_printk("ade7753 die rev %u\n", g_ade.die_rev);
    r = ade7753_calibrate(&g_ade, &g_cal);
    CHECK(r == 0, "calibrate %d", r);
    ms_printk("calibrated\n");

    ms_thread_sleep_ms(100);
    uint32_t v, i, p;
    CHECK(ade7753_vrms(&g_ade, &v) == 0 && ade7753_irms(&g_ade, &i) == 0 &&
          ade7753_period(&g_ade, &p) == 0, "rms reads");
    ms_printk("vrms %u %u\n", (unsigned)v, (unsigned)ade7753_vrms_mv(&g_ade, v));
    ms_printk("irms %u %u\n", (unsigned)i, (unsigned)ade7753_irms_ma(&g_ade, i));
    ms_printk("period %u %u\n", (unsigned)p, (unsigned)ade7753_period_to_mhz(p));

    int32_t e0, e1;
    CHECK(ade7753_active_energy_reset(&g_ade, &e0) == 0, "raenergy");
    ms_tick_t t0 = ms_tick_get();
    ms_thread_sleep_ms(1000);
    CHECK(ade7753_active_energy_reset(&g_ade, &e1) == 0, "raenergy 2");
    ms_tick_t t1 = ms_tick_get();
    ms_printk("raenergy %d %d over %u ms\n", (int)e1, (int)ade7753_energy_uwh(&g_ade, e1),
              (unsigned)((t1 - t0) * 1000u / MS_TICK_HZ));

    r = ade7753_start_line_cycle(&g_ade, 100);
    CHECK(r == 0, "line cycle %d", r);
    for (int k = 0; k < 2; k++) {
        int32_t le;
        r = ade7753_line_energy(&g_ade, 3000, &le);
        CHECK(r == 0, "line energy %d", r);
        ms_printk("laenergy %d %d irq %u\n", (int)le, (int)ade7753_energy_uwh(&g_ade, le),
                  (unsigned)g_ade.irq_count);
    }
    drv_pass();
}

int main(void) { drv_test_run("drv_ade7753", body, 2048); }
