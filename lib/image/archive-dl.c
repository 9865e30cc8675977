/* Owns loading libarchive on first use. */
#include "image/archive-dl.h"

#include <pthread.h>

#include "util/dynload.h"

/* the soname the build linked against (libarchive13's ABI) */
#define ARCHIVE_SONAME "libarchive.so.13"

box_archive_api box_archive;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static void
load (void)
{
#define BOX_ARCHIVE_NAME(name) #name,
  static const char *const names[] = { BOX_ARCHIVE_FUNCTIONS (BOX_ARCHIVE_NAME) };
#undef BOX_ARCHIVE_NAME
  _Static_assert (sizeof names / sizeof names[0] * sizeof (void *) == sizeof box_archive,
                  "every slot has a name");
  loaded = dynload_library (ARCHIVE_SONAME, names, (void **) &box_archive,
                            sizeof names / sizeof names[0], load_error, sizeof load_error)
           == 0;
}

bool
box_archive_load (void)
{
  pthread_once (&load_once, load);
  return loaded;
}
