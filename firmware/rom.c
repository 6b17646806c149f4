/*
 * rom.c: finding firmware images on the host and loading the system BIOS.
 *
 * The BIOS (SeaBIOS's bios-256k.bin from Debian's seabios package by
 * default) is mapped read-only just below 4 GiB, where the CPU starts at the
 * reset vector 0xfffffff0. Its top 128 KiB also appear in the legacy window
 * 0xe0000-0xfffff: the i440FX takes them from this mapping as the ROM face
 * of its PAM segments. Left out: flash (pflash) with writable variables.
 */
#include "hvmdm/firmware.h"
#include "hvmdm/machine.h"
#include "hvmdm/memory.h"

#define DM_BIOS_DEFAULT "bios-256k.bin"
#define DM_BIOS_ALIGN (64 * DM_KiB)
#define DM_BIOS_MAX (16 * DM_MiB)

static const char *const dm_firmware_dirs[] = {
    "/usr/share/seabios",
    "/usr/share/qemu",
    "/usr/lib/ipxe/qemu",
};

static char *dm_firmware_try(const char *dir, const char *name)
{
    char *path = g_build_filename(dir, name, NULL);

    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        return path;
    }
    g_free(path);
    return NULL;
}

char *dm_firmware_find(const char *name)
{
    const char *env = g_getenv("HVMDM_FIRMWARE_DIR");
    char *path = NULL;

    if (!name || !*name) {
        return NULL;
    }
    /* A name with a directory part is a path, used as given. */
    if (strchr(name, '/')) {
        return g_file_test(name, G_FILE_TEST_IS_REGULAR) ? g_strdup(name)
                                                         : NULL;
    }
    if (env && *env) {
        g_auto(GStrv) dirs = g_strsplit(env, ":", -1);

        for (char **d = dirs; *d && !path; d++) {
            if (**d) {
                path = dm_firmware_try(*d, name);
            }
        }
    }
    for (size_t i = 0; i < DM_ARRAY_SIZE(dm_firmware_dirs) && !path; i++) {
        path = dm_firmware_try(dm_firmware_dirs[i], name);
    }
    return path;
}

bool dm_firmware_load_bios(struct dm_machine *m, const char *file,
                           GError **errp)
{
    const char *name = file ? file : DM_BIOS_DEFAULT;
    g_autofree char *path = dm_firmware_find(name);
    g_autofree char *data = NULL;
    GError *err = NULL;
    gsize size = 0;

    if (!path) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-bios %s: not found (searched $HVMDM_FIRMWARE_DIR, "
                    "/usr/share/seabios, /usr/share/qemu, /usr/lib/ipxe/qemu; "
                    "apt-get install seabios)",
                    name);
        return false;
    }
    if (!g_file_get_contents(path, &data, &size, &err)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_IO, "-bios %s: cannot read: %s",
                    path, err->message);
        g_error_free(err);
        return false;
    }
    if (size == 0 || size % DM_BIOS_ALIGN || size > DM_BIOS_MAX) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-bios %s: size %zu is not a multiple of 64 KiB up to "
                    "16 MiB",
                    path, (size_t)size);
        return false;
    }
    if (!dm_memory_add_rom(m->mem, "pc.bios", 4 * DM_GiB - size, data, size,
                           errp)) {
        g_prefix_error(errp, "-bios %s: ", path);
        return false;
    }
    return true;
}
