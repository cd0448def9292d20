/* Polled hello for one STM32 family, on the clock the part runs at after reset.
 *
 * Enables the console USART's bus clock in the RCC, programs it for 115200 8N1 from the
 * reset clock (no PLL, no prescaler) and prints "hello from <family> <n>" for n = 0..2, then
 * waits for the last stop bit (TC) and idles. The family's addresses come from family.h,
 * selected by -DFAMILY_xx (see hello_families.mk).
 */
#include <stdint.h>

#include "family.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#if USART_V1   /* SR/DR/BRR/CR1 (F1/F4/L1 USART) */
#define U_ISR   0x00u
#define U_TDR   0x04u
#define U_BRR   0x08u
#define U_CR1   0x0Cu
#define CR1_ON  ((1u << 13) | (1u << 3))          /* UE | TE */
#else          /* CR1..ISR/ICR/RDR/TDR (F0/F7/G0/H7/L0/L5/WBA USART) */
#define U_CR1   0x00u
#define U_BRR   0x0Cu
#define U_ISR   0x1Cu
#define U_TDR   0x28u
#define CR1_ON  ((1u << 0) | (1u << 3))           /* UE | TE */
#endif
#define ISR_TC  (1u << 6)
#define ISR_TXE (1u << 7)

static void put_char(char c)
{
    while (!(REG(USART_BASE + U_ISR) & ISR_TXE)) {
    }
    REG(USART_BASE + U_TDR) = (uint8_t)c;
}

static void put_str(const char *s)
{
    while (*s) {
        put_char(*s++);
    }
}

static void put_uint(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        put_char(buf[--n]);
    }
}

int main(void);
int main(void)
{
    REG(RCC_USART_ENR) |= RCC_USART_EN;
    (void)REG(RCC_USART_ENR);                     /* the RMs' delay after a clock enable */
    REG(USART_BASE + U_BRR) = (RESET_CLOCK_HZ + 115200u / 2u) / 115200u;
    REG(USART_BASE + U_CR1) = CR1_ON;
    for (uint32_t n = 0; n < 3u; n++) {
        put_str("hello from " FAMILY_NAME " ");
        put_uint(n);
        put_str("\r\n");
    }
    while (!(REG(USART_BASE + U_ISR) & ISR_TC)) {
    }
    for (;;) {
    }
}
