"""Renode peripheral types that a Renode STM32 platform may name and metersim builds without a
model of its own: each becomes a tagged system-bus window (reads 0, writes logged once), so
the platform loads and firmware that does not use the block runs. Together with the types
metersim models (metersim.peripherals.registry) and the core, memory and bit-band entries the
builder handles itself, these are the names a .repl may use; any other is rejected with the
nearest known names, as Renode rejects a type it cannot resolve.

The list is the unmodelled blocks of Renode's STM32 platforms (F0, F1, F4, F7, G0, H7, L0, L1,
L5, WBA) as their .repl files name them; add a name here when a platform needs it, or better,
a model to the registry. A few general-purpose Renode types that platforms use for regions
nobody models follow the STM32 ones.
"""

RENODE_TYPES = frozenset("""
Analog.STM32F0_ADC
Analog.STM32G0_ADC
Analog.STM32H7_ADC
Analog.STM32L5_ADC
Analog.STM32WBA_ADC
Analog.STM32_ADC
CAN.MCAN
CAN.STM32_FDCAN
CAN.STMCAN
CPU.CortexM
DMA.STM32DMA
DMA.STM32DMA2D
DMA.STM32G0DMA
DMA.STM32LDMA
I2C.STM32F7_I2C
IRQControllers.STM32H7_EXTI
IRQControllers.STM32WBA_EXTI
Input.FT5336
MTD.STM32H7_FlashController
MTD.STM32L0_FlashController
MTD.STM32WBA_FlashController
Memory.ArrayMemory
Memory.MappedMemory
Miscellaneous.BitBanding
Miscellaneous.Crypto.STM32H7_CRYPTO
Miscellaneous.STM32F0_RCC
Miscellaneous.STM32H7_HardwareSemaphore
Miscellaneous.STM32H7_RCC
Miscellaneous.STM32L0_PWR
Miscellaneous.STM32L0_RCC
Miscellaneous.STM32L5_RCC
Miscellaneous.STM32WBA_PWR
Miscellaneous.STM32WBA_RCC
Miscellaneous.STM32_DMAMUX
Miscellaneous.STM32_RNG
Network.EthernetPhysicalLayer
Network.SynopsysDWCEthernetQualityOfService
Network.SynopsysEthernetMAC
SD.STM32FSDMMC
SD.STM32HSDMMC
SPI.STM32H7_QuadSPI
SPI.STM32H7_SPI
SPI.STM32WBA_SPI
Timers.STM32L0_LpTimer
UART.STM32F7_USART
UART.STM32W_UART
Video.STM32LTDC
Wireless.EmberRadio
Timers.STM32L_RTC
Memory.ArrayMemoryWithReadonlys
Mocks.MockDoubleWordPeripheralWithoutTranslations
""".split())

#: The namespaces of Renode's peripheral types (Antmicro.Renode.Peripherals.<namespace>): a type
#: under one of them that is in neither list above is most likely a Renode peripheral metersim
#: has no model of, not a typo, and its error says so.
RENODE_NAMESPACES = frozenset("""
Analog Bus CAN CPU Crypto DMA GPIOPort I2C IRQControllers Input MTD Memory Miscellaneous Mocks
Network PCI Python SD SPI Sensor Sensors Sound Storage Timers UART USB USBDeprecated Video
Wireless
""".split())
