/* What switch.S provides to main.c, and the C function it calls. */
#ifndef SWITCH_H
#define SWITCH_H

#include <stdint.h>

/* Loads r4-r11 with patterns from seed (and s0-s31/FPSCR from fp[] when fp != 0 on the M4F),
 * spins until *flag != seen, stores s0-s31/FPSCR back to fp[]; 0 if r4-r11 kept their
 * patterns, else the number of the first bad register. */
uint32_t hold_regs(uint32_t seed, volatile uint32_t *flag, uint32_t seen, uint32_t *fp);
uint32_t first_thread_sp(void);
uint32_t ctx_switch(uint32_t sp);
/* Called by the SVC handler for every number but 0, with the stacked frame. */
void svc_c(uint32_t *frame, uint32_t imm);

#endif
