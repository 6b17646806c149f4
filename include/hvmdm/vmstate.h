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
 * CRC32 over everything at the end. Loading caps every size it reads.
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
#define DM_VMS_UINT8(st, f)  DM_VMS_FIELD_(st, f, DM_VMS_UINT, 0, 1, 1)
#define DM_VMS_UINT16(st, f) DM_VMS_FIELD_(st, f, DM_VMS_UINT, 0, 1, 2)
#define DM_VMS_UINT32(st, f) DM_VMS_FIELD_(st, f, DM_VMS_UINT, 0, 1, 4)
#define DM_VMS_UINT64(st, f) DM_VMS_FIELD_(st, f, DM_VMS_UINT, 0, 1, 8)
#define DM_VMS_INT32(st, f)  DM_VMS_FIELD_(st, f, DM_VMS_INT, 0, 1, 4)
#define DM_VMS_INT64(st, f)  DM_VMS_FIELD_(st, f, DM_VMS_INT, 0, 1, 8)
#define DM_VMS_BOOL(st, f)   DM_VMS_FIELD_(st, f, DM_VMS_BOOL, 0, 1, sizeof(bool))
/* Arrays of integers: element size from the array's element type. */
#define DM_VMS_UINT_ARRAY(st, f)                                            \
    DM_VMS_FIELD_(st, f, DM_VMS_UINT, 0,                                    \
                  sizeof(((st *)0)->f) / sizeof(((st *)0)->f[0]),           \
                  sizeof(((st *)0)->f[0]))
#define DM_VMS_BUFFER(st, f)                                                \
    DM_VMS_FIELD_(st, f, DM_VMS_BUFFER, 0, 1, sizeof(((st *)0)->f))
#define DM_VMS_STRUCT_ARRAY(st, f, sub)                                     \
    { .name = #f, .kind = DM_VMS_STRUCT, .offset = offsetof(st, f),         \
      .size = sizeof(((st *)0)->f[0]),                                      \
      .count = sizeof(((st *)0)->f) / sizeof(((st *)0)->f[0]),              \
      .vmsd = (sub) }
#define DM_VMS_STRUCT(st, f, sub)                                           \
    { .name = #f, .kind = DM_VMS_STRUCT, .offset = offsetof(st, f),         \
      .size = sizeof(((st *)0)->f), .count = 1, .vmsd = (sub) }
/* Any field macro with a version: DM_VMS_V(DM_VMS_UINT8(st, f), 2). */
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

/* Human-readable dump of a whole stream ("device/field = value" lines). */
char *dm_vmstate_dump(GBytes *data, GError **errp);

#endif
