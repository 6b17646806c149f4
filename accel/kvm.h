/*
 * kvm.h: private interface between accel/kvm.c (the VM, memory slots, vCPU
 * threads and exits) and accel/kvm-cpu.c (CPUID, MSRs, registers and the
 * reset state of a vCPU). Nothing outside accel/ includes it, except the unit
 * test of the CPUID and topology logic.
 */
#ifndef HVMDM_ACCEL_KVM_H
#define HVMDM_ACCEL_KVM_H

#include <pthread.h>

#include <linux/kvm.h>

#include "hvmdm/common.h"
#include "hvmdm/memory.h"

#define KVM_DEVICE "/dev/kvm"
#define KVM_TSS_ADDR 0xfeffd000ul          /* 3 pages below the BIOS */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ul /* 1 page below the TSS */
#define KVM_APIC_DEFAULT_BASE 0xfee00000ull
#define KVM_PAGE_SIZE 4096

/* CPU topology: the guest sees SOCKETS packages of CORES cores of THREADS
 * threads; vCPU i is thread i % threads of core (i / threads) % cores. */
struct kvm_topo {
    unsigned sockets, cores, threads;
};

struct kvm_accel;

struct kvm_vcpu {
    struct kvm_accel *ks;
    unsigned index;
    uint32_t apic_id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    bool parked;     /* in kvm_vcpu_park, outside guest and device code;
                        * under ks->lock */
    bool io_pending; /* an I/O exit KVM_RUN has yet to complete; vCPU
                        * thread only */
};

struct kvm_accel {
    struct dm_machine *m;
    int sys_fd;
    int vm_fd;
    size_t run_size; /* of each vCPU's kvm_run mapping */
    unsigned nr_slots;
    bool cap_readonly_mem;
    bool cap_xsave;
    bool cap_xcrs;
    bool cap_immediate_exit;
    bool readonly_warned;
    int xsave_size; /* bytes for KVM_SET_XSAVE */
    struct kvm_topo topo;
    struct kvm_cpuid2 *supported; /* KVM_GET_SUPPORTED_CPUID */
    unsigned nvcpus;
    struct kvm_vcpu *vcpus;
    int kick_signal; /* SIGRTMIN */
    struct dm_mem_listener listener;

    pthread_mutex_t lock; /* guards the run control below */
    pthread_cond_t cond;
    unsigned pause_depth; /* pause() calls not yet resumed */
    bool stopped;         /* shutdown, triple fault or internal error:
                                   * vCPUs wait for a reset */
    bool quit;            /* destroy: vCPU threads return */
};

/* Open the KVM device at PATH; -1 with one clear message when it is missing
 * or not accessible. */
int kvm_open_device(const char *path, GError **errp);

/* ---- kvm-cpu.c ---- */

/* Topology from -smp (missing or zero counts taken as 1, sockets grown so
 * every vCPU has a place). */
void kvm_topo_init(struct kvm_topo *t, unsigned ncpus, unsigned sockets,
                   unsigned cores, unsigned threads);
/* Initial APIC ID of vCPU INDEX: thread, core and package fields of the
 * widths x86 CPUs use (each the log2 of its count, rounded up). */
uint32_t kvm_topo_apic_id(const struct kvm_topo *t, unsigned index);
/* Bits of the APIC ID below the package field, and below the core field. */
unsigned kvm_topo_pkg_shift(const struct kvm_topo *t);
unsigned kvm_topo_core_shift(const struct kvm_topo *t);

/* Rewrite KVM's supported CPUID (a private copy) into what vCPU INDEX
 * shows the guest: hypervisor bit, APIC ID and topology leaves, OSXSAVE left
 * to the guest, features needing host permission (AMX) removed, XSAVE area
 * sizes recomputed from the components that remain. Feature bits KVM does not
 * offer are never added. */
void kvm_cpuid_fixup(struct kvm_cpuid2 *c, const struct kvm_topo *t,
                     unsigned index);
/* The entry for FUNCTION/INDEX, or NULL. */
struct kvm_cpuid_entry2 *kvm_cpuid_find(struct kvm_cpuid2 *c, uint32_t function,
                                        uint32_t index);

/* Create-time set-up of a vCPU (CPUID). */
bool kvm_vcpu_setup(struct kvm_vcpu *v, GError **errp);
/* Put the vCPU in the state a system reset leaves it in: registers, segment
 * and control registers, MSRs, FPU/XSAVE, local APIC, MP state (vCPU 0
 * runnable, the others waiting for INIT/SIPI). The vCPU must not be running. */
bool kvm_vcpu_reset(struct kvm_vcpu *v, GError **errp);
/* One line describing where the vCPU is (for error reports); g_free it. */
char *kvm_vcpu_describe(struct kvm_vcpu *v);

#endif
