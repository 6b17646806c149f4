/*
 * test-dev.c: device instances (core/dev.c): properties set from text as
 * -device gives them, generated and duplicate ids, the PCI "addr" property,
 * realize adding to and free removing from the machine, and the -device
 * strings of the command line.
 */
#include "harness.h"

#include "hvmdm/dev.h"
#include "hvmdm/machine.h"
#include "hvmdm/pci.h"

static void assert_prop_error(struct dm_dev *d, const char *name,
                              const char *value, const char *needle)
{
    GError *err = NULL;

    g_assert_false(dm_dev_set_prop(d, name, value, &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    if (!strstr(err->message, needle)) {
        g_error("%s=%s: message '%s' lacks '%s'", name, value, err->message,
                needle);
    }
    g_error_free(err);
}

static void test_dev_unknown_type_refused(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;

    g_assert_null(dm_dev_create(m, "no-such-device", NULL, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "'no-such-device'"));
    g_error_free(err);
    th_pc_free(m);
}

static void test_dev_bad_property_values_refused(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;
    struct dm_dev *d = dm_dev_create(m, "isa-serial", NULL, &err);

    g_assert_no_error(err);

    assert_prop_error(d, "iobase", "0x10000", "isa-serial: iobase=0x10000");
    assert_prop_error(d, "irq", "256", "irq=256");
    assert_prop_error(d, "irq", "-1", "irq=-1");
    assert_prop_error(d, "iobase", "3f8", "iobase=3f8");
    assert_prop_error(d, "bogus", "1", "unknown property 'bogus'");
    assert_prop_error(d, "chardev", "nope", "no chardev with id 'nope'");
    assert_prop_error(d, "addr", "3", "unknown property 'addr'");
    g_assert_true(dm_dev_set_prop(d, "iobase", "0x2f8", &err));
    g_assert_true(dm_dev_set_prop(d, "irq", "3", &err));
    g_assert_no_error(err);
    dm_dev_free(d);
    th_pc_free(m);
}

static void test_dev_ids_generated_and_unique(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;
    struct dm_dev *a = dm_dev_new(m, "isa-post", "", &err);
    struct dm_dev *b = dm_dev_create(m, "isa-post", NULL, &err);
    struct dm_dev *c = dm_dev_new(m, "isa-debugcon", "id=dbg0", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(a->id, ==, "isa-post.0");
    g_assert_cmpstr(b->id, ==, "isa-post.1");
    g_assert_cmpstr(c->id, ==, "dbg0");

    g_assert_null(dm_dev_create(m, "isa-post", "dbg0", &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "id=dbg0"));
    g_clear_error(&err);
    g_assert_null(dm_dev_create(m, "isa-post", "0bad", &err));
    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_clear_error(&err);
    dm_dev_free(b);
    th_pc_free(m);
}

static void test_dev_realize_adds_and_free_removes(void)
{
    struct dm_machine *m = th_machine_new("");
    guint before = m->devs->len;
    GError *err = NULL;
    struct dm_dev *d = dm_dev_new(m, "isa-post", "", &err);

    g_assert_no_error(err);
    g_assert_true(d->realized);
    g_assert_cmpuint(m->devs->len, ==, before + 1);
    g_assert_true(g_ptr_array_index(m->devs, before) == d);

    dm_dev_free(d);

    g_assert_cmpuint(m->devs->len, ==, before);
    th_pc_free(m);
}

static void test_dev_new_with_bad_property_creates_nothing(void)
{
    struct dm_machine *m = th_machine_new("");
    guint before = m->devs->len;
    GError *err = NULL;

    g_assert_null(dm_dev_new(m, "isa-debugcon", "iobase=0x10000", &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_cmpuint(m->devs->len, ==, before);
    g_error_free(err);
    th_pc_free(m);
}

static void test_dev_pci_addr_property(void)
{
    struct dm_machine *m = th_machine_new("");
    GError *err = NULL;
    struct dm_dev *d = dm_dev_create(m, "PIIX3", NULL, &err);

    g_assert_no_error(err);
    g_assert_cmpint(dm_pci_dev_of(d)->devfn, ==, -1);

    g_assert_true(dm_dev_set_prop(d, "addr", "1f.7", &err));
    g_assert_cmpint(dm_pci_dev_of(d)->devfn, ==, PCI_DEVFN(0x1f, 7));
    g_assert_true(dm_dev_set_prop(d, "addr", "0x10", &err));
    g_assert_cmpint(dm_pci_dev_of(d)->devfn, ==, PCI_DEVFN(0x10, 0));
    g_assert_true(dm_dev_set_prop(d, "addr", "3.1", &err));
    g_assert_cmpint(dm_pci_dev_of(d)->devfn, ==, PCI_DEVFN(3, 1));
    g_assert_no_error(err);
    assert_prop_error(d, "addr", "20", "addr=20");
    assert_prop_error(d, "addr", "3.8", "addr=3.8");
    assert_prop_error(d, "addr", "3.", "addr=3.");
    assert_prop_error(d, "addr", "", "addr=");
    assert_prop_error(d, "addr", "1.2.3", "addr=1.2.3");
    g_assert_cmpint(dm_pci_dev_of(d)->devfn, ==, PCI_DEVFN(3, 1));
    dm_dev_free(d);
    th_pc_free(m);
}

static void test_dev_user_devices_from_command_line(void)
{
    struct dm_machine *m = th_machine_new("-device isa-post,id=post0 "
                                          "-device driver=isa-debugcon");
    GError *err = NULL;
    guint before = m->devs->len;
    struct dm_dev *last;

    g_assert_true(dm_machine_add_user_devices(m, &err));

    g_assert_no_error(err);
    g_assert_cmpuint(m->devs->len, ==, before + 2);
    g_assert_cmpstr(((struct dm_dev *)g_ptr_array_index(m->devs, before))->id,
                    ==, "post0");
    last = g_ptr_array_index(m->devs, before + 1);
    g_assert_cmpstr(last->type->name, ==, "isa-debugcon");
    th_pc_free(m);
}

static void test_dev_user_device_error_names_option(void)
{
    struct dm_machine *m = th_machine_new("-device isa-post,bogus=1");
    GError *err = NULL;

    g_assert_false(dm_machine_add_user_devices(m, &err));

    g_assert_error(err, DM_ERROR, DM_ERROR_INVALID);
    g_assert_true(g_str_has_prefix(err->message,
                                   "-device isa-post,bogus=1: "));
    g_assert_nonnull(strstr(err->message, "'bogus'"));
    g_error_free(err);
    th_pc_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dev/unknown-type", test_dev_unknown_type_refused);
    g_test_add_func("/dev/bad-property-values",
                    test_dev_bad_property_values_refused);
    g_test_add_func("/dev/ids", test_dev_ids_generated_and_unique);
    g_test_add_func("/dev/realize-free", test_dev_realize_adds_and_free_removes);
    g_test_add_func("/dev/new-bad-property",
                    test_dev_new_with_bad_property_creates_nothing);
    g_test_add_func("/dev/pci-addr", test_dev_pci_addr_property);
    g_test_add_func("/dev/user-devices", test_dev_user_devices_from_command_line);
    g_test_add_func("/dev/user-device-error",
                    test_dev_user_device_error_names_option);
    return g_test_run();
}
