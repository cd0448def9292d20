/* The C side of switch.S: called by the SVC and PendSV handlers. */
#ifndef SWITCH_H
#define SWITCH_H

#include <stdint.h>

uint32_t first_thread_sp(void);     /* svc 0: prepares both threads, returns thread 0's sp */
uint32_t switch_to(uint32_t sp);     /* PendSV: saves sp, returns the next thread's */

#endif
