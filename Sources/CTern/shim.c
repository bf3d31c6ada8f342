#define _GNU_SOURCE
#include "CTern.h"
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

size_t tern_malloc_usable_size(void *p) { return malloc_usable_size(p); }

size_t tern_malloc_allocated(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

void tern_malloc_trim(void) { malloc_trim(0); }

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
