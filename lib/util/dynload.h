/* Loading a shared library on first use instead of at program start. libbox links libcurl
 * (registry) and libarchive (layers), whose dependency trees cost milliseconds to map,
 * relocate and initialise in every process; most box invocations (run, ps, inspect, the
 * per-box monitor) never touch them. Their users call through a table of function pointers
 * filled here the first time it is needed. */
#ifndef BOX_UTIL_DYNLOAD_H
#define BOX_UTIL_DYNLOAD_H

#include <stddef.h>

/* dlopen()s soname and resolves names[i] into slots[i] for every i < n. On failure returns
 * -1 and writes why into error (of error_size bytes); nothing is half-filled. */
int dynload_library (const char *soname, const char *const *names, void **slots, size_t n,
                     char *error, size_t error_size);

#endif
