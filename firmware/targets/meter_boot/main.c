/*
 * Bootloader of the management unit (docs/meter_flash_layout.md), at the reset address
 * 0x08000000 (sectors 0-1). It
 *   1. finishes an app upgrade the journal in NOR asks for (ms_upgrade.h): backs the old image
 *      up into the NOR backup slot, programs the new one into its flashfs extent, puts it on
 *      trial, or rolls back to the backup when the trial did not confirm; each step is redone
 *      from intact data after a power cut;
 *   2. checks the RTOS image header at 0x08008000 (ms_image_check: magic .. sha256) and that
 *      its entry is the reset vector of the table at +0x200;
 *   3. starts it: interrupts off, VTOR and MSP from its table, jump to its reset vector.
 * First of all it reads the reset cause (RCC_CSR, then cleared) and hands it to the RTOS image
 * in a backup-domain word (ms_image.h, MS_BOOT_CAUSE_*), which counts it.
 * When the RTOS image is refused it says which check failed and waits for a new RTOS image
 * over YMODEM on the console (safe state: nothing runs that did not verify).
 */
#include "ms_image.h"
#include "ms_port.h"
#include "cortex_m.h"
#include "soc.h"

#define BOOT_VERSION "1.0.0"


/* Backup-domain writes need the PWR clock and PWR_CR.DBP (RM0430 §5.1.2); DBP is set back as
 * it was, the RTOS's RTC driver opens the domain for itself. */
static void hand_over_cause(uint32_t cause)
{
    RCC->APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC->APB1ENR;                     /* the clock is on before PWR is written */
    uint32_t cr = PWR->CR;
    PWR->CR = cr | PWR_CR_DBP;
    bsp_backup_write(MS_BOOT_CAUSE_WORD, (uint16_t)(MS_BOOT_CAUSE_MAGIC | (cause >> 24 & 0xFFu)));
    PWR->CR = cr;
}

static void say_step(const ms_upg_rec_t *r, const char *what)
{
    con_printf("boot: upgrade %s: %s\n", r->file, what);
}

static int record(ms_upg_rec_t *r, uint32_t state)
{
    r->state = state;
    int e = ms_upg_append(&g_port_upg, r);
    if (e)
        con_printf("boot: journal write failed (%d)\n", e);
    return e;
}

/* Copy len bytes of NOR at src into the on-chip extent at dest and check the image there. */
static int restore(const ms_upg_rec_t *r, uint32_t src, uint32_t len, uint32_t crc)
{
    int e = ms_port_flash_erase(r->dest, r->extent);
    if (!e)
        e = ms_port_flash_from_nor(r->dest, src, len);
    if (e)
        return e;
    if (ms_crc32(0, (const void *)r->dest, len) != crc)
        return -5;
    return ms_image_check((const void *)r->dest, r->extent, r->dest, 0);
}

static void upgrade_step(void)
{
    ms_upg_rec_t r;
    if (ms_upg_latest(&g_port_upg, &r)) {
        con_printf("boot: cannot read the upgrade journal\n");
        return;
    }
    for (int guard = 0; guard < 8; guard++) {
        int e;
        switch (r.state) {
        case MS_UPG_PENDING: {
            ms_image_hdr_t h;
            uint32_t crc;
            int c = ms_upg_check_nor(&g_port_upg, MS_UPG_DOWNLOAD, MS_UPG_SLOT_SIZE, r.dest, 0,
                                     &h, &crc);
            if (c != 0 || crc != r.new_crc) {
                con_printf("boot: upgrade %s: new image in NOR refused (%s): not installed\n",
                           r.file, c > 0 ? ms_image_check_name(c) : "read error");
                record(&r, MS_UPG_ABORTED);
                return;
            }
            const ms_image_hdr_t *old = (const ms_image_hdr_t *)r.dest;
            r.old_len = 0;
            r.old_crc = 0;
            if (ms_image_check(old, r.extent, r.dest, 0) == MS_IMAGE_OK) {
                r.old_len = MS_IMAGE_HDR_SIZE + old->length;
                r.old_crc = ms_crc32(0, old, r.old_len);
                say_step(&r, "backing up the old image");
                uint32_t nor_crc = 0;
                e = ms_upg_nor_erase(&g_port_upg, MS_UPG_BACKUP, r.old_len);
                if (!e)
                    e = ms_port_nor_from_flash(MS_UPG_BACKUP, r.dest, r.old_len);
                if (!e)
                    e = ms_upg_nor_crc(&g_port_upg, MS_UPG_BACKUP, r.old_len, &nor_crc);
                if (e || nor_crc != r.old_crc) {
                    con_printf("boot: upgrade %s: backup failed (%d): not installed\n", r.file, e);
                    record(&r, MS_UPG_ABORTED);
                    return;
                }
            }
            if (record(&r, MS_UPG_BACKED_UP))
                return;
            break;
        }
        case MS_UPG_BACKED_UP:
            say_step(&r, "programming the new image");
            e = restore(&r, MS_UPG_DOWNLOAD, r.new_len, r.new_crc);
            if (e) {
                con_printf("boot: upgrade %s: new image failed in flash (%d)\n", r.file, e);
                r.state = MS_UPG_REJECTED;    /* roll back below */
                break;
            }
            if (record(&r, MS_UPG_TRIAL))
                return;
            break;
        case MS_UPG_TRIAL:
            say_step(&r, "new image on trial");
            record(&r, MS_UPG_TRYING);
            return;
        case MS_UPG_TRYING:
        case MS_UPG_REJECTED:
            if (r.old_len == 0) {
                say_step(&r, "new image not confirmed and no backup to restore");
                record(&r, MS_UPG_ROLLED_BACK);
                return;
            }
            say_step(&r, r.state == MS_UPG_TRYING ? "trial not confirmed: rolling back"
                                                  : "new image rejected: rolling back");
            e = restore(&r, MS_UPG_BACKUP, r.old_len, r.old_crc);
            if (e) {
                con_printf("boot: upgrade %s: rollback failed (%d)\n", r.file, e);
                return;
            }
            record(&r, MS_UPG_ROLLED_BACK);
            return;
        default:
            return;     /* idle, confirmed, rolled back, aborted: nothing to do */
        }
    }
}

static uint32_t g_rx_bytes;

static int rtos_begin(void *ctx, const char *name, uint32_t size)
{
    (void)ctx;
    (void)name;
    if (size < MS_IMAGE_HDR_SIZE || size > MS_RTOS_SIZE)
        return -1;
    g_rx_bytes = 0;
    return ms_port_flash_erase(MS_RTOS_ADDR, size);
}

static int rtos_data(void *ctx, uint32_t offset, const uint8_t *buf, uint32_t len)
{
    (void)ctx;
    static uint8_t words[1024 + 4];
    if (len > 1024u)
        return -1;
    uint32_t padded = (len + 3u) & ~3u;
    for (uint32_t i = 0; i < padded; i++)
        words[i] = i < len ? buf[i] : 0xFFu;
    g_rx_bytes += len;
    /* the sender's blocks are 1024 or 128 bytes, so offsets stay word aligned */
    return bsp_flash_program(MS_RTOS_ADDR + offset, words, padded);
}

static __attribute__((noreturn)) void wait_for_rtos(void)
{
    for (;;) {
        con_printf("boot: waiting for an RTOS image over YMODEM on the console\n");
        ms_ymodem_io_t io;
        ms_port_ymodem_io(&io, 60);
        io.begin = rtos_begin;
        io.data = rtos_data;
        char name[MS_YMODEM_NAME_MAX];
        uint32_t size;
        int r = ms_ymodem_receive(&io, name, &size);
        ms_port_sleep_ms(20);     /* the sender's last bytes */
        if (r != MS_YMODEM_OK) {
            con_printf("\nboot: YMODEM: %s\n", ms_ymodem_result_name(r));
            continue;
        }
        int c = ms_image_check((const void *)MS_RTOS_ADDR, MS_RTOS_SIZE, MS_RTOS_ADDR,
                               MS_IMAGE_RTOS);
        con_printf("\nboot: received %s (%u bytes): %s\n", name, (unsigned)size,
                   c ? ms_image_check_name(c) : "ok, restarting");
        if (c == 0) {
            con_flush();
            bsp_reboot();
        }
    }
}

static __attribute__((noreturn)) void start(const ms_image_hdr_t *h)
{
    const uint32_t *vt = (const uint32_t *)MS_RTOS_VTOR;
    con_printf("boot: starting RTOS %s %u.%u.%u at 0x%08x\n", h->name,
               (unsigned)(h->version >> 16), (unsigned)(h->version >> 8 & 0xFFu),
               (unsigned)(h->version & 0xFFu), (unsigned)vt[1]);
    con_flush();
    __asm volatile("cpsid i" ::: "memory");
    SYSTICK->CSR = 0;
    for (unsigned i = 0; i < 8; i++) {
        NVIC->ICER[i] = 0xFFFFFFFFu;
        NVIC->ICPR[i] = 0xFFFFFFFFu;
    }
    SCB->VTOR = MS_RTOS_VTOR;
    __asm volatile("dsb\n isb\n"
                   "msr msp, %0\n"
                   "cpsie i\n"
                   "bx %1\n" :: "r"(vt[0]), "r"(vt[1]) : "memory");
    __builtin_unreachable();
}

int main(void)
{
    uint32_t cause = bsp_reset_cause();     /* RCC_CSR's flags, then cleared (RMVF) */
    hand_over_cause(cause);
    int nor = ms_port_init();
    con_printf("boot: metersim bootloader %s, reset %s\n", BOOT_VERSION,
               bsp_reset_cause_name(cause));
    if (nor)
        con_printf("boot: no NOR flash (%d): upgrades unavailable\n", nor);
    else
        upgrade_step();
    const ms_image_hdr_t *h = (const ms_image_hdr_t *)MS_RTOS_ADDR;
    int r = ms_image_check(h, MS_RTOS_SIZE, MS_RTOS_ADDR, MS_IMAGE_RTOS);
    if (r == MS_IMAGE_OK && h->entry != ((const uint32_t *)MS_RTOS_VTOR)[1]) {
        con_printf("boot: RTOS image at 0x%08x refused: entry 0x%08x is not the reset vector "
                   "0x%08x of its table at 0x%08x\n", (unsigned)MS_RTOS_ADDR, (unsigned)h->entry,
                   (unsigned)((const uint32_t *)MS_RTOS_VTOR)[1], (unsigned)MS_RTOS_VTOR);
        wait_for_rtos();
    }
    if (r != MS_IMAGE_OK) {
        con_printf("boot: RTOS image at 0x%08x refused: %s check failed", (unsigned)MS_RTOS_ADDR,
                   ms_image_check_name(r));
        if (r == MS_IMAGE_BAD_CRC)
            con_printf(" (header says %08x, payload has %08x)", (unsigned)h->crc32,
                       (unsigned)ms_crc32(0, ms_image_payload(h), h->length));
        else if (r == MS_IMAGE_BAD_LENGTH)
            con_printf(" (length %u, at most %u)", (unsigned)h->length,
                       (unsigned)(MS_RTOS_SIZE - MS_IMAGE_HDR_SIZE));
        else if (r == MS_IMAGE_BAD_MAGIC)
            con_printf(" (found %08x)", (unsigned)h->magic);
        con_printf("\n");
        wait_for_rtos();
    }
    start(h);
}
