/*
 * kvm-cpu.c: what a vCPU looks like to the guest under KVM: the CPUID it
 * reports (KVM's supported set plus topology) and the state a system reset
 * leaves it in (Intel SDM vol. 3A, 10.1 "Initialization overview", table
 * 10-1; AMD APM vol. 2, 14.1.3; the local APIC per SDM 11.4.7.1).
 *
 * Feature bits come only from KVM_GET_SUPPORTED_CPUID: the host may be
 * nested or paravirtual and lack anything. MSRs KVM refuses at reset are
 * skipped one by one. Left out: CPU models (-cpu), SMM, MCE bank reset.
 */
#include <assert.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "hvmdm/log.h"
#include "hvmdm/trace.h"

#include "kvm.h"

/* CPUID bits (SDM vol. 2A, CPUID). */
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_7_EDX_AMX_BF16 (1u << 22)
#define CPUID_7_EDX_AMX_TILE (1u << 24)
#define CPUID_7_EDX_AMX_INT8 (1u << 25)
#define CPUID_7_1_EAX_AMX_FP16 (1u << 21)
#define XSTATE_XTILECFG 17
#define XSTATE_XTILEDATA 18
#define XSAVE_LEGACY_AND_HEADER 576 /* 512-byte legacy area + 64-byte header */
#define CPUID_TOPO_SMT 1            /* leaf 0xb/0x1f level types */
#define CPUID_TOPO_CORE 2
#define CPUID_VENDOR_AMD 0x68747541   /* "Auth" of AuthenticAMD */
#define CPUID_VENDOR_HYGON 0x6f677948 /* "Hygo" of HygonGenuine */

/* MSRs written at reset (SDM vol. 4). */
#define MSR_IA32_TSC 0x10
#define MSR_IA32_SPEC_CTRL 0x48
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MCG_STATUS 0x17a
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING (1u << 0)
#define MSR_MTRR_PHYSBASE0 0x200
#define MSR_MTRR_VAR_REGS 16 /* 8 base/mask pairs */
#define MSR_MTRR_FIX64K_00000 0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000 0x268 /* .. 0x26f */
#define MSR_IA32_CR_PAT 0x277
#define MSR_IA32_CR_PAT_DEFAULT 0x0007040600070406ull
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_IA32_XSS 0xda0
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103
#define MSR_KVM_SYSTEM_TIME 0x12 /* paravirtual clock, old number */
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_KVM_ASYNC_PF_EN 0x4b564d02
#define MSR_KVM_STEAL_TIME 0x4b564d03
#define MSR_KVM_PV_EOI_EN 0x4b564d04
#define MSR_KVM_POLL_CONTROL 0x4b564d06

/* Local APIC registers (SDM vol. 3A, table 11-1) and reset values. */
#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_DFR 0xe0
#define APIC_SVR 0xf0
#define APIC_LVT_CMCI 0x2f0
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_THERMAL 0x330
#define APIC_LVT_PERF 0x340
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_LVT_MASKED 0x10000
#define APIC_LVT_EXTINT 0x700
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)

#define CR0_RESET 0x60000010 /* CD, NW, ET */

/* ---- topology ------------------------------------------------------------ */

static unsigned kvm_bits_for(unsigned count)
{
    return count <= 1 ? 0 : 32 - (unsigned)__builtin_clz(count - 1);
}

void kvm_topo_init(struct kvm_topo *t, unsigned ncpus, unsigned sockets,
                   unsigned cores, unsigned threads)
{
    unsigned per_pkg;

    t->threads = threads ? threads : 1;
    t->cores = cores ? cores : 1;
    t->sockets = sockets ? sockets : 1;
    per_pkg = t->threads * t->cores;
    if ((uint64_t)t->sockets * per_pkg < ncpus) {
        t->sockets = (ncpus + per_pkg - 1) / per_pkg;
    }
}

unsigned kvm_topo_core_shift(const struct kvm_topo *t)
{
    return kvm_bits_for(t->threads);
}

unsigned kvm_topo_pkg_shift(const struct kvm_topo *t)
{
    return kvm_topo_core_shift(t) + kvm_bits_for(t->cores);
}

uint32_t kvm_topo_apic_id(const struct kvm_topo *t, unsigned index)
{
    unsigned smt = index % t->threads;
    unsigned core = (index / t->threads) % t->cores;
    unsigned pkg = index / (t->threads * t->cores);

    return pkg << kvm_topo_pkg_shift(t) | core << kvm_topo_core_shift(t) | smt;
}

/* ---- CPUID --------------------------------------------------------------- */

struct kvm_cpuid_entry2 *kvm_cpuid_find(struct kvm_cpuid2 *c, uint32_t function,
                                        uint32_t index)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];

        if (e->function == function &&
            (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
             e->index == index)) {
            return e;
        }
    }
    return NULL;
}

static void kvm_cpuid_remove(struct kvm_cpuid2 *c, uint32_t function,
                             uint32_t index)
{
    uint32_t out = 0;

    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];

        if (e->function == function && e->index == index) {
            continue;
        }
        c->entries[out++] = *e;
    }
    c->nent = out;
}

/* Leaf 4 (deterministic cache parameters): who shares each cache. */
static void kvm_cpuid_fix_cache(struct kvm_cpuid_entry2 *e,
                                const struct kvm_topo *t)
{
    unsigned level = (e->eax >> 5) & 7;
    unsigned share_bits =
        level <= 2 ? kvm_topo_core_shift(t) : kvm_topo_pkg_shift(t);
    unsigned core_bits = kvm_topo_pkg_shift(t) - kvm_topo_core_shift(t);

    if ((e->eax & 0x1f) == 0) {
        return; /* no more caches */
    }
    e->eax &= 0x3fff;
    e->eax |= (((1u << share_bits) - 1) & 0xfff) << 14;
    e->eax |= (((1u << core_bits) - 1) & 0x3f) << 26;
}

/* Leaves 0xb and 0x1f (extended topology): SMT level, core level, end. */
static void kvm_cpuid_fix_ext_topo(struct kvm_cpuid_entry2 *e,
                                   const struct kvm_topo *t, uint32_t apic_id)
{
    uint32_t sub = e->index;

    e->edx = apic_id;
    switch (sub) {
    case 0:
        e->eax = kvm_topo_core_shift(t);
        e->ebx = t->threads;
        e->ecx = CPUID_TOPO_SMT << 8 | sub;
        break;
    case 1:
        e->eax = kvm_topo_pkg_shift(t);
        e->ebx = t->threads * t->cores;
        e->ecx = CPUID_TOPO_CORE << 8 | sub;
        break;
    default:
        e->eax = 0;
        e->ebx = 0;
        e->ecx = sub & 0xff;
        break;
    }
}

/* Leaf 0xd: drop state components that need host permission (AMX tiles),
 * then make the size fields agree with the components that remain. */
static void kvm_cpuid_fix_xsave(struct kvm_cpuid2 *c)
{
    struct kvm_cpuid_entry2 *e0 = kvm_cpuid_find(c, 0xd, 0);
    uint32_t max_size = XSAVE_LEGACY_AND_HEADER;

    if (!e0) {
        return;
    }
    e0->eax &= ~(1u << XSTATE_XTILECFG | 1u << XSTATE_XTILEDATA);
    kvm_cpuid_remove(c, 0xd, XSTATE_XTILECFG);
    kvm_cpuid_remove(c, 0xd, XSTATE_XTILEDATA);
    e0 = kvm_cpuid_find(c, 0xd, 0); /* the array moved */
    for (unsigned i = 2; i < 32; i++) {
        struct kvm_cpuid_entry2 *ei;

        if (!(e0->eax & (1u << i))) {
            continue;
        }
        ei = kvm_cpuid_find(c, 0xd, i);
        if (ei && ei->eax && ei->ebx) {
            max_size = MAX(max_size, ei->ebx + ei->eax);
        }
    }
    e0->ecx = max_size;
    /* Size for the XCR0 of a reset CPU (x87 only); KVM updates it when the
     * guest writes XCR0. */
    e0->ebx = XSAVE_LEGACY_AND_HEADER;
}

static void kvm_cpuid_fix_amd_topo(struct kvm_cpuid2 *c,
                                   const struct kvm_topo *t, unsigned index,
                                   uint32_t apic_id)
{
    struct kvm_cpuid_entry2 *e;

    e = kvm_cpuid_find(c, 0x80000008, 0);
    if (e) {
        /* NC: threads in the package - 1; ApicIdSize: its ID bits. */
        e->ecx &= ~0xf0ffu;
        e->ecx |= (t->threads * t->cores - 1) & 0xff;
        e->ecx |= (kvm_topo_pkg_shift(t) & 0xf) << 12;
    }
    e = kvm_cpuid_find(c, 0x8000001e, 0);
    if (e) {
        e->eax = apic_id;
        e->ebx = ((t->threads - 1) & 0xff) << 8 |
                 ((index / t->threads) % t->cores & 0xff);
        e->ecx = (index / (t->threads * t->cores)) & 0xff;
        e->edx = 0;
    }
}

void kvm_cpuid_fixup(struct kvm_cpuid2 *c, const struct kvm_topo *t,
                     unsigned index)
{
    uint32_t apic_id = kvm_topo_apic_id(t, index);
    unsigned logical = t->threads * t->cores;
    struct kvm_cpuid_entry2 *e;

    e = kvm_cpuid_find(c, 1, 0);
    if (e) {
        e->ebx &= 0xffff; /* keep CLFLUSH line size and brand index */
        e->ebx |= apic_id << 24;
        e->ecx |= CPUID_1_ECX_HYPERVISOR;
        e->ecx &= ~CPUID_1_ECX_OSXSAVE; /* follows CR4.OSXSAVE at run time */
        if (logical > 1) {
            e->ebx |= MIN(logical, 255u) << 16;
            e->edx |= CPUID_1_EDX_HTT;
        } else {
            e->edx &= ~CPUID_1_EDX_HTT;
        }
    }
    e = kvm_cpuid_find(c, 7, 0);
    if (e) {
        e->edx &= ~(CPUID_7_EDX_AMX_BF16 | CPUID_7_EDX_AMX_TILE |
                    CPUID_7_EDX_AMX_INT8);
    }
    e = kvm_cpuid_find(c, 7, 1);
    if (e && e->index == 1) {
        e->eax &= ~CPUID_7_1_EAX_AMX_FP16;
    }
    for (uint32_t i = 0; i < c->nent; i++) {
        e = &c->entries[i];
        if (e->function == 4) {
            kvm_cpuid_fix_cache(e, t);
        } else if (e->function == 0xb || e->function == 0x1f) {
            kvm_cpuid_fix_ext_topo(e, t, apic_id);
        }
    }
    kvm_cpuid_fix_xsave(c);
    e = kvm_cpuid_find(c, 0, 0);
    if (e && (e->ebx == CPUID_VENDOR_AMD || e->ebx == CPUID_VENDOR_HYGON)) {
        kvm_cpuid_fix_amd_topo(c, t, index, apic_id);
    }
}

bool kvm_vcpu_setup(struct kvm_vcpu *v, GError **errp)
{
    struct kvm_accel *ks = v->ks;
    size_t size = sizeof(struct kvm_cpuid2) +
                  ks->supported->nent * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = g_malloc(size);
    bool ok = true;

    memcpy(c, ks->supported, size);
    kvm_cpuid_fixup(c, &ks->topo, v->index);
    if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u: KVM_SET_CPUID2 failed: %s", v->index,
                    g_strerror(errno));
        ok = false;
    }
    g_free(c);
    return ok;
}

/* ---- reset state ----------------------------------------------------------- */

static void kvm_reset_segment(struct kvm_segment *s, uint16_t selector,
                              uint64_t base, uint8_t type, bool code_or_data)
{
    *s = (struct kvm_segment){
        .base = base,
        .limit = 0xffff,
        .selector = selector,
        .type = type,
        .present = 1,
        .s = code_or_data,
    };
}

static bool kvm_reset_sregs(struct kvm_vcpu *v, GError **errp)
{
    struct kvm_sregs sr;

    if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        goto fail;
    }
    /* Real mode at the reset vector: CS base 0xffff0000, selector 0xf000. */
    kvm_reset_segment(&sr.cs, 0xf000, 0xffff0000, 0xb, true);
    kvm_reset_segment(&sr.ds, 0, 0, 0x3, true);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    kvm_reset_segment(&sr.ldt, 0, 0, 0x2, false);
    kvm_reset_segment(&sr.tr, 0, 0, 0xb, false);
    sr.gdt = (struct kvm_dtable){ .base = 0, .limit = 0xffff };
    sr.idt = sr.gdt;
    sr.cr0 = CR0_RESET;
    sr.cr2 = sr.cr3 = sr.cr4 = sr.cr8 = 0;
    sr.efer = 0;
    sr.apic_base = KVM_APIC_DEFAULT_BASE | APIC_BASE_ENABLE |
                   (v->index == 0 ? APIC_BASE_BSP : 0);
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0) {
        goto fail;
    }
    return true;
fail:
    g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                "kvm: vCPU %u: segment registers: %s", v->index,
                g_strerror(errno));
    return false;
}

static bool kvm_reset_regs(struct kvm_vcpu *v, GError **errp)
{
    struct kvm_cpuid_entry2 *sig = kvm_cpuid_find(v->ks->supported, 1, 0);
    struct kvm_regs r = {
        .rflags = 0x2,
        .rip = 0xfff0,
        /* EDX holds the processor signature (family 6 if unknown). */
        .rdx = sig ? sig->eax : 0x600,
    };

    if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u: registers: %s", v->index, g_strerror(errno));
        return false;
    }
    return true;
}

/* x87 control word 0x37f and MXCSR 0x1f80; XCR0 x87 only. */
static bool kvm_reset_fpu(struct kvm_vcpu *v, GError **errp)
{
    struct kvm_accel *ks = v->ks;
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

    if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u: FPU state: %s", v->index, g_strerror(errno));
        return false;
    }
    if (ks->cap_xsave) {
        /* Also puts AVX and later state components in their init state. */
        uint8_t *xs = g_malloc0(ks->xsave_size);
        uint16_t fcw = 0x37f;
        uint32_t mxcsr = 0x1f80;
        uint64_t xstate_bv = 0x3; /* x87 and SSE state from the legacy area */

        memcpy(xs + 0, &fcw, sizeof(fcw));
        memcpy(xs + 24, &mxcsr, sizeof(mxcsr));
        memcpy(xs + 512, &xstate_bv, sizeof(xstate_bv));
        if (ioctl(v->fd, KVM_SET_XSAVE, xs) < 0) {
            dm_trace(kvm_reset_xsave_failed, "vcpu %u: %s", v->index,
                     g_strerror(errno));
        }
        g_free(xs);
    }
    if (ks->cap_xcrs) {
        struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = 1;
        if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) < 0) {
            dm_trace(kvm_reset_xcrs_failed, "vcpu %u: %s", v->index,
                     g_strerror(errno));
        }
    }
    return true;
}

/* Write every MSR of the reset list that KVM takes; KVM_SET_MSRS stops at
 * the first one it refuses, which is skipped. */
static void kvm_reset_msrs(struct kvm_vcpu *v)
{
    static const uint32_t zero_msrs[] = {
        MSR_IA32_TSC,
        MSR_IA32_SPEC_CTRL,
        MSR_IA32_SYSENTER_CS,
        MSR_IA32_SYSENTER_ESP,
        MSR_IA32_SYSENTER_EIP,
        MSR_IA32_MCG_STATUS,
        MSR_MTRR_DEF_TYPE,
        MSR_MTRR_FIX64K_00000,
        MSR_MTRR_FIX16K_80000,
        MSR_MTRR_FIX16K_A0000,
        MSR_IA32_TSC_DEADLINE,
        MSR_IA32_XSS,
        MSR_STAR,
        MSR_LSTAR,
        MSR_CSTAR,
        MSR_SYSCALL_MASK,
        MSR_KERNEL_GS_BASE,
        MSR_TSC_AUX,
        MSR_KVM_SYSTEM_TIME,
        MSR_KVM_SYSTEM_TIME_NEW,
        MSR_KVM_ASYNC_PF_EN,
        MSR_KVM_STEAL_TIME,
        MSR_KVM_PV_EOI_EN,
    };
    enum { MAX = DM_ARRAY_SIZE(zero_msrs) + 8 + MSR_MTRR_VAR_REGS + 3 };
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[MAX];
    } b;
    unsigned n = 0, i = 0;

    memset(&b, 0, sizeof(b));
    for (size_t k = 0; k < DM_ARRAY_SIZE(zero_msrs); k++) {
        b.e[n++].index = zero_msrs[k];
    }
    for (unsigned k = 0; k < 8; k++) {
        b.e[n++].index = MSR_MTRR_FIX4K_C0000 + k;
    }
    for (unsigned k = 0; k < MSR_MTRR_VAR_REGS; k++) {
        b.e[n++].index = MSR_MTRR_PHYSBASE0 + k;
    }
    b.e[n].index = MSR_IA32_MISC_ENABLE;
    b.e[n++].data = MSR_IA32_MISC_ENABLE_FAST_STRING;
    b.e[n].index = MSR_IA32_CR_PAT;
    b.e[n++].data = MSR_IA32_CR_PAT_DEFAULT;
    b.e[n].index = MSR_KVM_POLL_CONTROL;
    b.e[n++].data = 1;
    assert(n <= MAX);

    while (i < n) {
        struct {
            struct kvm_msrs hdr;
            struct kvm_msr_entry e[MAX];
        } part;
        int r;

        memset(&part, 0, sizeof(part));
        part.hdr.nmsrs = n - i;
        memcpy(part.e, &b.e[i], (n - i) * sizeof(b.e[0]));
        r = ioctl(v->fd, KVM_SET_MSRS, &part);
        if (r < 0) {
            dm_warn("kvm: vCPU %u: KVM_SET_MSRS: %s", v->index,
                    g_strerror(errno));
            return;
        }
        i += (unsigned)r;
        if (i < n) {
            dm_trace(kvm_reset_msr_refused, "vcpu %u msr 0x%x", v->index,
                     b.e[i].index);
            i++;
        }
    }
}

static bool kvm_reset_lapic(struct kvm_vcpu *v, GError **errp)
{
    static const unsigned lvts[] = {
        APIC_LVT_CMCI,  APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERF,
        APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR,
    };
    struct kvm_lapic_state *la = g_new0(struct kvm_lapic_state, 1);
    uint32_t version, val;
    bool ok = false;

    if (ioctl(v->fd, KVM_GET_LAPIC, la) < 0) {
        goto out;
    }
    memcpy(&version, la->regs + APIC_LVR, sizeof(version));
    memset(la->regs, 0, sizeof(la->regs));
    memcpy(la->regs + APIC_LVR, &version, sizeof(version));
    val = v->apic_id << 24;
    memcpy(la->regs + APIC_ID, &val, sizeof(val));
    val = 0xffffffff; /* flat model */
    memcpy(la->regs + APIC_DFR, &val, sizeof(val));
    val = 0xff; /* spurious vector 0xff, APIC software-disabled */
    memcpy(la->regs + APIC_SVR, &val, sizeof(val));
    val = APIC_LVT_MASKED;
    for (size_t i = 0; i < DM_ARRAY_SIZE(lvts); i++) {
        memcpy(la->regs + lvts[i], &val, sizeof(val));
    }
    if (v->index == 0) {
        /* Virtual wire: the PIC reaches the boot CPU through LINT0 as
         * firmware expects before it sets the APIC up. */
        val = APIC_LVT_EXTINT;
        memcpy(la->regs + APIC_LVT_LINT0, &val, sizeof(val));
    }
    if (ioctl(v->fd, KVM_SET_LAPIC, la) < 0) {
        goto out;
    }
    ok = true;
out:
    if (!ok) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u: local APIC: %s", v->index,
                    g_strerror(errno));
    }
    g_free(la);
    return ok;
}

bool kvm_vcpu_reset(struct kvm_vcpu *v, GError **errp)
{
    struct kvm_vcpu_events ev = { .flags = KVM_VCPUEVENT_VALID_NMI_PENDING };
    struct kvm_mp_state mp = {
        .mp_state =
            v->index == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED,
    };

    if (!kvm_reset_regs(v, errp) || !kvm_reset_sregs(v, errp) ||
        !kvm_reset_fpu(v, errp)) {
        return false;
    }
    kvm_reset_msrs(v);
    if (!kvm_reset_lapic(v, errp)) {
        return false;
    }
    if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
        dm_trace(kvm_reset_events_failed, "vcpu %u: %s", v->index,
                 g_strerror(errno));
    }
    if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u: KVM_SET_MP_STATE: %s", v->index,
                    g_strerror(errno));
        return false;
    }
    return true;
}

char *kvm_vcpu_describe(struct kvm_vcpu *v)
{
    struct kvm_regs r;
    struct kvm_sregs sr;

    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
        ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        return g_strdup_printf("vCPU %u (registers unreadable: %s)", v->index,
                               g_strerror(errno));
    }
    return g_strdup_printf(
        "vCPU %u at cs:rip 0x%04x:0x%llx (cs base 0x%llx) cr0 0x%llx "
        "efer 0x%llx rax 0x%llx rsp 0x%llx rflags 0x%llx",
        v->index, sr.cs.selector, (unsigned long long)r.rip,
        (unsigned long long)sr.cs.base, (unsigned long long)sr.cr0,
        (unsigned long long)sr.efer, (unsigned long long)r.rax,
        (unsigned long long)r.rsp, (unsigned long long)r.rflags);
}
