/*
 * test-piix3.c: the PIIX3 as a guest sees it: reset values, PCI INTx steered
 * through PIRQ route registers to ISA IRQs (with SeaBIOS's slot swizzle),
 * rerouting and disabling, INTX_DISABLE, ELCR masks, and the reset control
 * register at 0xcf9 sharing its port range with CONFIG_ADDRESS.
 */
#include "hvmdm/log.h"
#include "test-pci-testdev.h"

#define ISA_BRIDGE PCI_DEVFN(1, 0)
#define PIRQRCA 0x60
#define PIRQRCB 0x61
#define PIRQRCC 0x62
#define PIRQRCD 0x63
#define PIRQ_DISABLE 0x80
#define ELCR1 0x4d0
#define ELCR2 0x4d1
#define RC_PORT 0xcf9
#define TD_SLOT 3 /* INTA# of slot 3 is PIRQC: (3 - 1 + 0) & 3 */

static struct testdev *td_at_slot3(struct dm_machine *m)
{
    return td_new(m, PCI_DEVFN(TD_SLOT, 0));
}

static void test_piix3_reset_values(void)
{
    struct dm_machine *m = th_pc_new("");

    for (unsigned reg = PIRQRCA; reg <= PIRQRCD; reg++) {
        g_assert_cmphex(th_pci_readb(m, ISA_BRIDGE, reg), ==, PIRQ_DISABLE);
    }
    g_assert_cmphex(th_pci_readb(m, ISA_BRIDGE, 0x4c), ==, 0x4d);   /* IORT */
    g_assert_cmphex(th_pci_readw(m, ISA_BRIDGE, 0x4e), ==, 0x0003); /* XBCS */
    g_assert_cmphex(th_pci_readb(m, ISA_BRIDGE, 0x69), ==, 0x02);   /* TOM */
    g_assert_cmphex(th_pci_readb(m, ISA_BRIDGE, 0x70), ==, 0x80);   /* MBIRQ0 */
    g_assert_cmphex(th_inb(m, ELCR1), ==, 0);
    g_assert_cmphex(th_inb(m, ELCR2), ==, 0);
    g_assert_cmphex(th_inb(m, RC_PORT), ==, 0);
    th_pc_free(m);
}

static void test_piix3_inta_routed_to_isa_irq(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    dm_pci_set_irq(&td->pci, 1);
    g_assert_cmpint(th_irq_level(m, 11), ==, 1);
    g_assert_cmpint(dm_isa_irq_level(m, 11), ==, 1);
    dm_pci_set_irq(&td->pci, 0);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    th_pc_free(m);
}

static void test_piix3_reroute_moves_level(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    dm_pci_set_irq(&td->pci, 1);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 10);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    g_assert_cmpint(th_irq_level(m, 10), ==, 1);
    th_pc_free(m);
}

static void test_piix3_disable_bit_drops_level(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    dm_pci_set_irq(&td->pci, 1);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, PIRQ_DISABLE | 11);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    g_assert_cmpint(th_irq_level(m, 11), ==, 1);
    th_pc_free(m);
}

static void test_piix3_swizzle_follows_slot_and_pin(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *s4 = td_new(m, PCI_DEVFN(4, 0));

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCA, 5);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCB, 9);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 10);
    th_pci_writeb(m, ISA_BRIDGE, PIRQRCD, 11);

    /* slot 4 INTA#: (4 - 1 + 0) & 3 = PIRQD */
    dm_pci_set_irq(&s4->pci, 1);
    g_assert_cmpint(th_irq_level(m, 11), ==, 1);
    dm_pci_set_irq(&s4->pci, 0);

    /* slot 4 INTB#: (4 - 1 + 1) & 3 = PIRQA */
    s4->pci.config[PCI_INTERRUPT_PIN] = 2;
    dm_pci_set_irq(&s4->pci, 1);
    g_assert_cmpint(th_irq_level(m, 5), ==, 1);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    th_pc_free(m);
}

static void test_piix3_shared_pirq_stays_up_until_all_lower(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *a = td_new(m, PCI_DEVFN(3, 0)); /* INTA -> PIRQC */
    struct testdev *b = td_new(m, PCI_DEVFN(7, 0)); /* INTA -> PIRQC */

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    dm_pci_set_irq(&a->pci, 1);
    dm_pci_set_irq(&b->pci, 1);
    dm_pci_set_irq(&a->pci, 0);
    g_assert_cmpint(th_irq_level(m, 11), ==, 1);
    dm_pci_set_irq(&b->pci, 0);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    th_pc_free(m);
}

static void test_piix3_intx_disable_masks_line(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);
    int devfn = PCI_DEVFN(TD_SLOT, 0);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    dm_pci_set_irq(&td->pci, 1);
    th_pci_writew(m, devfn, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    /* the status bit still tells the driver its device wants service */
    g_assert_cmphex(th_pci_readw(m, devfn, PCI_STATUS) & PCI_STATUS_INTERRUPT,
                    ==, PCI_STATUS_INTERRUPT);
    th_pci_writew(m, devfn, PCI_COMMAND, 0);
    g_assert_cmpint(th_irq_level(m, 11), ==, 1);
    th_pc_free(m);
}

static void test_piix3_reserved_irq_is_not_routed(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 2); /* the cascade: reserved */
    dm_pci_set_irq(&td->pci, 1);
    for (int irq = 0; irq < 16; irq++) {
        if (irq != 8 && irq != 0) { /* RTC / PIT may be busy */
            g_assert_cmpint(dm_isa_irq_level(m, irq), ==, 0);
        }
    }
    th_pc_free(m);
}

static void test_piix3_reset_lowers_routed_irq(void)
{
    struct dm_machine *m = th_pc_new("");
    struct testdev *td = td_at_slot3(m);

    th_pci_writeb(m, ISA_BRIDGE, PIRQRCC, 11);
    dm_pci_set_irq(&td->pci, 1);
    dm_machine_reset(m);
    g_assert_cmpint(th_irq_level(m, 11), ==, 0);
    g_assert_cmphex(th_pci_readb(m, ISA_BRIDGE, PIRQRCC), ==, PIRQ_DISABLE);
    th_pc_free(m);
}

static void test_piix3_elcr_masks_edge_only_irqs(void)
{
    struct dm_machine *m = th_pc_new("");

    th_outb(m, ELCR1, 0xff);
    th_outb(m, ELCR2, 0xff);
    /* IRQ 0-2, 8 and 13 cannot be level triggered */
    g_assert_cmphex(th_inb(m, ELCR1), ==, 0xf8);
    g_assert_cmphex(th_inb(m, ELCR2), ==, 0xde);
    th_pc_free(m);
}

static void test_piix3_rc_0x6_requests_reset(void)
{
    struct dm_machine *m = th_pc_new("");

    th_outb(m, RC_PORT, 0x02); /* SRST alone: no reset yet */
    g_assert_false(m->reset_requested);
    g_assert_cmphex(th_inb(m, RC_PORT), ==, 0x02);
    th_outb(m, RC_PORT, 0x06); /* SRST | RCPU */
    g_assert_true(m->reset_requested);
    th_pc_free(m);
}

static void test_piix3_rc_shares_ports_with_config_address(void)
{
    struct dm_machine *m = th_pc_new("");

    th_outl(m, 0xcf8, 0x80000800u); /* 01.0 reg 0 */
    th_outb(m, RC_PORT, 0x02);
    g_assert_cmphex(th_inl(m, 0xcf8), ==, 0x80000800u);
    g_assert_cmphex(th_inl(m, 0xcfc), ==, 0x70008086);
    g_assert_false(m->reset_requested);
    th_pc_free(m);
}

static void test_piix3_routing_survives_save_and_load(void)
{
    struct dm_machine *src = th_pc_new("");
    struct dm_machine *dst = th_pc_new("");
    struct testdev *a = td_at_slot3(src);
    struct testdev *b = td_at_slot3(dst);
    GError *err = NULL;
    GBytes *state;

    th_pci_writeb(src, ISA_BRIDGE, PIRQRCC, 11);
    th_outb(src, ELCR2, 0x08); /* IRQ 11 level triggered */
    dm_pci_set_irq(&a->pci, 1);
    state = dm_machine_save_state(src, &err);
    g_assert_no_error(err);

    g_assert_true(dm_machine_load_state(dst, state, &err));
    g_assert_no_error(err);
    g_assert_cmphex(th_pci_readb(dst, ISA_BRIDGE, PIRQRCC), ==, 11);
    g_assert_cmphex(th_inb(dst, ELCR2), ==, 0x08);
    g_assert_cmpint(b->pci.intx_level, ==, 1);
    g_assert_cmpint(th_irq_level(dst, 11), ==, 1);
    g_bytes_unref(state);
    th_pc_free(dst);
    th_pc_free(src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    dm_log_set_level(DM_LOG_ERROR);
    g_test_add_func("/piix3/reset-values", test_piix3_reset_values);
    g_test_add_func("/piix3/inta-routed-to-isa-irq",
                    test_piix3_inta_routed_to_isa_irq);
    g_test_add_func("/piix3/reroute-moves-level",
                    test_piix3_reroute_moves_level);
    g_test_add_func("/piix3/disable-bit-drops-level",
                    test_piix3_disable_bit_drops_level);
    g_test_add_func("/piix3/swizzle-follows-slot-and-pin",
                    test_piix3_swizzle_follows_slot_and_pin);
    g_test_add_func("/piix3/shared-pirq-stays-up-until-all-lower",
                    test_piix3_shared_pirq_stays_up_until_all_lower);
    g_test_add_func("/piix3/intx-disable-masks-line",
                    test_piix3_intx_disable_masks_line);
    g_test_add_func("/piix3/reserved-irq-is-not-routed",
                    test_piix3_reserved_irq_is_not_routed);
    g_test_add_func("/piix3/reset-lowers-routed-irq",
                    test_piix3_reset_lowers_routed_irq);
    g_test_add_func("/piix3/elcr-masks-edge-only-irqs",
                    test_piix3_elcr_masks_edge_only_irqs);
    g_test_add_func("/piix3/rc-0x6-requests-reset",
                    test_piix3_rc_0x6_requests_reset);
    g_test_add_func("/piix3/rc-shares-ports-with-config-address",
                    test_piix3_rc_shares_ports_with_config_address);
    g_test_add_func("/piix3/routing-survives-save-and-load",
                    test_piix3_routing_survives_save_and_load);
    return g_test_run();
}
