/* What fault_entry.S provides to main.c, and the C function its handler calls. */
#ifndef FAULT_ENTRY_H
#define FAULT_ENTRY_H

#include <stdint.h>

/* One instruction each, at a known address, so the handler can check the stacked PC. */
uint32_t probe_sdiv(uint32_t n, uint32_t d);
uint32_t probe_udiv(uint32_t n, uint32_t d);
uint32_t probe_ldr(const void *p);
void probe_strh(void *p, uint32_t v);
uint32_t probe_ldrex(const void *p);
void probe_vadd(void);
/* Called by the UsageFault handler with the stacked frame. */
void usagefault_c(uint32_t *frame);

#endif
