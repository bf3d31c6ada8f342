#define _GNU_SOURCE
#include "CTern.h"
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sched.h>
#include <errno.h>
#include <stdint.h>

#ifdef TERN_JEMALLOC
#include <jemalloc/jemalloc.h>

size_t tern_malloc_usable_size(void *p) { return malloc_usable_size(p); }

size_t tern_malloc_good_size(size_t n) { return nallocx(n ? n : 1, 0); }

static size_t stat_size(const char *name) {
    size_t v = 0, len = sizeof(v);
    if (mallctl(name, &v, &len, NULL, 0) != 0) return 0;
    return v;
}

static void refresh_epoch(void) {
    /* Freed blocks parked in this thread's cache still count as allocated in the arena
       statistics; flushing first makes the total exact for the engine thread (the cost is a
       refill of the cache, paid at most at the cron's rate). */
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    mallctl("epoch", &epoch, &len, &epoch, len);
}

size_t tern_malloc_allocated(void) {
    refresh_epoch();
    return stat_size("stats.allocated");
}

void tern_malloc_trim(void) {
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%d.purge", MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
}

void tern_allocator_info_get(tern_allocator_info *out) {
    refresh_epoch();
    out->allocated = stat_size("stats.allocated");
    out->active = stat_size("stats.active");
    out->resident = stat_size("stats.resident");
    out->retained = stat_size("stats.retained");
    /* Muzzy pages of all arenas: counted as reclaimable, not fragmentation (as Redis 7.0). */
    char name[64];
    snprintf(name, sizeof(name), "stats.arenas.%d.pmuzzy", MALLCTL_ARENAS_ALL);
    out->muzzy = stat_size(name) * (size_t)sysconf(_SC_PAGESIZE);
}

const char *tern_allocator_name(void) {
    static char name[64];
    if (!name[0]) {
        const char *v = NULL;
        size_t len = sizeof(v);
        if (mallctl("version", &v, &len, NULL, 0) == 0 && v) {
            /* "5.3.0-0-g54eaed1d..." -> "jemalloc-5.3.0" as Redis prints it */
            size_t i = 0;
            while (v[i] && v[i] != '-' && i < 40) i++;
            snprintf(name, sizeof(name), "jemalloc-%.*s", (int)i, v);
        } else {
            snprintf(name, sizeof(name), "jemalloc");
        }
    }
    return name;
}

int tern_allocator_is_jemalloc(void) { return 1; }

void tern_thread_cache_flush(void) { mallctl("thread.tcache.flush", NULL, NULL, NULL, 0); }

void tern_allocator_background_thread(int on) {
    bool v = on != 0;
    mallctl("background_thread", NULL, NULL, &v, sizeof(v));
}

static __thread uint64_t *thread_allocated_p;
static __thread uint64_t *thread_deallocated_p;

static void thread_counters_init(void) {
    size_t len = sizeof(uint64_t *);
    if (mallctl("thread.allocatedp", &thread_allocated_p, &len, NULL, 0) != 0) thread_allocated_p = NULL;
    len = sizeof(uint64_t *);
    if (mallctl("thread.deallocatedp", &thread_deallocated_p, &len, NULL, 0) != 0) thread_deallocated_p = NULL;
}

uint64_t tern_thread_allocated(void) {
    if (!thread_allocated_p) thread_counters_init();
    return thread_allocated_p ? *thread_allocated_p : 0;
}

uint64_t tern_thread_deallocated(void) {
    if (!thread_deallocated_p) thread_counters_init();
    return thread_deallocated_p ? *thread_deallocated_p : 0;
}

struct stats_sink { char *buf; size_t len, cap; };

static void stats_write(void *opaque, const char *s) {
    struct stats_sink *k = opaque;
    size_t n = strlen(s);
    if (k->len + n + 1 > k->cap) {
        size_t cap = (k->cap ? k->cap : 4096);
        while (k->len + n + 1 > cap) cap *= 2;
        char *nb = realloc(k->buf, cap);
        if (!nb) return;
        k->buf = nb;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, s, n);
    k->len += n;
    k->buf[k->len] = 0;
}

char *tern_malloc_stats_text(void) {
    struct stats_sink k = {NULL, 0, 0};
    malloc_stats_print(stats_write, &k, NULL);
    if (!k.buf) return strdup("");
    return k.buf;
}

#else  /* glibc malloc */

size_t tern_malloc_usable_size(void *p) { return malloc_usable_size(p); }

/* glibc: chunk = max(32, (n + 8 + 15) & ~15) and 8 bytes of it are the size header. Big
   (mmapped) requests round differently; callers only compare, so a miss merely reallocates. */
size_t tern_malloc_good_size(size_t n) {
    size_t chunk = (n + 8 + 15) & ~(size_t)15;
    if (chunk < 32) chunk = 32;
    return chunk - 8;
}

size_t tern_malloc_allocated(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

void tern_malloc_trim(void) { malloc_trim(0); }

void tern_allocator_info_get(tern_allocator_info *out) {
    struct mallinfo2 mi = mallinfo2();
    out->allocated = mi.uordblks + mi.hblkhd;
    out->active = mi.arena + mi.hblkhd;      /* heap obtained via brk/mmap and still mapped */
    out->resident = mi.arena + mi.hblkhd;
    out->retained = 0;
    out->muzzy = 0;
}

const char *tern_allocator_name(void) { return "libc"; }
int tern_allocator_is_jemalloc(void) { return 0; }
void tern_thread_cache_flush(void) {}
void tern_allocator_background_thread(int on) { (void)on; }
uint64_t tern_thread_allocated(void) { return 0; }
uint64_t tern_thread_deallocated(void) { return 0; }

char *tern_malloc_stats_text(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return strdup("");
    malloc_info(0, f);
    fclose(f);
    return buf ? buf : strdup("");
}

#endif

void tern_random_bytes(void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom((char *)buf + got, n - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
    }
}

int tern_format_long_double(char *buf, size_t n, const char *fmt, long double v) {
    return snprintf(buf, n, fmt, v);
}

int tern_format_double(char *buf, size_t n, const char *fmt, double v) {
    return snprintf(buf, n, fmt, v);
}

long double tern_strtold(const char *s, size_t *consumed) {
    char *end = NULL;
    long double v = strtold(s, &end);
    *consumed = (size_t)(end - s);
    return v;
}

double tern_strtod(const char *s, size_t *consumed) {
    char *end = NULL;
    double v = strtod(s, &end);
    *consumed = (size_t)(end - s);
    return v;
}

size_t tern_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2) rss = 0;
    fclose(f);
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* struct sched_attr, version 0 (48 bytes), as the sched_setattr(2) syscall takes it. */
struct tern_sched_attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

int tern_thread_set_sched(int tid, int idle, int nice, unsigned long long slice_ns) {
#ifdef SYS_sched_setattr
    struct tern_sched_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.policy = idle ? 5 /* SCHED_IDLE */ : 0 /* SCHED_OTHER */;
    a.nice = nice;
    a.runtime = slice_ns;
    if (syscall(SYS_sched_setattr, tid, &a, 0) == 0) return 0;
    if (errno == EPERM) return -1;
    if (slice_ns > 0) {
        /* A kernel that takes no slice request for a fair task (before 6.12). */
        a.runtime = 0;
        if (syscall(SYS_sched_setattr, tid, &a, 0) == 0) return 0;
        if (errno == EPERM) return -1;
    }
#endif
    struct sched_param p;
    memset(&p, 0, sizeof p);
    if (sched_setscheduler(tid, idle ? 5 : 0, &p) != 0) return -1;
    if (!idle && setpriority(PRIO_PROCESS, (id_t)tid, nice) != 0) return -1;
    return 0;
}

int tern_gettid(void) { return (int)syscall(SYS_gettid); }

/* LZF decompression (the format Redis writes: a control byte below 32 is a literal run of
 * ctrl+1 bytes; otherwise a back reference of length (ctrl>>5)+2, extended by the next byte
 * when that field is 7, at distance ((ctrl&31)<<8 | next)+1). Every read and write is bounds
 * checked; copies go 8 or 16 bytes at a time when the buffers have room past the run (a
 * byte-at-a-time loop was 10% of loading a dump of LZF strings). Returns the output length
 * or -1 for a malformed stream. */
long tern_lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    size_t ip = 0, op = 0;
    while (ip < n) {
        size_t c = in[ip++];
        if (c < 32) {
            size_t l = c + 1;
            if (l > n - ip || l > cap - op) return -1;
            if (l <= 16 && n - ip >= 16 && cap - op >= 16) {
                memcpy(out + op, in + ip, 16);
            } else if (l <= 32 && n - ip >= 32 && cap - op >= 32) {
                memcpy(out + op, in + ip, 32);
            } else {
                memcpy(out + op, in + ip, l);
            }
            ip += l;
            op += l;
        } else {
            size_t l = c >> 5;
            if (l == 7) {
                if (ip >= n) return -1;
                l += in[ip++];
            }
            l += 2;
            if (ip >= n) return -1;
            size_t dist = ((c & 31) << 8 | in[ip++]) + 1;
            if (dist > op || l > cap - op) return -1;
            unsigned char *d = out + op;
            const unsigned char *s = d - dist;
            if (dist >= 8 && cap - op >= l + 8) {
                /* 8-byte steps: each reads bytes at least 8 behind what it writes. */
                for (size_t k = 0; k < l; k += 8) memcpy(d + k, s + k, 8);
            } else {
                for (size_t k = 0; k < l; k++) d[k] = s[k];
            }
            op += l;
        }
    }
    return (long)op;
}
