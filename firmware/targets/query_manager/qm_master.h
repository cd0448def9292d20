/*
 * Modbus RTU master side of the query manager: request builders, reply checks and the table of
 * what every controller last reported. Pure code (no BSP): the poll thread in main.c owns the
 * bus and calls these. Register map of the controllers: docs/modbus_map.md.
 */
#ifndef QM_MASTER_H
#define QM_MASTER_H

#include <stdint.h>

#define QM_MAX_CTRL 8u               /* controller addresses 1..8 */
#define QM_MAX_ROOMS 32u
#define QM_ROOM_REGS 16u             /* input registers 0x1000 + 0x20 r, +0x00..+0x0F */
#define QM_ROOM_BASE 0x1000u
#define QM_ROOM_STRIDE 0x20u
#define QM_ADU_MAX 256u

/* Reply check results (< 0) */
#define QM_BAD_CRC (-1)
#define QM_BAD_ADDR (-2)
#define QM_BAD_FUNCTION (-3)
#define QM_BAD_LENGTH (-4)
#define QM_EXCEPTION (-16)           /* -16 - code */

struct qm_room {
    uint16_t regs[QM_ROOM_REGS];     /* as the controller reported them */
    uint32_t polled_ms;              /* tick of the reply, ms since boot */
    uint8_t valid;
};

enum qm_ctrl_state { QM_ABSENT = 0, QM_ONLINE = 1, QM_OFFLINE = 2 };

struct qm_ctrl {
    uint8_t addr;
    uint8_t state;                   /* enum qm_ctrl_state */
    uint8_t rooms;                   /* channels the controller reported (0 = not known yet) */
    uint8_t next_room;
    uint32_t retry_ms;               /* absent / offline: next probe at this tick */
    uint32_t requests, failures, online_since_ms;
    struct qm_room room[QM_MAX_ROOMS];
};

/* 03 / 04: returns the ADU length (8) */
unsigned qm_build_read(uint8_t *adu, uint8_t addr, uint8_t fn, uint16_t start, uint16_t count);
/* 16: returns the ADU length; n <= 123 */
unsigned qm_build_write(uint8_t *adu, uint8_t addr, uint16_t start, unsigned n, const uint16_t *v);
/* Check a reply to `req`; for 03/04 copy the registers to out (count from the request).
 * Returns 0 or a QM_* error (QM_EXCEPTION - code for exception replies). */
int qm_check_reply(const uint8_t *req, const uint8_t *rep, unsigned len, uint16_t *out);

#endif
