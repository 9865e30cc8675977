/* Loading a shared library on first use instead of at program start. libbox links libcurl
 * (registry) and libarchive (layers), whose dependency trees cost milliseconds to map,
 * relocate and initialise in every process; most box invocations (run, ps, inspect, the
 * per-box monitor) never touch them. Their users call through a table of function pointers
 * filled here the first time it is needed. */
#ifndef BOX_UTIL_DYNLOAD_H
#define BOX_UTIL_DYNLOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* dlopen()s soname and resolves names[i] into slots[i] for every i < n. On failure returns
 * -1 and writes why into error (of error_size bytes); nothing is half-filled. */
int dynload_library (const char *soname, const char *const *names, void **slots, size_t n,
                     char *error, size_t error_size);

/* A library loaded the first time one of its users needs it, into a table of function
 * pointers (a struct of them, in the order of names). */
typedef struct dynload_once {
  const char *soname;
  const char *const *names;
  size_t n;
  void **slots;
  pthread_mutex_t lock;
  int state; /* 0: not tried yet, 1: loaded, -1: failed (error says why) */
  char error[256];
} dynload_once;

#define DYNLOAD_ONCE_INIT(soname, names, table)                                                    \
  {                                                                                                \
    (soname), (names), sizeof (names) / sizeof (names)[0], (void **) &(table),                     \
        PTHREAD_MUTEX_INITIALIZER, 0, ""                                                           \
  }

/* Defines `library`, a dynload_once that fills table (a struct of function pointers) with
 * the functions FUNCTIONS(X) lists, X (name) each, in the order of table's members. */
#define DYNLOAD_NAME_(name) #name,
#define DYNLOAD_TABLE(library, soname, table, FUNCTIONS)                                           \
  static const char *const library##_names[] = { FUNCTIONS (DYNLOAD_NAME_) };                      \
  _Static_assert(sizeof library##_names / sizeof library##_names[0] * sizeof (void *)              \
                     == sizeof table,                                                              \
                 "every slot has a name");                                                         \
  static dynload_once library = DYNLOAD_ONCE_INIT (soname, library##_names, table)

/* Loads it on the first call (thread-safe; a failure is not retried); false when it cannot
 * be loaded, and then l->error says why. */
bool dynload_once_load (dynload_once *l);

#endif
