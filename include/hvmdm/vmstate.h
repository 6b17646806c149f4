/*
 * vmstate.h: device state tables and the one serializer for all devices.
 *
 * A device describes its saved state as fields with explicit widths and the
 * version that added them, plus optional subsections saved only when their
 * needed() says so. No host pointers, fds or derived values. post_load checks
 * the loaded values like guest input and fails the load with a message.
 *
 * Stream: magic "HVMDMSTA", format version, then per device a section with its
 * type name, id and version, each field with its name, kind and size, and a
 * CRC32 over everything at the end. Loading caps every size it reads (names
 * 64 bytes, a field 16 MiB, 1024 sections), loads fields by name (a field
 * newer than the stream's version keeps its value, a stream field the table
 * no longer has is skipped) and writes nothing into a device before its whole
 * section checked out. Subsections use the same OPAQUE as their parent.
 */
#ifndef HVMDM_VMSTATE_H
#define HVMDM_VMSTATE_H

#include "hvmdm/common.h"

enum dm_vmstate_kind {
    DM_VMS_END = 0,
    DM_VMS_UINT,    /* unsigned integer of size 1, 2, 4 or 8, count elements */
    DM_VMS_INT,     /* signed integer of size 1, 2, 4 or 8, count elements */
    DM_VMS_BOOL,    /* C bool, count elements */
    DM_VMS_BUFFER,  /* SIZE opaque bytes */
    DM_VMS_STRUCT,  /* count elements of SIZE bytes each described by VMSD */
};

struct dm_vmstate;

struct dm_vmstate_field {
    const char *name;
    enum dm_vmstate_kind kind;
    size_t offset;
    size_t size;      /* element size */
    unsigned count;   /* elements (1 for scalars) */
    int version;      /* stream version that introduced the field */
    const struct dm_vmstate *vmsd;  /* DM_VMS_STRUCT only */
};

struct dm_vmstate {
    const char *name;
    int version;
    int min_version;  /* oldest stream version still loadable */
    const struct dm_vmstate_field *fields;  /* ends with DM_VMS_END */
    const struct dm_vmstate *const *subsections;  /* NULL-terminated or NULL */
    bool (*needed)(void *opaque);  /* subsections: save only if true */
    bool (*pre_save)(void *opaque, GError **errp);
    bool (*post_load)(void *opaque, int version, GError **errp);
};

#define DM_VMS_FIELD_(st, f, k, ver, n, sz)                                 \
    { .name = #f, .kind = (k), .offset = offsetof(st, f), .size = (sz),     \
      .count = (n), .version = (ver) }
#define DM_VMS_NELEMS_(st, f) \
    (sizeof(((st *)0)->f) / sizeof(((st *)0)->f[0]))
/* Each field macro has a _V form taking the stream version that added the
 * field: DM_VMS_UINT8_V(struct rtc, alarm_sec, 2). */
#define DM_VMS_UINT8_V(st, f, v)  DM_VMS_FIELD_(st, f, DM_VMS_UINT, v, 1, 1)
#define DM_VMS_UINT16_V(st, f, v) DM_VMS_FIELD_(st, f, DM_VMS_UINT, v, 1, 2)
#define DM_VMS_UINT32_V(st, f, v) DM_VMS_FIELD_(st, f, DM_VMS_UINT, v, 1, 4)
#define DM_VMS_UINT64_V(st, f, v) DM_VMS_FIELD_(st, f, DM_VMS_UINT, v, 1, 8)
#define DM_VMS_INT8_V(st, f, v)   DM_VMS_FIELD_(st, f, DM_VMS_INT, v, 1, 1)
#define DM_VMS_INT16_V(st, f, v)  DM_VMS_FIELD_(st, f, DM_VMS_INT, v, 1, 2)
#define DM_VMS_INT32_V(st, f, v)  DM_VMS_FIELD_(st, f, DM_VMS_INT, v, 1, 4)
#define DM_VMS_INT64_V(st, f, v)  DM_VMS_FIELD_(st, f, DM_VMS_INT, v, 1, 8)
#define DM_VMS_BOOL_V(st, f, v)                                             \
    DM_VMS_FIELD_(st, f, DM_VMS_BOOL, v, 1, sizeof(bool))
#define DM_VMS_UINT8(st, f)  DM_VMS_UINT8_V(st, f, 0)
#define DM_VMS_UINT16(st, f) DM_VMS_UINT16_V(st, f, 0)
#define DM_VMS_UINT32(st, f) DM_VMS_UINT32_V(st, f, 0)
#define DM_VMS_UINT64(st, f) DM_VMS_UINT64_V(st, f, 0)
#define DM_VMS_INT8(st, f)   DM_VMS_INT8_V(st, f, 0)
#define DM_VMS_INT16(st, f)  DM_VMS_INT16_V(st, f, 0)
#define DM_VMS_INT32(st, f)  DM_VMS_INT32_V(st, f, 0)
#define DM_VMS_INT64(st, f)  DM_VMS_INT64_V(st, f, 0)
#define DM_VMS_BOOL(st, f)   DM_VMS_BOOL_V(st, f, 0)
/* Arrays of integers or bools: element size from the array's element type. */
#define DM_VMS_UINT_ARRAY_V(st, f, v)                                       \
    DM_VMS_FIELD_(st, f, DM_VMS_UINT, v, DM_VMS_NELEMS_(st, f),             \
                  sizeof(((st *)0)->f[0]))
#define DM_VMS_INT_ARRAY_V(st, f, v)                                        \
    DM_VMS_FIELD_(st, f, DM_VMS_INT, v, DM_VMS_NELEMS_(st, f),              \
                  sizeof(((st *)0)->f[0]))
#define DM_VMS_BOOL_ARRAY_V(st, f, v)                                       \
    DM_VMS_FIELD_(st, f, DM_VMS_BOOL, v, DM_VMS_NELEMS_(st, f), sizeof(bool))
#define DM_VMS_UINT_ARRAY(st, f) DM_VMS_UINT_ARRAY_V(st, f, 0)
#define DM_VMS_INT_ARRAY(st, f)  DM_VMS_INT_ARRAY_V(st, f, 0)
#define DM_VMS_BOOL_ARRAY(st, f) DM_VMS_BOOL_ARRAY_V(st, f, 0)
/* Opaque bytes (a whole array of uint8_t, a FIFO, VRAM). */
#define DM_VMS_BUFFER_V(st, f, v)                                           \
    DM_VMS_FIELD_(st, f, DM_VMS_BUFFER, v, 1, sizeof(((st *)0)->f))
#define DM_VMS_BUFFER(st, f) DM_VMS_BUFFER_V(st, f, 0)
/* Embedded structs described by their own table SUB. */
#define DM_VMS_STRUCT_ARRAY_V(st, f, sub, v)                                \
    { .name = #f, .kind = DM_VMS_STRUCT, .offset = offsetof(st, f),         \
      .size = sizeof(((st *)0)->f[0]), .count = DM_VMS_NELEMS_(st, f),      \
      .version = (v), .vmsd = (sub) }
#define DM_VMS_STRUCT_V(st, f, sub, v)                                      \
    { .name = #f, .kind = DM_VMS_STRUCT, .offset = offsetof(st, f),         \
      .size = sizeof(((st *)0)->f), .count = 1, .version = (v),             \
      .vmsd = (sub) }
#define DM_VMS_STRUCT_ARRAY(st, f, sub) DM_VMS_STRUCT_ARRAY_V(st, f, sub, 0)
#define DM_VMS_STRUCT(st, f, sub)       DM_VMS_STRUCT_V(st, f, sub, 0)
#define DM_VMS_END_OF_LIST { .kind = DM_VMS_END }

/* A stream being written or read. */
struct dm_vmstate_stream;

struct dm_vmstate_stream *dm_vmstate_writer_new(void);
/* Add one device's section. */
bool dm_vmstate_save_section(struct dm_vmstate_stream *w, const char *name,
                             const char *id, const struct dm_vmstate *vmsd,
                             void *opaque, GError **errp);
/* Finish (appends the CRC) and return the bytes; frees W. */
GBytes *dm_vmstate_writer_finish(struct dm_vmstate_stream *w);

/* Open DATA for reading: checks magic, format version and CRC. */
struct dm_vmstate_stream *dm_vmstate_reader_new(GBytes *data, GError **errp);
/* Load the next section, which must be NAME/ID, into OPAQUE. */
bool dm_vmstate_load_section(struct dm_vmstate_stream *r, const char *name,
                             const char *id, const struct dm_vmstate *vmsd,
                             void *opaque, GError **errp);
bool dm_vmstate_reader_at_end(struct dm_vmstate_stream *r);
void dm_vmstate_stream_free(struct dm_vmstate_stream *s);

/* Human-readable dump of a whole stream: "device[id].field = value" lines
 * (unsigned in hex, signed in decimal, arrays in braces, long buffers and
 * arrays cut short), "# device[id] version N" before each section and
 * subsection, "device[id].field[i].member" inside struct arrays. */
char *dm_vmstate_dump(GBytes *data, GError **errp);

#endif
