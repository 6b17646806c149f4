/*
 * qtest.c: the CPU-less accelerator for tests and fuzzers, and QEMU's qtest
 * text protocol (QEMU docs/devel/qtest.rst, "QTest Protocol").
 *
 * No vCPU exists: port and memory accesses come from a test, in process or as
 * protocol lines on the -qtest character device, and time moves only when the
 * test steps the manual machine clock. Interrupt controller inputs are
 * recorded; "irq_intercept_in ioapic" also reports their changes as
 * asynchronous "IRQ raise N" / "IRQ lower N" lines. Where QEMU aborts on a
 * malformed command this answers "FAIL <reason>" instead. Left out:
 * irq_intercept_out, module_load, rtas and the QMP socket; the protocol log is
 * written only when -qtest-log names a file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "hvmdm/accel.h"
#include "hvmdm/chardev.h"
#include "hvmdm/config.h"
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"
#include "hvmdm/qtest.h"
#include "hvmdm/timer.h"
#include "hvmdm/trace.h"

#define QTEST_MAX_XFER (64 * DM_MiB)  /* largest read/write/memset */
#define QTEST_MAX_LINE (256 * DM_MiB) /* a b64write of QTEST_MAX_XFER fits */
#define QTEST_CHUNK 4096

struct qtest_state {
    struct dm_machine *m;
    int gsi_level[DM_QTEST_NR_GSI]; /* what the board set */
    int reported[DM_QTEST_NR_GSI];  /* what the client was last told */
    bool intercept;                 /* irq_intercept_in done */
    unsigned msi_count;             /* MSIs sent since init */
    uint64_t msi_addr;              /* the last one */
    uint32_t msi_data;
    struct dm_chr *chr;
    struct dm_chr_frontend fe;
    GString *inbuf;   /* bytes up to the next newline */
    GString *capture; /* dm_qtest_process output, or NULL */
    FILE *log;
    gint64 log_start; /* us, monotonic */
};

struct qtest_cmd {
    const char *name;
    unsigned min_args; /* words after the command name */
    void (*fn)(struct qtest_state *qs, char **w, unsigned n);
};

static struct qtest_state *qtest_state_of(struct dm_machine *m)
{
    if (!m || m->accel != &dm_accel_qtest) {
        return NULL;
    }
    return m->accel_state;
}

/* ---- output ------------------------------------------------------------ */

static void qtest_log_prefix(struct qtest_state *qs, char kind)
{
    double t = (g_get_monotonic_time() - qs->log_start) / 1e6;

    fprintf(qs->log, "[%c +%.6f]", kind, t);
}

static void G_GNUC_PRINTF(2, 3)
    qtest_send(struct qtest_state *qs, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (qs->log) {
        qtest_log_prefix(qs, 'S');
        fprintf(qs->log, " %s", s);
        fflush(qs->log);
    }
    if (qs->capture) {
        g_string_append(qs->capture, s);
    } else if (qs->chr) {
        dm_chr_write(qs->chr, (const uint8_t *)s, (int)strlen(s));
    }
    g_free(s);
}

/* ---- argument parsing ---------------------------------------------------- */

static bool qtest_u64(struct qtest_state *qs, const char *w, uint64_t *out)
{
    char *end;

    errno = 0;
    if (w[0] == '-' || w[0] == '+' || w[0] == '\0') {
        goto bad;
    }
    *out = strtoull(w, &end, 0);
    if (errno || *end != '\0') {
        goto bad;
    }
    return true;
bad:
    qtest_send(qs, "FAIL invalid number '%s'\n", w);
    return false;
}

static bool qtest_i64(struct qtest_state *qs, const char *w, int64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoll(w, &end, 0);
    if (errno || *end != '\0' || w[0] == '\0') {
        qtest_send(qs, "FAIL invalid number '%s'\n", w);
        return false;
    }
    return true;
}

static bool qtest_port(struct qtest_state *qs, const char *w, uint16_t *port)
{
    uint64_t v;

    if (!qtest_u64(qs, w, &v)) {
        return false;
    }
    if (v > 0xffff) {
        qtest_send(qs, "FAIL port 0x%" PRIx64 " out of range\n", v);
        return false;
    }
    *port = (uint16_t)v;
    return true;
}

static bool qtest_addr_len(struct qtest_state *qs, char **w, uint64_t *addr,
                           uint64_t *len)
{
    if (!qtest_u64(qs, w[1], addr) || !qtest_u64(qs, w[2], len)) {
        return false;
    }
    if (*len > QTEST_MAX_XFER) {
        qtest_send(qs, "FAIL size 0x%" PRIx64 " too large (at most 0x%llx)\n",
                   *len, QTEST_MAX_XFER);
        return false;
    }
    return true;
}

/* "outb" -> 1, "inw" -> 2, "readq" -> 8: the suffix letter of a command. */
static unsigned qtest_size_of(const char *cmd)
{
    switch (cmd[strlen(cmd) - 1]) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    default:
        return 8;
    }
}

/* ---- commands ------------------------------------------------------------ */

static void qtest_cmd_out(struct qtest_state *qs, char **w, unsigned n)
{
    unsigned size = qtest_size_of(w[0]);
    uint16_t port;
    uint64_t v;
    uint32_t val;

    if (!qtest_port(qs, w[1], &port) || !qtest_u64(qs, w[2], &v)) {
        return;
    }
    val = (uint32_t)(size == 4 ? v : v & ((1u << (size * 8)) - 1));
    dm_io_pio(qs->m, port, size, true, &val);
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_in(struct qtest_state *qs, char **w, unsigned n)
{
    unsigned size = qtest_size_of(w[0]);
    uint16_t port;
    uint32_t val = UINT32_MAX;

    if (!qtest_port(qs, w[1], &port)) {
        return;
    }
    dm_io_pio(qs->m, port, size, false, &val);
    qtest_send(qs, "OK 0x%04x\n", val);
}

static void qtest_cmd_write_n(struct qtest_state *qs, char **w, unsigned n)
{
    unsigned size = qtest_size_of(w[0]);
    uint64_t addr, v, le;

    if (!qtest_u64(qs, w[1], &addr) || !qtest_u64(qs, w[2], &v)) {
        return;
    }
    le = GUINT64_TO_LE(v); /* the low SIZE bytes, guest (little) order */
    dm_memory_rw(qs->m, addr, &le, size, true);
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_read_n(struct qtest_state *qs, char **w, unsigned n)
{
    unsigned size = qtest_size_of(w[0]);
    uint64_t addr, le = 0;

    if (!qtest_u64(qs, w[1], &addr)) {
        return;
    }
    dm_memory_rw(qs->m, addr, &le, size, false);
    qtest_send(qs, "OK 0x%016" PRIx64 "\n", GUINT64_FROM_LE(le));
}

static void qtest_cmd_read(struct qtest_state *qs, char **w, unsigned n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t addr, len;
    uint8_t *data;
    char *enc;

    if (!qtest_addr_len(qs, w, &addr, &len)) {
        return;
    }
    if (len == 0) {
        qtest_send(qs, "FAIL read of zero bytes\n");
        return;
    }
    data = g_malloc(len);
    dm_memory_rw(qs->m, addr, data, len, false);
    enc = g_malloc(len * 2 + 1);
    for (uint64_t i = 0; i < len; i++) {
        enc[i * 2] = hex[data[i] >> 4];
        enc[i * 2 + 1] = hex[data[i] & 0xf];
    }
    enc[len * 2] = '\0';
    qtest_send(qs, "OK 0x%s\n", enc);
    g_free(enc);
    g_free(data);
}

static int qtest_hex_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = g_ascii_tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* write ADDR SIZE 0xHEX: missing bytes at the end are zero. */
static void qtest_cmd_write(struct qtest_state *qs, char **w, unsigned n)
{
    const char *hex = w[3];
    uint64_t addr, len, digits;
    uint8_t *data;

    if (!qtest_addr_len(qs, w, &addr, &len)) {
        return;
    }
    if (strlen(hex) < 3 || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X')) {
        qtest_send(qs, "ERR invalid argument size\n");
        return;
    }
    hex += 2;
    digits = strlen(hex);
    data = g_malloc0(len ? len : 1);
    for (uint64_t i = 0; i < len && i * 2 + 1 < digits; i++) {
        int hi = qtest_hex_nibble(hex[i * 2]);
        int lo = qtest_hex_nibble(hex[i * 2 + 1]);

        if (hi < 0 || lo < 0) {
            qtest_send(qs, "FAIL invalid hex data\n");
            g_free(data);
            return;
        }
        data[i] = (uint8_t)(hi << 4 | lo);
    }
    dm_memory_rw(qs->m, addr, data, len, true);
    g_free(data);
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_b64read(struct qtest_state *qs, char **w, unsigned n)
{
    uint64_t addr, len;
    uint8_t *data;
    char *enc;

    if (!qtest_addr_len(qs, w, &addr, &len)) {
        return;
    }
    data = g_malloc(len ? len : 1);
    dm_memory_rw(qs->m, addr, data, len, false);
    enc = g_base64_encode(data, len);
    qtest_send(qs, "OK %s\n", enc);
    g_free(enc);
    g_free(data);
}

/* b64write ADDR SIZE B64: SIZE bytes are written, the data cut or zero
 * filled to that size. */
static void qtest_cmd_b64write(struct qtest_state *qs, char **w, unsigned n)
{
    uint64_t addr, len;
    gsize dec_len;
    guchar *dec;
    uint8_t *data;

    if (!qtest_addr_len(qs, w, &addr, &len)) {
        return;
    }
    if (strlen(w[3]) < 3) {
        qtest_send(qs, "ERR invalid argument size\n");
        return;
    }
    dec = g_base64_decode(w[3], &dec_len);
    if (dec_len != len && qs->log) {
        qtest_log_prefix(qs, 'I');
        fprintf(qs->log, " b64write: %zu bytes given for %" PRIu64 "\n",
                (size_t)dec_len, len);
    }
    data = g_malloc0(len ? len : 1);
    memcpy(data, dec, MIN(dec_len, len));
    dm_memory_rw(qs->m, addr, data, len, true);
    g_free(data);
    g_free(dec);
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_memset(struct qtest_state *qs, char **w, unsigned n)
{
    uint8_t chunk[QTEST_CHUNK];
    uint64_t addr, len, pattern;

    if (!qtest_addr_len(qs, w, &addr, &len) || !qtest_u64(qs, w[3], &pattern)) {
        return;
    }
    memset(chunk, (int)(pattern & 0xff), sizeof(chunk));
    while (len > 0) {
        uint64_t part = MIN(len, sizeof(chunk));

        dm_memory_rw(qs->m, addr, chunk, part, true);
        addr += part;
        len -= part;
    }
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_endianness(struct qtest_state *qs, char **w, unsigned n)
{
    qtest_send(qs, "OK little\n");
}

/* clock_step [NS]: without NS, to the earliest pending timer. */
static void qtest_cmd_clock_step(struct qtest_state *qs, char **w, unsigned n)
{
    struct dm_clock *c = qs->m->clock;
    int64_t now = dm_clock_now(c), target;

    if (n >= 1) {
        int64_t ns;

        if (!qtest_i64(qs, w[1], &ns)) {
            return;
        }
        if (ns < 0) {
            qtest_send(qs, "FAIL could not advance time\n");
            return;
        }
        target = ns > INT64_MAX - now ? INT64_MAX : now + ns;
    } else {
        target = dm_clock_next_deadline(c);
        if (target < 0) {
            qtest_send(qs, "FAIL cannot advance clock to the next deadline "
                           "because there is no pending deadline\n");
            return;
        }
        target = MAX(target, now);
    }
    dm_clock_set(c, target);
    qtest_send(qs, "OK %" PRIi64 "\n", dm_clock_now(c));
}

/* clock_set NS: time never goes back; FAIL tells where it stands. */
static void qtest_cmd_clock_set(struct qtest_state *qs, char **w, unsigned n)
{
    struct dm_clock *c = qs->m->clock;
    int64_t ns;

    if (!qtest_i64(qs, w[1], &ns)) {
        return;
    }
    if (ns >= dm_clock_now(c)) {
        dm_clock_set(c, ns);
    }
    qtest_send(qs, "%s %" PRIi64 "\n", dm_clock_now(c) == ns ? "OK" : "FAIL",
               dm_clock_now(c));
}

/* The PC's interrupt controller inputs answer to QEMU's QOM paths for its
 * IOAPIC ("ioapic", "/machine/ioapic", "/machine/i440fx/ioapic"). */
static bool qtest_is_ioapic(const char *path)
{
    const char *last = strrchr(path, '/');

    return strcmp(last ? last + 1 : path, "ioapic") == 0;
}

static void qtest_cmd_irq_intercept_in(struct qtest_state *qs, char **w,
                                       unsigned n)
{
    if (!qtest_is_ioapic(w[1])) {
        qtest_send(qs, "FAIL Unknown device\n");
        return;
    }
    if (n > 1) {
        qtest_send(qs, "FAIL Interception of named in-GPIOs not yet "
                       "supported\n");
        return;
    }
    qs->intercept = true;
    qtest_send(qs, "OK\n");
}

static void qtest_cmd_irq_intercept_out(struct qtest_state *qs, char **w,
                                        unsigned n)
{
    if (!qtest_is_ioapic(w[1])) {
        qtest_send(qs, "FAIL Unknown device\n");
        return;
    }
    qtest_send(qs, "FAIL No intercepts installed\n");
}

static void qtest_gsi_changed(struct qtest_state *qs, int gsi, int level);

/* set_irq_in QOM-PATH NAME NUM LEVEL: drive an IOAPIC input directly. */
static void qtest_cmd_set_irq_in(struct qtest_state *qs, char **w, unsigned n)
{
    int64_t num, level;

    if (!qtest_is_ioapic(w[1])) {
        qtest_send(qs, "FAIL Unknown device\n");
        return;
    }
    if (strcmp(w[2], "unnamed-gpio-in") != 0) {
        qtest_send(qs, "FAIL Unknown GPIO list '%s'\n", w[2]);
        return;
    }
    if (!qtest_i64(qs, w[3], &num) || !qtest_i64(qs, w[4], &level)) {
        return;
    }
    if (num < 0 || num >= DM_QTEST_NR_GSI) {
        qtest_send(qs, "FAIL IRQ %" PRIi64 " out of range\n", num);
        return;
    }
    qtest_gsi_changed(qs, (int)num, level != 0);
    qtest_send(qs, "OK\n");
}

static const struct qtest_cmd qtest_cmds[] = {
    { "outb", 2, qtest_cmd_out },
    { "outw", 2, qtest_cmd_out },
    { "outl", 2, qtest_cmd_out },
    { "inb", 1, qtest_cmd_in },
    { "inw", 1, qtest_cmd_in },
    { "inl", 1, qtest_cmd_in },
    { "writeb", 2, qtest_cmd_write_n },
    { "writew", 2, qtest_cmd_write_n },
    { "writel", 2, qtest_cmd_write_n },
    { "writeq", 2, qtest_cmd_write_n },
    { "readb", 1, qtest_cmd_read_n },
    { "readw", 1, qtest_cmd_read_n },
    { "readl", 1, qtest_cmd_read_n },
    { "readq", 1, qtest_cmd_read_n },
    { "read", 2, qtest_cmd_read },
    { "write", 3, qtest_cmd_write },
    { "b64read", 2, qtest_cmd_b64read },
    { "b64write", 3, qtest_cmd_b64write },
    { "memset", 3, qtest_cmd_memset },
    { "endianness", 0, qtest_cmd_endianness },
    { "clock_step", 0, qtest_cmd_clock_step },
    { "clock_set", 1, qtest_cmd_clock_set },
    { "irq_intercept_in", 1, qtest_cmd_irq_intercept_in },
    { "irq_intercept_out", 1, qtest_cmd_irq_intercept_out },
    { "set_irq_in", 4, qtest_cmd_set_irq_in },
};

static void qtest_process_line(struct qtest_state *qs, char *line)
{
    char **w;
    unsigned n;

    g_strchomp(line); /* a client may end lines with "\r\n" */
    if (line[0] == '\0') {
        return;
    }
    dm_trace(qtest_command, "%s", line);
    if (qs->log) {
        qtest_log_prefix(qs, 'R');
        fprintf(qs->log, " %s\n", line);
    }
    w = g_strsplit(line, " ", 0);
    n = g_strv_length(w) - 1;
    for (size_t i = 0; i < DM_ARRAY_SIZE(qtest_cmds); i++) {
        const struct qtest_cmd *c = &qtest_cmds[i];

        if (strcmp(c->name, w[0]) == 0) {
            if (n < c->min_args) {
                qtest_send(qs, "FAIL '%s' needs %u arguments\n", c->name,
                           c->min_args);
            } else {
                c->fn(qs, w, n);
            }
            g_strfreev(w);
            return;
        }
    }
    qtest_send(qs, "FAIL Unknown command '%s'\n", w[0]);
    g_strfreev(w);
}

/* Run every complete line of INBUF and drop it from there. */
static void qtest_process_inbuf(struct qtest_state *qs, GString *inbuf)
{
    char *nl;

    while ((nl = memchr(inbuf->str, '\n', inbuf->len)) != NULL) {
        size_t len = (size_t)(nl - inbuf->str);
        char *line = g_strndup(inbuf->str, len);

        g_string_erase(inbuf, 0, (gssize)len + 1);
        qtest_process_line(qs, line);
        g_free(line);
    }
}

/* ---- interrupt inputs ---------------------------------------------------- */

static void qtest_gsi_changed(struct qtest_state *qs, int gsi, int level)
{
    qs->gsi_level[gsi] = level;
    if (qs->intercept && qs->reported[gsi] != level) {
        qs->reported[gsi] = level;
        qtest_send(qs, "IRQ %s %d\n", level ? "raise" : "lower", gsi);
    }
}

static void qtest_set_gsi(struct dm_machine *m, int gsi, int level)
{
    struct qtest_state *qs = m->accel_state;

    if (gsi < 0 || gsi >= DM_QTEST_NR_GSI) {
        dm_warn("qtest: interrupt input %d out of range", gsi);
        return;
    }
    qtest_gsi_changed(qs, gsi, level != 0);
}

static void qtest_send_msi(struct dm_machine *m, uint64_t addr, uint32_t data)
{
    struct qtest_state *qs = m->accel_state;

    qs->msi_count++;
    qs->msi_addr = addr;
    qs->msi_data = data;
}

unsigned dm_qtest_msi_count(struct dm_machine *m, uint64_t *addr,
                            uint32_t *data)
{
    struct qtest_state *qs = qtest_state_of(m);

    if (!qs) {
        return 0;
    }
    if (addr) {
        *addr = qs->msi_addr;
    }
    if (data) {
        *data = qs->msi_data;
    }
    return qs->msi_count;
}

int dm_qtest_gsi_level(struct dm_machine *m, int gsi)
{
    struct qtest_state *qs = qtest_state_of(m);

    if (!qs || gsi < 0 || gsi >= DM_QTEST_NR_GSI) {
        return -1;
    }
    return qs->gsi_level[gsi];
}

char *dm_qtest_process(struct dm_machine *m, const char *text)
{
    struct qtest_state *qs = qtest_state_of(m);
    GString *in, *saved;

    if (!qs) {
        return g_strdup("FAIL not a qtest machine\n");
    }
    in = g_string_new(text);
    if (in->len == 0 || in->str[in->len - 1] != '\n') {
        g_string_append_c(in, '\n');
    }
    saved = qs->capture;
    qs->capture = g_string_new(NULL);
    qtest_process_inbuf(qs, in);
    g_string_free(in, TRUE);
    in = qs->capture;
    qs->capture = saved;
    return g_string_free(in, FALSE);
}

/* ---- the protocol on a character device ---------------------------------- */

static int qtest_can_read(void *opaque)
{
    return 4096;
}

static void qtest_read(void *opaque, const uint8_t *buf, int len)
{
    struct qtest_state *qs = opaque;

    g_string_append_len(qs->inbuf, (const char *)buf, len);
    qtest_process_inbuf(qs, qs->inbuf);
    if (qs->inbuf->len > QTEST_MAX_LINE) {
        dm_warn("qtest: command line longer than %llu bytes dropped",
                QTEST_MAX_LINE);
        g_string_truncate(qs->inbuf, 0);
    }
}

static void qtest_event(void *opaque, enum dm_chr_event ev)
{
    struct qtest_state *qs = opaque;

    switch (ev) {
    case DM_CHR_EVENT_OPENED:
        memset(qs->reported, 0, sizeof(qs->reported));
        g_string_truncate(qs->inbuf, 0);
        if (qs->log) {
            qtest_log_prefix(qs, 'I');
            fprintf(qs->log, " OPENED\n");
        }
        break;
    case DM_CHR_EVENT_CLOSED:
        /* The test is done with us: the machine ends. */
        if (qs->log) {
            qtest_log_prefix(qs, 'I');
            fprintf(qs->log, " CLOSED\n");
            fflush(qs->log);
        }
        dm_machine_request_shutdown(qs->m, DM_SHUTDOWN_USER_QUIT);
        break;
    }
}

/* ---- accelerator operations ---------------------------------------------- */

static bool qtest_init(struct dm_machine *m, GError **errp)
{
    struct qtest_state *qs = g_new0(struct qtest_state, 1);

    qs->m = m;
    qs->inbuf = g_string_new(NULL);
    qs->log_start = g_get_monotonic_time();
    m->accel_state = qs;
    return true;
}

static bool qtest_start(struct dm_machine *m, GError **errp)
{
    struct qtest_state *qs = m->accel_state;
    const char *log = m->cfg->qtest_log;
    GError *err = NULL;

    if (!m->cfg->qtest) {
        return true;
    }
    if (log && strcmp(log, "none") != 0 && !qs->log) {
        qs->log = fopen(log, "w");
        if (!qs->log) {
            g_set_error(errp, DM_ERROR, DM_ERROR_IO, "-qtest-log %s: %s", log,
                        g_strerror(errno));
            return false;
        }
    }
    qs->chr = dm_chr_new_short(m, m->cfg->qtest, "qtest", &err);
    if (err) {
        g_propagate_prefixed_error(errp, err, "-qtest %s: ", m->cfg->qtest);
        return false;
    }
    if (!qs->chr) {
        return true; /* "none": no protocol */
    }
    qs->fe = (struct dm_chr_frontend){
        .can_read = qtest_can_read,
        .read = qtest_read,
        .event = qtest_event,
        .opaque = qs,
    };
    if (!dm_chr_attach(qs->chr, &qs->fe, errp)) {
        qs->chr = NULL;
        return false;
    }
    return true;
}

static void qtest_pause(struct dm_machine *m)
{
}

static void qtest_resume(struct dm_machine *m)
{
}

static void qtest_reset_cpus(struct dm_machine *m)
{
}

static void qtest_destroy(struct dm_machine *m)
{
    struct qtest_state *qs = m->accel_state;

    if (!qs) {
        return;
    }
    if (qs->chr) {
        dm_chr_detach(qs->chr);
    }
    if (qs->log) {
        fclose(qs->log);
    }
    g_string_free(qs->inbuf, TRUE);
    g_free(qs);
    m->accel_state = NULL;
}

const struct dm_accel_ops dm_accel_qtest = {
    .name = "qtest",
    .init = qtest_init,
    .start = qtest_start,
    .pause = qtest_pause,
    .resume = qtest_resume,
    .set_gsi = qtest_set_gsi,
    .send_msi = qtest_send_msi,
    .reset_cpus = qtest_reset_cpus,
    .destroy = qtest_destroy,
};
