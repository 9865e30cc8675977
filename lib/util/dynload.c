/* Owns loading shared libraries on first use. */
#include "util/dynload.h"

#include <dlfcn.h>
#include <stdio.h>

int
dynload_library (const char *soname, const char *const *names, void **slots, size_t n, char *error,
                 size_t error_size)
{
  void *handle = dlopen (soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    {
      snprintf (error, error_size, "load %s: %s", soname, dlerror ());
      return -1;
    }
  for (size_t i = 0; i < n; i++)
    {
      void *symbol = dlsym (handle, names[i]);
      if (!symbol)
        {
          snprintf (error, error_size, "load %s: no symbol %s", soname, names[i]);
          for (size_t k = 0; k < i; k++)
            slots[k] = NULL;
          /* the handle stays open: the library may be in use through another loader */
          return -1;
        }
      slots[i] = symbol;
    }
  return 0;
}

bool
dynload_once_load (dynload_once *l)
{
  int state = __atomic_load_n (&l->state, __ATOMIC_ACQUIRE);
  if (state == 0)
    {
      pthread_mutex_lock (&l->lock);
      if (l->state == 0)
        __atomic_store_n (
            &l->state,
            dynload_library (l->soname, l->names, l->slots, l->n, l->error, sizeof l->error) == 0
                ? 1
                : -1,
            __ATOMIC_RELEASE);
      state = l->state;
      pthread_mutex_unlock (&l->lock);
    }
  return state > 0;
}
