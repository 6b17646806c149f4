/*
 * piix3.c: the Intel 82371SB (PIIX3) PCI-to-ISA bridge, function 01.0:
 * PCI INTx to ISA IRQ steering (PIRQ route control), the edge/level control
 * registers (ELCR) and the reset control register at 0xcf9.
 *
 * Intel 82371FB/82371SB datasheet (order 290550-002), sections 2.2 (PCI
 * configuration: PIRQRC[A:D] at 0x60-0x63), 2.4.12 (ELCR 0x4d0/0x4d1) and
 * 2.4.14 (RC 0xcf9). Slot/pin to PIRQ follows the i440FX board wiring that
 * SeaBIOS assumes: PIRQ = (slot - 1 + pin) mod 4 with INTA# as pin 0.
 * Left out: the ISA DMA, timer and interrupt controllers (the accelerator
 * has them), motherboard IRQ/DMA (MBIRQ, MBDMA: stored only), SMI.
 */
#include "hvmdm/dev.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define PIIX3_PIRQRC 0x60 /* PIRQRC[A:D], 0x60-0x63 */
#define PIIX3_PIRQ_COUNT 4
#define PIIX3_PIRQRC_DISABLE 0x80 /* IRQROUTEEN# */
#define PIIX3_PIRQRC_IRQ 0x0f
#define PIIX3_PIRQRC_WMASK (PIIX3_PIRQRC_DISABLE | PIIX3_PIRQRC_IRQ)
/* IRQs a PIRQ may be steered to: 3-7, 9-12, 14, 15. */
#define PIIX3_PIRQ_VALID_IRQS 0xdef8u

#define PIIX3_ELCR_PORT 0x4d0
/* IRQ 0, 1, 2, 8 and 13 are always edge triggered (2.4.12). */
#define PIIX3_ELCR1_WMASK 0xf8
#define PIIX3_ELCR2_WMASK 0xde

#define PIIX3_RC_PORT 0xcf9
#define PIIX3_RC_SRST (1u << 1) /* system reset (vs. CPU only) */
#define PIIX3_RC_RCPU (1u << 2) /* reset the CPU now */

/* Function 0 registers with their reset value (82371SB table 2). */
static const struct {
    uint8_t reg, reset, wmask;
} piix3_regs[] = {
    { 0x4c, 0x4d, 0xff }, /* IORT: ISA I/O recovery timer */
    { 0x4e, 0x03, 0xff }, /* XBCS: X-bus chip select (low) */
    { 0x4f, 0x00, 0xff },
    { 0x60, 0x80, PIIX3_PIRQRC_WMASK }, /* PIRQRCA */
    { 0x61, 0x80, PIIX3_PIRQRC_WMASK }, /* PIRQRCB */
    { 0x62, 0x80, PIIX3_PIRQRC_WMASK }, /* PIRQRCC */
    { 0x63, 0x80, PIIX3_PIRQRC_WMASK }, /* PIRQRCD */
    { 0x69, 0x02, 0xff },               /* TOM: top of memory */
    { 0x6a, 0x00, 0xff },               /* MSTAT: misc status */
    { 0x6b, 0x00, 0xff },
    { 0x70, 0x80, 0xef }, /* MBIRQ0 */
    { 0x76, 0x0c, 0x8f }, /* MBDMA0 */
    { 0x77, 0x0c, 0x8f }, /* MBDMA1 */
    { 0x78, 0x02, 0xff }, /* PCSC: programmable chip select */
    { 0x79, 0x00, 0xff },
    { 0x80, 0x00, 0x7f }, /* APICBASE */
    { 0x82, 0x00, 0x0f }, /* DLC: deterministic latency */
    { 0xa0, 0x08, 0x1f }, /* SMICNTL */
    { 0xa2, 0x00, 0xff }, /* SMIEN */
    { 0xa3, 0x00, 0x01 },
    { 0xa4, 0x00, 0xff }, /* SEE: system event enable */
    { 0xa5, 0x00, 0xff },
    { 0xa6, 0x00, 0x00 },
    { 0xa7, 0x00, 0xe0 },
    { 0xa8, 0x0f, 0xff }, /* FTMR: fast off timer */
    { 0xaa, 0x00, 0xff }, /* SMIREQ */
    { 0xab, 0x00, 0x01 },
    { 0xac, 0x00, 0xff }, /* CTLTMR */
    { 0xae, 0x00, 0xff }, /* CTHTMR */
};

struct piix3 {
    struct dm_pci_dev pci;
    struct dm_io_region elcr_region;
    struct dm_io_region rc_region;
    uint8_t elcr[2];
    uint8_t rc;
    /* One ISA IRQ source per PIRQ and steerable IRQ; only the line of the
     * IRQ a PIRQ is routed to carries its level. */
    struct dm_irq_line pirq_line[PIIX3_PIRQ_COUNT][DM_ISA_IRQS];
};

static bool piix3_irq_valid(unsigned irq)
{
    return irq < DM_ISA_IRQS && (PIIX3_PIRQ_VALID_IRQS & (1u << irq));
}

/* The PIRQ that INTx PIN (0 = INTA#) of function DEVFN is wired to. */
static unsigned piix3_slot_pirq(int devfn, int pin)
{
    return (unsigned)((devfn >> 3) - 1 + pin) & 3;
}

/* Recompute every PIRQ's level from the functions on the bus and drive the
 * ISA line of the IRQ it is routed to. */
static void piix3_update_irq(struct piix3 *s)
{
    struct dm_pci_bus *bus = s->pci.bus;
    int level[PIIX3_PIRQ_COUNT] = { 0 };

    for (int devfn = 0; bus && devfn < 256; devfn++) {
        struct dm_pci_dev *p = dm_pci_bus_find(bus, devfn);

        if (p && dm_pci_intx_asserted(p)) {
            int pin = p->config[PCI_INTERRUPT_PIN] - 1;

            level[piix3_slot_pirq(devfn, pin)] = 1;
        }
    }
    for (unsigned n = 0; n < PIIX3_PIRQ_COUNT; n++) {
        uint8_t route = s->pci.config[PIIX3_PIRQRC + n];
        int target = -1;

        if (!(route & PIIX3_PIRQRC_DISABLE) &&
            piix3_irq_valid(route & PIIX3_PIRQRC_IRQ)) {
            target = route & PIIX3_PIRQRC_IRQ;
        }
        for (int irq = 0; irq < DM_ISA_IRQS; irq++) {
            if (piix3_irq_valid((unsigned)irq)) {
                dm_irq_set(&s->pirq_line[n][irq], irq == target ? level[n] : 0);
            }
        }
    }
}

static void piix3_set_intx(void *opaque, int devfn, int pin, int level)
{
    struct piix3 *s = opaque;

    dm_trace(piix3_intx, "%02x.%x INT%c -> PIRQ%c level %d", devfn >> 3,
             devfn & 7, 'A' + pin, 'A' + piix3_slot_pirq(devfn, pin), level);
    piix3_update_irq(s);
}

static void piix3_config_write(struct dm_pci_dev *p, unsigned reg, uint32_t val,
                               unsigned size)
{
    struct piix3 *s = dm_container_of(p, struct piix3, pci);

    dm_pci_default_config_write(p, reg, val, size);
    if (reg < PIIX3_PIRQRC + PIIX3_PIRQ_COUNT && PIIX3_PIRQRC < reg + size) {
        for (unsigned n = 0; n < PIIX3_PIRQ_COUNT; n++) {
            uint8_t route = p->config[PIIX3_PIRQRC + n];

            if (!(route & PIIX3_PIRQRC_DISABLE) &&
                !piix3_irq_valid(route & PIIX3_PIRQRC_IRQ)) {
                dm_guest_error("piix3: PIRQ%c routed to reserved IRQ %u",
                               'A' + n, route & PIIX3_PIRQRC_IRQ);
            }
        }
        piix3_update_irq(s);
    }
}

/* ---- ELCR and reset control --------------------------------------------- */

static uint64_t piix3_elcr_read(void *opaque, uint64_t off, unsigned size)
{
    struct piix3 *s = opaque;

    return off < 2 ? s->elcr[off] : 0xff;
}

static void piix3_elcr_write(void *opaque, uint64_t off, uint64_t val,
                             unsigned size)
{
    struct piix3 *s = opaque;

    if (off == 0) {
        s->elcr[0] = (uint8_t)val & PIIX3_ELCR1_WMASK;
    } else if (off == 1) {
        s->elcr[1] = (uint8_t)val & PIIX3_ELCR2_WMASK;
    }
}

static const struct dm_io_ops piix3_elcr_ops = {
    .read = piix3_elcr_read,
    .write = piix3_elcr_write,
    .valid = { .min = 1, .max = 2 },
    .impl = { .min = 1, .max = 1 },
};

static uint64_t piix3_rc_read(void *opaque, uint64_t off, unsigned size)
{
    struct piix3 *s = opaque;

    return s->rc;
}

static void piix3_rc_write(void *opaque, uint64_t off, uint64_t val,
                           unsigned size)
{
    struct piix3 *s = opaque;

    s->rc = (uint8_t)val & PIIX3_RC_SRST;
    if (val & PIIX3_RC_RCPU) {
        dm_trace(piix3_reset_request, "rc 0x%x", (unsigned)val & 0xff);
        dm_machine_request_reset(s->pci.dev.m);
    }
}

static const struct dm_io_ops piix3_rc_ops = {
    .read = piix3_rc_read,
    .write = piix3_rc_write,
    .valid = { .min = 1, .max = 1 },
    .impl = { .min = 1, .max = 1 },
};

/* ---- device ------------------------------------------------------------- */

static void piix3_reset(struct dm_dev *d)
{
    struct piix3 *s = dm_container_of(d, struct piix3, pci.dev);

    for (size_t i = 0; i < DM_ARRAY_SIZE(piix3_regs); i++) {
        s->pci.config[piix3_regs[i].reg] = piix3_regs[i].reset;
    }
    s->elcr[0] = 0;
    s->elcr[1] = 0;
    s->rc = 0;
    piix3_update_irq(s);
}

static bool piix3_realize(struct dm_dev *d, GError **errp)
{
    struct piix3 *s = dm_container_of(d, struct piix3, pci.dev);
    struct dm_machine *m = d->m;

    s->pci.config_write = piix3_config_write;
    /* Status: medium DEVSEL timing. */
    dm_pci_set_word(s->pci.config, PCI_STATUS, 0x0200);
    memset(s->pci.wmask + PCI_CONFIG_HEADER_SIZE, 0,
           PCI_CONFIG_SIZE - PCI_CONFIG_HEADER_SIZE);
    for (size_t i = 0; i < DM_ARRAY_SIZE(piix3_regs); i++) {
        s->pci.wmask[piix3_regs[i].reg] = piix3_regs[i].wmask;
    }

    for (unsigned n = 0; n < PIIX3_PIRQ_COUNT; n++) {
        for (int irq = 0; irq < DM_ISA_IRQS; irq++) {
            if (piix3_irq_valid((unsigned)irq) &&
                !dm_isa_irq_connect(m, &s->pirq_line[n][irq], irq, errp)) {
                return false;
            }
        }
    }
    dm_io_region_init(&s->elcr_region, "piix3-elcr", &piix3_elcr_ops, s, 2);
    dm_io_region_init(&s->rc_region, "piix3-rc", &piix3_rc_ops, s, 1);
    if (!dm_io_map(m->pio, &s->elcr_region, PIIX3_ELCR_PORT, errp) ||
        !dm_io_map(m->pio, &s->rc_region, PIIX3_RC_PORT, errp)) {
        return false;
    }
    dm_pci_bus_set_intx_router(s->pci.bus, piix3_set_intx, s);
    piix3_reset(d);
    return true;
}

static void piix3_unrealize(struct dm_dev *d)
{
    struct piix3 *s = dm_container_of(d, struct piix3, pci.dev);

    if (s->pci.bus) {
        dm_pci_bus_set_intx_router(s->pci.bus, NULL, NULL);
    }
    for (unsigned n = 0; n < PIIX3_PIRQ_COUNT; n++) {
        for (int irq = 0; irq < DM_ISA_IRQS; irq++) {
            dm_irq_set(&s->pirq_line[n][irq], 0);
        }
    }
    if (dm_io_mapped(&s->elcr_region)) {
        dm_io_unmap(&s->elcr_region);
    }
    if (dm_io_mapped(&s->rc_region)) {
        dm_io_unmap(&s->rc_region);
    }
}

static bool piix3_post_load(void *opaque, int version, GError **errp)
{
    struct piix3 *s = opaque;

    s->elcr[0] &= PIIX3_ELCR1_WMASK;
    s->elcr[1] &= PIIX3_ELCR2_WMASK;
    s->rc &= PIIX3_RC_SRST;
    piix3_update_irq(s);
    return true;
}

static const struct dm_vmstate_field piix3_vmstate_fields[] = {
    DM_VMS_STRUCT(struct piix3, pci, &dm_pci_vmstate),
    DM_VMS_UINT_ARRAY(struct piix3, elcr),
    DM_VMS_UINT8(struct piix3, rc),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate piix3_vmstate = {
    .name = "PIIX3",
    .version = 1,
    .min_version = 1,
    .fields = piix3_vmstate_fields,
    .post_load = piix3_post_load,
};

const struct dm_dev_type piix3_type = {
    .name = "PIIX3",
    .bus = DM_BUS_PCI,
    .size = sizeof(struct piix3),
    .pci = {
        .vendor = 0x8086,
        .device = 0x7000,
        .revision = 0x00,
        .class_code = 0x060100,  /* ISA bridge */
        .header_type = PCI_HEADER_TYPE_MULTI,
    },
    .realize = piix3_realize,
    .reset = piix3_reset,
    .unrealize = piix3_unrealize,
    .vmsd = &piix3_vmstate,
    .desc = "PIIX3 PCI-to-ISA bridge with PIRQ routing (01.0)",
};
