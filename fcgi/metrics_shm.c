/* fcgi/metrics_shm.c: the metrics file every worker process of a host maps
 * MAP_SHARED: a versioned header, atomic counters (__atomic builtins on plain
 * uint64_t), histograms, bounded name tables, a per-minute ring and one
 * gauge slot per live process. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "fcgi/metrics.h"

#include "common/banned.h"

#define SHM_MAGIC "CCPMETR\n"
#define SHM_VERSION 1u

enum slot_state { SLOT_FREE = 0, SLOT_CLAIMING = 1, SLOT_READY = 2 };

struct shm_named {
    uint32_t state;
    uint32_t pad;
    struct wk_named n;
};

struct shm_proc {
    uint64_t pid; /* 0: free */
    int64_t open_conns;
    int64_t inflight;
};

struct shm {
    char magic[8];
    uint32_t version;
    uint32_t size; /* sizeof(struct shm) of the writer */
    uint64_t created_unix;
    uint64_t c[WK_C__COUNT];
    struct wk_hist h[WK_H__COUNT];
    struct shm_named models[WK_MODELS_MAX];
    struct shm_named tenants[WK_TENANTS_MAX];
    struct wk_named tenant_other;
    struct wk_minute minutes[WK_MINUTES];
    struct shm_proc procs[WK_PROCS_MAX];
};

static struct shm *g_shm;     /* the mapping, or g_local */
static struct shm *g_local;   /* private fallback */
static struct shm_proc *g_me; /* this process's gauge slot, or NULL */
static bool g_shared;

static void add64(uint64_t *p, uint64_t n)
{
    __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static uint64_t load64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint64_t now_unix(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec;
}

static bool header_ok(const struct shm *m)
{
    return memcmp(m->magic, SHM_MAGIC, 8) == 0 && m->version == SHM_VERSION &&
           m->size == (uint32_t)sizeof(struct shm);
}

static void header_write(struct shm *m)
{
    memset(m, 0, sizeof(*m));
    m->version = SHM_VERSION;
    m->size = (uint32_t)sizeof(struct shm);
    m->created_unix = now_unix();
    memcpy(m->magic, SHM_MAGIC, 8); /* last: readers check it first */
}

static bool pid_alive(uint64_t pid)
{
    if (pid == 0) {
        return false;
    }
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* Claim a gauge slot: a free one, or one whose process is gone. */
static void claim_proc_slot(struct shm *m)
{
    uint64_t me = (uint64_t)getpid();
    size_t i;

    for (i = 0; i < WK_PROCS_MAX; i++) {
        struct shm_proc *p = &m->procs[i];
        uint64_t old = __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);

        if (old == me || (old != 0 && pid_alive(old))) {
            continue;
        }
        if (__atomic_compare_exchange_n(&p->pid, &old, me, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&p->open_conns, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&p->inflight, 0, __ATOMIC_RELAXED);
            g_me = p;
            return;
        }
    }
    g_me = NULL; /* more processes than slots: gauges of this one are not shown */
}

/* A fresh file at path (write a temporary, then rename over path). The
 * caller holds the lock of the old file, if any. Returns the mapping. */
static struct shm *create_file(const char *path, char *errmsg, size_t errlen)
{
    char tmp[4096];
    struct shm *m = NULL;
    int fd = -1;

    if (snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(errmsg, errlen, "metrics file path too long");
        return NULL;
    }
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)sizeof(struct shm)) != 0) {
        snprintf(errmsg, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    m = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        m = NULL;
        snprintf(errmsg, errlen, "cannot map %s: %s", tmp, strerror(errno));
        goto fail;
    }
    header_write(m);
    if (rename(tmp, path) != 0) {
        snprintf(errmsg, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    close(fd);
    return m;

fail:
    if (m != NULL) {
        munmap(m, sizeof(struct shm));
    }
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return NULL;
}

/* Map path if it holds a current file; else replace it. Locked with flock
 * on the file itself; retried if the file was replaced while we waited. */
static struct shm *open_shared(const char *path, char *errmsg, size_t errlen)
{
    int attempt;

    for (attempt = 0; attempt < 8; attempt++) {
        struct stat st_fd, st_path;
        struct shm *m = NULL;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0) {
            snprintf(errmsg, errlen, "cannot open %s: %s", path, strerror(errno));
            return NULL;
        }
        if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st_fd) != 0) {
            snprintf(errmsg, errlen, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        if (stat(path, &st_path) != 0 || st_path.st_ino != st_fd.st_ino ||
            st_path.st_dev != st_fd.st_dev) {
            close(fd); /* replaced while we waited for the lock: look again */
            continue;
        }
        if (st_fd.st_size == (off_t)sizeof(struct shm)) {
            m = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) {
                m = NULL;
            } else if (!header_ok(m)) {
                munmap(m, sizeof(struct shm));
                m = NULL;
            }
        }
        if (m == NULL) {
            m = create_file(path, errmsg, errlen);
        }
        /* unlock explicitly: the mapping keeps the open file (and with
         * it a flock lock) alive after close */
        flock(fd, LOCK_UN);
        close(fd);
        return m;
    }
    snprintf(errmsg, errlen, "%s keeps being replaced", path);
    return NULL;
}

enum ccp_err wk_metrics_attach(const char *path, char *errmsg, size_t errlen)
{
    struct shm *m = NULL;

    if (errlen > 0) {
        errmsg[0] = '\0';
    }
    if (path != NULL && path[0] != '\0') {
        m = open_shared(path, errmsg, errlen);
    } else {
        snprintf(errmsg, errlen, "no metrics file");
    }
    if (m == NULL) {
        if (g_local == NULL) {
            g_local = ccp_calloc(1, sizeof(*g_local));
            if (g_local != NULL) {
                header_write(g_local);
            }
        }
        g_shm = g_local;
        g_shared = false;
        if (g_shm != NULL) {
            claim_proc_slot(g_shm);
        }
        return CCP_ERR_INTERNAL;
    }
    g_shm = m;
    g_shared = true;
    claim_proc_slot(m);
    return CCP_OK;
}

void wk_metrics_detach(void)
{
    if (g_me != NULL) {
        __atomic_store_n(&g_me->pid, 0, __ATOMIC_RELEASE);
        g_me = NULL;
    }
    if (g_shm != NULL && g_shared) {
        munmap(g_shm, sizeof(struct shm));
    }
    g_shm = NULL;
    g_shared = false;
    CCP_FREE(g_local);
}

void wk_metrics_add(enum wk_ctr c, uint64_t n)
{
    if (g_shm != NULL && (int)c >= 0 && c < WK_C__COUNT && n != 0) {
        add64(&g_shm->c[c], n);
    }
}

void wk_metrics_observe(enum wk_hist_id h, double ms)
{
    if (g_shm == NULL || (int)h < 0 || h >= WK_H__COUNT) {
        return;
    }
    if (!(ms >= 0)) {
        ms = 0;
    }
    add64(&g_shm->h[h].count[wk_hist_bucket(ms)], 1);
    add64(&g_shm->h[h].sum_ms, (uint64_t)(ms + 0.5));
}

/* The slot named name in table t (n slots), claiming a free one if needed.
 * Two processes adding the same new name at once may take two slots; the
 * snapshot merges them. NULL if the table is full. */
static struct shm_named *find_slot(struct shm_named *t, size_t n, const char *name)
{
    size_t i, len = strlen(name);

    if (len >= WK_NAME_MAX) {
        len = WK_NAME_MAX - 1;
    }
    for (i = 0; i < n; i++) {
        uint32_t st = __atomic_load_n(&t[i].state, __ATOMIC_ACQUIRE);

        if (st == SLOT_READY && strncmp(t[i].n.name, name, len) == 0 && t[i].n.name[len] == '\0') {
            return &t[i];
        }
        if (st == SLOT_FREE) {
            uint32_t expect = SLOT_FREE;

            if (__atomic_compare_exchange_n(&t[i].state, &expect, SLOT_CLAIMING, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                memcpy(t[i].n.name, name, len);
                t[i].n.name[len] = '\0';
                __atomic_store_n(&t[i].state, SLOT_READY, __ATOMIC_RELEASE);
                return &t[i];
            }
            i--; /* lost the race: look at this slot again */
        }
    }
    return NULL;
}

static void add_values(struct wk_named *n, const uint64_t *v)
{
    size_t i;

    for (i = 0; i < WK_V__COUNT; i++) {
        if (v[i] != 0) {
            add64(&n->v[i], v[i]);
        }
    }
}

void wk_metrics_add_model(const char *model, const uint64_t *v)
{
    struct shm_named *s;

    if (g_shm == NULL || model == NULL || model[0] == '\0') {
        return;
    }
    s = find_slot(g_shm->models, WK_MODELS_MAX, model);
    if (s != NULL) {
        add_values(&s->n, v);
    }
}

void wk_metrics_add_tenant(const char *tenant, const uint64_t *v)
{
    struct shm_named *s;

    if (g_shm == NULL || tenant == NULL || tenant[0] == '\0') {
        return;
    }
    s = find_slot(g_shm->tenants, WK_TENANTS_MAX, tenant);
    add_values(s != NULL ? &s->n : &g_shm->tenant_other, v);
}

void wk_metrics_add_minute(const uint64_t *v, double total_ms)
{
    uint64_t minute = now_unix() / 60, seen;
    struct wk_minute *m;
    size_t i;

    if (g_shm == NULL) {
        return;
    }
    m = &g_shm->minutes[minute % WK_MINUTES];
    seen = __atomic_load_n(&m->minute, __ATOMIC_ACQUIRE);
    if (seen < minute) {
        /* The first writer of a new minute clears the slot. Adds racing
         * with the clearing can be lost: the ring is for charts, the
         * counters above are exact. */
        if (__atomic_compare_exchange_n(&m->minute, &seen, minute, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            for (i = 0; i < WK_M__COUNT; i++) {
                __atomic_store_n(&m->v[i], 0, __ATOMIC_RELAXED);
            }
            for (i = 0; i < WK_HIST_BUCKETS; i++) {
                __atomic_store_n(&m->hist[i], 0, __ATOMIC_RELAXED);
            }
        }
    } else if (seen > minute) {
        return; /* the clock went back: drop the sample */
    }
    for (i = 0; i < WK_M__COUNT; i++) {
        if (v[i] != 0) {
            add64(&m->v[i], v[i]);
        }
    }
    add64(&m->hist[wk_hist_bucket(total_ms)], 1);
}

static void gauge_add(int64_t *p, int64_t delta)
{
    __atomic_fetch_add(p, delta, __ATOMIC_RELAXED);
}

void wk_metrics_gauge_conns(int64_t delta)
{
    if (g_me != NULL) {
        gauge_add(&g_me->open_conns, delta);
    }
}

void wk_metrics_gauge_inflight(int64_t delta)
{
    if (g_me != NULL) {
        gauge_add(&g_me->inflight, delta);
    }
}

/* Add src's values to the snapshot entry named like it (merging slots that
 * two processes created for one name). */
static void snap_named(struct wk_named *dst, size_t *n, size_t max, const struct shm_named *src)
{
    size_t i, j;

    if (__atomic_load_n(&src->state, __ATOMIC_ACQUIRE) != SLOT_READY) {
        return;
    }
    for (i = 0; i < *n; i++) {
        if (strcmp(dst[i].name, src->n.name) == 0) {
            break;
        }
    }
    if (i == *n) {
        if (*n == max) {
            return;
        }
        memset(&dst[i], 0, sizeof(dst[i]));
        memcpy(dst[i].name, src->n.name, WK_NAME_MAX);
        dst[i].name[WK_NAME_MAX - 1] = '\0';
        (*n)++;
    }
    for (j = 0; j < WK_V__COUNT; j++) {
        dst[i].v[j] += load64(&src->n.v[j]);
    }
}

void wk_metrics_snapshot(struct wk_msnap *s)
{
    const struct shm *m = g_shm;
    uint64_t minute;
    size_t i, j;

    memset(s, 0, sizeof(*s));
    s->now_unix = now_unix();
    if (m == NULL) {
        return;
    }
    s->shared = g_shared;
    s->created_unix = m->created_unix;
    for (i = 0; i < WK_C__COUNT; i++) {
        s->c[i] = load64(&m->c[i]);
    }
    for (i = 0; i < WK_H__COUNT; i++) {
        for (j = 0; j < WK_HIST_BUCKETS; j++) {
            s->h[i].count[j] = load64(&m->h[i].count[j]);
        }
        s->h[i].sum_ms = load64(&m->h[i].sum_ms);
    }
    for (i = 0; i < WK_MODELS_MAX; i++) {
        snap_named(s->models, &s->n_models, WK_MODELS_MAX, &m->models[i]);
    }
    for (i = 0; i < WK_TENANTS_MAX; i++) {
        snap_named(s->tenants, &s->n_tenants, WK_TENANTS_MAX, &m->tenants[i]);
    }
    for (j = 0; j < WK_V__COUNT; j++) {
        s->tenant_other.v[j] = load64(&m->tenant_other.v[j]);
    }
    memcpy(s->tenant_other.name, "other", 6);
    minute = s->now_unix / 60;
    for (i = 0; i < WK_MINUTES; i++) {
        uint64_t want = minute - (WK_MINUTES - 1) + i;
        const struct wk_minute *src = &m->minutes[want % WK_MINUTES];
        struct wk_minute *dst = &s->minutes[i];

        dst->minute = want;
        if (load64(&src->minute) != want) {
            continue;
        }
        for (j = 0; j < WK_M__COUNT; j++) {
            dst->v[j] = load64(&src->v[j]);
        }
        for (j = 0; j < WK_HIST_BUCKETS; j++) {
            dst->hist[j] = load64(&src->hist[j]);
        }
    }
    for (i = 0; i < WK_PROCS_MAX; i++) {
        const struct shm_proc *p = &m->procs[i];
        uint64_t pid = __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);

        if (pid == 0 || !pid_alive(pid)) {
            continue;
        }
        s->pids[s->processes++] = (long)pid;
        s->open_conns += __atomic_load_n(&p->open_conns, __ATOMIC_RELAXED);
        s->inflight += __atomic_load_n(&p->inflight, __ATOMIC_RELAXED);
    }
}
