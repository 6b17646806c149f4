/*
 * kvm.c: the Linux KVM accelerator (Documentation/virt/kvm/api.rst): one VM
 * with the PIC, IOAPIC, local APICs and PIT in the kernel, guest memory as
 * user memory slots, one thread per vCPU turning KVM_EXIT_IO/MMIO into
 * dm_io_* calls under dm_lock.
 *
 * Run control: a vCPU leaves guest code when kicked with a real-time signal
 * that is blocked except inside KVM_RUN (KVM_SET_SIGNAL_MASK); pause() returns
 * once every vCPU waits, with its last I/O instruction completed, on the
 * accelerator's condition variable. Left out: coalesced MMIO, CPU hot-plug,
 * nested state.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hvmdm/accel.h"
#include "hvmdm/io.h"
#include "hvmdm/log.h"
#include "hvmdm/machine.h"
#include "hvmdm/main-loop.h"
#include "hvmdm/memory.h"
#include "hvmdm/trace.h"

#include "kvm.h"

#define KVM_EXPECTED_API_VERSION 12
#define KVM_CPUID_MAX_ENTRIES 4096

/* ---- opening the device and the VM ---------------------------------------- */

int kvm_open_device(const char *path, GError **errp)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd >= 0) {
        return fd;
    }
    if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "%s: %s: KVM is not available (load kvm_intel or kvm_amd, "
                    "or use -accel qtest)",
                    path, g_strerror(errno));
    } else if (errno == EACCES || errno == EPERM) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "%s: %s: no access to KVM (join the kvm group, or use "
                    "-accel qtest)",
                    path, g_strerror(errno));
    } else {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED, "%s: %s", path,
                    g_strerror(errno));
    }
    return -1;
}

static int kvm_check_cap(struct kvm_accel *ks, int cap)
{
    int r = ioctl(ks->vm_fd >= 0 ? ks->vm_fd : ks->sys_fd, KVM_CHECK_EXTENSION,
                  cap);

    return r < 0 ? 0 : r;
}

static bool kvm_fail(GError **errp, const char *what)
{
    g_set_error(errp, DM_ERROR, DM_ERROR_FAILED, "kvm: %s: %s", what,
                g_strerror(errno));
    return false;
}

static bool kvm_get_supported_cpuid(struct kvm_accel *ks, GError **errp)
{
    for (uint32_t n = 128; n <= KVM_CPUID_MAX_ENTRIES; n *= 2) {
        struct kvm_cpuid2 *c =
            g_malloc0(sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));

        c->nent = n;
        if (ioctl(ks->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            ks->supported = c;
            return true;
        }
        g_free(c);
        if (errno != E2BIG) {
            break;
        }
    }
    return kvm_fail(errp, "KVM_GET_SUPPORTED_CPUID");
}

/*
 * GSI routing as on a PC whose firmware reports the timer override (IRQ0 ->
 * GSI 2): ISA IRQs 0-15 reach the PICs (IRQ 2 is the cascade), GSI n reaches
 * IOAPIC pin n, except that the PIT's GSI 0 reaches pin 2.
 */
static bool kvm_setup_gsi_routing(struct kvm_accel *ks, GError **errp)
{
    enum { MAX_ROUTES = 16 + KVM_IOAPIC_NUM_PINS };
    struct {
        struct kvm_irq_routing hdr;
        struct kvm_irq_routing_entry e[MAX_ROUTES];
    } rt;
    unsigned n = 0;

    memset(&rt, 0, sizeof(rt));
    for (unsigned i = 0; i < 16; i++) {
        if (i == 2) {
            continue;
        }
        rt.e[n].gsi = i;
        rt.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
        rt.e[n].u.irqchip.irqchip =
            i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
        rt.e[n].u.irqchip.pin = i % 8;
        n++;
    }
    for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
        if (i == 2) {
            continue;
        }
        rt.e[n].gsi = i;
        rt.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
        rt.e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        rt.e[n].u.irqchip.pin = i == 0 ? 2 : i;
        n++;
    }
    rt.hdr.nr = n;
    if (ioctl(ks->vm_fd, KVM_SET_GSI_ROUTING, &rt) < 0) {
        return kvm_fail(errp, "KVM_SET_GSI_ROUTING");
    }
    return true;
}

static bool kvm_create_vm(struct kvm_accel *ks, GError **errp)
{
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    uint64_t identity = KVM_IDENTITY_MAP_ADDR;
    int v, r;

    ks->sys_fd = kvm_open_device(KVM_DEVICE, errp);
    if (ks->sys_fd < 0) {
        return false;
    }
    v = ioctl(ks->sys_fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_EXPECTED_API_VERSION) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "%s: KVM API version %d, expected %d", KVM_DEVICE, v,
                    KVM_EXPECTED_API_VERSION);
        return false;
    }
    do {
        r = ioctl(ks->sys_fd, KVM_CREATE_VM, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return kvm_fail(errp, "KVM_CREATE_VM");
    }
    ks->vm_fd = r;
    ks->run_size = (size_t)ioctl(ks->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if ((long)ks->run_size < (long)sizeof(struct kvm_run)) {
        return kvm_fail(errp, "KVM_GET_VCPU_MMAP_SIZE");
    }
    if (!kvm_check_cap(ks, KVM_CAP_IRQCHIP) ||
        !kvm_check_cap(ks, KVM_CAP_USER_MEMORY)) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "%s: KVM lacks an in-kernel irqchip or user memory",
                    KVM_DEVICE);
        return false;
    }
    ks->nr_slots = (unsigned)kvm_check_cap(ks, KVM_CAP_NR_MEMSLOTS);
    ks->cap_readonly_mem = kvm_check_cap(ks, KVM_CAP_READONLY_MEM);
    ks->cap_xsave = kvm_check_cap(ks, KVM_CAP_XSAVE);
    ks->cap_xcrs = kvm_check_cap(ks, KVM_CAP_XCRS);
    ks->cap_immediate_exit = kvm_check_cap(ks, KVM_CAP_IMMEDIATE_EXIT);
    ks->xsave_size =
        MAX(kvm_check_cap(ks, KVM_CAP_XSAVE2), (int)sizeof(struct kvm_xsave));

    if (ioctl(ks->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
        return kvm_fail(errp, "KVM_SET_TSS_ADDR");
    }
    if (kvm_check_cap(ks, KVM_CAP_SET_IDENTITY_MAP_ADDR) &&
        ioctl(ks->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
        return kvm_fail(errp, "KVM_SET_IDENTITY_MAP_ADDR");
    }
    if (ioctl(ks->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        return kvm_fail(errp, "KVM_CREATE_IRQCHIP");
    }
    if (kvm_check_cap(ks, KVM_CAP_IRQ_ROUTING) &&
        !kvm_setup_gsi_routing(ks, errp)) {
        return false;
    }
    if (ioctl(ks->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        return kvm_fail(errp, "KVM_CREATE_PIT2");
    }
    return kvm_get_supported_cpuid(ks, errp);
}

/* ---- memory slots -------------------------------------------------------- */

static bool kvm_slot_update(void *opaque, const struct dm_mem_slot *slot,
                            bool add, GError **errp)
{
    struct kvm_accel *ks = opaque;
    struct kvm_userspace_memory_region r = { .slot = (uint32_t)slot->id };

    if (slot->id < 0 || (unsigned)slot->id >= ks->nr_slots) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: memory slot %d out of range (KVM has %u)", slot->id,
                    ks->nr_slots);
        return false;
    }
    if (add) {
        r.guest_phys_addr = slot->gpa;
        r.memory_size = slot->size;
        r.userspace_addr = (uintptr_t)slot->host;
        if (slot->flags & DM_SLOT_DIRTY_LOG) {
            r.flags |= KVM_MEM_LOG_DIRTY_PAGES;
        }
        if (slot->flags & DM_SLOT_READONLY) {
            if (ks->cap_readonly_mem) {
                r.flags |= KVM_MEM_READONLY;
            } else if (!ks->readonly_warned) {
                ks->readonly_warned = true;
                dm_warn("kvm: no read-only memory slots: ROM is writable");
            }
        }
    }
    dm_trace(kvm_slot_update, "slot %d gpa 0x%llx size 0x%llx flags 0x%x %s",
             slot->id, (unsigned long long)slot->gpa,
             (unsigned long long)slot->size, r.flags, add ? "add" : "remove");
    if (ioctl(ks->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: memory slot %d at 0x%llx size 0x%llx: %s", slot->id,
                    (unsigned long long)slot->gpa,
                    (unsigned long long)slot->size, g_strerror(errno));
        return false;
    }
    return true;
}

/* Pages the guest wrote in a DM_SLOT_DIRTY_LOG slot since the last call;
 * KVM_GET_DIRTY_LOG clears its log as it reads it. */
static void kvm_sync_dirty(void *opaque, const struct dm_mem_slot *slot,
                           unsigned long *bitmap)
{
    struct kvm_accel *ks = opaque;
    const unsigned bits = 8 * sizeof(unsigned long);
    uint64_t npages = slot->size / KVM_PAGE_SIZE;
    size_t words = (size_t)((npages + 63) / 64) * (64 / bits);
    unsigned long *log = g_new0(unsigned long, words);
    struct kvm_dirty_log d = { .slot = (uint32_t)slot->id,
                               .dirty_bitmap = log };

    if (ioctl(ks->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
        /* Cannot tell: everything may have changed. */
        dm_trace(kvm_dirty_log_failed, "slot %d: %s", slot->id,
                 g_strerror(errno));
        memset(log, 0xff, words * sizeof(*log));
    }
    for (uint64_t w = 0; w < (npages + bits - 1) / bits; w++) {
        unsigned long v = log[w];

        if (w == npages / bits && npages % bits) {
            v &= (1ul << (npages % bits)) - 1;
        }
        bitmap[w] |= v;
    }
    g_free(log);
}

/* ---- in-kernel PIC, IOAPIC and PIT at system reset ----------------------- */

static void kvm_reset_irqchips(struct kvm_accel *ks)
{
    struct kvm_pit_state2 pit;

    for (uint32_t id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC; id++) {
        struct kvm_irqchip chip = { .chip_id = id };

        if (ioctl(ks->vm_fd, KVM_GET_IRQCHIP, &chip) < 0) {
            dm_warn("kvm: KVM_GET_IRQCHIP %u: %s", id, g_strerror(errno));
            continue;
        }
        if (id == KVM_IRQCHIP_IOAPIC) {
            struct kvm_ioapic_state *io = &chip.chip.ioapic;
            uint64_t base = io->base_address;

            /* 82093AA: ID 0, every redirection entry masked. */
            memset(io, 0, sizeof(*io));
            io->base_address = base;
            for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
                io->redirtbl[i].fields.mask = 1;
            }
        } else {
            struct kvm_pic_state *p = &chip.chip.pic;
            uint8_t elcr_mask = p->elcr_mask;

            /* 8259A waiting for ICW1; PIIX3 ELCR at its default 0. */
            memset(p, 0, sizeof(*p));
            p->elcr_mask = elcr_mask;
        }
        if (ioctl(ks->vm_fd, KVM_SET_IRQCHIP, &chip) < 0) {
            dm_warn("kvm: KVM_SET_IRQCHIP %u: %s", id, g_strerror(errno));
        }
    }
    /* 8254: counters unprogrammed (KVM's mode 0xff: no timer runs), gates of
     * counters 0 and 1 high. */
    memset(&pit, 0, sizeof(pit));
    for (int i = 0; i < 3; i++) {
        pit.channels[i].mode = 0xff;
        pit.channels[i].gate = i != 2;
    }
    if (ioctl(ks->vm_fd, KVM_SET_PIT2, &pit) < 0) {
        dm_warn("kvm: KVM_SET_PIT2: %s", g_strerror(errno));
    }
}

/* ---- vCPUs ----------------------------------------------------------------- */

static void kvm_kick_handler(int sig)
{
    /* Only interrupts KVM_RUN; the signal is consumed by sigtimedwait. */
}

static void kvm_eat_kicks(struct kvm_accel *ks)
{
    struct timespec zero = { 0, 0 };
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, ks->kick_signal);
    while (sigtimedwait(&set, NULL, &zero) > 0) {
    }
}

static bool kvm_vcpu_create(struct kvm_accel *ks, struct kvm_vcpu *v,
                            GError **errp)
{
    int r;

    v->apic_id = kvm_topo_apic_id(&ks->topo, v->index);
    r = ioctl(ks->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->apic_id);
    if (r < 0) {
        g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                    "kvm: vCPU %u (APIC ID %u): KVM_CREATE_VCPU: %s", v->index,
                    v->apic_id, g_strerror(errno));
        return false;
    }
    v->fd = r;
    v->run =
        mmap(NULL, ks->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        return kvm_fail(errp, "mmap of kvm_run");
    }
    return kvm_vcpu_setup(v, errp) && kvm_vcpu_reset(v, errp);
}

/* Stop every vCPU until the next reset (shutdown, triple fault, error). */
static void kvm_stop_vcpus(struct kvm_accel *ks)
{
    pthread_mutex_lock(&ks->lock);
    ks->stopped = true;
    pthread_mutex_unlock(&ks->lock);
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        if (ks->vcpus[i].thread_started &&
            !pthread_equal(ks->vcpus[i].thread, pthread_self())) {
            pthread_kill(ks->vcpus[i].thread, ks->kick_signal);
        }
    }
}

static void kvm_vcpu_fatal(struct kvm_vcpu *v, const char *what)
{
    char *where = kvm_vcpu_describe(v);

    kvm_stop_vcpus(v->ks);
    dm_lock();
    dm_error_report("kvm: %s on %s", what, where);
    dm_machine_request_shutdown(v->ks->m, DM_SHUTDOWN_ERROR);
    dm_unlock();
    g_free(where);
}

static void kvm_handle_io(struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct dm_machine *m = v->ks->m;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
    unsigned size = run->io.size;
    uint64_t off = run->io.data_offset;
    uint8_t *data = (uint8_t *)run + off;

    if ((size != 1 && size != 2 && size != 4) || run->io.count == 0 ||
        off > v->ks->run_size ||
        (uint64_t)size * run->io.count > v->ks->run_size - off) {
        dm_warn("kvm: vCPU %u: malformed I/O exit port 0x%x size %u count %u",
                v->index, run->io.port, size, run->io.count);
        return;
    }
    dm_lock();
    if (run->io.count == 1) {
        uint32_t val = 0;

        if (is_write) {
            memcpy(&val, data, size);
        }
        dm_io_pio(m, run->io.port, size, is_write, &val);
        if (!is_write) {
            memcpy(data, &val, size);
        }
    } else {
        dm_io_pio_string(m, run->io.port, size, is_write, data, run->io.count);
    }
    dm_unlock();
}

static void kvm_handle_mmio(struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct dm_machine *m = v->ks->m;
    uint64_t gpa = run->mmio.phys_addr;
    unsigned len = MIN(run->mmio.len, (uint32_t)sizeof(run->mmio.data));
    bool is_write = run->mmio.is_write;
    uint8_t *data = run->mmio.data;

    dm_lock();
    if (is_write && dm_memory_mmio_write(m->mem, gpa, data, len)) {
        /* a write to shadow RAM behind a ROM face */
    } else if (len == 1 || len == 2 || len == 4 || len == 8) {
        uint64_t val = 0;

        if (is_write) {
            memcpy(&val, data, len);
        }
        dm_io_mmio(m, gpa, len, is_write, &val);
        if (!is_write) {
            memcpy(data, &val, len);
        }
    } else {
        for (unsigned i = 0; i < len; i++) {
            uint64_t val = is_write ? data[i] : 0;

            dm_io_mmio(m, gpa + i, 1, is_write, &val);
            if (!is_write) {
                data[i] = (uint8_t)val;
            }
        }
    }
    dm_unlock();
}

static void kvm_handle_system_event(struct kvm_vcpu *v)
{
    struct dm_machine *m = v->ks->m;
    uint32_t type = v->run->system_event.type;

    if (type == KVM_SYSTEM_EVENT_CRASH) {
        kvm_vcpu_fatal(v, "guest crash reported");
        return;
    }
    kvm_stop_vcpus(v->ks);
    dm_lock();
    if (type == KVM_SYSTEM_EVENT_RESET) {
        dm_machine_request_reset(m);
    } else {
        dm_machine_request_shutdown(m, DM_SHUTDOWN_GUEST_POWEROFF);
    }
    dm_unlock();
}

static void kvm_handle_exit(struct kvm_vcpu *v)
{
    struct kvm_run *run = v->run;
    char what[96];

    dm_trace(kvm_exit, "vcpu %u reason %u", v->index, run->exit_reason);
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        v->io_pending = true;
        kvm_handle_io(v);
        break;
    case KVM_EXIT_MMIO:
        v->io_pending = true;
        kvm_handle_mmio(v);
        break;
    case KVM_EXIT_SHUTDOWN:
        /* Triple fault: the processor stops until a system reset. */
        dm_trace(kvm_triple_fault, "vcpu %u", v->index);
        kvm_stop_vcpus(v->ks);
        dm_lock();
        dm_machine_request_reset(v->ks->m);
        dm_unlock();
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        kvm_handle_system_event(v);
        break;
    case KVM_EXIT_HLT:
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_DEBUG:
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(what, sizeof(what), "internal error (suberror %u%s)",
                 run->internal.suberror,
                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                     ? ": emulation failure"
                     : "");
        kvm_vcpu_fatal(v, what);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(
            what, sizeof(what), "entry failed (hardware reason 0x%llx)",
            (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        kvm_vcpu_fatal(v, what);
        break;
    default:
        snprintf(what, sizeof(what), "unexpected exit reason %u",
                 run->exit_reason);
        kvm_vcpu_fatal(v, what);
        break;
    }
}

/* Re-enter KVM_RUN only to finish the instruction of the last I/O exit (KVM
 * writes IN data to registers then), leaving at once afterwards. */
static void kvm_vcpu_complete_io(struct kvm_vcpu *v)
{
    struct kvm_accel *ks = v->ks;

    while (v->io_pending) {
        int r;

        v->io_pending = false;
        if (ks->cap_immediate_exit) {
            v->run->immediate_exit = 1;
        } else {
            pthread_kill(pthread_self(), ks->kick_signal);
        }
        r = ioctl(v->fd, KVM_RUN, 0);
        v->run->immediate_exit = 0;
        kvm_eat_kicks(ks);
        if (r == 0) {
            kvm_handle_exit(v); /* e.g. the next part of a split access */
        }
    }
}

/* Wait while paused or stopped; false when the thread must return. */
static bool kvm_vcpu_wait_runnable(struct kvm_vcpu *v)
{
    struct kvm_accel *ks = v->ks;
    bool quit;

    pthread_mutex_lock(&ks->lock);
    while (!ks->quit && (ks->pause_depth > 0 || ks->stopped)) {
        if (v->io_pending) {
            pthread_mutex_unlock(&ks->lock);
            kvm_vcpu_complete_io(v);
            pthread_mutex_lock(&ks->lock);
            continue;
        }
        if (!v->parked) {
            v->parked = true;
            pthread_cond_broadcast(&ks->cond);
        }
        pthread_cond_wait(&ks->cond, &ks->lock);
    }
    v->parked = false;
    quit = ks->quit;
    pthread_mutex_unlock(&ks->lock);
    return !quit;
}

static void *kvm_vcpu_thread(void *opaque)
{
    struct kvm_vcpu *v = opaque;
    struct kvm_accel *ks = v->ks;
    struct {
        struct kvm_signal_mask hdr;
        uint8_t set[8]; /* the kernel's sigset_t */
    } km;
    sigset_t inside;

    /* Created with every signal blocked; inside KVM_RUN the kick gets
     * through (and stays pending for kvm_eat_kicks). */
    pthread_sigmask(SIG_BLOCK, NULL, &inside);
    sigdelset(&inside, ks->kick_signal);
    km.hdr.len = sizeof(km.set);
    memcpy(km.set, &inside, sizeof(km.set));
    if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &km) < 0) {
        kvm_vcpu_fatal(v, "KVM_SET_SIGNAL_MASK failed");
    }

    while (kvm_vcpu_wait_runnable(v)) {
        int r = ioctl(v->fd, KVM_RUN, 0);

        dm_trace(kvm_run_return, "vcpu %u r %d errno %d", v->index, r,
                 r < 0 ? errno : 0);

        v->io_pending = false;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                kvm_eat_kicks(ks);
                continue;
            }
            char what[64];

            snprintf(what, sizeof(what), "KVM_RUN failed: %s",
                     g_strerror(errno));
            kvm_vcpu_fatal(v, what);
            continue;
        }
        kvm_handle_exit(v);
    }
    return NULL;
}

/* ---- accelerator operations ------------------------------------------------ */

static void kvm_destroy(struct dm_machine *m);

static bool kvm_init(struct dm_machine *m, GError **errp)
{
    struct kvm_accel *ks = g_new0(struct kvm_accel, 1);
    const struct dm_config *cfg = m->cfg;
    GError *err = NULL;
    int max_vcpus, max_id;

    if (cfg->qtest) {
        g_set_error(errp, DM_ERROR, DM_ERROR_INVALID,
                    "-qtest %s: needs -accel qtest", cfg->qtest);
        g_free(ks);
        return false;
    }
    ks->m = m;
    ks->sys_fd = ks->vm_fd = -1;
    ks->kick_signal = SIGRTMIN;
    pthread_mutex_init(&ks->lock, NULL);
    pthread_cond_init(&ks->cond, NULL);
    m->accel_state = ks;
    if (!kvm_create_vm(ks, &err)) {
        goto fail;
    }

    ks->nvcpus = cfg->smp ? cfg->smp : 1;
    kvm_topo_init(&ks->topo, ks->nvcpus, cfg->smp_sockets, cfg->smp_cores,
                  cfg->smp_threads);
    max_vcpus = kvm_check_cap(ks, KVM_CAP_MAX_VCPUS);
    max_id = kvm_check_cap(ks, KVM_CAP_MAX_VCPU_ID);
    if (max_vcpus <= 0) {
        max_vcpus = kvm_check_cap(ks, KVM_CAP_NR_VCPUS);
    }
    if (max_id <= 0) {
        max_id = max_vcpus;
    }
    if ((int)ks->nvcpus > max_vcpus ||
        kvm_topo_apic_id(&ks->topo, ks->nvcpus - 1) >= (unsigned)max_id) {
        g_set_error(&err, DM_ERROR, DM_ERROR_INVALID,
                    "-smp %u: KVM supports at most %d vCPUs (APIC IDs below "
                    "%d)",
                    ks->nvcpus, max_vcpus, max_id);
        goto fail;
    }
    ks->vcpus = g_new0(struct kvm_vcpu, ks->nvcpus);
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        ks->vcpus[i].ks = ks;
        ks->vcpus[i].index = i;
        ks->vcpus[i].fd = -1;
    }
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        if (!kvm_vcpu_create(ks, &ks->vcpus[i], &err)) {
            goto fail;
        }
    }

    ks->listener = (struct dm_mem_listener){
        .slot_update = kvm_slot_update,
        .sync_dirty = kvm_sync_dirty,
        .opaque = ks,
    };
    dm_memory_set_listener(m->mem, &ks->listener, &err);
    if (err) {
        goto fail;
    }
    return true;

fail:
    g_propagate_error(errp, err);
    kvm_destroy(m);
    return false;
}

static bool kvm_start(struct dm_machine *m, GError **errp)
{
    struct kvm_accel *ks = m->accel_state;
    struct sigaction sa;
    sigset_t all, old;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kvm_kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(ks->kick_signal, &sa, NULL);

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        struct kvm_vcpu *v = &ks->vcpus[i];
        int r;

        if (v->thread_started) {
            continue;
        }
        r = pthread_create(&v->thread, NULL, kvm_vcpu_thread, v);
        if (r != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            g_set_error(errp, DM_ERROR, DM_ERROR_FAILED,
                        "kvm: vCPU %u thread: %s", i, g_strerror(r));
            return false;
        }
        v->thread_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return true;
}

static bool kvm_all_parked(struct kvm_accel *ks)
{
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        struct kvm_vcpu *v = &ks->vcpus[i];

        if (v->thread_started && !v->parked &&
            !pthread_equal(v->thread, pthread_self())) {
            return false;
        }
    }
    return true;
}

static void kvm_pause(struct dm_machine *m)
{
    struct kvm_accel *ks = m->accel_state;
    bool held;

    if (!ks) {
        return;
    }
    pthread_mutex_lock(&ks->lock);
    ks->pause_depth++;
    pthread_mutex_unlock(&ks->lock);
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        if (ks->vcpus[i].thread_started) {
            pthread_kill(ks->vcpus[i].thread, ks->kick_signal);
        }
    }
    /* vCPUs may be waiting for dm_lock to finish a device access. */
    held = dm_lock_held();
    if (held) {
        dm_unlock();
    }
    pthread_mutex_lock(&ks->lock);
    while (!kvm_all_parked(ks)) {
        pthread_cond_wait(&ks->cond, &ks->lock);
    }
    pthread_mutex_unlock(&ks->lock);
    if (held) {
        dm_lock();
    }
}

static void kvm_resume(struct dm_machine *m)
{
    struct kvm_accel *ks = m->accel_state;

    if (!ks) {
        return;
    }
    pthread_mutex_lock(&ks->lock);
    if (ks->pause_depth > 0) {
        ks->pause_depth--;
    }
    pthread_cond_broadcast(&ks->cond);
    pthread_mutex_unlock(&ks->lock);
}

static void kvm_set_gsi(struct dm_machine *m, int gsi, int level)
{
    struct kvm_accel *ks = m->accel_state;
    struct kvm_irq_level irq = { .irq = (uint32_t)gsi, .level = level != 0 };

    if (gsi < 0 || gsi >= KVM_IOAPIC_NUM_PINS) {
        dm_warn("kvm: interrupt input %d out of range", gsi);
        return;
    }
    if (ioctl(ks->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
        dm_warn("kvm: KVM_IRQ_LINE %d: %s", gsi, g_strerror(errno));
    }
}

static void kvm_send_msi(struct dm_machine *m, uint64_t addr, uint32_t data)
{
    struct kvm_accel *ks = m->accel_state;
    struct kvm_msi msi = {
        .address_lo = (uint32_t)addr,
        .address_hi = (uint32_t)(addr >> 32),
        .data = data,
    };

    if (ioctl(ks->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
        dm_trace(kvm_msi_failed, "addr 0x%llx data 0x%x: %s",
                 (unsigned long long)addr, data, g_strerror(errno));
    }
}

/* Called with the vCPUs paused (or not started). */
static void kvm_reset_cpus(struct dm_machine *m)
{
    struct kvm_accel *ks = m->accel_state;

    dm_trace(kvm_reset_cpus, "%u vcpus", ks->nvcpus);
    kvm_reset_irqchips(ks);
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        GError *err = NULL;

        if (!kvm_vcpu_reset(&ks->vcpus[i], &err)) {
            dm_error_report("%s", err->message);
            g_error_free(err);
            dm_machine_request_shutdown(m, DM_SHUTDOWN_ERROR);
        }
    }
    pthread_mutex_lock(&ks->lock);
    ks->stopped = false;
    pthread_cond_broadcast(&ks->cond);
    pthread_mutex_unlock(&ks->lock);
}

static void kvm_destroy(struct dm_machine *m)
{
    struct kvm_accel *ks = m->accel_state;
    bool held;

    if (!ks) {
        return;
    }
    pthread_mutex_lock(&ks->lock);
    ks->quit = true;
    pthread_cond_broadcast(&ks->cond);
    pthread_mutex_unlock(&ks->lock);
    held = dm_lock_held();
    if (held) {
        dm_unlock();
    }
    for (unsigned i = 0; i < ks->nvcpus; i++) {
        struct kvm_vcpu *v = &ks->vcpus[i];

        if (v->thread_started) {
            pthread_kill(v->thread, ks->kick_signal);
            pthread_join(v->thread, NULL);
        }
    }
    if (held) {
        dm_lock();
    }
    for (unsigned i = 0; i < ks->nvcpus && ks->vcpus; i++) {
        struct kvm_vcpu *v = &ks->vcpus[i];

        if (v->run) {
            munmap(v->run, ks->run_size);
        }
        if (v->fd >= 0) {
            close(v->fd);
        }
    }
    if (ks->vm_fd >= 0) {
        close(ks->vm_fd);
    }
    if (ks->sys_fd >= 0) {
        close(ks->sys_fd);
    }
    g_free(ks->supported);
    g_free(ks->vcpus);
    pthread_cond_destroy(&ks->cond);
    pthread_mutex_destroy(&ks->lock);
    g_free(ks);
    m->accel_state = NULL;
}

const struct dm_accel_ops dm_accel_kvm = {
    .name = "kvm",
    .init = kvm_init,
    .start = kvm_start,
    .pause = kvm_pause,
    .resume = kvm_resume,
    .set_gsi = kvm_set_gsi,
    .send_msi = kvm_send_msi,
    .reset_cpus = kvm_reset_cpus,
    .destroy = kvm_destroy,
};
