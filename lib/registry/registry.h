/* What the registry concern offers the rest of the engine beyond the public API. */
#ifndef BOX_REGISTRY_REGISTRY_H
#define BOX_REGISTRY_REGISTRY_H

#include "util/error.h"

#define REGISTRY_HOST_MAX 256

/* Reduces what a user names as a registry ("https://host:5000/", "host:5000", nothing) to
 * "host[:port]"; docker's default registry, under any of its names, is "docker.io". */
int registry_normalize_host (const char *input, char out[REGISTRY_HOST_MAX], box_error **err);

#endif
