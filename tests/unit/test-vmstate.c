/*
 * test-vmstate.c: the device-state serializer (core/vmstate.c): round trips
 * of a sample state with arrays, embedded structs and subsections; refusal
 * of corrupt, truncated and mismatched streams with the device and field
 * named; version rules; the text dump. Then every device type in the table
 * that has a state table: saved from a fresh qtest PC, loaded into a second
 * one and saved again, byte for byte the same.
 */
#include "harness.h"

#include "hvmdm/dev.h"
#include "hvmdm/machine.h"
#include "hvmdm/vmstate.h"

struct sample_elem {
    uint16_t a;
    uint32_t b;
};

struct sample {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    bool flag;
    uint16_t arr[8];
    uint8_t buf[32];
    struct sample_elem elems[3];
    struct sample_elem one;
    uint32_t extra;          /* in subsection "sample/extra" */
    bool extra_needed;
    uint32_t late;           /* added in version 2 */
    int post_load_calls;     /* not saved */
    bool refuse_load;        /* not saved */
};

static const struct dm_vmstate_field sample_elem_fields[] = {
    DM_VMS_UINT16(struct sample_elem, a),
    DM_VMS_UINT32(struct sample_elem, b),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate sample_elem_vmsd = {
    .name = "sample_elem", .version = 1, .fields = sample_elem_fields,
};

static bool sample_extra_needed(void *opaque)
{
    return ((struct sample *)opaque)->extra_needed;
}

static const struct dm_vmstate_field sample_extra_fields[] = {
    DM_VMS_UINT32(struct sample, extra),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate sample_extra_vmsd = {
    .name = "sample/extra", .version = 1, .fields = sample_extra_fields,
    .needed = sample_extra_needed,
};

static const struct dm_vmstate *const sample_subsections[] = {
    &sample_extra_vmsd, NULL,
};

static bool sample_post_load(void *opaque, int version, GError **errp)
{
    struct sample *s = opaque;

    s->post_load_calls++;
    if (s->refuse_load) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "u8 0x%x out of range",
                    s->u8);
        return false;
    }
    return true;
}

#define SAMPLE_FIELDS_V1                                   \
    DM_VMS_UINT8(struct sample, u8),                       \
    DM_VMS_UINT16(struct sample, u16),                     \
    DM_VMS_UINT32(struct sample, u32),                     \
    DM_VMS_UINT64(struct sample, u64),                     \
    DM_VMS_INT32(struct sample, i32),                      \
    DM_VMS_INT64(struct sample, i64),                      \
    DM_VMS_BOOL(struct sample, flag),                      \
    DM_VMS_UINT_ARRAY(struct sample, arr),                 \
    DM_VMS_BUFFER(struct sample, buf),                     \
    DM_VMS_STRUCT_ARRAY(struct sample, elems, &sample_elem_vmsd), \
    DM_VMS_STRUCT(struct sample, one, &sample_elem_vmsd)

static const struct dm_vmstate_field sample_fields[] = {
    SAMPLE_FIELDS_V1,
    DM_VMS_UINT32_V(struct sample, late, 2),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate sample_vmsd = {
    .name = "sample", .version = 2, .min_version = 1, .fields = sample_fields,
    .subsections = sample_subsections, .post_load = sample_post_load,
};

/* The same state as saved by an older build: version 1, no "late". */
static const struct dm_vmstate_field sample_fields_v1[] = {
    SAMPLE_FIELDS_V1,
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate sample_vmsd_v1 = {
    .name = "sample", .version = 1, .fields = sample_fields_v1,
    .subsections = sample_subsections,
};

static void sample_fill(struct sample *s)
{
    memset(s, 0, sizeof(*s));
    s->u8 = 0x12;
    s->u16 = 0x3456;
    s->u32 = 0x789abcde;
    s->u64 = 0x0123456789abcdefull;
    s->i32 = -5;
    s->i64 = -1234567890123ll;
    s->flag = true;
    for (int i = 0; i < 8; i++) {
        s->arr[i] = (uint16_t)(0x100 * i + 1);
    }
    for (int i = 0; i < 32; i++) {
        s->buf[i] = (uint8_t)(0xa0 + i);
    }
    for (int i = 0; i < 3; i++) {
        s->elems[i].a = (uint16_t)(10 + i);
        s->elems[i].b = (uint32_t)(0x1000 + i);
    }
    s->one.a = 0x77;
    s->one.b = 0x88;
    s->extra = 0xfeed;
    s->extra_needed = true;
    s->late = 0x5a5a;
}

static GBytes *save_one(const struct dm_vmstate *vmsd, struct sample *s)
{
    struct dm_vmstate_stream *w = dm_vmstate_writer_new();
    GError *err = NULL;

    g_assert_true(dm_vmstate_save_section(w, "sample", "s0", vmsd, s, &err));
    g_assert_no_error(err);
    return dm_vmstate_writer_finish(w);
}

/* Load DATA into S; NULL on success, else the error message (g_free). */
static char *load_one(GBytes *data, const struct dm_vmstate *vmsd,
                      struct sample *s)
{
    GError *err = NULL;
    struct dm_vmstate_stream *r = dm_vmstate_reader_new(data, &err);
    char *msg = NULL;

    if (r && dm_vmstate_load_section(r, "sample", "s0", vmsd, s, &err)) {
        g_assert_true(dm_vmstate_reader_at_end(r));
    }
    if (err) {
        msg = g_strdup(err->message);
        g_error_free(err);
    }
    dm_vmstate_stream_free(r);
    return msg;
}

static uint32_t test_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
        }
    }
    return ~crc;
}

/* A copy of DATA with its first LEN - 4 payload bytes edited by the caller
 * and a fresh CRC: streams a hostile writer could make. */
static GBytes *reseal(GByteArray *b)
{
    uint32_t crc;

    g_byte_array_set_size(b, b->len - 4);
    crc = test_crc32(b->data, b->len);
    for (int i = 0; i < 4; i++) {
        uint8_t v = (uint8_t)(crc >> (8 * i));

        g_byte_array_append(b, &v, 1);
    }
    return g_byte_array_free_to_bytes(b);
}

static GByteArray *copy_bytes(GBytes *data)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(data, &len);
    GByteArray *b = g_byte_array_sized_new((guint)len);

    g_byte_array_append(b, p, (guint)len);
    return b;
}

/* Offset of the first occurrence of the field record named NAME. */
static size_t find_field(GByteArray *b, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i + 2 + n <= b->len; i++) {
        if (b->data[i] == 'F' && b->data[i + 1] == n &&
            memcmp(b->data + i + 2, name, n) == 0) {
            return i;
        }
    }
    g_assert_not_reached();
}

static void test_vmstate_round_trip_restores_every_field(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    memset(&out, 0, sizeof(out));

    msg = load_one(data, &sample_vmsd, &out);

    g_assert_null(msg);
    g_assert_cmpuint(out.u8, ==, in.u8);
    g_assert_cmpuint(out.u16, ==, in.u16);
    g_assert_cmpuint(out.u32, ==, in.u32);
    g_assert_cmpuint(out.u64, ==, in.u64);
    g_assert_cmpint(out.i32, ==, in.i32);
    g_assert_cmpint(out.i64, ==, in.i64);
    g_assert_true(out.flag);
    g_assert_cmpmem(out.arr, sizeof(out.arr), in.arr, sizeof(in.arr));
    g_assert_cmpmem(out.buf, sizeof(out.buf), in.buf, sizeof(in.buf));
    g_assert_cmpmem(out.elems, sizeof(out.elems), in.elems, sizeof(in.elems));
    g_assert_cmpuint(out.one.a, ==, 0x77);
    g_assert_cmpuint(out.one.b, ==, 0x88);
    g_assert_cmpuint(out.extra, ==, 0xfeed);
    g_assert_cmpuint(out.late, ==, 0x5a5a);
    g_assert_cmpint(out.post_load_calls, ==, 1);
    g_bytes_unref(data);
}

static void test_vmstate_subsection_skipped_when_not_needed(void)
{
    struct sample in, out;
    GBytes *data, *data_needed;
    char *msg;

    sample_fill(&in);
    data_needed = save_one(&sample_vmsd, &in);
    in.extra_needed = false;
    data = save_one(&sample_vmsd, &in);
    memset(&out, 0, sizeof(out));
    out.extra = 0x1111;  /* the value after reset */

    msg = load_one(data, &sample_vmsd, &out);

    g_assert_null(msg);
    g_assert_cmpuint(g_bytes_get_size(data), <, g_bytes_get_size(data_needed));
    g_assert_cmpuint(out.extra, ==, 0x1111);
    g_assert_cmpuint(out.u32, ==, in.u32);
    g_bytes_unref(data);
    g_bytes_unref(data_needed);
}

static void test_vmstate_corrupt_crc_refused(void)
{
    struct sample in, out;
    GBytes *data, *bad;
    GByteArray *b;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    b = copy_bytes(data);
    b->data[b->len / 2] ^= 0x01;
    bad = g_byte_array_free_to_bytes(b);
    memset(&out, 0, sizeof(out));

    msg = load_one(bad, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "CRC"));
    g_assert_cmpuint(out.u32, ==, 0);
    g_free(msg);
    g_bytes_unref(bad);
    g_bytes_unref(data);
}

static void test_vmstate_bad_magic_refused(void)
{
    struct sample in, out;
    GBytes *bad;
    GByteArray *b;
    char *msg;

    sample_fill(&in);
    GBytes *data = save_one(&sample_vmsd, &in);
    b = copy_bytes(data);
    b->data[0] = 'X';
    bad = reseal(b);

    msg = load_one(bad, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "magic"));
    g_free(msg);
    g_bytes_unref(bad);
    g_bytes_unref(data);
}

/* A table that describes u16 as 4 bytes wide: what a build with a changed
 * struct would have. */
static const struct dm_vmstate_field sample_fields_wide[] = {
    DM_VMS_FIELD_(struct sample, u16, DM_VMS_UINT, 0, 1, 4),
    DM_VMS_END_OF_LIST,
};

static const struct dm_vmstate sample_vmsd_wide = {
    .name = "sample", .version = 2, .fields = sample_fields_wide,
    .subsections = sample_subsections,
};

static void test_vmstate_wrong_field_size_names_device_and_field(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    memset(&out, 0, sizeof(out));

    msg = load_one(data, &sample_vmsd_wide, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "sample[s0]"));
    g_assert_nonnull(strstr(msg, "'u16'"));
    g_assert_nonnull(strstr(msg, "size 2 in stream, 4 expected"));
    g_free(msg);
    g_bytes_unref(data);
}

static void test_vmstate_truncated_stream_refused(void)
{
    struct sample in, out;
    GBytes *data;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    for (gsize cut = 1; cut < g_bytes_get_size(data) - 12; cut += 7) {
        GByteArray *b = copy_bytes(data);
        GBytes *shortb, *sealed;
        char *msg;

        /* cut off the end, CRC and all */
        g_byte_array_set_size(b, b->len - cut);
        shortb = g_byte_array_free_to_bytes(b);
        msg = load_one(shortb, &sample_vmsd, &out);
        g_assert_nonnull(msg);
        g_free(msg);

        /* cut off the end of the payload but give it a valid CRC */
        b = copy_bytes(data);
        g_byte_array_remove_range(b, b->len - 4 - cut, (guint)cut);
        sealed = reseal(b);
        memset(&out, 0, sizeof(out));
        msg = load_one(sealed, &sample_vmsd, &out);
        g_assert_nonnull(msg);
        /* nothing reached the device */
        g_assert_cmpuint(out.u8, ==, 0);
        g_assert_cmpint(out.post_load_calls, ==, 0);
        g_free(msg);
        g_bytes_unref(shortb);
        g_bytes_unref(sealed);
    }
    g_bytes_unref(data);
}

static void test_vmstate_oversized_field_length_refused(void)
{
    struct sample in, out;
    GBytes *data, *bad;
    GByteArray *b;
    size_t at;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    b = copy_bytes(data);
    /* 'F' len "buf" kind esize count LEN: set LEN to 0x7fffffff */
    at = find_field(b, "buf") + 2 + 3 + 1 + 4 + 4;
    b->data[at] = 0xff;
    b->data[at + 1] = 0xff;
    b->data[at + 2] = 0xff;
    b->data[at + 3] = 0x7f;
    bad = reseal(b);

    msg = load_one(bad, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "'buf'"));
    g_free(msg);
    g_bytes_unref(bad);
    g_bytes_unref(data);
}

static void test_vmstate_bad_bool_refused(void)
{
    struct sample in, out;
    GBytes *data, *bad;
    GByteArray *b;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    b = copy_bytes(data);
    /* 'F' len "flag" kind esize count len VALUE */
    b->data[find_field(b, "flag") + 2 + 4 + 1 + 12] = 2;
    bad = reseal(b);
    memset(&out, 0, sizeof(out));

    msg = load_one(bad, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "sample[s0]: field 'flag'"));
    g_assert_cmpuint(out.u8, ==, 0);
    g_free(msg);
    g_bytes_unref(bad);
    g_bytes_unref(data);
}

static void test_vmstate_older_stream_keeps_new_field(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd_v1, &in);
    memset(&out, 0, sizeof(out));
    out.late = 0x4242;  /* reset value */

    msg = load_one(data, &sample_vmsd, &out);

    g_assert_null(msg);
    g_assert_cmpuint(out.late, ==, 0x4242);
    g_assert_cmpuint(out.u64, ==, in.u64);
    g_bytes_unref(data);
}

static void test_vmstate_removed_field_ignored(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    /* saved with "late" (v2), loaded by a v1 table that lacks it: v1 is
     * older than the stream, so use a v2 table without the field */
    static const struct dm_vmstate_field fields_dropped[] = {
        SAMPLE_FIELDS_V1,
        DM_VMS_END_OF_LIST,
    };
    static const struct dm_vmstate vmsd_dropped = {
        .name = "sample", .version = 2, .fields = fields_dropped,
        .subsections = sample_subsections,
    };

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    memset(&out, 0, sizeof(out));

    msg = load_one(data, &vmsd_dropped, &out);

    g_assert_null(msg);
    g_assert_cmpuint(out.late, ==, 0);
    g_assert_cmpuint(out.u16, ==, in.u16);
    g_bytes_unref(data);
}

static void test_vmstate_newer_stream_refused(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);

    msg = load_one(data, &sample_vmsd_v1, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "sample[s0]: stream version 2"));
    g_free(msg);
    g_bytes_unref(data);
}

static void test_vmstate_missing_field_refused(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    /* a v2 stream without "late" (a v1 table claiming version 2) */
    static const struct dm_vmstate vmsd_lying = {
        .name = "sample", .version = 2, .fields = sample_fields_v1,
        .subsections = sample_subsections,
    };

    sample_fill(&in);
    data = save_one(&vmsd_lying, &in);

    msg = load_one(data, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "field 'late' missing"));
    g_free(msg);
    g_bytes_unref(data);
}

static void test_vmstate_post_load_failure_reported(void)
{
    struct sample in, out;
    GBytes *data;
    char *msg;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    memset(&out, 0, sizeof(out));
    out.refuse_load = true;

    msg = load_one(data, &sample_vmsd, &out);

    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "sample[s0]: u8 0x12 out of range"));
    g_free(msg);
    g_bytes_unref(data);
}

static void test_vmstate_wrong_section_refused(void)
{
    struct sample in, out;
    struct dm_vmstate_stream *w = dm_vmstate_writer_new(), *r;
    GBytes *data;
    GError *err = NULL;

    sample_fill(&in);
    g_assert_true(dm_vmstate_save_section(w, "sample", "s1", &sample_vmsd,
                                          &in, &err));
    data = dm_vmstate_writer_finish(w);
    r = dm_vmstate_reader_new(data, &err);
    g_assert_no_error(err);

    g_assert_false(dm_vmstate_load_section(r, "sample", "s0", &sample_vmsd,
                                           &out, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "sample[s0]"));
    g_assert_nonnull(strstr(err->message, "sample[s1]"));
    g_error_free(err);
    dm_vmstate_stream_free(r);
    g_bytes_unref(data);
}

static void test_vmstate_two_sections_in_order(void)
{
    struct sample a, b, a2 = { 0 }, b2 = { 0 };
    struct dm_vmstate_stream *w = dm_vmstate_writer_new(), *r;
    GBytes *data;
    GError *err = NULL;

    sample_fill(&a);
    sample_fill(&b);
    b.u8 = 0x99;
    dm_vmstate_save_section(w, "sample", "a", &sample_vmsd, &a, &err);
    dm_vmstate_save_section(w, "sample", "b", &sample_vmsd, &b, &err);
    data = dm_vmstate_writer_finish(w);
    r = dm_vmstate_reader_new(data, &err);

    g_assert_true(dm_vmstate_load_section(r, "sample", "a", &sample_vmsd, &a2,
                                          &err));
    g_assert_false(dm_vmstate_reader_at_end(r));
    g_assert_true(dm_vmstate_load_section(r, "sample", "b", &sample_vmsd, &b2,
                                          &err));

    g_assert_no_error(err);
    g_assert_true(dm_vmstate_reader_at_end(r));
    g_assert_cmpuint(a2.u8, ==, 0x12);
    g_assert_cmpuint(b2.u8, ==, 0x99);
    dm_vmstate_stream_free(r);
    g_bytes_unref(data);
}

static void test_vmstate_dump_prints_named_fields(void)
{
    struct sample in;
    GBytes *data;
    GError *err = NULL;
    char *text;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);

    text = dm_vmstate_dump(data, &err);

    g_assert_no_error(err);
    g_assert_nonnull(strstr(text, "# sample[s0] version 2\n"));
    g_assert_nonnull(strstr(text, "sample[s0].u8 = 0x12\n"));
    g_assert_nonnull(strstr(text, "sample[s0].u64 = 0x123456789abcdef\n"));
    g_assert_nonnull(strstr(text, "sample[s0].i32 = -5\n"));
    g_assert_nonnull(strstr(text, "sample[s0].flag = true\n"));
    g_assert_nonnull(strstr(text, "sample[s0].arr = {0x1, 0x101, 0x201, "));
    g_assert_nonnull(strstr(text, "sample[s0].buf = a0a1a2"));
    g_assert_nonnull(strstr(text, "sample[s0].elems[2].b = 0x1002\n"));
    g_assert_nonnull(strstr(text, "sample[s0].one.a = 0x77\n"));
    g_assert_nonnull(strstr(text, "sample[s0].sample/extra.extra = 0xfeed\n"));
    g_free(text);
    g_bytes_unref(data);
}

static void test_vmstate_dump_refuses_corrupt_stream(void)
{
    struct sample in;
    GBytes *data, *bad;
    GByteArray *b;
    GError *err = NULL;

    sample_fill(&in);
    data = save_one(&sample_vmsd, &in);
    b = copy_bytes(data);
    b->data[20] ^= 0xff;
    bad = g_byte_array_free_to_bytes(b);

    g_assert_null(dm_vmstate_dump(bad, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_error_free(err);
    g_bytes_unref(bad);
    g_bytes_unref(data);
}

/* ---- every device type ---------------------------------------------------- */

static bool machine_has_type(struct dm_machine *m, const struct dm_dev_type *t)
{
    for (guint i = 0; i < m->devs->len; i++) {
        if (((struct dm_dev *)g_ptr_array_index(m->devs, i))->type == t) {
            return true;
        }
    }
    return false;
}

/* Add one instance of every user-creatable type with state that the board
 * did not create, with default properties; types that need properties (a
 * drive, a netdev) are left out. Returns the names added, comma-separated. */
static char *add_other_devices(struct dm_machine *m)
{
    GString *added = g_string_new(NULL);

    for (const struct dm_dev_type *const *t = dm_dev_types(); *t; t++) {
        GError *err = NULL;

        if (!(*t)->vmsd || !(*t)->user_creatable || machine_has_type(m, *t)) {
            continue;
        }
        if (dm_dev_new(m, (*t)->name, "", &err)) {
            g_string_append_printf(added, "%s,", (*t)->name);
        } else {
            g_test_message("%s not covered: %s", (*t)->name, err->message);
            g_error_free(err);
        }
    }
    return g_string_free(added, FALSE);
}

/* The dumps of A and B line by line; fail naming the first line where they
 * differ. */
static void assert_same_state(GBytes *a, GBytes *b)
{
    GError *err = NULL;
    g_autofree char *da = dm_vmstate_dump(a, &err);
    g_autofree char *db = dm_vmstate_dump(b, &err);
    g_auto(GStrv) la = NULL;
    g_auto(GStrv) lb = NULL;

    g_assert_no_error(err);
    la = g_strsplit(da, "\n", -1);
    lb = g_strsplit(db, "\n", -1);
    g_assert_cmpuint(g_strv_length(la), ==, g_strv_length(lb));
    for (guint i = 0; la[i]; i++) {
        if (strcmp(la[i], lb[i]) == 0) {
            continue;
        }
        g_error("state differs after a round trip:\n  saved:   %s\n"
                "  resaved: %s", la[i], lb[i]);
    }
}

static void test_vmstate_every_device_type_round_trips(void)
{
    struct dm_machine *a = th_pc_new("-m 32");
    struct dm_machine *b = th_pc_new("-m 32");
    g_autofree char *added_a = add_other_devices(a);
    g_autofree char *added_b = add_other_devices(b);
    g_autofree char *dump = NULL;
    GBytes *saved, *resaved;
    GError *err = NULL;
    unsigned sections = 0;

    g_assert_cmpstr(added_a, ==, added_b);

    saved = dm_machine_save_state(a, &err);
    g_assert_no_error(err);
    g_assert_true(dm_machine_load_state(b, saved, &err));
    g_assert_no_error(err);
    resaved = dm_machine_save_state(b, &err);
    g_assert_no_error(err);

    /* byte for byte, but for the fields listed in unstable_fields */
    if (!g_bytes_equal(saved, resaved)) {
        assert_same_state(saved, resaved);
        g_assert_cmpuint(g_bytes_get_size(saved), ==,
                         g_bytes_get_size(resaved));
    }
    dump = dm_vmstate_dump(saved, &err);
    g_assert_no_error(err);
    for (guint i = 0; i < a->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(a->devs, i);
        g_autofree char *head = NULL;

        if (!d->type->vmsd) {
            continue;
        }
        head = g_strdup_printf("# %s[%s] version %d\n", d->type->name, d->id,
                               d->type->vmsd->version);
        g_assert_nonnull(strstr(dump, head));
        sections++;
    }
    g_test_message("%u device sections round-tripped", sections);
    for (const struct dm_dev_type *const *t = dm_dev_types(); *t; t++) {
        if ((*t)->vmsd && !machine_has_type(a, *t)) {
            g_test_message("%s not covered: not on the PC board", (*t)->name);
        }
    }
    g_bytes_unref(saved);
    g_bytes_unref(resaved);
    th_pc_free(b);
    th_pc_free(a);
}

static void test_vmstate_load_refuses_other_machine(void)
{
    struct dm_machine *a = th_pc_new("-m 32");
    struct dm_machine *b = th_pc_new("-m 32");
    struct dm_vmstate_stream *w = dm_vmstate_writer_new();
    struct sample s;
    GBytes *data;
    GError *err = NULL;

    /* a stream with one extra section after the devices of A */
    sample_fill(&s);
    for (guint i = 0; i < a->devs->len; i++) {
        struct dm_dev *d = g_ptr_array_index(a->devs, i);

        if (d->type->vmsd) {
            g_assert_true(dm_vmstate_save_section(w, d->type->name, d->id,
                                                  d->type->vmsd, d, &err));
        }
    }
    g_assert_true(dm_vmstate_save_section(w, "sample", "s0", &sample_vmsd, &s,
                                          &err));
    data = dm_vmstate_writer_finish(w);

    g_assert_false(dm_machine_load_state(b, data, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_error_free(err);
    g_bytes_unref(data);
    th_pc_free(b);
    th_pc_free(a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate/round-trip",
                    test_vmstate_round_trip_restores_every_field);
    g_test_add_func("/vmstate/subsection-not-needed",
                    test_vmstate_subsection_skipped_when_not_needed);
    g_test_add_func("/vmstate/corrupt-crc", test_vmstate_corrupt_crc_refused);
    g_test_add_func("/vmstate/bad-magic", test_vmstate_bad_magic_refused);
    g_test_add_func("/vmstate/wrong-field-size",
                    test_vmstate_wrong_field_size_names_device_and_field);
    g_test_add_func("/vmstate/truncated", test_vmstate_truncated_stream_refused);
    g_test_add_func("/vmstate/oversized-field",
                    test_vmstate_oversized_field_length_refused);
    g_test_add_func("/vmstate/bad-bool", test_vmstate_bad_bool_refused);
    g_test_add_func("/vmstate/older-stream",
                    test_vmstate_older_stream_keeps_new_field);
    g_test_add_func("/vmstate/removed-field", test_vmstate_removed_field_ignored);
    g_test_add_func("/vmstate/newer-stream", test_vmstate_newer_stream_refused);
    g_test_add_func("/vmstate/missing-field", test_vmstate_missing_field_refused);
    g_test_add_func("/vmstate/post-load-failure",
                    test_vmstate_post_load_failure_reported);
    g_test_add_func("/vmstate/wrong-section", test_vmstate_wrong_section_refused);
    g_test_add_func("/vmstate/two-sections", test_vmstate_two_sections_in_order);
    g_test_add_func("/vmstate/dump", test_vmstate_dump_prints_named_fields);
    g_test_add_func("/vmstate/dump-corrupt",
                    test_vmstate_dump_refuses_corrupt_stream);
    g_test_add_func("/vmstate/every-device-type",
                    test_vmstate_every_device_type_round_trips);
    g_test_add_func("/vmstate/other-machine",
                    test_vmstate_load_refuses_other_machine);
    return g_test_run();
}
