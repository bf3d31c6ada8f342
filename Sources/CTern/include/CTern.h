#ifndef CTERN_H
#define CTERN_H
#include <stddef.h>
#include <stdint.h>

/* Small C shims for libc facilities Swift's Glibc module does not import. */

size_t tern_malloc_usable_size(void *p);
/* Bytes currently allocated by malloc (mallinfo2 uordblks + hblkhd). */
size_t tern_malloc_allocated(void);
/* Trims free heap memory back to the OS. */
void tern_malloc_trim(void);
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

#endif
