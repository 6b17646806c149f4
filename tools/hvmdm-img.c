/*
 * hvmdm-img.c: the disk image tool: create, info, check, convert, resize,
 * compare and map raw, qcow2 and vmdk images, with qemu-img's argument style
 * and exit statuses. One subcommand per tools/img-*.c file.
 * Left out: snapshot, commit, rebase, amend, bench, bitmap, measure, dd.
 */
#include <stdio.h>

#include "hvmdm/log.h"
#include "img.h"

struct img_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};

static const struct img_cmd img_cmds[] = {
    { "create", img_create,
      "create [-q] [-f FMT] [-o OPTIONS] [-b BACKING [-F BACKING_FMT]] FILE "
      "[SIZE]" },
    { "info", img_info,
      "info [-f FMT] [--output=human|json] [--backing-chain] FILE" },
    { "check", img_check,
      "check [-q] [-f FMT] [--output=human|json] [-r leaks|all] FILE" },
    { "convert", img_convert,
      "convert [-p] [-q] [-n] [-W] [-m N] [-f FMT] [-O FMT] [-o OPTIONS] "
      "[-t CACHE] [-T SRC_CACHE] SRC DST" },
    { "resize", img_resize, "resize [-q] [-f FMT] [--shrink] FILE [+|-]SIZE" },
    { "compare", img_compare,
      "compare [-q] [-s] [-f FMT] [-F FMT] FILE1 FILE2" },
    { "map", img_map,
      "map [-f FMT] [--output=human|json] [--start-offset=OFF] "
      "[--max-length=LEN] FILE" },
};

static void img_help(FILE *out)
{
    fprintf(out, "usage: hvmdm-img COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < DM_ARRAY_SIZE(img_cmds); i++) {
        fprintf(out, "  hvmdm-img %s\n", img_cmds[i].synopsis);
    }
    fprintf(out,
            "\nFMT is raw, qcow2 or vmdk (guessed from the file when not "
            "given).\n"
            "SIZE is in bytes, with an optional k, M, G, T, P or E suffix.\n"
            "qcow2 options (-o): compat=0.10|1.1, cluster_size=SIZE, "
            "refcount_bits=N,\n"
            "  preallocation=off|metadata, backing_file=FILE, "
            "backing_fmt=FMT\n"
            "raw options (-o): preallocation=off|falloc|full\n"
            "vmdk options (-o): subformat=monolithicSparse|monolithicFlat|"
            "twoGbMaxExtentSparse|twoGbMaxExtentFlat\n"
            "See docs/hvmdm-img.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        img_error("no command given (try hvmdm-img --help)");
        return IMG_EXIT_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        img_help(stdout);
        return IMG_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("hvmdm-img (hvmdm)\n");
        return IMG_EXIT_OK;
    }
    for (size_t i = 0; i < DM_ARRAY_SIZE(img_cmds); i++) {
        if (strcmp(argv[1], img_cmds[i].name) == 0) {
            for (int k = 2; k < argc; k++) {
                if (strcmp(argv[k], "--help") == 0 ||
                    strcmp(argv[k], "-h") == 0) {
                    printf("usage: hvmdm-img %s\n", img_cmds[i].synopsis);
                    return IMG_EXIT_OK;
                }
                if (strcmp(argv[k], "--") == 0) {
                    break;
                }
            }
            return img_cmds[i].run(argc - 1, argv + 1);
        }
    }
    img_error("%s: unknown command (create, info, check, convert, resize, "
              "compare, map)",
              argv[1]);
    return IMG_EXIT_ERROR;
}
