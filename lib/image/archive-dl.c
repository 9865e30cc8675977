/* Owns loading libarchive on first use. */
#include "image/archive-dl.h"

#include "util/dynload.h"

/* the soname the build linked against (libarchive13's ABI) */
#define ARCHIVE_SONAME "libarchive.so.13"

box_archive_api box_archive;

DYNLOAD_TABLE (library, ARCHIVE_SONAME, box_archive, BOX_ARCHIVE_FUNCTIONS);

bool
box_archive_load (void)
{
  return dynload_once_load (&library);
}
