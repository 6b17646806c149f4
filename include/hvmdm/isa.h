/*
 * isa.h: what the board needs to know of its ISA devices beyond their device
 * types: CMOS contents written at machine set-up, and the well-known ports.
 */
#ifndef HVMDM_ISA_H
#define HVMDM_ISA_H

#include "hvmdm/common.h"

struct dm_dev;

/* CMOS NVRAM byte IDX (0x0e..0x7f; the clock registers are not reachable
 * here) of the "mc146818rtc" device D. Set by the board before reset; kept
 * across resets as NVRAM is. */
void rtc_cmos_set(struct dm_dev *rtc, unsigned idx, uint8_t val);
uint8_t rtc_cmos_get(struct dm_dev *rtc, unsigned idx);
/* Bit 7 of the last write to the RTC index port: NMIs masked (the CPU side
 * of NMI delivery is the accelerator's; this only records the guest's
 * choice). */
bool rtc_nmi_masked(struct dm_dev *rtc);

#endif
