/*
 * The basic app's module interface (docs/meter_basic_app.md). The app is one process, BASIC,
 * Table 3 process 1; each module is a thread of it with the Table 3 thread number as its
 * address (0 the app's virtual-bus module, 1 time of use, 3 freezing, 4 display, 5 control,
 * 6 events). Modules share no state: they exchange DL/T645 frames through message queues,
 * with get / set / action wrappers (the paper's Figure 11):
 *
 *   bapp_get(di, out, max)        11H read of di        -> its data (after the DI)
 *   bapp_set(di, v, n)            14H write of di       -> 0 or -SERR
 *   bapp_action(code, v, n)       a frame of control code `code` (1CH relay, 16H freeze, ...)
 *
 * Each asks the module that owns the request (its `owns`), or, when no module owns it, the
 * virtual bus through the app's pipe (external data: the metering service's energy, the
 * platform's clock ...); the answer comes back on the asker's reply queue either way. Requests
 * arriving from the bus are dispatched the same way by the bus module, which sends the owner's
 * reply back out.
 *
 * A module is a bapp_module_t in modules.c (one line) and a file of its own:
 *   owns(q)      does the module answer request frame q (by control code and DI)?
 *   init()       once, in its own thread, before it serves anything
 *   serve(q, r, from) the reply r to request q; `from` = BAPP_FROM_BUS or the asking module
 *   tick()       periodic work; returns the ms until it is wanted again (BAPP_NEVER: never;
 *                BAPP_NEXT_SECOND: at the next whole second of the wake grid, svc_grid_next)
 * Its thread waits on its request queue with the tick's deadline as the timeout: no polling.
 */
#ifndef BAPP_H
#define BAPP_H

#include <stddef.h>
#include <stdint.h>
#include "crc16.h"
#include "dlt645.h"
#include "svc_util.h"
#include "ms_rtos.h"
#include "vbus.h"

#define BASIC_NAME "BASIC"
#define BAPP_NEVER 0xFFFFFFFFu
#define BAPP_NEXT_SECOND 0xFFFFFFFEu        /* work every second that shares the grid's wake */
#define BAPP_FROM_BUS 0xFFu
#define BAPP_FROM_WAKE 0xFEu                /* a wake-up (bapp_wake), not a request */
#define BAPP_TIMEOUT_MS 800u                /* the bus's 500 ms and a metrology round trip */

/* Table 3 threads of the basic app */
#define BAPP_T_GENERAL 0u
#define BAPP_T_TOU 1u
#define BAPP_T_DEMAND 2u
#define BAPP_T_FREEZE 3u
#define BAPP_T_DISPLAY 4u
#define BAPP_T_CONTROL 5u
#define BAPP_T_EVENTS 6u

typedef struct {
    const char *name;
    uint8_t thread;                         /* Table 3 thread number: its address 1<thread> */
    uint8_t prio;
    uint16_t stack;
    int (*owns)(const dlt_frame_t *q);
    void (*init)(void);
    void (*serve)(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from);
    uint32_t (*tick)(void);
} bapp_module_t;

void basic_app_main(void);                 /* the process's main thread: the bus module */

extern const bapp_module_t *const bapp_modules[];
extern const unsigned bapp_module_count;

/* get / set / action: >= 0 success (get: the data length after the DI), < 0 the abnormal
 * reply's -SERR, or MS_ERR_TIMEOUT. */
int bapp_get(uint32_t di, uint8_t *out, unsigned max);
int bapp_set(uint32_t di, const uint8_t *v, unsigned n);
int bapp_action(uint8_t code, const uint8_t *v, unsigned n);
/* Any request frame q; the reply in *r. */
int bapp_request(const dlt_frame_t *q, dlt_frame_t *r);

/* Shared helpers */
uint32_t bapp_clock(void);                  /* the meter's clock, s since 2000 (/dev/rtc) */
/* n bytes from / to a device file, opened for this one use under the app's device lock */
int bapp_device(const char *dev, void *buf, unsigned n, int write);
/* the same, giving the byte count (a read may give fewer than n) or the error */
int bapp_device_io(const char *dev, void *buf, unsigned n, int write);
/* A whole file of n bytes under a mount (/nor): written (created or truncated, then closed:
 * littlefs makes it the old or the new one, never part of either) or read; MS_OK only for
 * exactly n bytes and a clean close. */
int bapp_file(const char *path, void *buf, unsigned n, int write);
int bapp_relay(int close);                  /* 1 close, 0 open: pulses; -1: feedback (1 closed) */
int bapp_eeprom(uint32_t addr, void *buf, unsigned n, int write);
unsigned bapp_bcd2(uint8_t b);

/* A record kept twice in the app's EEPROM (tou's energy, control's money, freeze's index,
 * display's lists). Contract of bapp_rec_load / bapp_rec_save, which fix its EEPROM layout:
 *  - the record (a struct of `size` bytes) starts with uint32_t magic, seq and has a uint16_t
 *    crc at `crc_at`: the CRC-16/CCITT (crc16.h) of the bytes before it;
 *  - copy 0 is at addr, copy 1 at addr + stride; each is the whole struct, `size` bytes;
 *  - save: seq + 1, then the CRC, then one write of copy (seq & 1), the copies alternating;
 *    a cut during it tears that copy only, the other still holds the previous save. It
 *    gives bapp_eeprom's answer (MS_OK or the error; then it logs "<what> not saved"); the
 *    record in RAM is updated either way;
 *  - load: reads copy 0 then copy 1; a copy counts when it reads whole, its magic is `magic`
 *    and its CRC holds; of two, the one with the later seq (serial-number order, modulo 2^32;
 *    equal: copy 0). It is copied into rec and its number (0, 1) given; none: -1 and rec is
 *    left as it was (the caller sets its defaults). */
#define BAPP_REC_MAX 0x80u                  /* the largest record (its size <= stride too) */
typedef struct {
    uint32_t addr, stride, magic;
    uint16_t size, crc_at;
    const char *what;                       /* "module: record", for the log */
} bapp_rec_t;
#define BAPP_REC(addr_, stride_, type_, magic_, what_)                                       \
    {.addr = (addr_), .stride = (stride_), .magic = (magic_), .size = sizeof(type_),         \
     .crc_at = offsetof(type_, crc), .what = (what_)}
/* In each module, next to its record: the record fits the helper and its copy's slot. */
#define BAPP_REC_FITS(type_, stride_)                                                         \
    _Static_assert(sizeof(type_) <= BAPP_REC_MAX && sizeof(type_) <= (stride_),             \
                   #type_ " does not fit its EEPROM copy")
int bapp_rec_load(const bapp_rec_t *d, void *rec);
int bapp_rec_save(const bapp_rec_t *d, void *rec);
/* "data" reply of di with n bytes v */
void bapp_reply_di(dlt_frame_t *r, const dlt_frame_t *q, const uint8_t *v, unsigned n);

/* The app's EEPROM window (start.par: eeprom 0x1000, 0x1000): one block per module */
#define BAPP_EE_BASE 0x1000u
#define BAPP_EE_TOU (BAPP_EE_BASE + 0x000u)         /* 0x100: energy by rate, two copies */
#define BAPP_EE_TOU_TABLES (BAPP_EE_BASE + 0x100u)  /* 0x400: time-of-use tables, prices, steps */
#define BAPP_EE_CONTROL (BAPP_EE_BASE + 0x500u)     /* 0x100: money, relay state, two copies */
/* 0x600..0xFFF: free for the modules still to come (freezing, display, events) */

/* Display (display.c, docs/meter_lcd.md): its EEPROM block (the rotating and key lists), and
 * what the bus module tells it of every request from outside (the tracking display). */
#define BAPP_EE_DISPLAY (BAPP_EE_BASE + 0x600u)     /* 0x100: display lists, two copies */
void bapp_display_track(const dlt_frame_t *q);
/* The page key, in the bus module: the descriptor its select waits on beside the pipe (-1:
 * none), and what it does when that is readable (reads the presses, wakes the display). */
int bapp_display_keys_fd(void);
void bapp_display_keys(void);

/* Wake module `thread` (Table 3 number) for a tick now, from another thread of the app: its
 * tick sees what changed (the display: a press, a tracked read). */
void bapp_wake(uint8_t thread);

/* Internal identifiers (vendor range 04A2FFxx): between modules only, refused from the bus */
#define BAPP_DI_CHARGE 0x04A2FF01u          /* TOU -> control: money used, u32 micro-yuan */
#define BAPP_DI_INTERNAL(di) (((di) & 0xFFFFFF00u) == 0x04A2FF00u)

/* Freezing and events (freeze.c, events.c): the app's second EEPROM window (start.par:
 * eeprom 0x2000, 0x5000; the AT24C256's 0x2000..0x6FFF, unused by the meter before) */
#define BAPP_EE_FREEZE_A 0x2000u            /* 0x2100: freeze rings, copy A */
#define BAPP_EE_FREEZE_B 0x4100u            /* 0x2100: copy B */
#define BAPP_EE_FREEZE_IDX 0x6200u          /* 2 x 0x40: freeze counts and settings */
#define BAPP_EE_POWERDOWN 0x6280u           /* 16 x 48: power-down freezes (once a minute) */
#define BAPP_EE_EVENTS 0x6600u              /* 10 x 0x100: event counts and records */
#define BAPP_DI_POWER_DOWN 0x04A2FF10u      /* freeze -> events: last power-down, start (u32 s) */
/* Freeze backups on the NOR's littlefs (the RTOS image's /nor): /nor/freeze/daily/NN (NN = ring
 * slot 01..62) and /nor/freeze/monthly/NN (01..12), each one record as in EEPROM */
#define BAPP_FREEZE_DIR "/nor/freeze"

#endif
