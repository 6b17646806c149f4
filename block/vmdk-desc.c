/*
 * vmdk-desc.c: the VMDK text descriptor, in its own file or embedded in a
 * sparse extent: header keys (version, CID, parentCID, createType,
 * parentFileNameHint), extent lines and the disk database geometry.
 * Spec: VMware Virtual Disk Format 1.1, section "The Descriptor File".
 *
 * Every value is checked; a bad line is refused naming the file, the line
 * and the field. Unknown keys are ignored (the spec allows vendor keys).
 * Left out: encoding= other than ASCII/UTF-8 (taken as is), VMFSSPARSE,
 * VMFSRDM and VMFSRAW extents (refused).
 */
#include "vmdk.h"

#define BAD(...)                                                    \
    do {                                                            \
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, __VA_ARGS__); \
        return false;                                               \
    } while (0)

static const char *const access_names[] = {
    [VMDK_ACCESS_RW] = "RW",
    [VMDK_ACCESS_RDONLY] = "RDONLY",
    [VMDK_ACCESS_NOACCESS] = "NOACCESS",
};

const char *vmdk_access_name(enum vmdk_access a)
{
    return access_names[a];
}

const char *vmdk_extent_type_name(enum vmdk_extent_type t)
{
    switch (t) {
    case VMDK_EXTENT_FLAT:
        return "FLAT";
    case VMDK_EXTENT_SPARSE:
        return "SPARSE";
    default:
        return "ZERO";
    }
}

void vmdk_desc_free(struct vmdk_desc *d)
{
    for (unsigned i = 0; i < d->n_extents; i++) {
        g_free(d->extents[i].filename);
    }
    g_free(d->extents);
    g_free(d->create_type);
    g_free(d->parent_hint);
    memset(d, 0, sizeof(*d));
}

/* The next whitespace-separated word at *P (advanced past it), or NULL. */
static char *next_word(char **p)
{
    char *s = *p, *w;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (!*s) {
        *p = s;
        return NULL;
    }
    w = s;
    while (*s && *s != ' ' && *s != '\t') {
        s++;
    }
    if (*s) {
        *s++ = '\0';
    }
    *p = s;
    return w;
}

static bool parse_u64(const char *s, unsigned base, uint64_t max, uint64_t *out)
{
    guint64 v;

    if (!s || !*s || !g_ascii_isxdigit(*s) ||
        !g_ascii_string_to_unsigned(s, base, 0, max, &v, NULL)) {
        return false;
    }
    *out = v;
    return true;
}

/* ACCESS SIZE TYPE ["FILENAME" [OFFSET]] */
static bool parse_extent(struct vmdk_desc *d, const char *fn, unsigned line,
                         char *p, GError **errp)
{
    struct vmdk_desc_extent e = { .line = line };
    char *w = next_word(&p), *type, *num, *q;
    unsigned i;

    for (i = 0; i < DM_ARRAY_SIZE(access_names); i++) {
        if (strcmp(w, access_names[i]) == 0) {
            break;
        }
    }
    e.access = (enum vmdk_access)i;
    num = next_word(&p);
    if (!parse_u64(num, 10, VMDK_MAX_SECTORS, &e.sectors)) {
        BAD("%s: vmdk descriptor line %u: extent size \"%s\" is not a "
            "number of sectors up to %" PRIu64,
            fn, line, num ? num : "", (uint64_t)VMDK_MAX_SECTORS);
    }
    type = next_word(&p);
    if (!type) {
        BAD("%s: vmdk descriptor line %u: extent type missing", fn, line);
    } else if (strcmp(type, "FLAT") == 0 || strcmp(type, "VMFS") == 0) {
        e.type = VMDK_EXTENT_FLAT;
    } else if (strcmp(type, "SPARSE") == 0) {
        e.type = VMDK_EXTENT_SPARSE;
    } else if (strcmp(type, "ZERO") == 0) {
        e.type = VMDK_EXTENT_ZERO;
    } else {
        BAD("%s: vmdk descriptor line %u: extent type %s is not supported "
            "(FLAT, SPARSE, ZERO, VMFS are)",
            fn, line, type);
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '"') {
        q = strchr(p + 1, '"');
        if (!q || q == p + 1) {
            BAD("%s: vmdk descriptor line %u: extent file name is empty or "
                "lacks its closing quote",
                fn, line);
        }
        e.filename = g_strndup(p + 1, (gsize)(q - p - 1));
        p = q + 1;
    }
    if (e.type != VMDK_EXTENT_ZERO && !e.filename) {
        BAD("%s: vmdk descriptor line %u: %s extent without a quoted file "
            "name",
            fn, line, type);
    }
    if (e.type == VMDK_EXTENT_ZERO && e.filename) {
        g_free(e.filename);
        BAD("%s: vmdk descriptor line %u: ZERO extent with a file name", fn,
            line);
    }
    num = next_word(&p);
    if (num && (e.type != VMDK_EXTENT_FLAT ||
                !parse_u64(num, 10, VMDK_MAX_SECTORS, &e.offset))) {
        g_free(e.filename);
        BAD("%s: vmdk descriptor line %u: bad extent offset \"%s\" (only "
            "FLAT extents take a sector offset)",
            fn, line, num);
    }
    if (next_word(&p)) {
        g_free(e.filename);
        BAD("%s: vmdk descriptor line %u: junk after the extent", fn, line);
    }
    if (d->n_extents >= VMDK_MAX_EXTENTS) {
        g_free(e.filename);
        BAD("%s: vmdk descriptor: more than %u extents", fn, VMDK_MAX_EXTENTS);
    }
    d->extents = g_renew(struct vmdk_desc_extent, d->extents, d->n_extents + 1);
    d->extents[d->n_extents++] = e;
    return true;
}

static bool parse_hex32(const char *fn, unsigned line, const char *key,
                        const char *val, uint32_t *out, GError **errp)
{
    uint64_t v;

    if (!parse_u64(val, 16, 0xffffffffu, &v)) {
        BAD("%s: vmdk descriptor line %u: %s \"%s\" is not a 32-bit hex "
            "number",
            fn, line, key, val);
    }
    *out = (uint32_t)v;
    return true;
}

static bool parse_geometry(const char *fn, unsigned line, const char *key,
                           const char *val, uint32_t max, uint32_t *out,
                           GError **errp)
{
    uint64_t v;

    if (!parse_u64(val, 10, max, &v)) {
        BAD("%s: vmdk descriptor line %u: %s \"%s\" is not a number up to "
            "%u",
            fn, line, key, val, max);
    }
    *out = (uint32_t)v;
    return true;
}

static bool parse_key(struct vmdk_desc *d, const char *fn, unsigned line,
                      char *key, char *val, GError **errp)
{
    size_t n = strlen(val);
    uint64_t v;

    if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
        val[n - 1] = '\0';
        val++;
    }
    if (strcmp(key, "version") == 0) {
        if (!parse_u64(val, 10, 3, &v) || v == 0) {
            BAD("%s: vmdk descriptor line %u: unsupported descriptor "
                "version \"%s\" (1..3)",
                fn, line, val);
        }
    } else if (strcmp(key, "CID") == 0) {
        d->has_cid = true;
        return parse_hex32(fn, line, key, val, &d->cid, errp);
    } else if (strcmp(key, "parentCID") == 0) {
        return parse_hex32(fn, line, key, val, &d->parent_cid, errp);
    } else if (strcmp(key, "createType") == 0) {
        g_free(d->create_type);
        d->create_type = g_strdup(val);
    } else if (strcmp(key, "parentFileNameHint") == 0) {
        if (!*val) {
            BAD("%s: vmdk descriptor line %u: empty parentFileNameHint", fn,
                line);
        }
        g_free(d->parent_hint);
        d->parent_hint = g_strdup(val);
    } else if (strcmp(key, "ddb.geometry.cylinders") == 0) {
        return parse_geometry(fn, line, key, val, 0xffffffffu, &d->cylinders,
                              errp);
    } else if (strcmp(key, "ddb.geometry.heads") == 0) {
        return parse_geometry(fn, line, key, val, 255, &d->heads, errp);
    } else if (strcmp(key, "ddb.geometry.sectors") == 0) {
        return parse_geometry(fn, line, key, val, 255, &d->sectors_per_track,
                              errp);
    }
    return true;
}

static bool is_access_word(const char *s)
{
    for (unsigned i = 0; i < DM_ARRAY_SIZE(access_names); i++) {
        size_t n = strlen(access_names[i]);
        if (strncmp(s, access_names[i], n) == 0 &&
            (s[n] == ' ' || s[n] == '\t')) {
            return true;
        }
    }
    return false;
}

static bool parse_line(struct vmdk_desc *d, const char *fn, unsigned line,
                       char *s, GError **errp)
{
    char *eq;

    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r') {
            BAD("%s: vmdk descriptor line %u: binary data (byte 0x%x): "
                "neither a sparse extent nor a text descriptor",
                fn, line, (unsigned char)*c);
        }
    }
    g_strstrip(s);
    if (!*s || *s == '#') {
        return true;
    }
    if (is_access_word(s)) {
        return parse_extent(d, fn, line, s, errp);
    }
    eq = strchr(s, '=');
    if (!eq) {
        BAD("%s: vmdk descriptor line %u: \"%.40s\" is neither key=value nor "
            "an extent",
            fn, line, s);
    }
    *eq = '\0';
    return parse_key(d, fn, line, g_strstrip(s), g_strstrip(eq + 1), errp);
}

bool vmdk_desc_parse(struct vmdk_desc *d, const char *filename,
                     const char *text, size_t len, GError **errp)
{
    char *copy, **lines;
    bool ok = true;

    memset(d, 0, sizeof(*d));
    d->parent_cid = VMDK_NO_CID;
    if (len > VMDK_DESC_MAX) {
        BAD("%s: vmdk descriptor of %zu bytes is larger than %u", filename, len,
            VMDK_DESC_MAX);
    }
    /* An embedded descriptor is padded with NULs: the text ends there. */
    copy = g_strndup(text, len);
    lines = g_strsplit(copy, "\n", -1);
    for (unsigned i = 0; ok && lines[i]; i++) {
        ok = parse_line(d, filename, i + 1, lines[i], errp);
    }
    g_strfreev(lines);
    g_free(copy);
    if (!ok) {
        vmdk_desc_free(d);
    }
    return ok;
}

/* True when LINE (up to END) is "CID = value", leading blanks allowed. */
static bool is_cid_line(const char *line, const char *end)
{
    while (line < end && (*line == ' ' || *line == '\t')) {
        line++;
    }
    if (end - line < 3 || strncmp(line, "CID", 3) != 0) {
        return false;
    }
    line += 3;
    while (line < end && (*line == ' ' || *line == '\t')) {
        line++;
    }
    return line < end && *line == '=';
}

char *vmdk_desc_set_cid(const char *text, uint32_t cid)
{
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n'), *stop;
        if (!end) {
            end = p + strlen(p);
        }
        stop = end > p && end[-1] == '\r' ? end - 1 : end;
        if (is_cid_line(p, stop)) {
            return g_strdup_printf("%.*sCID=%08x%s", (int)(p - text), text, cid,
                                   stop);
        }
        p = *end ? end + 1 : end;
    }
    return NULL;
}

char *vmdk_desc_format(const struct vmdk_desc *d)
{
    GString *s = g_string_new("# Disk DescriptorFile\n");

    g_string_append_printf(s, "version=1\nCID=%08x\nparentCID=%08x\n", d->cid,
                           d->parent_cid);
    g_string_append_printf(s, "createType=\"%s\"\n", d->create_type);
    if (d->parent_hint) {
        g_string_append_printf(s, "parentFileNameHint=\"%s\"\n",
                               d->parent_hint);
    }
    g_string_append(s, "\n# Extent description\n");
    for (unsigned i = 0; i < d->n_extents; i++) {
        const struct vmdk_desc_extent *e = &d->extents[i];
        g_string_append_printf(s, "%s %" PRIu64 " %s",
                               vmdk_access_name(e->access), e->sectors,
                               vmdk_extent_type_name(e->type));
        if (e->filename) {
            g_string_append_printf(s, " \"%s\"", e->filename);
        }
        if (e->type == VMDK_EXTENT_FLAT) {
            g_string_append_printf(s, " %" PRIu64, e->offset);
        }
        g_string_append_c(s, '\n');
    }
    g_string_append(s, "\n# The Disk Data Base\n#DDB\n\n");
    g_string_append(s, "ddb.virtualHWVersion = \"4\"\n");
    g_string_append_printf(s, "ddb.geometry.cylinders = \"%u\"\n",
                           d->cylinders);
    g_string_append_printf(s, "ddb.geometry.heads = \"%u\"\n", d->heads);
    g_string_append_printf(s, "ddb.geometry.sectors = \"%u\"\n",
                           d->sectors_per_track);
    g_string_append(s, "ddb.adapterType = \"ide\"\n");
    return g_string_free(s, false);
}
