/*
 * HT1621 over three GPIOs. The data sheet's serial timing (tCLK >= 4 us at 3 V for /WR, data
 * set-up and hold >= 120 ns) is met with a short busy wait per edge.
 */
#include "ht1621.h"

static void edge_delay(void) { bsp_delay_us(2); }

static void send_bits(const ht1621_t *dev, uint32_t bits, unsigned count)
{
    for (unsigned i = count; i-- > 0;) {             /* MSB first */
        bsp_pin_write(dev->wr, 0);
        bsp_pin_write(dev->data, (int)((bits >> i) & 1u));
        edge_delay();
        bsp_pin_write(dev->wr, 1);                   /* HT1621 latches DATA here */
        edge_delay();
    }
}

void ht1621_command(const ht1621_t *dev, uint8_t cmd)
{
    bsp_pin_write(dev->cs, 0);
    send_bits(dev, 0x4u, 3);                         /* 100: command mode */
    send_bits(dev, (uint32_t)cmd << 1, 9);           /* C8..C1, C0 = 0 */
    bsp_pin_write(dev->cs, 1);
}

int ht1621_write(const ht1621_t *dev, unsigned addr, const uint8_t *nibbles, unsigned n)
{
    if (!nibbles || addr >= HT1621_RAM_NIBBLES || n > HT1621_RAM_NIBBLES)
        return BSP_ERR_INVAL;
    bsp_pin_write(dev->cs, 0);
    send_bits(dev, 0x5u, 3);                         /* 101: write mode */
    send_bits(dev, addr, 6);
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = nibbles[i] & 0xFu, lsb_first = 0;
        for (unsigned b = 0; b < 4; b++)             /* D0 goes out first */
            lsb_first |= ((v >> b) & 1u) << (3u - b);
        send_bits(dev, lsb_first, 4);
    }
    bsp_pin_write(dev->cs, 1);
    return 0;
}

int ht1621_init(ht1621_t *dev, bsp_pin_t cs, bsp_pin_t wr, bsp_pin_t data)
{
    if (!dev)
        return BSP_ERR_INVAL;
    dev->cs = cs;
    dev->wr = wr;
    dev->data = data;
    bsp_pin_write(cs, 1);
    bsp_pin_write(wr, 1);
    bsp_pin_config(cs, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(wr, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(data, BSP_PIN_OUTPUT, 0);
    ht1621_command(dev, HT1621_SYS_EN);
    ht1621_command(dev, HT1621_RC_256K);
    ht1621_command(dev, HT1621_BIAS_1_3_4COM);
    static const uint8_t zero[HT1621_RAM_NIBBLES];
    ht1621_write(dev, 0, zero, HT1621_RAM_NIBBLES);   /* RAM is undefined at power-on */
    ht1621_command(dev, HT1621_LCD_ON);
    return 0;
}
