/* Scope-bound ownership: every owned resource lives in a cleanup variable from the line it is
 * acquired, so early returns never leak; TAKE_PTR / TAKE_FD hand ownership out. */
#ifndef BOX_UTIL_CLEANUP_H
#define BOX_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(fn) __attribute__ ((cleanup (fn)))
#define _cleanup_free_ _cleanup_ (freep)
#define _cleanup_close_ _cleanup_ (closep)
#define _cleanup_fclose_ _cleanup_ (fclosep)
#define _cleanup_closedir_ _cleanup_ (closedirp)
#define _cleanup_strv_ _cleanup_ (strv_freep)

#define TAKE_PTR(p)                                                                                \
  ({                                                                                               \
    __typeof__ (p) taken_ = (p);                                                                   \
    (p) = NULL;                                                                                    \
    taken_;                                                                                        \
  })

#define TAKE_FD(fd)                                                                                \
  ({                                                                                               \
    int taken_fd_ = (fd);                                                                          \
    (fd) = -1;                                                                                     \
    taken_fd_;                                                                                     \
  })

static inline void
freep (void *p)
{
  free (*(void **) p);
}

static inline void
closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

static inline void
fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void
closedirp (DIR **d)
{
  if (*d)
    closedir (*d);
}

static inline void
strv_free (char **v)
{
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

static inline void
strv_freep (char ***v)
{
  strv_free (*v);
}

/* Declares a pointer-cleanup helper `name##p` for a type with a free function. */
#define DEFINE_POINTER_CLEANUP(type, free_fn)                                                      \
  static inline void free_fn##p (type **p)                                                         \
  {                                                                                                \
    if (*p)                                                                                        \
      free_fn (*p);                                                                                \
  }

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#endif
