/* Wall-clock time in nanoseconds and its RFC 3339 form (docker's timestamps); monotonic time
 * in milliseconds for timeouts. */
#ifndef BOX_UTIL_TIMEUTIL_H
#define BOX_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t time_now_ns (void);
/* CLOCK_MONOTONIC in milliseconds: for deadlines, never for what is shown. */
int64_t time_monotonic_ms (void);

/* "2026-11-22T13:01:13.123456789Z"; 0 becomes "0001-01-01T00:00:00Z" as docker prints an
 * unset time. buf needs at least TIME_RFC3339_MAX bytes. */
#define TIME_RFC3339_MAX 40
void time_format_rfc3339 (int64_t ns, char *buf, size_t size);

#endif
