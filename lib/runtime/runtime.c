/* Owns backend lookup by name. */
#include "runtime/runtime.h"

#include <string.h>

#include "runtime/native.h"
#include "runtime/oci.h"
#include "util/strutil.h"

const runtime_backend *
runtime_backend_lookup (const char *name)
{
  if (!name || !*name || strcmp (name, "native") == 0)
    return &native_backend;
  if (str_has_prefix (name, "oci:"))
    return oci_backend_for (name + 4);
  if (strcmp (name, "runc") == 0 || strcmp (name, "crun") == 0 || strcmp (name, "runsc") == 0)
    return oci_backend_for (name);
  return NULL;
}
