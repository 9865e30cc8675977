/* What the rest of the engine needs from the image store: an image, resolved from a user
 * reference, as the lowers of a box rootfs plus its parsed config. */
#ifndef BOX_IMAGE_IMAGE_H
#define BOX_IMAGE_IMAGE_H

#include <jansson.h>
#include <stddef.h>

#include "box/box.h"
#include "util/error.h"

typedef struct image_for_box {
  char *id;            /* "sha256:<hex>" of the config blob */
  char *reference;     /* the normalized reference it was found by, or the id */
  char **layer_dirs;   /* absolute paths of unpacked layers, lowest first */
  size_t n_layers;
  json_t *config;      /* the image config's "config" object (Env, Cmd, Entrypoint, WorkingDir,
                          User, ExposedPorts, Volumes, Labels, StopSignal, Healthcheck) */
} image_for_box;

/* Resolves ref (name[:tag], name@digest, full or short image id) to an image whose layers
 * are all unpacked and ready. */
int image_resolve_for_box (box_engine *eng, const char *ref, image_for_box **out, box_error **err);
void image_for_box_free (image_for_box *image);

#endif
