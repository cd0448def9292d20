/* YMODEM receiver (see ms_ymodem.h). */
#include "ms_ymodem.h"

#define SOH 0x01u
#define STX 0x02u
#define EOT 0x04u
#define ACK 0x06u
#define NAK 0x15u
#define CAN 0x18u
#define CRC_C 0x43u
#define MAX_ERRORS 10
#define BYTE_TIMEOUT_MS 1000u

uint16_t ms_crc16_xmodem(uint16_t crc, const uint8_t *buf, uint32_t len)
{
    while (len--) {
        crc ^= (uint16_t)(*buf++ << 8);
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void send1(const ms_ymodem_io_t *io, uint8_t c) { io->write(io->ctx, &c, 1); }

static void cancel(const ms_ymodem_io_t *io)
{
    static const uint8_t can[] = {CAN, CAN, CAN, CAN, CAN};
    io->write(io->ctx, can, sizeof can);
}

static void purge(const ms_ymodem_io_t *io)
{
    while (io->getc(io->ctx, 100) >= 0)
        ;
}

/* Read one block whose first byte `first` came already. 1 = good (buf, *len, *seq filled),
 * 0 = damaged (NAK it), < 0 = result code. */
static int read_block(const ms_ymodem_io_t *io, int first, uint8_t *buf, uint32_t *len,
                      uint8_t *seq)
{
    uint32_t n = first == STX ? 1024u : 128u;
    int a = io->getc(io->ctx, BYTE_TIMEOUT_MS), b = io->getc(io->ctx, BYTE_TIMEOUT_MS);
    if (a < 0 || b < 0)
        return 0;
    for (uint32_t i = 0; i < n + 2u; i++) {
        int c = io->getc(io->ctx, BYTE_TIMEOUT_MS);
        if (c < 0)
            return 0;
        buf[i] = (uint8_t)c;
    }
    if ((uint8_t)a != (uint8_t)~b)
        return 0;
    if (ms_crc16_xmodem(0, buf, n) != (uint16_t)(buf[n] << 8 | buf[n + 1u]))
        return 0;
    *len = n;
    *seq = (uint8_t)a;
    return 1;
}

/* Wait for the start of a block, EOT or CAN CAN. */
static int next_start(const ms_ymodem_io_t *io, uint32_t timeout_ms)
{
    for (;;) {
        int c = io->getc(io->ctx, timeout_ms);
        if (c < 0 || c == SOH || c == STX || c == EOT)
            return c;
        if (c == CAN) {
            if (io->getc(io->ctx, BYTE_TIMEOUT_MS) == CAN)
                return CAN;
        }
        /* line noise or a terminal's echo: skip it */
    }
}

int ms_ymodem_receive(const ms_ymodem_io_t *io, char *name, uint32_t *size)
{
    static uint8_t buf[1024 + 2];
    uint32_t len;
    uint8_t seq;
    int c = -1;
    name[0] = '\0';
    *size = 0;
    /* block 0 */
    for (uint32_t t = 0;; t++) {
        if (t >= io->start_tries)
            return MS_YMODEM_TIMEOUT;
        send1(io, CRC_C);
        c = next_start(io, BYTE_TIMEOUT_MS);
        if (c == CAN)
            return MS_YMODEM_CANCELLED;
        if (c == SOH || c == STX) {
            int r = read_block(io, c, buf, &len, &seq);
            if (r == 1 && seq == 0u)
                break;
            purge(io);
        }
    }
    uint32_t i = 0;
    for (; i < MS_YMODEM_NAME_MAX - 1u && i < len && buf[i]; i++)
        name[i] = (char)buf[i];
    name[i] = '\0';
    if (i == 0u) {                 /* empty batch */
        send1(io, ACK);
        return MS_YMODEM_REFUSED;
    }
    uint32_t total = 0;
    for (i++; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
        total = total * 10u + (buf[i] - '0');
    *size = total;
    if (io->begin(io->ctx, name, total) != 0) {
        cancel(io);
        return MS_YMODEM_REFUSED;
    }
    send1(io, ACK);
    send1(io, CRC_C);
    /* data blocks */
    uint8_t expect = 1;
    uint32_t offset = 0;
    int errors = 0, eots = 0;
    for (;;) {
        c = next_start(io, 10u * BYTE_TIMEOUT_MS);
        if (c < 0)
            return MS_YMODEM_TIMEOUT;
        if (c == CAN)
            return MS_YMODEM_CANCELLED;
        if (c == EOT) {
            if (eots++ == 0) {
                send1(io, NAK);
                continue;
            }
            send1(io, ACK);
            break;
        }
        int r = read_block(io, c, buf, &len, &seq);
        if (r == 1 && seq == (uint8_t)(expect - 1u)) {
            send1(io, ACK);              /* our ACK was lost: the sender repeats */
            if (seq == 0u)
                send1(io, CRC_C);        /* ... block 0, and waits for the data request */
            continue;
        }
        if (r != 1 || seq != expect) {
            if (++errors > MAX_ERRORS) {
                cancel(io);
                return MS_YMODEM_ERRORS;
            }
            purge(io);
            send1(io, NAK);
            continue;
        }
        errors = 0;
        uint32_t n = len;
        if (offset >= total)
            n = 0;
        else if (n > total - offset)
            n = total - offset;
        if (n && io->data(io->ctx, offset, buf, n) != 0) {
            cancel(io);
            return MS_YMODEM_REFUSED;
        }
        offset += n;
        expect++;
        send1(io, ACK);
    }
    /* end of batch: the sender's empty block 0 */
    send1(io, CRC_C);
    c = next_start(io, 2u * BYTE_TIMEOUT_MS);
    if (c == SOH || c == STX) {
        if (read_block(io, c, buf, &len, &seq) == 1)
            send1(io, ACK);
    }
    return offset >= total ? MS_YMODEM_OK : MS_YMODEM_TIMEOUT;
}

const char *ms_ymodem_result_name(int result)
{
    switch (result) {
    case MS_YMODEM_OK: return "ok";
    case MS_YMODEM_TIMEOUT: return "timeout";
    case MS_YMODEM_CANCELLED: return "cancelled by the sender";
    case MS_YMODEM_REFUSED: return "refused";
    case MS_YMODEM_ERRORS: return "too many errors";
    default: return "unknown";
    }
}
