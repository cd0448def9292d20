"""The "v2" STM32 USART/LPUART (F0, F7, G0, H7, L0, L4/L5, WB/WBA): CR1/CR2/CR3/BRR/GTPR/RTOR/
RQR/ISR/ICR/RDR/TDR/PRESC, registered as Renode's `UART.STM32F7_USART`.

Followed: RM0091 §27.8 (F0), RM0385 §31.8 (F7), RM0444 §33.8 (G0), RM0433 §48.7 (H7):
- ISR bits 0-7 (PE FE NF ORE IDLE RXNE TC TXE) and CR3 bits 0-7 sit where the v1 USART's SR
  and CR3 bits sit, and CR1 bits 2-12/15 likewise; UE moves to CR1 bit 0, M becomes M1:M0
  (bits 28, 12: 00 = 8, 01 = 9, 10 = 7 data bits), and the break request moves to RQR.SBKRQ.
  So the line timing, receiver sampling and transmit chain are the v1 model's (usart.py),
  driven through this register layout.
- Flags are cleared by writes of 1 to ICR (PECF FECF NCF ORECF IDLECF TCCF), RXNE by reading
  RDR or RQR.RXFRQ, TXE/TC by writing TDR (TC also by ICR.TCCF); no read-SR-then-DR sequence.
- TEACK/REACK (ISR 21/22) follow TE/RE while UE is set (the model acknowledges at once).
- Baud: OVER16: fCK / BRR; OVER8: 2 x fCK / USARTDIV with USARTDIV = BRR[15:4] << 4 |
  BRR[2:0] << 1; LPUART (`lowPowerMode: true`): 256 x fCK / BRR (BRR >= 0x300). fCK is the
  APB clock from the RCC's clock tree (Renode's `frequency` only when there is none), divided
  by PRESC where the part has it (G0/H7/L5/WBA: 1, 2, 4, 6, 8, 10, 12, 16, 32, 64, 128, 256).

Not modelled: the FIFO mode (FIFOEN is stored, TXE/RXNE act as without FIFO), receiver
timeout, auto baud rate, modbus/LIN character match, wake-up from Stop (UESM), DE/RS-485 timing
(DEAT/DEDT stored), swap/inversion options in CR2.
"""

from __future__ import annotations

from metersim.peripherals.base import GPIO
from metersim.peripherals.registry import model
from metersim.peripherals.stm32.usart import (_IRQ_CR1, FE, IDLE, NF, ORE, PE, PCE, PS, RXNE,
                                              STM32Usart, TC, TXE, SBK, UE as V1_UE)
from metersim.peripherals.uart_cable import settings_changed

CR1, CR2, CR3, BRR, GTPR, RTOR, RQR, ISR, ICR, RDR, TDR, PRESC = range(0, 0x30, 4)
UE, RE, TE = 1 << 0, 1 << 2, 1 << 3
M0, M1, OVER8 = 1 << 12, 1 << 28, 1 << 15
SBKRQ, RXFRQ, TXFRQ = 1 << 1, 1 << 3, 1 << 4
TEACK, REACK = 1 << 21, 1 << 22
EIE = 1 << 0
ICR_FLAGS = {0: PE, 1: FE, 2: NF, 3: ORE, 4: IDLE, 6: TC}
PRESC_DIV = (1, 2, 4, 6, 8, 10, 12, 16, 32, 64, 128, 256)


class _KernelClock:
    """fCK scaled so that `hz / divisor` is the bit rate (x2 for OVER8, x256 for LPUART)."""

    def __init__(self, usart: "STM32Usart2", apb):
        self._usart, self._apb = usart, apb
        self.name, self.tree = apb.name, apb.tree

    @property
    def hz(self) -> int:
        u = self._usart
        scale = 256 if u.low_power else (2 if u._cr1 & OVER8 else 1)
        return self._apb.hz * scale // PRESC_DIV[min(u._presc & 0xF, 11)]


@model("UART.STM32F7_USART", "metersim.STM32_USART_V2")
class STM32Usart2(STM32Usart):
    size = 0x400
    DMA_STREAM_DR = None     # DMA not modelled here: no send channel hands its run over

    def __init__(self, ctx, frequency: int = 0, clock: str | None = None,
                 low_power_mode: bool = False, **_ignored):
        self.low_power = bool(low_power_mode)
        self._cr1 = self._presc = 0
        super().__init__(ctx, frequency=frequency, clock=clock)
        self._clk = _KernelClock(self, self._clk)
        self.ReceiveDmaRequest = GPIO("ReceiveDmaRequest")   # Renode's; DMA not modelled

    def reset(self) -> None:
        self._cr1 = self._cr2 = self._cr3 = 0
        self._presc = self._rtor = 0
        super().reset()

    # -- format and divisor in v2 terms ---------------------------------------------------
    def frame_format(self) -> tuple[int, str, int]:
        m = (1 if self._cr1 & M1 else 0) << 1 | (1 if self._cr1 & M0 else 0)
        word = {0: 8, 1: 9, 2: 7}.get(m, 8)
        _, parity, stop = super().frame_format()   # PCE/PS/STOP sit where v1 has them
        return (word - 1 if parity != "N" else word), parity, stop

    def _divisor(self) -> int:
        brr = self.regs["BRR"]
        if self.low_power:
            return brr & 0xFFFFF if brr >= 0x300 else 0
        if self._cr1 & OVER8:
            return (brr & 0xFFF0) | ((brr & 7) << 1)
        return brr & 0xFFFF

    # -- registers ------------------------------------------------------------------------
    def _isr(self) -> int:
        isr = self.regs["SR"] & 0xFF
        if self._cr1 & UE:
            isr |= (TEACK if self._cr1 & TE else 0) | (REACK if self._cr1 & RE else 0)
        return isr

    def hot_registers(self) -> list:
        """ISR is answered in C by the engine (metersim._engine.hot_regs) as `read(ISR)` does:
        `_isr()` from regs["SR"] and _cr1, and the poll hint's bookkeeping; a read whose poll
        hint skips ahead stays in Python."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(ISR, "usart_isr", self)]

    def read(self, offset: int, size: int) -> int:
        if offset == ISR:
            return self.poll_hint(self._isr())
        if offset == RDR:
            self._set_sr(RXNE, False)
            return self._rdr
        return {CR1: self._cr1, CR2: self._cr2, CR3: self._cr3, BRR: self.regs["BRR"],
                GTPR: self.regs["GTPR"], RTOR: self._rtor, RQR: 0, ICR: 0, TDR: self._tdr,
                PRESC: self._presc}.get(offset, 0) if offset < 0x30 else super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if offset in (CR1, CR2, BRR, PRESC):
            # speed or format: links between machines recompute their lookahead (uart_cable)
            old = {CR1: self._cr1, CR2: self._cr2, BRR: self.regs["BRR"], PRESC: self._presc}[offset]
            if (value ^ old) & {CR1: M0 | M1 | OVER8 | PCE | PS, CR2: 3 << 12}.get(offset, ~0):
                settings_changed()
        if offset == CR1:
            self._cr1 = value
            # The v1 view: UE at bit 13, bit 0 (SBK) kept for a break in progress.
            v1 = (value & 0xDFFE) | (V1_UE if value & UE else 0) | (self.regs["CR1"] & SBK)
            self._write_cr1(v1)
        elif offset in (CR2, CR3):
            setattr(self, "_cr2" if offset == CR2 else "_cr3", value)
            self.regs["CR2" if offset == CR2 else "CR3"] = value & 0xFFFF
            self._update_irq()
        elif offset == BRR:
            self.regs["BRR"] = value & (0xFFFFF if self.low_power else 0xFFFF)
        elif offset == GTPR:
            self.regs["GTPR"] = value & 0xFFFF
        elif offset == RTOR:
            self._rtor = value
        elif offset == RQR:
            if value & RXFRQ:
                self._set_sr(RXNE, False)
            if value & TXFRQ:
                self._tdr_full = False
                self._set_sr(TXE, True)
            if value & SBKRQ:
                self.regs["CR1"] |= SBK
                self._try_load()
        elif offset == ICR:
            clear = 0
            for bitn, flag in ICR_FLAGS.items():
                if value >> bitn & 1:
                    clear |= flag
            self._set_sr(clear, False)
        elif offset == TDR:
            self._sr_snapshot = TC                  # a TDR write clears TC (and TXE)
            self._write_dr(value & 0x1FF)
        elif offset == PRESC:
            self._presc = value & 0xF
        elif offset in (ISR, RDR):
            pass                                     # read-only
        else:
            super().write(offset, size, value)

    def _irq_enabled_sr(self) -> int:
        """As v1 for the CR1 enables (same bit positions); EIE lets FE/NF/ORE through without
        the v1 multibuffer (DMAR) condition; no LBD/CTS interrupts."""
        cr1, mask = self._cr1, 0
        for enable, flags in _IRQ_CR1:
            if cr1 & enable:
                mask |= flags
        if self._cr3 & EIE:
            mask |= FE | NF | ORE
        return mask
