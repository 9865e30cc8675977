/* The oci backend: an OCI runtime binary (runc, crun, runsc) driven through its CLI, with its
 * state under the engine's state directory (--root). */
#ifndef BOX_RUNTIME_OCI_H
#define BOX_RUNTIME_OCI_H

#include "runtime/runtime.h"

/* The backend for that binary: a name looked up in $PATH ("runc") or an absolute path.
 * Backends live as long as the process; NULL when the binary cannot be found. */
const runtime_backend *oci_backend_for (const char *binary);

#endif
