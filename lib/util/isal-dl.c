/* Owns loading ISA-L's igzip on first use. */
#include "util/isal-dl.h"

#include <pthread.h>

#include "util/dynload.h"

/* the soname the build linked against */
#define ISAL_SONAME "libisal.so.2"

box_isal_api box_isal;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static void
load (void)
{
#define BOX_ISAL_NAME(name) #name,
  static const char *const names[] = { BOX_ISAL_FUNCTIONS (BOX_ISAL_NAME) };
#undef BOX_ISAL_NAME
  _Static_assert (sizeof names / sizeof names[0] * sizeof (void *) == sizeof box_isal,
                  "every slot has a name");
  loaded = dynload_library (ISAL_SONAME, names, (void **) &box_isal,
                            sizeof names / sizeof names[0], load_error, sizeof load_error)
           == 0;
}

bool
box_isal_load (const char **why)
{
  pthread_once (&load_once, load);
  if (!loaded && why)
    *why = load_error;
  return loaded;
}
