/*
 * metersim board support package: register-level drivers for the STM32F1
 * (STM32F103, RM0008) and STM32F4 (STM32F413, RM0430) families behind one
 * family-independent API (agreed in notes/bsp_api.md). Implementations live in
 * bsp/stm32f1/ and bsp/stm32f4/; a program links exactly one family.
 *
 * Conventions: 0 = success, < 0 an error code numerically equal to the RTOS's
 * MS_ERR_* codes (BSP_ERR_IO == MS_ERR_IO == -5, BSP_ERR_TIMEOUT ==
 * MS_ERR_TIMEOUT == -110 ...), so callers can use either set of names.
 * Blocking calls sleep the calling RTOS thread (interrupt driven) when the
 * RTOS is running and busy-wait otherwise; timeouts are in milliseconds.
 */
#ifndef BSP_H
#define BSP_H

#include <stdint.h>

/* ---- error codes (same values as MS_ERR_* in rtos/include/ms_rtos.h) ---- */
#define BSP_OK 0
#define BSP_ERR_IO (-5)          /* NACK, bus error, flash programming error */
#define BSP_ERR_NOMEM (-12)
#define BSP_ERR_BUSY (-16)
#define BSP_ERR_NODEV (-19)      /* no such instance on this part */
#define BSP_ERR_INVAL (-22)
#define BSP_ERR_TIMEOUT (-110)   /* a ready/flag bit did not come in time */

/* ---- pins ---- */
typedef uint16_t bsp_pin_t;                       /* BSP_PIN(port, n): port 0=A, 1=B ... */
#define BSP_PIN(port, n)  ((bsp_pin_t)(((port) << 4) | (n)))
#define BSP_PIN_NONE ((bsp_pin_t)0xFFFFu)
enum bsp_pin_mode { BSP_PIN_INPUT, BSP_PIN_INPUT_PULLUP, BSP_PIN_INPUT_PULLDOWN,
                    BSP_PIN_OUTPUT, BSP_PIN_OUTPUT_OD, BSP_PIN_AF, BSP_PIN_ANALOG };
enum bsp_edge { BSP_EDGE_RISING = 1, BSP_EDGE_FALLING = 2, BSP_EDGE_BOTH = 3 };

/* ---- clocks ---- */
int      bsp_clock_init(void);            /* 8 MHz HSE -> 72 MHz (F1) / 100 MHz (F4) + wait states */
uint32_t bsp_hclk_hz(void);
uint32_t bsp_pclk1_hz(void);
uint32_t bsp_pclk2_hz(void);
void     bsp_delay_us(uint32_t us);       /* busy wait (device timing rules of a few us) */

/* ---- GPIO and EXTI ---- */
void bsp_pin_config(bsp_pin_t pin, enum bsp_pin_mode mode, unsigned af); /* af: F4 AF number, F1 ignored */
void bsp_pin_write(bsp_pin_t pin, int level);
int  bsp_pin_read(bsp_pin_t pin);
/* fn runs in the EXTI interrupt handler; one callback per line number (0..15). */
int  bsp_pin_irq_attach(bsp_pin_t pin, enum bsp_edge edge, void (*fn)(void *arg), void *arg);

/* ---- USART ---- */
struct bsp_uart_cfg { uint32_t baud; uint8_t data_bits; char parity; uint8_t stop_bits;
                      bsp_pin_t rs485_de;   /* 0xFFFF = none; DE high while sending, released after TC */ };
int bsp_uart_open(int n, const struct bsp_uart_cfg *cfg);          /* n = 1 for USART1 ... */
int bsp_uart_write(int n, const void *buf, unsigned len, uint32_t timeout_ms);  /* returns bytes */
int bsp_uart_read(int n, void *buf, unsigned len, uint32_t timeout_ms);         /* returns bytes, 0 on timeout */
/* also registers /dev/ttyS<n> in the RTOS IO system when the RTOS is linked; its ioctls:
 * MS_IOCTL_FIONREAD, and BSP_IOCTL_UART_BAUD (uint32_t *: a new baud rate, same format,
 * applied after the transmitter drained; the receive ring starts empty) */
#define BSP_IOCTL_UART_BAUD 0x5401
/* Each node the BSP registers is reported here; the BSP's weak default does nothing, a shell
 * that lists the nodes defines it. */
void bsp_note_node(const char *path);

/* ---- SPI master (CS is the caller's GPIO) ---- */
int bsp_spi_init(int n, uint32_t max_hz, int mode /* 0..3 = CPOL|CPHA */);
int bsp_spi_xfer(int n, const uint8_t *tx, uint8_t *rx, unsigned len);  /* tx or rx may be NULL */

/* ---- I2C master ---- */
int bsp_i2c_init(int n, uint32_t hz);
int bsp_i2c_write(int n, uint8_t addr7, const uint8_t *buf, unsigned len);   /* NACK -> -EIO */
int bsp_i2c_read(int n, uint8_t addr7, uint8_t *buf, unsigned len);
int bsp_i2c_write_read(int n, uint8_t addr7, const uint8_t *w, unsigned wlen, uint8_t *r, unsigned rlen);

/* ---- RTC, watchdog, flash, power, reset ---- */
struct bsp_datetime {
    uint16_t year;    /* 2000..2099 */
    uint8_t month;    /* 1..12 */
    uint8_t day;      /* 1..31 */
    uint8_t hour;     /* 0..23 */
    uint8_t min;      /* 0..59 */
    uint8_t sec;      /* 0..59 */
};
int  bsp_rtc_init(void);                  /* LSE 32.768 kHz */
int  bsp_rtc_get(struct bsp_datetime *dt);  /* struct with year, month, day, hour, min, sec */
int  bsp_rtc_set(const struct bsp_datetime *dt);
/* Backup data words: 16 bits each in the backup domain, kept across resets and, with the
 * battery, across power cuts (F1 BKP_DR2..DR10, F4 RTC_BKP1R..BKP9R: the F1's DR1 is the RTC
 * driver's marker, and the F4's BKP0R is left out to keep the numbering the same).
 * Valid after bsp_rtc_init(), which opens backup-domain access. */
#define BSP_BACKUP_WORDS 9u
int  bsp_backup_read(unsigned n);         /* n < BSP_BACKUP_WORDS; BSP_ERR_INVAL otherwise */
int  bsp_backup_write(unsigned n, uint16_t v);
void bsp_iwdg_start(uint32_t timeout_ms);
void bsp_iwdg_refresh(void);
int  bsp_flash_erase(uint32_t addr);      /* page (F1) / sector (F4) containing addr */
int  bsp_flash_program(uint32_t addr, const void *data, unsigned len);
int  bsp_pvd_attach(unsigned level, void (*fn)(void *arg), void *arg);  /* power-fail interrupt */
uint32_t bsp_reset_cause(void);           /* RCC CSR flags, then cleared */
void bsp_reboot(void);                    /* SYSRESETREQ */

/* Reset-cause bits as returned by bsp_reset_cause(): the RCC CSR flag bits
 * [31:24], identical on F1 (RM0008 7.3.10) and F4 (RM0430 6.3.23) except
 * BORRSTF (F4 only). */
#define BSP_RESET_LPWR (1u << 31)
#define BSP_RESET_WWDG (1u << 30)
#define BSP_RESET_IWDG (1u << 29)
#define BSP_RESET_SOFT (1u << 28)
#define BSP_RESET_POR  (1u << 27)
#define BSP_RESET_PIN  (1u << 26)
#define BSP_RESET_BOR  (1u << 25)
/* ---- additions beyond notes/bsp_api.md (same conventions) ---- */
/* Periodic callback every period_us from TIM2..TIM4 (n = 2..4), run in its interrupt. */
int  bsp_timer_start(int n, uint32_t period_us, void (*fn)(void *arg), void *arg);
void bsp_timer_stop(int n);
/* Wait until everything written to USART n has left the wire (TC after the last byte). */
int  bsp_uart_drain(int n, uint32_t timeout_ms);
/* Receive counters since open: overruns (ORE), bytes dropped (ring full), FE/NF/PE. */
int  bsp_uart_stats(int n, uint32_t *overruns, uint32_t *dropped, uint32_t *errors);
/* Frame receive by silent intervals (Modbus RTU, Modbus over serial line V1.02 §2.5.1.1),
 * with timer TIMtim (2..4) as the silence timer, restarted by every received byte: a byte
 * after at least end_silence_us of silence starts a new frame, one after more than
 * broken_silence_us (but less than end_silence_us) marks its frame broken. Reads return one
 * frame each, ended by the next frame's first byte or by end_silence_us of silence. Silences
 * count from the end of a character to the start of the next. end_silence_us = 0: off.
 * bsp_uart_open() turns framing off. USART2 and USART3 (and the F4's UART5) then receive and
 * send by DMA (no interrupt per byte; the timer started at IDLE: uart.c, "Framing by DMA");
 * bytes not yet read when framing starts are dropped. */
int  bsp_uart_set_framing(int n, int tim, uint32_t broken_silence_us, uint32_t end_silence_us);
/* Receive by a circular DMA channel and send by DMA from now on, without framing (no
 * interrupt per byte: readers are woken at the end of each burst, IDLE, or when the ring is
 * half full), until bsp_uart_open(). USART2, USART3, and the F4's UART5; BSP_ERR_INVAL on
 * another port. Bytes not yet read are dropped. */
int  bsp_uart_dma(int n);
/* One character's time on the wire in microseconds (start, data, parity, stop bits). */
uint32_t bsp_uart_char_us(int n);
#define BSP_UART_FRAME_BROKEN   1u   /* a silence longer than broken_silence_us inside it */
#define BSP_UART_FRAME_OVERFLOW 2u   /* longer than len: the rest was dropped */
#define BSP_UART_FRAME_LOST     4u   /* bytes lost (ring full, overrun) or received with a
                                        framing, noise or parity error */
/* Bytes of the next frame (0 on timeout waiting for its first byte); *flags gets the bits above. */
int  bsp_uart_read_frame(int n, void *buf, unsigned len, uint32_t timeout_ms, unsigned *flags);
/* Kernel console: a program's ms_kputc() can call bsp_console_putc() ("\n" -> "\r\n"),
 * polled when no thread can sleep (start-up, handlers, panics). */
void bsp_console_select(int n);
void bsp_console_putc(char c);
/* Is VDD below the PVD threshold right now (PWR_CSR.PVDO)? */
int  bsp_pvd_below(void);

/* SPI transmit only: the received bytes are dropped (no wait for each of them). */
int  bsp_spi_write(int n, const uint8_t *tx, unsigned len);

/* The most specific cause as a word ("software", "iwdg", "power-on", "pin" ...). */
const char *bsp_reset_cause_name(uint32_t cause);

#endif /* BSP_H */
