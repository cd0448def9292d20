/* Family selector: code includes "soc.h"; the build puts one bsp/<family> on the path. */
#ifndef SOC_H
#define SOC_H
#include "stm32f1.h"
#include "cortex_m.h"
#include "vectors.h"
#define SOC_FAMILY_STM32F1 1
#define SOC_RESET_HCLK_HZ STM32F1_HSI_HZ
#define SOC_USART1_BASE 0x40013800u
#endif
