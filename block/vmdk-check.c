/*
 * vmdk-check.c: facts about a VMDK disk and a consistency check of its
 * sparse extents, for hvmdm-img info and check: grain table entries inside
 * the file, no grain used twice, the grain directory and its tables equal
 * to their redundant copies. Spec: VMware Virtual Disk Format 1.1.
 * Left out: repair, leak detection (unused space is harmless in VMDK).
 */
#include "hvmdm/log.h"
#include "vmdk.h"

static struct vmdk *vmdk_of(struct blk *b, GError **errp)
{
    if (b->drv != &blk_vmdk_driver) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID, "%s: not a vmdk image",
                    b->filename);
        return NULL;
    }
    return b->drv_state;
}

bool vmdk_get_info(struct blk *b, struct vmdk_info *info, GError **errp)
{
    struct vmdk *s = vmdk_of(b, errp);

    memset(info, 0, sizeof(*info));
    if (!s) {
        return false;
    }
    info->cid = VMDK_NO_CID;
    info->parent_cid = VMDK_NO_CID;
    if (s->has_desc) {
        info->create_type = g_strdup(s->desc.create_type);
        info->parent_hint = g_strdup(s->desc.parent_hint);
        info->cid = s->desc.has_cid ? s->desc.cid : VMDK_NO_CID;
        info->parent_cid = s->desc.parent_cid;
    }
    info->n_extents = s->n_ext;
    info->extent_files = g_new0(char *, s->n_ext + 1);
    for (unsigned i = 0; i < s->n_ext; i++) {
        struct vmdk_extent *e = &s->ext[i];
        info->extent_files[i] = g_strdup(e->f ? e->f->filename : "");
        if (e->sp) {
            info->compressed |= e->sp->compressed;
            info->grain_size = e->sp->grain_bytes;
        }
    }
    return true;
}

void vmdk_info_clear(struct vmdk_info *info)
{
    g_free(info->create_type);
    g_free(info->parent_hint);
    g_strfreev(info->extent_files);
    memset(info, 0, sizeof(*info));
}

static void problem(struct vmdk_check_result *res, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void problem(struct vmdk_check_result *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(res->messages, g_strdup_vprintf(fmt, ap));
    va_end(ap);
    res->corruptions++;
}

static int read_table(struct vmdk_sparse *sp, uint32_t sector, uint32_t *t)
{
    int ret = blk_file_pread(sp->f, (uint64_t)sector * VMDK_SECTOR, t,
                             VMDK_GTES_PER_GT * 4);
    for (unsigned j = 0; ret == 0 && j < VMDK_GTES_PER_GT; j++) {
        t[j] = GUINT32_FROM_LE(t[j]);
    }
    return ret;
}

/* One grain table (directory entry I) of extent N: its entries, and its
 * redundant copy. SEEN maps grain sectors to grain numbers. */
static void check_gt(struct vmdk_extent *e, unsigned n, uint32_t i,
                     uint64_t fsize, GHashTable *seen,
                     struct vmdk_check_result *res)
{
    struct vmdk_sparse *sp = e->sp;
    uint64_t grains = (e->len + sp->grain_bytes - 1) / sp->grain_bytes;
    uint32_t gt[VMDK_GTES_PER_GT], rgt[VMDK_GTES_PER_GT];

    if (read_table(sp, sp->gd[i], gt) < 0) {
        res->check_errors++;
        return;
    }
    if (sp->rgd && sp->rgd[i] && read_table(sp, sp->rgd[i], rgt) < 0) {
        res->check_errors++;
        return;
    }
    for (unsigned j = 0; j < VMDK_GTES_PER_GT; j++) {
        uint64_t g = (uint64_t)i * VMDK_GTES_PER_GT + j;
        uint32_t v = gt[j];
        gpointer prev;

        if (sp->rgd && sp->rgd[i] && rgt[j] != v) {
            problem(res,
                    "extent %u: grain %" PRIu64 ": grain table says "
                    "sector 0x%x, its redundant copy 0x%x",
                    n + 1, g, v, rgt[j]);
        }
        if (v == 0 || (v == 1 && sp->zero_grain)) {
            continue;
        }
        if (g >= grains) {
            problem(res,
                    "extent %u: grain %" PRIu64 " beyond the extent is "
                    "allocated",
                    n + 1, g);
            continue;
        }
        res->allocated_grains++;
        if ((uint64_t)v * VMDK_SECTOR >= fsize) {
            problem(res,
                    "extent %u: grain %" PRIu64 " at sector 0x%x lies "
                    "past the end of the file",
                    n + 1, g, v);
        } else if (g_hash_table_lookup_extended(seen, GUINT_TO_POINTER(v), NULL,
                                                &prev)) {
            problem(res,
                    "extent %u: grains %" PRIu64 " and %lu both use "
                    "sector 0x%x",
                    n + 1, g, (unsigned long)GPOINTER_TO_SIZE(prev), v);
        } else {
            g_hash_table_insert(seen, GUINT_TO_POINTER(v),
                                GSIZE_TO_POINTER((gsize)g));
        }
    }
}

static void check_extent(struct vmdk_extent *e, unsigned n,
                         struct vmdk_check_result *res)
{
    struct vmdk_sparse *sp = e->sp;
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    int64_t fsize = blk_file_size(sp->f);

    res->total_grains += (e->len + sp->grain_bytes - 1) / sp->grain_bytes;
    if (fsize < 0) {
        res->check_errors++;
        g_hash_table_destroy(seen);
        return;
    }
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        if (sp->rgd && (sp->gd[i] == 0) != (sp->rgd[i] == 0)) {
            problem(res,
                    "extent %u: grain directory entry %u is 0x%x, its "
                    "redundant copy 0x%x",
                    n + 1, i, sp->gd[i], sp->rgd[i]);
        }
        if (sp->gd[i]) {
            check_gt(e, n, i, (uint64_t)fsize, seen, res);
        }
    }
    g_hash_table_destroy(seen);
}

bool vmdk_check(struct blk *b, struct vmdk_check_result *res, GError **errp)
{
    struct vmdk *s = vmdk_of(b, errp);

    memset(res, 0, sizeof(*res));
    res->messages = g_ptr_array_new_with_free_func(g_free);
    if (!s) {
        return false;
    }
    g_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->n_ext; i++) {
        if (s->ext[i].sp) {
            check_extent(&s->ext[i], i, res);
        }
    }
    g_mutex_unlock(&s->lock);
    return true;
}

void vmdk_check_result_clear(struct vmdk_check_result *res)
{
    if (res->messages) {
        g_ptr_array_free(res->messages, true);
    }
    memset(res, 0, sizeof(*res));
}
