/*
 * pc.c: the PC board: creates and wires every device of an i440FX/PIIX3
 * machine explicitly, in order, and tells SeaBIOS about it through CMOS and
 * fw_cfg.
 *
 * Layout follows QEMU's "pc" machine, which is what SeaBIOS, hvmloader and
 * guests expect: host bridge at 00.0, ISA bridge at 01.0, RTC/CMOS at 0x70
 * (IRQ 8), i8042 at 0x60/0x64 (IRQ 1/12), COM1-4 at 0x3f8/0x2f8/0x3e8/0x2e8
 * (IRQ 4/3/4/3), fw_cfg at 0x510, debug console at 0xe9, POST port 0x80.
 * CMOS bytes as the IBM PC/AT BIOS and SeaBIOS read them. Left out: floppy,
 * VGA and ACPI (their own files add them), NUMA, SMBIOS.
 */
#include "hvmdm/chardev.h"
#include "hvmdm/config.h"
#include "hvmdm/dev.h"
#include "hvmdm/firmware.h"
#include "hvmdm/fw_cfg.h"
#include "hvmdm/ide.h"
#include "hvmdm/isa.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/pci.h"

/* CMOS bytes set by the board (IBM PC/AT technical reference, SeaBIOS's
 * src/hw/rtc.h and fw/paravirt.c). */
#define CMOS_FLOPPY_TYPES 0x10
#define CMOS_EQUIPMENT 0x14
#define CMOS_EQUIPMENT_FPU 0x02
#define CMOS_EQUIPMENT_PS2_MOUSE 0x04
#define CMOS_BASE_MEM_LO 0x15 /* KiB below 1 MiB */
#define CMOS_EXT_MEM_LO 0x17  /* KiB from 1 MiB, at most 65535 */
#define CMOS_EXT_MEM2_LO 0x30 /* same value, POST copy */
#define CMOS_BOOTFLAG1 \
    0x38                           /* bits 7:4 third boot device, bit 0 no
                                    * floppy signature check */
#define CMOS_BOOTFLAG2 0x3d        /* bits 3:0 first, 7:4 second device */
#define CMOS_MEM_ABOVE_16M_LO 0x34 /* 64 KiB units from 16 MiB to 4 GiB */
#define CMOS_MEM_ABOVE_4G 0x5b     /* 64 KiB units above 4 GiB, 3 bytes */
#define CMOS_SMP_COUNT 0x5f        /* CPUs - 1 */

/* Boot device codes of CMOS_BOOTFLAG1/2 (SeaBIOS boot.c). */
#define PC_BOOT_FLOPPY 1
#define PC_BOOT_DISK 2
#define PC_BOOT_CDROM 3
#define PC_BOOT_NET 4
#define PC_BOOT_MAX_CMOS 3

#define PC_BASE_MEM_KIB 640
#define PC_DEFAULT_BOOT "cad" /* disk, floppy, CD-ROM: QEMU's default */
#define PC_MAX_SERIAL 4
#define PC_MAX_DEBUGCON 1
#define PC_DEBUGCON_PORT 0xe9
#define PC_BOOT_FAIL_NEVER 0xffffffffu

static const struct {
    uint16_t iobase;
    uint8_t irq;
} pc_serial_ports[PC_MAX_SERIAL] = {
    { 0x3f8, 4 },
    { 0x2f8, 3 },
    { 0x3e8, 4 },
    { 0x2e8, 3 },
};

/* What -boot asked for. */
struct pc_boot {
    uint8_t cmos_order[PC_BOOT_MAX_CMOS]; /* PC_BOOT_*, 0 = none */
    bool menu;
    int64_t splash_time;    /* ms, -1 when not given */
    int64_t reboot_timeout; /* ms, -1: never */
};

/* ---- small helpers -------------------------------------------------------- */

/* Create TYPE with "name=value" pairs from the NULL-terminated PROPS and
 * realize it; the device belongs to the machine from then on. */
static struct dm_dev *pc_dev(struct dm_machine *m, const char *type,
                             const char *id, const char *const *props,
                             GError **errp)
{
    struct dm_dev *d = dm_dev_create(m, type, id, errp);

    if (!d) {
        return NULL;
    }
    for (const char *const *p = props; p && p[0]; p += 2) {
        if (!dm_dev_set_prop(d, p[0], p[1], errp)) {
            dm_dev_free(d);
            return NULL;
        }
    }
    if (!dm_dev_realize(d, errp)) {
        dm_dev_free(d);
        return NULL;
    }
    return d;
}

static struct dm_dev *pc_pci_dev(struct dm_machine *m, const char *type,
                                 int devfn, GError **errp)
{
    struct dm_dev *d = dm_dev_create(m, type, NULL, errp);

    if (!d) {
        return NULL;
    }
    dm_pci_dev_of(d)->devfn = devfn;
    if (!dm_dev_realize(d, errp)) {
        dm_dev_free(d);
        return NULL;
    }
    return d;
}

static void pc_cmos_set16(struct dm_dev *rtc, unsigned idx, uint16_t v)
{
    rtc_cmos_set(rtc, idx, (uint8_t)v);
    rtc_cmos_set(rtc, idx + 1, (uint8_t)(v >> 8));
}

/* ---- -boot ---------------------------------------------------------------- */

static bool pc_boot_device(char c, uint8_t *code)
{
    switch (c) {
    case 'a':
    case 'b':
        *code = PC_BOOT_FLOPPY;
        return true;
    case 'c':
        *code = PC_BOOT_DISK;
        return true;
    case 'd':
        *code = PC_BOOT_CDROM;
        return true;
    case 'n':
    case 'o':
    case 'p':
        *code = PC_BOOT_NET;
        return true;
    }
    return false;
}

static bool pc_parse_order(const char *order, struct pc_boot *b, GError **errp)
{
    size_t n = strlen(order);

    if (n == 0 || n > PC_BOOT_MAX_CMOS) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-boot order=%s: give 1 to %d devices (a, c, d, n)", order,
                    PC_BOOT_MAX_CMOS);
        return false;
    }
    memset(b->cmos_order, 0, sizeof(b->cmos_order));
    for (size_t i = 0; i < n; i++) {
        if (!pc_boot_device(order[i], &b->cmos_order[i])) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-boot order=%s: unknown boot device '%c' (expected "
                        "a, c, d or n)",
                        order, order[i]);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (order[j] == order[i]) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "-boot order=%s: device '%c' given twice", order,
                            order[i]);
                return false;
            }
        }
    }
    return true;
}

static bool pc_parse_ms(const char *opt, const char *v, int64_t *out,
                        GError **errp)
{
    uint64_t ms;

    if (!dm_parse_uint(v, &ms) || ms > 0xffff) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-boot %s=%s: expected milliseconds from 0 to 65535", opt,
                    v);
        return false;
    }
    *out = (int64_t)ms;
    return true;
}

static bool pc_parse_boot(const char *s, struct pc_boot *b, GError **errp)
{
    static const char *const keys[] = {
        "order",       "once",           "menu",   "splash",
        "splash-time", "reboot-timeout", "strict", NULL,
    };
    struct dm_opts *o;
    const char *v;
    bool ok = false;

    memset(b, 0, sizeof(*b));
    b->splash_time = -1;
    b->reboot_timeout = -1;
    if (!pc_parse_order(PC_DEFAULT_BOOT, b, errp)) {
        return false;
    }
    if (!s) {
        return true;
    }
    o = dm_opts_parse(s, "order", errp);
    if (!o) {
        g_prefix_error(errp, "-boot %s: ", s);
        return false;
    }
    if (!dm_opts_check_keys(o, keys, "-boot", errp)) {
        goto out;
    }
    /* "once" is treated as the permanent order: there is no one-shot
     * restore on reboot yet. */
    v = dm_opts_get(o, "once") ? dm_opts_get(o, "once")
                               : dm_opts_get(o, "order");
    if (v && !pc_parse_order(v, b, errp)) {
        goto out;
    }
    if (dm_opts_get(o, "menu")) {
        GError *err = NULL;

        b->menu = dm_opts_get_bool(o, "menu", false, &err);
        if (err) {
            g_propagate_prefixed_error(errp, err, "-boot: ");
            goto out;
        }
    }
    v = dm_opts_get(o, "splash-time");
    if (v && !pc_parse_ms("splash-time", v, &b->splash_time, errp)) {
        goto out;
    }
    v = dm_opts_get(o, "reboot-timeout");
    if (v && !pc_parse_ms("reboot-timeout", v, &b->reboot_timeout, errp)) {
        goto out;
    }
    ok = true;
out:
    dm_opts_free(o);
    return ok;
}

/* ---- CMOS ----------------------------------------------------------------- */

static void pc_cmos_init(struct dm_machine *m, struct dm_dev *rtc,
                         const struct pc_boot *boot)
{
    uint64_t below = dm_memory_below_4g(m->mem);
    uint64_t above = dm_memory_above_4g(m->mem);
    uint64_t v;

    rtc_cmos_set(rtc, CMOS_FLOPPY_TYPES, 0);
    rtc_cmos_set(rtc, CMOS_EQUIPMENT,
                 CMOS_EQUIPMENT_FPU | CMOS_EQUIPMENT_PS2_MOUSE);

    v = MIN(below / DM_KiB, PC_BASE_MEM_KIB);
    pc_cmos_set16(rtc, CMOS_BASE_MEM_LO, (uint16_t)v);

    v = below > DM_MiB ? (below - DM_MiB) / DM_KiB : 0;
    v = MIN(v, 0xffff);
    pc_cmos_set16(rtc, CMOS_EXT_MEM_LO, (uint16_t)v);
    pc_cmos_set16(rtc, CMOS_EXT_MEM2_LO, (uint16_t)v);

    v = below > 16 * DM_MiB ? (below - 16 * DM_MiB) / (64 * DM_KiB) : 0;
    v = MIN(v, 0xffff);
    pc_cmos_set16(rtc, CMOS_MEM_ABOVE_16M_LO, (uint16_t)v);

    v = MIN(above / (64 * DM_KiB), 0xffffff);
    rtc_cmos_set(rtc, CMOS_MEM_ABOVE_4G, (uint8_t)v);
    rtc_cmos_set(rtc, CMOS_MEM_ABOVE_4G + 1, (uint8_t)(v >> 8));
    rtc_cmos_set(rtc, CMOS_MEM_ABOVE_4G + 2, (uint8_t)(v >> 16));

    rtc_cmos_set(rtc, CMOS_SMP_COUNT, (uint8_t)(MAX(m->cfg->smp, 1u) - 1));

    rtc_cmos_set(rtc, CMOS_BOOTFLAG2,
                 (uint8_t)(boot->cmos_order[1] << 4 | boot->cmos_order[0]));
    /* Bit 0 clear: SeaBIOS checks the floppy boot signature. */
    rtc_cmos_set(rtc, CMOS_BOOTFLAG1, (uint8_t)(boot->cmos_order[2] << 4));
}

/* ---- character devices ---------------------------------------------------- */

/* A chardev for a -serial/-debugcon spec; *C is NULL for "none". */
static bool pc_chardev(struct dm_machine *m, const char *opt, const char *spec,
                       const char *id, struct dm_chr **c, GError **errp)
{
    GError *err = NULL;

    *c = dm_chr_new_short(m, spec, id, &err);
    if (err) {
        g_propagate_prefixed_error(errp, err, "%s %s: ", opt, spec);
        return false;
    }
    return true;
}

static bool pc_add_serial(struct dm_machine *m, unsigned index,
                          const char *spec, GError **errp)
{
    g_autofree char *id = g_strdup_printf("serial%u", index);
    g_autofree char *iobase = NULL;
    g_autofree char *irq = NULL;
    struct dm_chr *c;
    const char *props[7];

    if (index >= PC_MAX_SERIAL) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-serial %s: at most %d serial ports", spec, PC_MAX_SERIAL);
        return false;
    }
    if (!pc_chardev(m, "-serial", spec, id, &c, errp)) {
        return false;
    }
    if (!c) {
        return true; /* "none": no port at this index */
    }
    iobase = g_strdup_printf("0x%x", pc_serial_ports[index].iobase);
    irq = g_strdup_printf("%u", pc_serial_ports[index].irq);
    props[0] = "iobase";
    props[1] = iobase;
    props[2] = "irq";
    props[3] = irq;
    props[4] = "chardev";
    props[5] = dm_chr_id(c);
    props[6] = NULL;
    return pc_dev(m, "isa-serial", id, props, errp) != NULL;
}

static bool pc_add_serials(struct dm_machine *m, GError **errp)
{
    struct dm_config *cfg = m->cfg;

    if (cfg->serials->len == 0) {
        if (cfg->nodefaults) {
            return true;
        }
        /* No display to hold QEMU's "vc" yet: COM1 goes nowhere unless the
         * console is the terminal. */
        return pc_add_serial(m, 0, cfg->nographic ? "mon:stdio" : "null", errp);
    }
    for (guint i = 0; i < cfg->serials->len; i++) {
        if (!pc_add_serial(m, i, g_ptr_array_index(cfg->serials, i), errp)) {
            return false;
        }
    }
    return true;
}

static bool pc_add_debugcons(struct dm_machine *m, GError **errp)
{
    struct dm_config *cfg = m->cfg;

    for (guint i = 0; i < cfg->debugcons->len; i++) {
        const char *spec = g_ptr_array_index(cfg->debugcons, i);
        g_autofree char *id = g_strdup_printf("debugcon%u", i);
        g_autofree char *iobase = g_strdup_printf("0x%x", PC_DEBUGCON_PORT);
        struct dm_chr *c;
        const char *props[5] = { "iobase", iobase, "chardev", NULL, NULL };

        if (i >= PC_MAX_DEBUGCON) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "-debugcon %s: only one debug console (port 0x%x)",
                        spec, PC_DEBUGCON_PORT);
            return false;
        }
        if (!pc_chardev(m, "-debugcon", spec, id, &c, errp)) {
            return false;
        }
        if (!c) {
            continue;
        }
        props[3] = dm_chr_id(c);
        if (!pc_dev(m, "isa-debugcon", id, props, errp)) {
            return false;
        }
    }
    return true;
}

/* ---- fw_cfg ------------------------------------------------------------- */

static bool pc_add_user_fw_cfg(struct dm_machine *m, const char *s,
                               GError **errp)
{
    static const char *const keys[] = { "name", "file", "string", NULL };
    struct dm_opts *o = dm_opts_parse(s, "name", errp);
    const char *name, *file, *str;
    bool ok = false;

    if (!o) {
        g_prefix_error(errp, "-fw_cfg %s: ", s);
        return false;
    }
    if (!dm_opts_check_keys(o, keys, "-fw_cfg", errp)) {
        goto out;
    }
    name = dm_opts_get(o, "name");
    file = dm_opts_get(o, "file");
    str = dm_opts_get(o, "string");
    if (!name || !*name || (!file == !str)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-fw_cfg %s: expected name=NAME and one of file=PATH or "
                    "string=TEXT",
                    s);
        goto out;
    }
    if (!g_str_has_prefix(name, "opt/")) {
        dm_warn("-fw_cfg name=%s: names outside opt/ may clash with the "
                "machine's own files",
                name);
    }
    if (file) {
        g_autofree char *data = NULL;
        gsize len = 0;
        GError *err = NULL;

        if (!g_file_get_contents(file, &data, &len, &err)) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO,
                        "-fw_cfg name=%s,file=%s: cannot read: %s", name, file,
                        err->message);
            g_error_free(err);
            goto out;
        }
        ok = dm_fw_cfg_add_file(m->fw_cfg, name, data, len, errp);
    } else {
        ok = dm_fw_cfg_add_file(m->fw_cfg, name, str, strlen(str), errp);
    }
    if (!ok) {
        g_prefix_error(errp, "-fw_cfg %s: ", s);
    }
out:
    dm_opts_free(o);
    return ok;
}

static bool pc_fw_cfg_init(struct dm_machine *m, const struct pc_boot *boot,
                           GError **errp)
{
    struct dm_config *cfg = m->cfg;
    struct dm_fw_cfg *fw = m->fw_cfg;
    unsigned smp = MAX(cfg->smp, 1u);
    unsigned max_cpus = MAX(cfg->smp_maxcpus, smp);
    static const uint8_t uuid[16];
    uint32_t fail_wait;

    dm_fw_cfg_add_bytes(fw, FW_CFG_UUID, uuid, sizeof(uuid));
    dm_fw_cfg_add_i64(fw, FW_CFG_RAM_SIZE, dm_memory_ram_size(m->mem));
    dm_fw_cfg_add_i16(fw, FW_CFG_NOGRAPHIC, cfg->nographic);
    dm_fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, (uint16_t)smp);
    dm_fw_cfg_add_i16(fw, FW_CFG_MAX_CPUS, (uint16_t)max_cpus);
    dm_fw_cfg_add_i16(fw, FW_CFG_BOOT_MENU, boot->menu);
    /* The PIT is wired to IOAPIC pin 2, as on real boards and QEMU/KVM. */
    dm_fw_cfg_add_i32(fw, FW_CFG_IRQ0_OVERRIDE, 1);
    dm_firmware_add_e820(m);

    /* SeaBIOS: how long to wait before rebooting when nothing boots. */
    fail_wait = boot->reboot_timeout < 0 ? PC_BOOT_FAIL_NEVER
                                         : (uint32_t)boot->reboot_timeout;
    fail_wait = GUINT32_TO_LE(fail_wait);
    if (!dm_fw_cfg_add_file(fw, "etc/boot-fail-wait", &fail_wait, 4, errp)) {
        return false;
    }
    if (boot->menu && boot->splash_time >= 0) {
        uint16_t wait = GUINT16_TO_LE((uint16_t)boot->splash_time);

        if (!dm_fw_cfg_add_file(fw, "etc/boot-menu-wait", &wait, 2, errp)) {
            return false;
        }
    }
    if (cfg->nographic) {
        /* No VGA: SeaBIOS mirrors its screen output on COM1. */
        uint16_t port = GUINT16_TO_LE(pc_serial_ports[0].iobase);

        if (!dm_fw_cfg_add_file(fw, "etc/sercon-port", &port, 2, errp)) {
            return false;
        }
    }
    if (!dm_fw_cfg_add_file(fw, "bootorder", NULL, 0, errp)) {
        return false;
    }
    for (guint i = 0; i < cfg->fw_cfg->len; i++) {
        if (!pc_add_user_fw_cfg(m, g_ptr_array_index(cfg->fw_cfg, i), errp)) {
            return false;
        }
    }
    return true;
}

/* ---- the board ---------------------------------------------------------- */

bool dm_pc_init(struct dm_machine *m, GError **errp)
{
    struct dm_config *cfg = m->cfg;
    bool xen = cfg->machine && strcmp(cfg->machine, "xenfv") == 0;
    static const char *const rtc_props[] = { "iobase", "0x70", "irq", "8",
                                             NULL };
    struct pc_boot boot;
    struct dm_dev *rtc;

    if (!pc_parse_boot(cfg->boot, &boot, errp)) {
        return false;
    }
    /* Under Xen, hvmloader is the firmware and Xen owns guest memory. */
    if (!xen && !dm_firmware_load_bios(m, cfg->bios, errp)) {
        return false;
    }
    if (!m->pci) {
        m->pci = dm_pci_bus_new(m, m->pio, m->mmio);
    }
    if (!pc_pci_dev(m, "i440FX", PCI_DEVFN(0, 0), errp) ||
        !pc_pci_dev(m, "PIIX3", PCI_DEVFN(1, 0), errp)) {
        return false;
    }

    rtc = pc_dev(m, "mc146818rtc", NULL, rtc_props, errp);
    if (!rtc) {
        return false;
    }
    m->rtc = rtc;
    pc_cmos_init(m, rtc, &boot);

    if (!pc_dev(m, "i8042", NULL, NULL, errp) ||
        !pc_dev(m, "port92", NULL, NULL, errp) || !pc_add_serials(m, errp) ||
        !pc_add_debugcons(m, errp)) {
        return false;
    }
    if (dm_dev_type_find("isa-post") &&
        !pc_dev(m, "isa-post", NULL, NULL, errp)) {
        return false;
    }
    if (!xen) {
        if (!pc_dev(m, "fw_cfg_io", NULL, NULL, errp) ||
            !pc_fw_cfg_init(m, &boot, errp)) {
            return false;
        }
    }
    /* IDE at 01.1 with the if=ide drives; the "bootorder" file too. */
    if (!ide_pc_init(m, PCI_DEVFN(1, 1), errp)) {
        return false;
    }
    /* -device devices come after this, from dm_machine_add_user_devices. */
    return true;
}
