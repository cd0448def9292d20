/*
 * The virtual bus message (the paper's Table 2) and addresses (Table 3), plus the pipe-side
 * helpers every service and app links: framing a message onto a pipe and reassembling messages
 * from a pipe's byte stream. The full contract is docs/meter_virtual_bus.md.
 *
 * Message = 12-byte header + one whole DL/T645 frame (68 .. 16):
 *   0 FristSepa 0x68 | 1 CA source | 2 SA destination | 3 encryption (0 = plain)
 *   4 MetersAddr (address type of the DL/T645 frame) | 5 AgreType (1 = DL/T645-2007)
 *   6 ComType (request, reply, register, register ack, bulk reply) | 7 reserved: the bus's transaction
 *   number, echoed by the responder | 8, 9 reserved (0) | 10, 11 DataLen, little endian
 */
#ifndef VBUS_H
#define VBUS_H

#include <stdint.h>
#include "dlt645.h"

#define VBUS_SEPA 0x68u
#define VBUS_HDR_LEN 12u
#define VBUS_MSG_MAX (VBUS_HDR_LEN + DLT_FRAME_MAX)

/* Table 3: bits 7-4 the process, bit 3 reserved, bits 2-0 the thread in the process */
#define VBUS_ADDR(proc, thread) ((uint8_t)(((proc) << 4) | ((thread) & 7u)))
#define VBUS_PROC(a) ((uint8_t)((a) >> 4))
#define VBUS_P_INITIAL 0u
#define VBUS_P_BASIC_APP 1u
#define VBUS_P_COM 2u
#define VBUS_P_METERING 3u
#define VBUS_P_PLATFORM 4u
#define VBUS_P_EXT_APP(n) (4u + (n))       /* extended apps 1..10 -> 5..14 */
#define VBUS_P_BUS 15u
/* threads of the communication service */
#define VBUS_T_COM_CARRIER 1u
#define VBUS_T_COM_BLUETOOTH 2u
#define VBUS_T_COM_LOADID 3u
#define VBUS_T_COM_RS485 4u                /* "4 onwards: other channels" */
#define VBUS_T_COM_IR 5u

#define VBUS_ADDR_COM VBUS_ADDR(VBUS_P_COM, 0)
#define VBUS_ADDR_METERING VBUS_ADDR(VBUS_P_METERING, 0)
#define VBUS_ADDR_PLATFORM VBUS_ADDR(VBUS_P_PLATFORM, 0)
#define VBUS_ADDR_BUS VBUS_ADDR(VBUS_P_BUS, 0)

/* MetersAddr: what the DL/T645 frame was addressed to on the line */
#define VBUS_MA_OWN 0u
#define VBUS_MA_WILDCARD 1u
#define VBUS_MA_BROADCAST 2u
#define VBUS_MA_INTERNAL 3u                /* made inside the meter */
/* AgreType */
#define VBUS_PROTO_DLT645_2007 1u
/* ComType */
#define VBUS_CMD_REQUEST 1u
#define VBUS_CMD_REPLY 2u
#define VBUS_CMD_REGISTER 3u
#define VBUS_CMD_REGISTER_ACK 4u
#define VBUS_CMD_BULK 5u                    /* a reply whose data lie in shared memory */

/* Data identifiers the bus itself answers (vendor range 04A0FExx) */
#define VBUS_DI_REGISTER 0x04A0FE01u       /* registration of an extended app (write) */
#define VBUS_DI_TRACE 0x04A0FE02u          /* trace switch, 1 byte 00/01 (write) */
#define VBUS_DI_STATS 0x04A0FE03u          /* counters, 6 x 4 BCD bytes (read) */
#define VBUS_DI_COMBINED 0x04A0FF01u       /* combined read across services (read) */
#define VBUS_DI_NOTE 0x04A0FE04u           /* bus -> basic app's events: an outside 14H / 1AH
                                              was done: fn, C0..C3, DI (write, tag 0) */
#define VBUS_APP_NAME_MAX 8u
#define VBUS_APP_DIS_MAX 8u

typedef struct {
    uint8_t ca, sa, encrypt, addr_type, proto, cmd, tag;
    uint16_t len;                           /* of the DL/T645 frame */
} vbus_hdr_t;

typedef struct {
    vbus_hdr_t h;
    dlt_frame_t f;
} vbus_msg_t;

/* Header + encoded frame into out (VBUS_MSG_MAX); returns the length. */
unsigned vbus_encode(const vbus_msg_t *m, uint8_t *out);

/* Integrity check results */
#define VBUS_OK 0
#define VBUS_BAD_SEPA (-1)
#define VBUS_BAD_LENGTH (-2)                /* DataLen disagrees with the frame's own length */
#define VBUS_BAD_FRAME (-3)                 /* the DL/T645 frame is damaged */
#define VBUS_BAD_PROTO (-4)
#define VBUS_BAD_ENCRYPT (-5)               /* encrypted frames need the ESAM: not carried */
#define VBUS_BAD_CMD (-6)
const char *vbus_strerror(int err);

/* Reassembly of messages from a pipe's byte stream (state in the caller's struct). */
typedef struct {
    uint8_t buf[VBUS_MSG_MAX];
    unsigned n;
} vbus_rx_t;
/* Read what the descriptor has now (a descriptor opened O_NONBLOCK: never blocks); 0 when
 * nothing came, <0 on error. */
int vbus_rx_fill(vbus_rx_t *rx, int fd);
/* 1: a whole message in *m (checked); 0: need more; <0: a bad message was dropped
 * (VBUS_BAD_*; the stream re-synchronises at the next 0x68). */
int vbus_rx_take(vbus_rx_t *rx, vbus_msg_t *m);

/* Write one message to a pipe (whole; blocks while the pipe is full). */
int vbus_send(int fd, const vbus_msg_t *m);
/* Fill a request/reply header. */
void vbus_hdr(vbus_hdr_t *h, uint8_t ca, uint8_t sa, uint8_t cmd, uint8_t addr_type, uint8_t tag);

/* Bulk data (payloads larger than a frame): the bus creates /shm/<NAME> for every extended
 * app when it registers, read/write for the app. A bulk reply (ComType VBUS_CMD_BULK) is a
 * normal reply frame whose data describe the payload instead of carrying it: DI, length u16,
 * generation u32 (little endian), the app's name (8 bytes, NUL padded). The shared memory
 * holds the generation u32 at offset 0 and the payload after it; the responder bumps the
 * generation each time it rewrites it. The bus grants the requester read access before it
 * forwards a bulk reply; the requester reads the payload where it lies. */
#define VBUS_SHM_SIZE 1024u
#define VBUS_SHM_HDR 4u
#define VBUS_BULK_MAX (VBUS_SHM_SIZE - VBUS_SHM_HDR)
#define VBUS_BULK_DESC_LEN (4u + 2u + 4u + VBUS_APP_NAME_MAX)
void vbus_shm_path(char *out, unsigned size, const char *name);

/* Pipe names: V_BUS_TO_<X> and <X>_TO_V_BUS (paper's pipe_t naming) under /pipe/. */
#define VBUS_PIPE_SIZE 1024u
#define VBUS_PIPE_REG_IN "/pipe/REG_TO_V_BUS"
#define VBUS_PIPE_REG_OUT "/pipe/V_BUS_TO_REG"
void vbus_pipe_path(char *out, unsigned size, const char *name, int to_bus);
/* A service's end of its two pipes (opened read-only without blocking / write-only). */
int vbus_connect(const char *name, int *from_bus, int *to_bus);
#endif
