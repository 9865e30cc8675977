/* Image archives, both directions: `box save` writes docker-archive (manifest.json,
 * repositories, <config hex>.json, <diff id hex>.tar uncompressed layers — the classic
 * `docker save` layout) or oci-archive (oci-layout, index.json, blobs/sha256/<hex> with the
 * stored manifest, config and layer blobs as they are); `box load` reads either (and the
 * docker >= 25 layout, which carries both) from a file or a pipe in one pass.
 *
 * Load stores every blob it reads in the content store (OCI blobs verified against their
 * names), then unpacks each image's layers from the stored blobs, checks every diff id against
 * the config, and records the images with their names. Blobs the archive carried that no
 * loaded image uses are removed again (unless they were already in the store). */
#ifndef BOX_IMAGE_ARCHIVE_H
#define BOX_IMAGE_ARCHIVE_H

#include <stddef.h>

#include "box/box.h"
#include "util/error.h"

/* Writes the images refs name (tags, digests, ids) as one archive to out_fd. A tag reference
 * adds that tag to the archive; an id adds none. */
int image_archive_save (box_engine *eng, const char *const *refs, size_t n_refs,
                        box_image_archive_format format, int out_fd, box_error **err);

/* Loads every image of the archive read from in_fd. *out_loaded (may be NULL) receives what
 * was loaded, one string per name ("busybox:latest") or per unnamed image (its id); free with
 * box_image_load_list_free. */
int image_archive_load (box_engine *eng, int in_fd, char ***out_loaded, size_t *out_n,
                        box_error **err);

#endif
