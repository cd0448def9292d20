/* What fault_entry.S provides to main.c, and the C functions its handlers call. */
#ifndef FAULT_ENTRY_H
#define FAULT_ENTRY_H

#include <stdint.h>

/* One STR of value to addr; unpriv_store_insn is the address of that instruction. */
void unpriv_store(volatile uint32_t *addr, uint32_t value);
extern const uint16_t unpriv_store_insn[];
/* Called by the BusFault and SVC handlers with the stacked frame. */
void busfault_c(uint32_t *frame);
void svc_c(uint32_t *frame);

#endif
