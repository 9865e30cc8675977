/* Owns loading ISA-L's igzip on first use. */
#include "util/isal-dl.h"

#include "util/dynload.h"

/* the soname the build linked against */
#define ISAL_SONAME "libisal.so.2"

box_isal_api box_isal;

DYNLOAD_TABLE (library, ISAL_SONAME, box_isal, BOX_ISAL_FUNCTIONS);

bool
box_isal_load (const char **why)
{
  if (dynload_once_load (&library))
    return true;
  if (why)
    *why = library.error;
  return false;
}
