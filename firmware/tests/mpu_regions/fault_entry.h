/* What fault_entry.S provides to main.c, and the C functions its handlers call. */
#ifndef FAULT_ENTRY_H
#define FAULT_ENTRY_H

#include <stdint.h>

/* Single 16-bit loads/stores, so a handler can step over the faulting one. */
uint32_t probe_read(const volatile uint32_t *addr);
void probe_write(volatile uint32_t *addr, uint32_t value);
/* Thread mode, unprivileged, on PSP = psp; fn does not return. */
void launch_unpriv_psp(void (*fn)(void), uint32_t psp);
/* The bytes of a position-independent function returning 42 (copied into RAM). */
extern const uint16_t answer_code[], answer_code_end[];
/* Called by the MemManage and SVC handlers with the stacked frame. */
void memmanage_c(uint32_t *frame);
void svc_c(uint32_t *frame);

#endif
