/* Owns loading libcurl on first use. Deliberately does not include curl-dl.h's macros
 * before the table is defined. */
#include "registry/curl-dl.h"

#include <pthread.h>

#include "util/dynload.h"

/* the soname the build linked against (libcurl4's ABI) */
#define CURL_SONAME "libcurl.so.4"

box_curl_api box_curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static void
load (void)
{
#define BOX_CURL_NAME(name) #name,
  static const char *const names[] = { BOX_CURL_FUNCTIONS (BOX_CURL_NAME) };
#undef BOX_CURL_NAME
  _Static_assert (sizeof names / sizeof names[0] * sizeof (void *) == sizeof box_curl,
                  "every slot has a name");
  loaded = dynload_library (CURL_SONAME, names, (void **) &box_curl,
                            sizeof names / sizeof names[0], load_error, sizeof load_error)
           == 0;
}

bool
box_curl_load (void)
{
  pthread_once (&load_once, load);
  return loaded;
}

const char *
box_curl_load_error (void)
{
  return load_error;
}
