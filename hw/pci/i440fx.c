/*
 * i440fx.c: the Intel 82441FX PCI and memory controller (PMC), function
 * 00.0 of the i440FX chipset: configuration mechanism #1 (0xcf8/0xcfc), the
 * PAM registers that switch the legacy BIOS window between ROM and shadow
 * RAM, and the SMRAM control register.
 *
 * Intel 440FX PCIset datasheet (order 290549-001), sections 3.2 (PAM0-PAM6
 * at 0x59-0x5f, SMRAM at 0x72) and PCI 3.0 section 3.2.2.3.2 (configuration
 * mechanism #1). Left out: DRAM timing and row boundaries (the DRB registers
 * read their reset values), SMM itself (SMRAM only stores its bits), the
 * error reporting registers.
 */
#include <sys/mman.h>

#include "hvmdm/dev.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/pci.h"
#include "hvmdm/trace.h"
#include "hvmdm/vmstate.h"

#define I440FX_CONFIG_ADDRESS 0xcf8
#define I440FX_CONFIG_DATA 0xcfc
#define I440FX_CONFIG_ENABLE (1u << 31)
/* Bits of CONFIG_ADDRESS that hold a value: enable, bus, device, function,
 * dword register; the rest are reserved and read as 0. */
#define I440FX_CONFIG_ADDRESS_MASK 0x80fffffcu

#define I440FX_PAM0 0x59 /* 440FX 3.2.17: PAM0..PAM6 */
#define I440FX_PAM6 0x5f
#define I440FX_PAM_NSEGS 13
#define I440FX_PAM_WMASK 0x33  /* RE (bit 0) and WE (bit 1) of each nibble */
#define I440FX_PAM0_WMASK 0x30 /* PAM0's low nibble is reserved */

#define I440FX_SMRAM 0x72 /* 440FX 3.2.18 */
#define I440FX_SMRAM_D_OPEN (1u << 6)
#define I440FX_SMRAM_D_CLS (1u << 5)
#define I440FX_SMRAM_D_LCK (1u << 4)
#define I440FX_SMRAM_G_SMRAME (1u << 3)
#define I440FX_SMRAM_C_BASE_SEG 0x02 /* read-only: SMRAM at 0xa0000 */
#define I440FX_SMRAM_WMASK                                           \
    (I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_CLS | I440FX_SMRAM_D_LCK | \
     I440FX_SMRAM_G_SMRAME)

/* The BIOS flash's top 128 KiB also answer at 0xe0000-0xfffff; its aliases
 * sit here below 4 GiB. */
#define I440FX_BIOS_ALIAS_BASE (4 * DM_GiB - 1 * DM_MiB)
#define I440FX_BIOS_LEGACY_START 0xe0000ull
#define I440FX_LEGACY_SIZE (DM_LEGACY_WINDOW_END - DM_LEGACY_WINDOW_START)

/* Other registers with a non-zero reset value (440FX table 3-1). */
static const struct {
    uint8_t reg, reset, wmask;
} i440fx_regs[] = {
    { 0x50, 0x00, 0x70 }, /* PMCCFG */
    { 0x51, 0x01, 0x80 }, /* DETURBO */
    { 0x57, 0x01, 0xef }, /* DRAMC */
    { 0x58, 0x10, 0x03 }, /* DRAMT */
    { 0x60, 0x01, 0xff }, /* DRB0..DRB7 */
    { 0x61, 0x01, 0xff }, { 0x62, 0x01, 0xff }, { 0x63, 0x01, 0xff },
    { 0x64, 0x01, 0xff }, { 0x65, 0x01, 0xff }, { 0x66, 0x01, 0xff },
    { 0x67, 0x01, 0xff },
};

struct i440fx {
    struct dm_pci_dev pci;
    struct dm_io_region addr_region; /* 0xcf8, dword only */
    struct dm_io_region data_region; /* 0xcfc-0xcff */
    uint32_t config_address;
    bool shadows_added;
    /* Derived: the shadow mode last given to memory, per segment (0xff when
     * memory must be told again). */
    uint8_t pam_mode[I440FX_PAM_NSEGS];
    /* ROM face of the legacy window where no firmware is: an empty ISA bus
     * reads all ones. Page-aligned (it becomes a memory slot), lives as long
     * as the device. */
    uint8_t *empty_rom;
};

/* Segment I: 0 is 0xf0000-0xfffff (PAM0 high nibble), 1..12 are the 16 KiB
 * segments from 0xc0000 (PAM1 low nibble, PAM1 high nibble, PAM2 low...). */
static void i440fx_pam_segment(unsigned i, uint64_t *gpa, uint64_t *size,
                               unsigned *reg, unsigned *shift)
{
    if (i == 0) {
        *gpa = 0xf0000;
        *size = 64 * DM_KiB;
        *reg = I440FX_PAM0;
        *shift = 4;
        return;
    }
    *gpa = DM_LEGACY_WINDOW_START + (i - 1) * 16 * DM_KiB;
    *size = 16 * DM_KiB;
    *reg = I440FX_PAM0 + 1 + (i - 1) / 2;
    *shift = (i - 1) % 2 ? 4 : 0;
}

static void i440fx_update_pam(struct i440fx *s)
{
    struct dm_memory *mem = s->pci.dev.m->mem;

    if (!s->shadows_added) {
        return;
    }
    for (unsigned i = 0; i < I440FX_PAM_NSEGS; i++) {
        uint64_t gpa, size;
        unsigned reg, shift, mode;

        i440fx_pam_segment(i, &gpa, &size, &reg, &shift);
        mode = (s->pci.config[reg] >> shift) & 3;
        if (mode == s->pam_mode[i]) {
            continue;
        }
        dm_trace(i440fx_pam, "0x%05" G_GINT64_MODIFIER "x mode %u", gpa, mode);
        if (dm_memory_set_shadow_mode(mem, gpa, (enum dm_shadow_mode)mode)) {
            s->pam_mode[i] = (uint8_t)mode;
        } else {
            dm_warn("i440fx: cannot switch shadow segment 0x%" G_GINT64_MODIFIER
                    "x to mode %u",
                    gpa, mode);
        }
    }
}

/* SMRAM (440FX 3.2.18): once D_LCK is set, D_OPEN is cleared and the whole
 * register is read-only until reset. */
static void i440fx_smram_write(struct i440fx *s, uint8_t val)
{
    uint8_t *smram = &s->pci.config[I440FX_SMRAM];

    if (*smram & I440FX_SMRAM_D_LCK) {
        return;
    }
    *smram = (uint8_t)((val & I440FX_SMRAM_WMASK) | I440FX_SMRAM_C_BASE_SEG);
    if (*smram & I440FX_SMRAM_D_LCK) {
        *smram &= (uint8_t)~I440FX_SMRAM_D_OPEN;
    }
}

static void i440fx_config_write(struct dm_pci_dev *p, unsigned reg,
                                uint32_t val, unsigned size)
{
    struct i440fx *s = dm_container_of(p, struct i440fx, pci);

    dm_pci_default_config_write(p, reg, val, size);
    if (reg <= I440FX_SMRAM && I440FX_SMRAM < reg + size) {
        i440fx_smram_write(s, (uint8_t)(val >> (8 * (I440FX_SMRAM - reg))));
    }
    if (reg <= I440FX_PAM6 && I440FX_PAM0 < reg + size) {
        i440fx_update_pam(s);
    }
}

/* ---- configuration mechanism #1 ---------------------------------------- */

static uint64_t i440fx_addr_read(void *opaque, uint64_t off, unsigned size)
{
    struct i440fx *s = opaque;

    return s->config_address;
}

static void i440fx_addr_write(void *opaque, uint64_t off, uint64_t val,
                              unsigned size)
{
    struct i440fx *s = opaque;

    s->config_address = (uint32_t)val & I440FX_CONFIG_ADDRESS_MASK;
}

static const struct dm_io_ops i440fx_addr_ops = {
    .read = i440fx_addr_read,
    .write = i440fx_addr_write,
    .valid = { .min = 4, .max = 4 },
    .impl = { .min = 4, .max = 4 },
};

/* The decoded target of a CONFIG_DATA access at OFF, or false when the
 * enable bit is clear or the access runs past 0xcff. */
static bool i440fx_data_target(struct i440fx *s, uint64_t off, unsigned size,
                               uint32_t *sbdf, unsigned *reg)
{
    uint32_t a = s->config_address;

    if (!(a & I440FX_CONFIG_ENABLE) || off + size > 4) {
        return false;
    }
    *sbdf = (a >> 8) & 0xffff; /* bus << 8 | devfn, segment 0 */
    *reg = (a & 0xfc) | (unsigned)off;
    return true;
}

static uint64_t i440fx_data_read(void *opaque, uint64_t off, unsigned size)
{
    struct i440fx *s = opaque;
    uint32_t sbdf, val;
    unsigned reg;

    if (!i440fx_data_target(s, off, size, &sbdf, &reg)) {
        return 0xffffffffu;
    }
    dm_io_pci_config(s->pci.dev.m, sbdf, reg, size, false, &val);
    return val;
}

static void i440fx_data_write(void *opaque, uint64_t off, uint64_t val,
                              unsigned size)
{
    struct i440fx *s = opaque;
    uint32_t sbdf, v = (uint32_t)val;
    unsigned reg;

    if (!i440fx_data_target(s, off, size, &sbdf, &reg)) {
        return;
    }
    dm_io_pci_config(s->pci.dev.m, sbdf, reg, size, true, &v);
}

static const struct dm_io_ops i440fx_data_ops = {
    .read = i440fx_data_read,
    .write = i440fx_data_write,
    .valid = { .min = 1, .max = 4 },
    .impl = { .min = 1, .max = 4 },
};

/* ---- device ------------------------------------------------------------- */

/* Declare the 13 PAM segments to memory, each with its ROM face. */
static bool i440fx_add_shadows(struct i440fx *s, GError **errp)
{
    struct dm_memory *mem = s->pci.dev.m->mem;

    s->empty_rom = mmap(NULL, I440FX_LEGACY_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->empty_rom == MAP_FAILED) {
        s->empty_rom = NULL;
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "i440fx: cannot allocate the legacy rom window: %s",
                    g_strerror(errno));
        return false;
    }
    memset(s->empty_rom, 0xff, I440FX_LEGACY_SIZE);
    for (unsigned i = 0; i < I440FX_PAM_NSEGS; i++) {
        uint64_t gpa, size;
        unsigned reg, shift;
        void *face = NULL;

        i440fx_pam_segment(i, &gpa, &size, &reg, &shift);
        if (gpa >= I440FX_BIOS_LEGACY_START) {
            face = dm_memory_host_ptr(mem, I440FX_BIOS_ALIAS_BASE + gpa, size,
                                      false);
        }
        if (!face) {
            face = s->empty_rom + (gpa - DM_LEGACY_WINDOW_START);
        }
        if (!dm_memory_add_shadow(mem, gpa, size, face, errp)) {
            return false;
        }
        s->pam_mode[i] = DM_SHADOW_ROM;
    }
    s->shadows_added = true;
    return true;
}

static void i440fx_reset(struct dm_dev *d)
{
    struct i440fx *s = dm_container_of(d, struct i440fx, pci.dev);
    uint8_t *c = s->pci.config;

    s->config_address = 0;
    for (unsigned reg = I440FX_PAM0; reg <= I440FX_PAM6; reg++) {
        c[reg] = 0;
    }
    c[I440FX_SMRAM] = I440FX_SMRAM_C_BASE_SEG;
    for (size_t i = 0; i < DM_ARRAY_SIZE(i440fx_regs); i++) {
        c[i440fx_regs[i].reg] = i440fx_regs[i].reset;
    }
    i440fx_update_pam(s);
}

static bool i440fx_realize(struct dm_dev *d, GError **errp)
{
    struct i440fx *s = dm_container_of(d, struct i440fx, pci.dev);
    struct dm_machine *m = d->m;

    s->pci.config_write = i440fx_config_write;
    /* Status: fast back-to-back capable, medium DEVSEL timing. */
    dm_pci_set_word(s->pci.config, PCI_STATUS, 0x0280);
    /* Only the registers modelled here are writable. */
    memset(s->pci.wmask + PCI_CONFIG_HEADER_SIZE, 0,
           PCI_CONFIG_SIZE - PCI_CONFIG_HEADER_SIZE);
    s->pci.wmask[I440FX_PAM0] = I440FX_PAM0_WMASK;
    for (unsigned reg = I440FX_PAM0 + 1; reg <= I440FX_PAM6; reg++) {
        s->pci.wmask[reg] = I440FX_PAM_WMASK;
    }
    for (size_t i = 0; i < DM_ARRAY_SIZE(i440fx_regs); i++) {
        s->pci.wmask[i440fx_regs[i].reg] = i440fx_regs[i].wmask;
    }
    /* SMRAM is written by i440fx_smram_write, never by the default path. */
    s->pci.wmask[I440FX_SMRAM] = 0;

    dm_io_region_init(&s->addr_region, "i440fx-config-address",
                      &i440fx_addr_ops, s, 4);
    dm_io_region_init(&s->data_region, "i440fx-config-data", &i440fx_data_ops,
                      s, 4);
    if (!dm_io_map(m->pio, &s->addr_region, I440FX_CONFIG_ADDRESS, errp) ||
        !dm_io_map(m->pio, &s->data_region, I440FX_CONFIG_DATA, errp)) {
        return false;
    }
    if (m->mem && !i440fx_add_shadows(s, errp)) {
        return false;
    }
    i440fx_reset(d);
    return true;
}

static void i440fx_unrealize(struct dm_dev *d)
{
    struct i440fx *s = dm_container_of(d, struct i440fx, pci.dev);

    if (dm_io_mapped(&s->addr_region)) {
        dm_io_unmap(&s->addr_region);
    }
    if (dm_io_mapped(&s->data_region)) {
        dm_io_unmap(&s->data_region);
    }
    /* Memory keeps pointing at the shadow faces until it is freed after the
     * devices; it never reads them then. */
    if (s->empty_rom) {
        munmap(s->empty_rom, I440FX_LEGACY_SIZE);
        s->empty_rom = NULL;
    }
}

static bool i440fx_post_load(void *opaque, int version, GError **errp)
{
    struct i440fx *s = opaque;

    s->config_address &= I440FX_CONFIG_ADDRESS_MASK;
    memset(s->pam_mode, 0xff, sizeof(s->pam_mode));
    i440fx_update_pam(s);
    return true;
}

static const struct dm_vmstate_field i440fx_vmstate_fields[] = {
    DM_VMS_STRUCT(struct i440fx, pci, &dm_pci_vmstate),
    DM_VMS_UINT32(struct i440fx, config_address),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate i440fx_vmstate = {
    .name = "i440FX",
    .version = 1,
    .min_version = 1,
    .fields = i440fx_vmstate_fields,
    .post_load = i440fx_post_load,
};

const struct dm_dev_type i440fx_type = {
    .name = "i440FX",
    .bus = DM_BUS_PCI,
    .size = sizeof(struct i440fx),
    .pci = {
        .vendor = 0x8086,
        .device = 0x1237,
        .revision = 0x02,
        .class_code = 0x060000,  /* host bridge */
        .header_type = 0x00,
    },
    .realize = i440fx_realize,
    .reset = i440fx_reset,
    .unrealize = i440fx_unrealize,
    .vmsd = &i440fx_vmstate,
    .desc = "i440FX PCI host bridge and memory controller (00.0)",
};
