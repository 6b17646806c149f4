/*
 * test-kvm-setup.c: what the KVM accelerator tells a guest about its CPUs
 * (APIC IDs, CPUID topology leaves, XSAVE sizes, feature filtering) and how it
 * reports a missing /dev/kvm. Needs no /dev/kvm: the CPUID logic runs on a
 * made-up "supported" list as KVM_GET_SUPPORTED_CPUID would return it.
 */
#include "../../accel/kvm.h"

#define SIG (KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
#define VENDOR_INTEL_EBX 0x756e6547 /* "Genu" */
#define VENDOR_AMD_EBX 0x68747541   /* "Auth" */
#define ECX_SSE3 (1u << 0)
#define ECX_OSXSAVE (1u << 27)
#define ECX_HYPERVISOR (1u << 31)
#define EDX_HTT (1u << 28)
#define EDX7_AMX_TILE (1u << 24)
#define EDX7_AVX512_VP2 (1u << 8)

struct cpuid_buf {
    struct kvm_cpuid2 hdr;
    struct kvm_cpuid_entry2 e[32];
};

static void add(struct cpuid_buf *b, uint32_t fn, uint32_t idx, uint32_t flags,
                uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    g_assert_cmpuint(b->hdr.nent, <, G_N_ELEMENTS(b->e));
    b->e[b->hdr.nent++] = (struct kvm_cpuid_entry2){
        .function = fn,
        .index = idx,
        .flags = flags,
        .eax = eax,
        .ebx = ebx,
        .ecx = ecx,
        .edx = edx,
    };
}

static struct kvm_cpuid_entry2 *find(struct cpuid_buf *b, uint32_t fn,
                                     uint32_t idx)
{
    struct kvm_cpuid_entry2 *e = kvm_cpuid_find(&b->hdr, fn, idx);

    g_assert_nonnull(e);
    return e;
}

static void intel_base(struct cpuid_buf *b)
{
    memset(b, 0, sizeof(*b));
    add(b, 0, 0, 0, 0xd, VENDOR_INTEL_EBX, 0x6c65746e, 0x49656e69);
    /* family 6 signature; CLFLUSH size 8 in EBX[15:8] */
    add(b, 1, 0, 0, 0x000806e9, 0x00000800, ECX_SSE3 | ECX_OSXSAVE, 0);
    add(b, 7, 0, SIG, 0, 0, 0, EDX7_AMX_TILE | EDX7_AVX512_VP2);
}

static void test_kvm_topo_apic_ids_pack_threads_cores_sockets(void)
{
    struct kvm_topo t;

    kvm_topo_init(&t, 12, 2, 3, 2);
    g_assert_cmpuint(kvm_topo_core_shift(&t), ==, 1);
    g_assert_cmpuint(kvm_topo_pkg_shift(&t), ==, 3); /* 3 cores: 2 bits */
    g_assert_cmpuint(kvm_topo_apic_id(&t, 0), ==, 0);
    g_assert_cmpuint(kvm_topo_apic_id(&t, 1), ==, 1); /* thread 1 */
    g_assert_cmpuint(kvm_topo_apic_id(&t, 2), ==, 2); /* core 1 */
    g_assert_cmpuint(kvm_topo_apic_id(&t, 5), ==, 5); /* core 2 thread 1 */
    g_assert_cmpuint(kvm_topo_apic_id(&t, 6), ==, 8); /* package 1 */
    g_assert_cmpuint(kvm_topo_apic_id(&t, 11), ==, 13);
}

static void test_kvm_topo_grows_sockets_to_fit_cpus(void)
{
    struct kvm_topo t;

    kvm_topo_init(&t, 4, 0, 0, 0);
    g_assert_cmpuint(t.sockets, ==, 4);
    g_assert_cmpuint(t.cores, ==, 1);
    g_assert_cmpuint(t.threads, ==, 1);
    g_assert_cmpuint(kvm_topo_apic_id(&t, 3), ==, 3);
}

static void test_kvm_cpuid_leaf1_apic_id_and_hypervisor_bit(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;

    intel_base(&b);
    kvm_topo_init(&t, 4, 1, 2, 2);
    kvm_cpuid_fixup(&b.hdr, &t, 3);
    e = find(&b, 1, 0);
    g_assert_cmphex(e->ebx >> 24, ==, 3);          /* initial APIC ID */
    g_assert_cmphex((e->ebx >> 16) & 0xff, ==, 4); /* logical per package */
    g_assert_cmphex(e->ebx & 0xffff, ==, 0x0800);  /* CLFLUSH size kept */
    g_assert_cmphex(e->ecx, ==, ECX_SSE3 | ECX_HYPERVISOR);
    g_assert_cmphex(e->edx, ==, EDX_HTT);
    g_assert_cmphex(e->eax, ==, 0x000806e9);
}

static void test_kvm_cpuid_single_cpu_has_no_htt(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;

    intel_base(&b);
    find(&b, 1, 0)->edx = EDX_HTT; /* as a host would report */
    kvm_topo_init(&t, 1, 1, 1, 1);
    kvm_cpuid_fixup(&b.hdr, &t, 0);
    e = find(&b, 1, 0);
    g_assert_cmphex(e->edx & EDX_HTT, ==, 0);
    g_assert_cmphex(e->ebx >> 16, ==, 0);
}

static void test_kvm_cpuid_removes_amx_keeps_other_features(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;

    intel_base(&b);
    kvm_topo_init(&t, 1, 1, 1, 1);
    kvm_cpuid_fixup(&b.hdr, &t, 0);
    g_assert_cmphex(find(&b, 7, 0)->edx, ==, EDX7_AVX512_VP2);
}

static void test_kvm_cpuid_ext_topology_leaf_b(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;

    intel_base(&b);
    /* host values that must not leak through */
    add(&b, 0xb, 0, SIG, 1, 2, 0x100, 7);
    add(&b, 0xb, 1, SIG, 6, 48, 0x201, 7);
    add(&b, 0xb, 2, SIG, 0, 0, 0x2, 7);
    kvm_topo_init(&t, 8, 1, 4, 2);
    kvm_cpuid_fixup(&b.hdr, &t, 5);

    e = find(&b, 0xb, 0);
    g_assert_cmpuint(e->eax, ==, 1);    /* SMT bits */
    g_assert_cmpuint(e->ebx, ==, 2);    /* threads per core */
    g_assert_cmphex(e->ecx, ==, 0x100); /* level type SMT, subleaf 0 */
    g_assert_cmpuint(e->edx, ==, 5);    /* x2APIC ID */
    e = find(&b, 0xb, 1);
    g_assert_cmpuint(e->eax, ==, 3);    /* bits below the package */
    g_assert_cmpuint(e->ebx, ==, 8);    /* threads per package */
    g_assert_cmphex(e->ecx, ==, 0x201); /* level type core, subleaf 1 */
    e = find(&b, 0xb, 2);
    g_assert_cmpuint(e->ebx, ==, 0);
    g_assert_cmphex(e->ecx, ==, 0x2); /* invalid level: the end */
}

static void test_kvm_cpuid_leaf4_cache_sharing(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;

    intel_base(&b);
    add(&b, 4, 0, SIG, 0x1c004121, 0, 0, 0); /* L1 data, host sharing bits */
    add(&b, 4, 1, SIG, 0x1c03c163, 0, 0, 0); /* L3 unified */
    add(&b, 4, 2, SIG, 0, 0, 0, 0);          /* no more caches */
    kvm_topo_init(&t, 8, 1, 4, 2);
    kvm_cpuid_fixup(&b.hdr, &t, 0);

    e = find(&b, 4, 0);
    g_assert_cmphex(e->eax & 0x3fff, ==, 0x0121);    /* type and level kept */
    g_assert_cmpuint((e->eax >> 14) & 0xfff, ==, 1); /* 2 threads share L1 */
    g_assert_cmpuint(e->eax >> 26, ==, 3);           /* 4 cores */
    e = find(&b, 4, 1);
    g_assert_cmpuint((e->eax >> 14) & 0xfff, ==, 7); /* package shares L3 */
    g_assert_cmphex(find(&b, 4, 2)->eax, ==, 0);
}

static void test_kvm_cpuid_xsave_size_without_amx(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;
    uint32_t xcr0 = 0x7 | 1u << 17 | 1u << 18; /* x87 SSE AVX tiles */

    intel_base(&b);
    add(&b, 0xd, 0, SIG, xcr0, 11008, 11008, 0);
    add(&b, 0xd, 1, SIG, 0xf, 0, 0, 0);
    add(&b, 0xd, 2, SIG, 256, 576, 0, 0); /* AVX: 256 bytes at 576 */
    add(&b, 0xd, 17, SIG, 64, 2752, 0, 0);
    add(&b, 0xd, 18, SIG, 8192, 2816, 0, 0);
    kvm_topo_init(&t, 1, 1, 1, 1);
    kvm_cpuid_fixup(&b.hdr, &t, 0);

    e = find(&b, 0xd, 0);
    g_assert_cmphex(e->eax, ==, 0x7);
    g_assert_cmpuint(e->ecx, ==, 576 + 256); /* largest area for XCR0 bits */
    g_assert_cmpuint(e->ebx, ==, 576);       /* reset XCR0: x87 only */
    g_assert_null(kvm_cpuid_find(&b.hdr, 0xd, 17));
    g_assert_null(kvm_cpuid_find(&b.hdr, 0xd, 18));
    g_assert_nonnull(kvm_cpuid_find(&b.hdr, 0xd, 2));
}

static void test_kvm_cpuid_amd_topology_leaves(void)
{
    struct cpuid_buf b;
    struct kvm_topo t;
    struct kvm_cpuid_entry2 *e;

    memset(&b, 0, sizeof(b));
    add(&b, 0, 0, 0, 0x10, VENDOR_AMD_EBX, 0x444d4163, 0x69746e65);
    add(&b, 1, 0, 0, 0x00800f12, 0x00000800, 0, 0);
    add(&b, 0x80000008, 0, 0, 0x3030, 0, 0x0000700f, 0);
    add(&b, 0x8000001e, 0, 0, 0xff, 0xff, 0xff, 0);
    kvm_topo_init(&t, 8, 1, 4, 2);
    kvm_cpuid_fixup(&b.hdr, &t, 5);

    e = find(&b, 0x80000008, 0);
    g_assert_cmpuint(e->ecx & 0xff, ==, 7);        /* NC: 8 threads - 1 */
    g_assert_cmpuint((e->ecx >> 12) & 0xf, ==, 3); /* ApicIdCoreIdSize */
    e = find(&b, 0x8000001e, 0);
    g_assert_cmpuint(e->eax, ==, 5);         /* extended APIC ID */
    g_assert_cmphex(e->ebx, ==, 1 << 8 | 2); /* 2 threads, core 2 */
    g_assert_cmpuint(e->ecx, ==, 0);         /* node 0 */
}

static void test_kvm_missing_device_error_names_the_fix(void)
{
    GError *err = NULL;
    int fd = kvm_open_device("/nonexistent/kvm", &err);

    g_assert_cmpint(fd, ==, -1);
    g_assert_error(err, DM_ERROR, DM_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "/nonexistent/kvm"));
    g_assert_nonnull(strstr(err->message, "KVM is not available"));
    g_assert_nonnull(strstr(err->message, "-accel qtest"));
    g_error_free(err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/topo/apic-ids-pack-threads-cores-sockets",
                    test_kvm_topo_apic_ids_pack_threads_cores_sockets);
    g_test_add_func("/kvm/topo/grows-sockets-to-fit-cpus",
                    test_kvm_topo_grows_sockets_to_fit_cpus);
    g_test_add_func("/kvm/cpuid/leaf1-apic-id-and-hypervisor-bit",
                    test_kvm_cpuid_leaf1_apic_id_and_hypervisor_bit);
    g_test_add_func("/kvm/cpuid/single-cpu-has-no-htt",
                    test_kvm_cpuid_single_cpu_has_no_htt);
    g_test_add_func("/kvm/cpuid/removes-amx-keeps-other-features",
                    test_kvm_cpuid_removes_amx_keeps_other_features);
    g_test_add_func("/kvm/cpuid/ext-topology-leaf-b",
                    test_kvm_cpuid_ext_topology_leaf_b);
    g_test_add_func("/kvm/cpuid/leaf4-cache-sharing",
                    test_kvm_cpuid_leaf4_cache_sharing);
    g_test_add_func("/kvm/cpuid/xsave-size-without-amx",
                    test_kvm_cpuid_xsave_size_without_amx);
    g_test_add_func("/kvm/cpuid/amd-topology-leaves",
                    test_kvm_cpuid_amd_topology_leaves);
    g_test_add_func("/kvm/missing-device-error-names-the-fix",
                    test_kvm_missing_device_error_names_the_fix);
    return g_test_run();
}
