/*
 * Entry points of the management unit's middle-layer services (each runs as its own
 * process: it owns no memory another process touches and talks to the others only through
 * the virtual bus pipes, device files and system calls) and the process names they use.
 */
#ifndef SERVICES_H
#define SERVICES_H

#define VBUS_NAME_COM "COM_SRV"
#define VBUS_NAME_METERING "MTR_SRV"
#define VBUS_NAME_PLATFORM "PLAT_SRV"

/* Device files the kernel side (the target) registers for the services. */
#define DEV_RS485 "/dev/ttyS2"
#define DEV_IR "/dev/ttyS3"
#define DEV_METROLOGY "/dev/ttyS5"
#define DEV_CONSOLE "/dev/ttyS1"
#define DEV_RTC "/dev/rtc"        /* 4 bytes: seconds since 2000-01-01 00:00:00 (read/write) */
#define DEV_RELAY "/dev/relay"    /* write 1 byte: 1 close, 0 open; read 1 byte: feedback */
#define DEV_LCD "/dev/lcd"        /* write a meter_lcd_frame_t (drivers/meter_lcd.h) */
#define DEV_KEYS "/dev/keys"      /* read: key presses since the last read, 1 byte each */
#define KEY_PAGE 1u
#define KEY_PROG 2u
#define DEV_COVER "/dev/cover"    /* read 1 byte: the terminal-cover switch, 1 open */
#define DEV_EEPROM "/dev/eeprom"  /* the AT24C256 (drivers/at24c.h), by process window */
/* The EEPROM window of the communication service: its address and passwords (two copies). */
#define EEPROM_COM_START 0x0000u
#define EEPROM_COM_SIZE 0x0100u
#define DEV_RESET "/dev/reset"    /* read 4 bytes: this boot's reset cause, RCC_CSR flags
                                     (BSP_RESET_*) as the bootloader read them */
/* The EEPROM window of the platform service: the reset counts by cause (two copies). */
#define EEPROM_PLAT_START 0x0100u
#define EEPROM_PLAT_SIZE 0x0080u
/* ioctl on a tty: change its baud rate (arg: uint32_t baud), after the transmitter drained */
#define TTY_IOCTL_SET_BAUD 0x5401

void vbus_service_main(void *arg);
void com_service_main(void *arg);
void metering_service_main(void *arg);
void platform_service_main(void *arg);

#endif
