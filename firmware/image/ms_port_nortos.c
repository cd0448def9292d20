/* The bootloader and the RTOS stand-in link the BSP without the RTOS kernel. The BSP's
 * blocking paths call ms_tick_get() only when an RTOS thread can block (bsp_os_can_block(),
 * false here: ms_thread_self is a weak reference left unresolved), but uart.c references it
 * directly, so it needs a definition: there is no tick without the kernel. */
#include "ms_rtos.h"

ms_tick_t ms_tick_get(void) { return 0; }
