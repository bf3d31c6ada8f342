#ifndef CTERN_H
#define CTERN_H
#include <stddef.h>
#include <stdint.h>

/* Small C shims for libc facilities Swift's Glibc module does not import. */

size_t tern_malloc_usable_size(void *p);
/* The usable size malloc(n) would return (jemalloc: nallocx; glibc: its chunk rounding for
   small requests). Lets an entry be rewritten in place when the new layout lands in the
   same size class, so no byte is wasted. */
size_t tern_malloc_good_size(size_t n);
/* Bytes currently allocated (jemalloc: stats.allocated after an epoch refresh; glibc:
   mallinfo2 uordblks + hblkhd). Costs microseconds: callers cache it. */
size_t tern_malloc_allocated(void);
/* Returns memory the allocator holds free to the OS (jemalloc: arena.<all>.purge; glibc:
   malloc_trim). */
void tern_malloc_trim(void);

/* Allocator statistics as INFO memory reports them (Redis's zmalloc_get_allocator_info). */
typedef struct {
    size_t allocated;   /* bytes in live allocations (usable sizes) */
    size_t active;      /* bytes in active pages (allocated + fragmentation inside pages) */
    size_t resident;    /* bytes in physically resident pages the allocator maps */
    size_t retained;    /* bytes retained but returned to the OS (jemalloc) */
    size_t muzzy;       /* bytes in muzzy (lazily purged) pages */
} tern_allocator_info;
void tern_allocator_info_get(tern_allocator_info *out);
/* Name INFO prints as mem_allocator ("jemalloc-5.3.0" or "libc"). */
const char *tern_allocator_name(void);
/* Nonzero when Tern is linked against jemalloc. */
int tern_allocator_is_jemalloc(void);

/* Returns the calling thread's cached free blocks to the arenas (jemalloc); a no-op under
   glibc. The lazy-free thread calls it after each job so what it freed stops counting as
   allocated. */
void tern_thread_cache_flush(void);

/* jemalloc-bg-thread: jemalloc's background purging threads on or off (no-op under glibc). */
void tern_allocator_background_thread(int on);

/* Cheap counters of bytes allocated and freed by the calling thread (jemalloc's
   thread.allocatedp / thread.deallocatedp); both return 0 under glibc. The first call on a
   thread looks the pointers up; later calls are two loads. */
uint64_t tern_thread_allocated(void);
uint64_t tern_thread_deallocated(void);

/* The allocator's own statistics report (MEMORY MALLOC-STATS). Returns a malloc'd string the
   caller frees. */
char *tern_malloc_stats_text(void);

void tern_random_bytes(void *buf, size_t n);
/* snprintf with a long double argument, e.g. "%.17Lf" / "%.17Lg". */
int tern_format_long_double(char *buf, size_t n, const char *fmt, long double v);
/* snprintf with a double argument. */
int tern_format_double(char *buf, size_t n, const char *fmt, double v);
/* strtold over a NUL-terminated string; *end receives the number of bytes consumed. */
long double tern_strtold(const char *s, size_t *consumed);
double tern_strtod(const char *s, size_t *consumed);
/* Resident set size of this process in bytes (from /proc/self/statm). */
size_t tern_rss_bytes(void);
/* Sets the scheduling of thread `tid` (0: the caller): SCHED_IDLE when `idle`, else
   SCHED_OTHER at `nice` with an EEVDF slice request of `slice_ns` (Linux 6.12+ reads
   sched_runtime as a fair task's slice; 0 keeps the kernel's default; an older kernel gets
   the policy and nice value only). Returns 0, or -1 when refused (EPERM: raising a thread's
   priority needs CAP_SYS_NICE or RLIMIT_NICE). */
int tern_thread_set_sched(int tid, int idle, int nice, unsigned long long slice_ns);

/* Byte atomics for the snapshot's bucket versions (the engine and a walking writer thread
   claim buckets with a compare-and-swap). */
static inline unsigned char tern_atomic_load_u8(const unsigned char *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void tern_atomic_store_u8(unsigned char *p, unsigned char v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline int tern_atomic_cas_u8(unsigned char *p, unsigned char expected, unsigned char desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void tern_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The caller's kernel thread id. */
int tern_gettid(void);

/* LZF decompression with bounds checks: the output length, or -1 for a malformed stream. */
long tern_lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

#endif
