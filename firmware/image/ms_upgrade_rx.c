/* Receiving an upgrade image over YMODEM into the NOR download slot (see ms_upgrade.h). */
#include "ms_upgrade.h"

typedef struct {
    const ms_upg_nor_t *nor;
    uint32_t extent;
    uint32_t erased_to;      /* the download slot is erased up to here */
    int error;
} rx_t;

static int rx_begin(void *ctx, const char *name, uint32_t size)
{
    rx_t *rx = ctx;
    (void)name;
    if (size < MS_IMAGE_HDR_SIZE || size > rx->extent || size > MS_UPG_SLOT_SIZE)
        return -1;
    rx->erased_to = MS_UPG_DOWNLOAD;
    return 0;
}

static int rx_data(void *ctx, uint32_t offset, const uint8_t *buf, uint32_t len)
{
    rx_t *rx = ctx;
    uint32_t a = MS_UPG_DOWNLOAD + offset;
    while (rx->erased_to < a + len) {      /* erase just ahead of the data */
        int e = rx->nor->erase(rx->nor->ctx, rx->erased_to);
        if (e)
            return rx->error = e;
        rx->erased_to += MS_UPG_SECTOR;
    }
    int e = rx->nor->program(rx->nor->ctx, a, buf, len);
    return e ? (rx->error = e) : 0;
}

int ms_upg_receive(const ms_upg_nor_t *nor, const ms_ymodem_io_t *port, const char *file,
                   uint32_t dest, uint32_t extent, char *name, uint32_t *size, int *nor_error)
{
    rx_t rx = {nor, extent, MS_UPG_DOWNLOAD, 0};
    ms_ymodem_io_t io = *port;
    io.begin = rx_begin;
    io.data = rx_data;
    io.ctx = &rx;
    int r = ms_ymodem_receive(&io, name, size);
    if (nor_error)
        *nor_error = rx.error;
    if (r != MS_YMODEM_OK)
        return r;
    r = ms_upg_stage(nor, file, dest, extent);
    return r > 0 ? MS_UPG_RX_REFUSED_BASE + r : r ? MS_UPG_RX_NOR_ERROR : 0;
}
