/*
 * config.c: the command line.
 *
 * One parser for QEMU's option-string syntax ("value,key=value,key,,more")
 * and the argv options hvmdm understands, in QEMU's spelling (one or two
 * leading dashes). Every error names the option and what was expected; the
 * caller prints it. Options whose subsystem is not written yet are refused
 * with "not supported yet" rather than ignored.
 */
#include <stdio.h>
#include <unistd.h>

#include "hvmdm/blockdev.h"
#include "hvmdm/config.h"
#include "hvmdm/dev.h"

#define DM_RAM_MIN DM_MiB
#define DM_RAM_MAX (1024 * DM_GiB)  /* 1 TiB: more than any host here maps */
#define DM_SMP_MAX 255
#define DM_OPT_KEY_MAX 64

/* ---- option strings ------------------------------------------------------ */

static void dm_kv_clear(gpointer p)
{
    struct dm_kv *kv = p;

    g_free(kv->key);
    g_free(kv->value);
}

static bool dm_opts_key_valid(const char *k)
{
    if (!*k || strlen(k) > DM_OPT_KEY_MAX) {
        return false;
    }
    for (; *k; k++) {
        if (!g_ascii_isalnum(*k) && *k != '_' && *k != '-' && *k != '.') {
            return false;
        }
    }
    return true;
}

/* Next item of S starting at *POS: up to a single comma, ",," kept as one
 * comma. */
static char *dm_opts_next_item(const char *s, size_t *pos)
{
    GString *item = g_string_new(NULL);
    size_t i = *pos;

    while (s[i]) {
        if (s[i] == ',') {
            if (s[i + 1] == ',') {
                g_string_append_c(item, ',');
                i += 2;
                continue;
            }
            i++;
            *pos = i;
            return g_string_free(item, FALSE);
        }
        g_string_append_c(item, s[i]);
        i++;
    }
    *pos = i;
    return g_string_free(item, FALSE);
}

struct dm_opts *dm_opts_parse(const char *s, const char *implied_key,
                              GError **errp)
{
    struct dm_opts *o = g_new0(struct dm_opts, 1);
    size_t pos = 0;
    bool first = true;

    o->kv = g_array_new(FALSE, TRUE, sizeof(struct dm_kv));
    g_array_set_clear_func(o->kv, dm_kv_clear);
    if (!s) {
        s = "";
    }
    while (s[pos]) {
        size_t start = pos;
        char *item = dm_opts_next_item(s, &pos);
        /* An item with '=' is key=value, even in first position. */
        char *eq = strchr(item, '=');
        struct dm_kv kv;

        if (first && implied_key && !eq) {
            kv.key = g_strdup(implied_key);
            kv.value = item;
        } else if (eq) {
            *eq = '\0';
            kv.key = g_strdup(item);
            kv.value = g_strdup(eq + 1);
            g_free(item);
        } else {
            /* "key" alone means key=on */
            kv.key = item;
            kv.value = g_strdup("on");
        }
        first = false;
        if (!dm_opts_key_valid(kv.key)) {
            if (!*kv.key) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "empty parameter at offset %zu", start);
            } else {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "invalid parameter name '%s'", kv.key);
            }
            dm_kv_clear(&kv);
            dm_opts_free(o);
            return NULL;
        }
        g_array_append_val(o->kv, kv);
    }
    return o;
}

void dm_opts_free(struct dm_opts *o)
{
    if (o) {
        g_array_free(o->kv, TRUE);
        g_free(o);
    }
}

const char *dm_opts_get(const struct dm_opts *o, const char *key)
{
    for (guint i = o->kv->len; i > 0; i--) {
        struct dm_kv *kv = &g_array_index(o->kv, struct dm_kv, i - 1);

        if (strcmp(kv->key, key) == 0) {
            return kv->value;
        }
    }
    return NULL;
}

bool dm_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "on", "yes", "true", NULL };
    static const char *const no[] = { "off", "no", "false", NULL };

    for (int i = 0; yes[i]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool dm_opts_get_bool(const struct dm_opts *o, const char *key, bool def,
                      GError **errp)
{
    const char *v = dm_opts_get(o, key);
    bool b;

    if (!v) {
        return def;
    }
    if (!dm_parse_bool(v, &b)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "%s=%s: expected on or off", key, v);
        return def;
    }
    return b;
}

/* Digits of S in BASE up to the first non-digit; false on overflow or when
 * there is no digit. */
static bool dm_parse_digits(const char **s, unsigned base, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;

    if (!g_ascii_isxdigit(*p)) {
        return false;
    }
    for (; *p; p++) {
        int d = base == 16 ? g_ascii_xdigit_value(*p) : g_ascii_digit_value(*p);

        if (d < 0) {
            break;
        }
        if (v > (UINT64_MAX - (uint64_t)d) / base) {
            return false;
        }
        v = v * base + (uint64_t)d;
    }
    if (p == *s) {
        return false;
    }
    *s = p;
    *out = v;
    return true;
}

bool dm_parse_uint(const char *s, uint64_t *out)
{
    unsigned base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    return dm_parse_digits(&s, base, out) && *s == '\0';
}

bool dm_parse_size(const char *s, uint64_t def_unit, uint64_t *out)
{
    uint64_t whole, frac = 0, frac_div = 1, unit = def_unit;
    unsigned base = 10;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!dm_parse_digits(&s, base, &whole)) {
        return false;
    }
    if (*s == '.' && base == 10) {
        /* "1.5G": up to 9 fractional digits */
        s++;
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
        for (; g_ascii_isdigit(*s); s++) {
            if (frac_div < 1000000000ull) {
                frac = frac * 10 + (uint64_t)g_ascii_digit_value(*s);
                frac_div *= 10;
            }
        }
    }
    switch (*s) {
    case '\0':
        break;
    case 'b': case 'B': unit = 1; s++; break;
    case 'k': case 'K': unit = DM_KiB; s++; break;
    case 'm': case 'M': unit = DM_MiB; s++; break;
    case 'g': case 'G': unit = DM_GiB; s++; break;
    case 't': case 'T': unit = 1024 * DM_GiB; s++; break;
    default:
        return false;
    }
    /* "512MiB" and "4GB" are common spellings too */
    if (unit != 1 && (strcmp(s, "iB") == 0 || strcmp(s, "B") == 0)) {
        s += strlen(s);
    }
    if (*s != '\0' || unit == 0) {
        return false;
    }
    if (whole > UINT64_MAX / unit) {
        return false;
    }
    whole *= unit;
    if (frac) {
        /* unit <= 2^40 and frac < 10^9 < 2^30: no overflow */
        uint64_t f = frac * unit / frac_div;

        if (whole > UINT64_MAX - f) {
            return false;
        }
        whole += f;
    }
    *out = whole;
    return true;
}

bool dm_opts_check_keys(const struct dm_opts *o, const char *const *allowed,
                        const char *what, GError **errp)
{
    for (guint i = 0; i < o->kv->len; i++) {
        const char *k = g_array_index(o->kv, struct dm_kv, i).key;
        bool ok = false;

        for (int j = 0; allowed[j]; j++) {
            if (strcmp(k, allowed[j]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            g_autofree char *list = g_strjoinv(", ", (char **)allowed);

            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: unknown parameter '%s' (expected %s)", what, k,
                        list);
            return false;
        }
    }
    return true;
}

/* ---- the configuration --------------------------------------------------- */

struct dm_config *dm_config_new(void)
{
    struct dm_config *cfg = g_new0(struct dm_config, 1);

    cfg->ram_size = 128 * DM_MiB;
    cfg->smp = cfg->smp_maxcpus = 1;
    cfg->smp_sockets = cfg->smp_cores = cfg->smp_threads = 1;
    cfg->machine = g_strdup("pc");
    cfg->accel = g_strdup("kvm");
    cfg->serials = g_ptr_array_new_with_free_func(g_free);
    cfg->chardevs = g_ptr_array_new_with_free_func(g_free);
    cfg->devices = g_ptr_array_new_with_free_func(g_free);
    cfg->debugcons = g_ptr_array_new_with_free_func(g_free);
    cfg->fw_cfg = g_ptr_array_new_with_free_func(g_free);
    cfg->traces = g_ptr_array_new_with_free_func(g_free);
    cfg->drives = g_ptr_array_new_with_free_func(g_free);
    cfg->drive_sources = g_ptr_array_new_with_free_func(g_free);
    cfg->log_level = 1; /* DM_LOG_WARN */
    return cfg;
}

void dm_config_free(struct dm_config *cfg)
{
    if (!cfg) {
        return;
    }
    g_free(cfg->machine);
    g_free(cfg->accel);
    g_free(cfg->bios);
    g_free(cfg->name);
    g_free(cfg->process_name);
    g_free(cfg->qtest);
    g_free(cfg->qtest_log);
    g_ptr_array_free(cfg->serials, TRUE);
    g_ptr_array_free(cfg->chardevs, TRUE);
    g_ptr_array_free(cfg->devices, TRUE);
    g_ptr_array_free(cfg->debugcons, TRUE);
    g_ptr_array_free(cfg->fw_cfg, TRUE);
    g_ptr_array_free(cfg->traces, TRUE);
    g_ptr_array_free(cfg->drives, TRUE);
    g_ptr_array_free(cfg->drive_sources, TRUE);
    g_free(cfg->monitor);
    g_free(cfg->boot);
    g_free(cfg);
}

static void dm_set_str(char **dst, const char *v)
{
    g_free(*dst);
    *dst = g_strdup(v);
}

/* Parse ARG as option string for option OPT; errors are prefixed
 * "-OPT ARG: ". */
static struct dm_opts *dm_cli_opts(const char *opt, const char *arg,
                                   const char *implied,
                                   const char *const *allowed, GError **errp)
{
    GError *err = NULL;
    struct dm_opts *o = dm_opts_parse(arg, implied, &err);
    g_autofree char *what = g_strdup_printf("-%s %s", opt, arg);

    if (!o) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: %s", what,
                    err->message);
        g_error_free(err);
        return NULL;
    }
    if (allowed && !dm_opts_check_keys(o, allowed, what, errp)) {
        dm_opts_free(o);
        return NULL;
    }
    return o;
}

static bool dm_file_must_exist(const char *opt, const char *arg,
                               const char *path, GError **errp)
{
    if (!*path) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a file name", opt, arg);
        return false;
    }
    if (access(path, R_OK) != 0) {
        int e = errno;

        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "-%s %s: %s: %s", opt,
                    arg, path, g_strerror(e));
        return false;
    }
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: %s: not a regular file", opt, arg, path);
        return false;
    }
    return true;
}

/* Option handlers: OPT is the option name without dashes. */
typedef bool (*dm_cli_fn)(struct dm_config *cfg, const char *opt,
                          const char *arg, bool *exit_now, GError **errp);

static bool cli_mem(struct dm_config *cfg, const char *opt, const char *arg,
                    bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "size", "slots", "maxmem", NULL };
    struct dm_opts *o = dm_cli_opts(opt, arg, "size", keys, errp);
    const char *v;
    uint64_t size;
    bool ok = false;

    if (!o) {
        return false;
    }
    v = dm_opts_get(o, "size");
    if (!v) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a memory size such as 512M or 4G", opt,
                    arg);
    } else if (!dm_parse_size(v, DM_MiB, &size)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a memory size such as 512M or 4G", opt,
                    arg);
    } else if (size < DM_RAM_MIN) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: memory size must be at least 1 MiB", opt, arg);
    } else if (size > DM_RAM_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: memory size must be at most 1 TiB", opt, arg);
    } else {
        /* whole pages, as the accelerators map RAM */
        cfg->ram_size = dm_align_up(size, 4 * DM_KiB);
        ok = true;
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_smp_num(const struct dm_opts *o, const char *key,
                        unsigned *out, const char *opt, const char *arg,
                        GError **errp)
{
    const char *v = dm_opts_get(o, key);
    uint64_t n;

    if (!v) {
        *out = 0;
        return true;
    }
    if (!dm_parse_uint(v, &n) || n < 1 || n > DM_SMP_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: %s must be a number from 1 to %d", opt, arg,
                    strcmp(key, "cpus") == 0 ? "cpu count" : key, DM_SMP_MAX);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool cli_smp(struct dm_config *cfg, const char *opt, const char *arg,
                    bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "cpus", "maxcpus", "sockets", "dies",
                                        "cores", "threads", NULL };
    struct dm_opts *o = dm_cli_opts(opt, arg, "cpus", keys, errp);
    unsigned cpus, maxcpus, sockets, dies, cores, threads;
    bool ok = false;

    if (!o) {
        return false;
    }
    if (!cli_smp_num(o, "cpus", &cpus, opt, arg, errp) ||
        !cli_smp_num(o, "maxcpus", &maxcpus, opt, arg, errp) ||
        !cli_smp_num(o, "sockets", &sockets, opt, arg, errp) ||
        !cli_smp_num(o, "dies", &dies, opt, arg, errp) ||
        !cli_smp_num(o, "cores", &cores, opt, arg, errp) ||
        !cli_smp_num(o, "threads", &threads, opt, arg, errp)) {
        goto out;
    }
    dies = dies ? dies : 1;
    threads = threads ? threads : 1;
    cores = cores ? cores : 1;
    if (!maxcpus) {
        maxcpus = cpus ? cpus : (sockets ? sockets : 1) * dies * cores * threads;
    }
    if (!sockets) {
        sockets = maxcpus / (dies * cores * threads);
        sockets = sockets ? sockets : 1;
    }
    if (!cpus) {
        cpus = maxcpus;
    }
    if (maxcpus > DM_SMP_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: at most %d cpus", opt, arg, DM_SMP_MAX);
    } else if (cpus > maxcpus) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: cpus (%u) above maxcpus (%u)", opt, arg, cpus,
                    maxcpus);
    } else if ((uint64_t)sockets * dies * cores * threads != maxcpus) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: sockets * dies * cores * threads (%llu) must "
                    "equal maxcpus (%u)", opt, arg,
                    (unsigned long long)sockets * dies * cores * threads,
                    maxcpus);
    } else {
        cfg->smp = cpus;
        cfg->smp_maxcpus = maxcpus;
        cfg->smp_sockets = sockets * dies;
        cfg->smp_cores = cores;
        cfg->smp_threads = threads;
        ok = true;
    }
out:
    dm_opts_free(o);
    return ok;
}

static bool cli_accel_name(struct dm_config *cfg, const char *opt,
                           const char *arg, const char *name, GError **errp)
{
    static const char *const known[] = { "kvm", "qtest", "xen", NULL };

    if (!g_strv_contains(known, name)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: unknown accelerator '%s' (expected kvm or qtest)",
                    opt, arg, name);
        return false;
    }
    dm_set_str(&cfg->accel, name);
    return true;
}

static bool cli_machine(struct dm_config *cfg, const char *opt,
                        const char *arg, bool *exit_now, GError **errp)
{
    /* Unknown sub-options (suppress-vmdesc=, max-ram-below-4g= ...) are
     * ignored, as libxl passes several we have no use for. */
    struct dm_opts *o = dm_cli_opts(opt, arg, "type", NULL, errp);
    const char *type, *accel;
    bool ok = false;

    if (!o) {
        return false;
    }
    type = dm_opts_get(o, "type");
    accel = dm_opts_get(o, "accel");
    if (type && strcmp(type, "help") == 0) {
        printf("Supported machines are:\n"
               "pc                   i440FX + PIIX3 PC (default)\n"
               "xenfv                Xen fully virtualized PC\n");
        *exit_now = true;
        ok = true;
    } else if (type && strcmp(type, "pc") != 0 && strcmp(type, "xenfv") != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: unknown machine type '%s' (expected pc or xenfv)",
                    opt, arg, type);
    } else if (!accel || cli_accel_name(cfg, opt, arg, accel, errp)) {
        if (type) {
            dm_set_str(&cfg->machine, type);
        }
        ok = true;
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_accel(struct dm_config *cfg, const char *opt, const char *arg,
                      bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "accel", NULL };
    struct dm_opts *o = dm_cli_opts(opt, arg, "accel", keys, errp);
    const char *name;
    bool ok = false;

    if (!o) {
        return false;
    }
    name = dm_opts_get(o, "accel");
    if (!name) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected an accelerator name (kvm or qtest)", opt,
                    arg);
    } else {
        ok = cli_accel_name(cfg, opt, arg, name, errp);
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_enable_kvm(struct dm_config *cfg, const char *opt,
                           const char *arg, bool *exit_now, GError **errp)
{
    dm_set_str(&cfg->accel, "kvm");
    return true;
}

static bool cli_flag(struct dm_config *cfg, const char *opt, const char *arg,
                     bool *exit_now, GError **errp)
{
    if (strcmp(opt, "nodefaults") == 0) {
        cfg->nodefaults = true;
    } else if (strcmp(opt, "nographic") == 0) {
        cfg->nographic = true;
    } else if (strcmp(opt, "no-reboot") == 0) {
        cfg->no_reboot = true;
    } else if (strcmp(opt, "no-shutdown") == 0) {
        cfg->no_shutdown = true;
    } else if (strcmp(opt, "v") == 0) {
        cfg->log_level++;
    }
    /* -no-user-config: there is no user configuration to skip */
    return true;
}

static bool cli_ignore_arg(struct dm_config *cfg, const char *opt,
                           const char *arg, bool *exit_now, GError **errp)
{
    return true;
}

static bool cli_bios(struct dm_config *cfg, const char *opt, const char *arg,
                     bool *exit_now, GError **errp)
{
    if (!dm_file_must_exist(opt, arg, arg, errp)) {
        return false;
    }
    dm_set_str(&cfg->bios, arg);
    return true;
}

static bool cli_nonempty(const char *opt, const char *arg, const char *what,
                         GError **errp)
{
    if (!*arg) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s: expected %s, got an empty string", opt, what);
        return false;
    }
    return true;
}

static bool cli_serial(struct dm_config *cfg, const char *opt, const char *arg,
                       bool *exit_now, GError **errp)
{
    if (!cli_nonempty(opt, arg, "a character device such as stdio or pty",
                      errp)) {
        return false;
    }
    g_ptr_array_add(strcmp(opt, "serial") == 0 ? cfg->serials : cfg->debugcons,
                    g_strdup(arg));
    return true;
}

static bool cli_chardev(struct dm_config *cfg, const char *opt,
                        const char *arg, bool *exit_now, GError **errp)
{
    struct dm_opts *o = dm_cli_opts(opt, arg, "backend", NULL, errp);
    bool ok = false;

    if (!o) {
        return false;
    }
    if (!dm_opts_get(o, "backend")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a backend first (null, stdio, pty, "
                    "file, pipe, socket ...)", opt, arg);
    } else if (!dm_opts_get(o, "id") || !*dm_opts_get(o, "id")) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: missing id=", opt, arg);
    } else {
        g_ptr_array_add(cfg->chardevs, g_strdup(arg));
        ok = true;
    }
    dm_opts_free(o);
    return ok;
}

static const char *dm_bus_name(enum dm_bus_kind bus)
{
    switch (bus) {
    case DM_BUS_PCI:
        return "PCI";
    case DM_BUS_ISA:
        return "ISA";
    default:
        return "system";
    }
}

static const char *dm_prop_kind_name(enum dm_prop_kind k)
{
    static const char *const names[] = {
        [DM_PROP_BOOL] = "bool", [DM_PROP_U8] = "uint8",
        [DM_PROP_U16] = "uint16", [DM_PROP_U32] = "uint32",
        [DM_PROP_U64] = "size", [DM_PROP_STRING] = "str",
        [DM_PROP_CHR] = "chardev",
    };

    return k < DM_ARRAY_SIZE(names) && names[k] ? names[k] : "?";
}

static void dm_print_device_types(void)
{
    printf("Devices (-device NAME[,PROP=VALUE...]):\n");
    for (const struct dm_dev_type *const *t = dm_dev_types(); *t; t++) {
        if (!(*t)->user_creatable) {
            continue;
        }
        printf("name \"%s\", bus %s%s%s%s\n", (*t)->name,
               dm_bus_name((*t)->bus), (*t)->desc ? ", desc \"" : "",
               (*t)->desc ? (*t)->desc : "", (*t)->desc ? "\"" : "");
    }
}

static void dm_print_device_props(const struct dm_dev_type *t)
{
    printf("%s options:\n", t->name);
    if (t->bus == DM_BUS_PCI) {
        printf("  addr=<slot[.fn]>     PCI slot and function\n");
    }
    for (const struct dm_prop *p = t->props; p && p->name; p++) {
        printf("  %s=<%s>%s%s%s\n", p->name, dm_prop_kind_name(p->kind),
               p->defval ? " (default " : "", p->defval ? p->defval : "",
               p->defval ? ")" : "");
    }
}

static bool cli_device(struct dm_config *cfg, const char *opt,
                       const char *arg, bool *exit_now, GError **errp)
{
    struct dm_opts *o = dm_cli_opts(opt, arg, "driver", NULL, errp);
    const struct dm_dev_type *t;
    const char *driver;
    bool ok = false;

    if (!o) {
        return false;
    }
    driver = dm_opts_get(o, "driver");
    if (!driver || !*driver) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a device type first (try -device help)",
                    opt, arg);
    } else if (strcmp(driver, "help") == 0 || strcmp(driver, "?") == 0) {
        dm_print_device_types();
        *exit_now = true;
        ok = true;
    } else if (!(t = dm_dev_type_find(driver)) || !t->user_creatable) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: unknown device type '%s' (try -device help)", opt,
                    arg, driver);
    } else if (dm_opts_get(o, "help")) {
        dm_print_device_props(t);
        *exit_now = true;
        ok = true;
    } else {
        g_ptr_array_add(cfg->devices, g_strdup(arg));
        ok = true;
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_monitor(struct dm_config *cfg, const char *opt,
                        const char *arg, bool *exit_now, GError **errp)
{
    if (strcmp(arg, "none") != 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: not supported yet (only -monitor none)", opt,
                    arg);
        return false;
    }
    dm_set_str(&cfg->monitor, arg);
    return true;
}

static bool cli_display(struct dm_config *cfg, const char *opt,
                        const char *arg, bool *exit_now, GError **errp)
{
    struct dm_opts *o = dm_cli_opts(opt, arg, "type", NULL, errp);
    const char *type;
    bool ok = false;

    if (!o) {
        return false;
    }
    type = dm_opts_get(o, "type");
    if (type && strcmp(type, "none") == 0) {
        cfg->display_none = true;
        ok = true;
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: not supported yet (only -display none)", opt,
                    arg);
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_name(struct dm_config *cfg, const char *opt, const char *arg,
                     bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "guest", "process", "debug-threads",
                                        NULL };
    struct dm_opts *o = dm_cli_opts(opt, arg, "guest", keys, errp);
    GError *err = NULL;

    if (!o) {
        return false;
    }
    dm_opts_get_bool(o, "debug-threads", false, &err);
    if (err) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "-%s %s: %s", opt, arg,
                    err->message);
        g_error_free(err);
        dm_opts_free(o);
        return false;
    }
    if (dm_opts_get(o, "guest")) {
        dm_set_str(&cfg->name, dm_opts_get(o, "guest"));
    }
    if (dm_opts_get(o, "process")) {
        dm_set_str(&cfg->process_name, dm_opts_get(o, "process"));
    }
    dm_opts_free(o);
    return true;
}

static bool cli_qtest(struct dm_config *cfg, const char *opt, const char *arg,
                      bool *exit_now, GError **errp)
{
    if (!cli_nonempty(opt, arg, "a character device", errp)) {
        return false;
    }
    if (strcmp(opt, "qtest") == 0) {
        dm_set_str(&cfg->qtest, arg);
    } else {
        dm_set_str(&cfg->qtest_log, arg);
    }
    return true;
}

static bool cli_trace(struct dm_config *cfg, const char *opt, const char *arg,
                      bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "enable", NULL };
    struct dm_opts *o;
    const char *pattern;

    /* A bare pattern may contain characters option strings give meaning
     * to only through ",": parse it as an option string all the same. */
    o = dm_cli_opts(opt, arg, "enable", keys, errp);
    if (!o) {
        return false;
    }
    pattern = dm_opts_get(o, "enable");
    if (!pattern || !*pattern) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected a trace point pattern such as 'ide_*'",
                    opt, arg);
        dm_opts_free(o);
        return false;
    }
    g_ptr_array_add(cfg->traces, g_strdup(pattern));
    dm_opts_free(o);
    return true;
}

static bool cli_fw_cfg(struct dm_config *cfg, const char *opt,
                       const char *arg, bool *exit_now, GError **errp)
{
    static const char *const keys[] = { "name", "file", "string", NULL };
    struct dm_opts *o = dm_cli_opts(opt, arg, NULL, keys, errp);
    const char *name, *file, *str;
    bool ok = false;

    if (!o) {
        return false;
    }
    name = dm_opts_get(o, "name");
    file = dm_opts_get(o, "file");
    str = dm_opts_get(o, "string");
    if (!name || !*name) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: missing name=", opt, arg);
    } else if (strlen(name) > 55) {
        /* fw_cfg file names are 56 bytes with the terminating NUL */
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: name is longer than 55 characters", opt, arg);
    } else if (!file == !str) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-%s %s: expected exactly one of file= and string=", opt,
                    arg);
    } else if (!file || dm_file_must_exist(opt, arg, file, errp)) {
        g_ptr_array_add(cfg->fw_cfg, g_strdup(arg));
        ok = true;
    }
    dm_opts_free(o);
    return ok;
}

static bool cli_boot(struct dm_config *cfg, const char *opt, const char *arg,
                     bool *exit_now, GError **errp)
{
    if (!cli_nonempty(opt, arg, "a boot order such as order=cd", errp)) {
        return false;
    }
    dm_set_str(&cfg->boot, arg);
    return true;
}

/* -drive SPEC, -hda..-hdd FILE, -cdrom FILE: checked here, placed and opened
 * by the board (block/blockdev.c). */
static bool cli_drive(struct dm_config *cfg, const char *opt, const char *arg,
                      bool *exit_now, GError **errp)
{
    g_autofree char *source = g_strdup_printf("-%s %s", opt, arg);
    char *spec;
    struct blockdev_drive *d;

    if (strcmp(opt, "drive") == 0) {
        spec = g_strdup(arg);
    } else if (!cli_nonempty(opt, arg, "an image file name", errp)) {
        return false;
    } else if (strcmp(opt, "cdrom") == 0) {
        spec = blockdev_short_spec(arg, 2, true);
    } else {
        spec = blockdev_short_spec(arg, opt[2] - 'a', false);
    }
    d = blockdev_parse(source, spec, errp);
    if (!d) {
        g_free(spec);
        return false;
    }
    blockdev_drive_free(d);
    g_ptr_array_add(cfg->drives, spec);
    g_ptr_array_add(cfg->drive_sources, g_steal_pointer(&source));
    return true;
}

static bool cli_help(struct dm_config *cfg, const char *opt, const char *arg,
                     bool *exit_now, GError **errp)
{
    dm_config_print_usage(stdout);
    *exit_now = true;
    return true;
}

static bool cli_version(struct dm_config *cfg, const char *opt,
                        const char *arg, bool *exit_now, GError **errp)
{
    printf("hvmdm version " HVMDM_VERSION "\n");
    *exit_now = true;
    return true;
}

struct dm_cli_option {
    const char *name;
    const char *argname; /* NULL: takes no argument */
    dm_cli_fn fn;
    const char *help;
};

static const struct dm_cli_option dm_cli_options[] = {
    { "m", "SIZE", cli_mem, "guest RAM, default unit MiB (default 128M)" },
    { "smp", "N[,maxcpus=,sockets=,cores=,threads=]", cli_smp,
      "virtual CPUs (default 1)" },
    { "M", "TYPE[,accel=A]", cli_machine, "machine: pc (default) or xenfv" },
    { "machine", "TYPE[,accel=A]", cli_machine, NULL },
    { "accel", "NAME", cli_accel, "accelerator: kvm (default) or qtest" },
    { "enable-kvm", NULL, cli_enable_kvm, "same as -accel kvm" },
    { "nodefaults", NULL, cli_flag, "no default devices" },
    { "no-user-config", NULL, cli_flag, "accepted, no effect" },
    { "bios", "FILE", cli_bios, "system BIOS image (default SeaBIOS)" },
    { "serial", "SPEC", cli_serial, "next serial port: stdio, pty, null, "
      "file:PATH, unix:PATH, tcp:HOST:PORT, chardev:ID" },
    { "chardev", "BACKEND,id=ID[,...]", cli_chardev, "character device" },
    { "device", "TYPE[,PROP=V...]", cli_device, "add a device (help: list)" },
    { "monitor", "none", cli_monitor, "only 'none' for now" },
    { "debugcon", "SPEC", cli_serial, "debug console on port 0xe9" },
    { "display", "none", cli_display, "no display" },
    { "nographic", NULL, cli_flag, "no display, serial on stdio" },
    { "name", "NAME[,process=PNAME]", cli_name, "guest name" },
    { "qtest", "SPEC", cli_qtest, "qtest protocol on a character device" },
    { "qtest-log", "FILE", cli_qtest, "log qtest commands to FILE" },
    { "no-reboot", NULL, cli_flag, "exit instead of rebooting" },
    { "no-shutdown", NULL, cli_flag, "pause instead of exiting at power-off" },
    { "trace", "PATTERN", cli_trace, "enable trace points (glob)" },
    { "d", "ITEMS", cli_ignore_arg, "accepted, no effect" },
    { "v", NULL, cli_flag, "more log messages (repeatable)" },
    { "fw_cfg", "name=N,file=F|string=S", cli_fw_cfg, "add a fw_cfg file" },
    { "boot", "[order=]DRIVES", cli_boot, "boot order (a, c, d, n)" },
    { "drive", "file=F[,if=ide|none,media=disk|cdrom,index=N,...]", cli_drive,
      "add a drive (docs/ide.md)" },
    { "hda", "FILE", cli_drive, "IDE primary master disk image" },
    { "hdb", "FILE", cli_drive, "IDE primary slave disk image" },
    { "hdc", "FILE", cli_drive, "IDE secondary master disk image" },
    { "hdd", "FILE", cli_drive, "IDE secondary slave disk image" },
    { "cdrom", "FILE", cli_drive, "IDE secondary master CD-ROM image" },
    { "h", NULL, cli_help, NULL },
    { "help", NULL, cli_help, "this text" },
    { "version", NULL, cli_version, "print the version" },
};

void dm_config_print_usage(FILE *out)
{
    fprintf(out, "usage: hvmdm [options]\n"
                 "hvmdm " HVMDM_VERSION ": a device model for x86 HVM "
                 "guests\n\noptions:\n");
    for (size_t i = 0; i < DM_ARRAY_SIZE(dm_cli_options); i++) {
        const struct dm_cli_option *c = &dm_cli_options[i];
        g_autofree char *syn = NULL;

        if (!c->help) {
            continue;
        }
        syn = g_strdup_printf("-%s%s%s", c->name, c->argname ? " " : "",
                              c->argname ? c->argname : "");
        if (strlen(syn) > 26) {
            fprintf(out, "  %s\n  %-26s %s\n", syn, "", c->help);
        } else {
            fprintf(out, "  %-26s %s\n", syn, c->help);
        }
    }
}

static const struct dm_cli_option *dm_cli_find(const char *name)
{
    for (size_t i = 0; i < DM_ARRAY_SIZE(dm_cli_options); i++) {
        if (strcmp(dm_cli_options[i].name, name) == 0) {
            return &dm_cli_options[i];
        }
    }
    return NULL;
}

bool dm_config_parse_argv(struct dm_config *cfg, int argc, char **argv,
                          bool *exit_now, GError **errp)
{
    *exit_now = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *name;
        const struct dm_cli_option *c;
        const char *arg = NULL;

        if (a[0] != '-' || a[1] == '\0') {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: unexpected argument (options start with '-', "
                        "see --help)", a);
            return false;
        }
        name = a + 1 + (a[1] == '-');
        c = dm_cli_find(name);
        if (!c) {
            g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                        "%s: unknown option (see --help)", a);
            return false;
        }
        if (c->argname) {
            if (i + 1 >= argc) {
                g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                            "%s: missing argument (expected %s)", a,
                            c->argname);
                return false;
            }
            arg = argv[++i];
        }
        if (!c->fn(cfg, name, arg, exit_now, errp)) {
            return false;
        }
        if (*exit_now) {
            return true;
        }
    }
    return true;
}
