/* Owns loading libcurl on first use. Deliberately does not include curl-dl.h's macros
 * before the table is defined. */
#include "registry/curl-dl.h"

#include "util/dynload.h"

/* the soname the build linked against (libcurl4's ABI) */
#define CURL_SONAME "libcurl.so.4"

box_curl_api box_curl;

DYNLOAD_TABLE (library, CURL_SONAME, box_curl, BOX_CURL_FUNCTIONS);

bool
box_curl_load (void)
{
  return dynload_once_load (&library);
}

const char *
box_curl_load_error (void)
{
  return library.error;
}
