/* The image store: image records over the content store (blobs) and the layer store
 * (unpacked layers). Everything that creates an image — import, pull, load — ends in
 * image_store_add once its blobs are stored and its layers unpacked; lookups, tagging and
 * removal (with the garbage collection of blobs and layers nothing references any more) live
 * here too.
 *
 * A box's record references an image when its `image` field is the image id (with or without
 * "sha256:"), when its config JSON has "ImageID" equal to the id, or when its `image`
 * reference resolves to the image by tag or digest. Such an image is not removed without
 * force, and never pruned. */
#ifndef BOX_IMAGE_IMAGE_STORE_H
#define BOX_IMAGE_IMAGE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "box/box.h"
#include "util/digest.h"
#include "util/error.h"

typedef struct image_add_layer {
  const char *diff_id;         /* sha256 of the uncompressed tar; its layer must be unpacked */
  const char *blob_digest;     /* the (compressed) blob in the content store, or NULL */
  const char *blob_media_type; /* its media type, or NULL */
  int64_t blob_size;
  int64_t size; /* uncompressed bytes */
} image_add_layer;

typedef struct image_add_request {
  const char *config_digest;   /* the config blob, already in the content store */
  const char *manifest_digest; /* NULL when none is kept */
  const char *manifest_media_type;
  const image_add_layer *layers; /* rootfs order, lowest first; must match rootfs.diff_ids */
  size_t n_layers;
  const char *const *extra_blobs; /* other blobs the image holds on to (an index, ...) */
  size_t n_extra_blobs;
  const char *tag;          /* a reference to tag the image with, or NULL */
  const char *repo_digest;  /* "name@sha256:<manifest>" to record, or NULL */
  const char *event_action; /* the image event to record: "import", "pull", "load" */
} image_add_request;

/* Records an image (or, when it exists, only its new tag/digest) in one transaction. The
 * config is validated and its diff ids checked against the layers, whose directories must be
 * ready. */
int image_store_add (box_engine *eng, const image_add_request *req, box_error **err);

/* How a reference matched. */
typedef enum image_match {
  IMAGE_MATCH_ID,     /* full id, "sha256:" id, or unique id prefix */
  IMAGE_MATCH_TAG,    /* name[:tag] */
  IMAGE_MATCH_DIGEST, /* name@digest */
} image_match;

/* Resolves a user reference: exact id (64 hex, with or without "sha256:") → name[:tag]
 * (default tag latest) → name@digest → unique id prefix (hex, optionally "sha256:"). Two
 * prefix matches are BOX_E_AMBIGUOUS; nothing is BOX_E_NOT_FOUND. *out_normalized (may be
 * NULL) receives the normalized reference for tag and digest matches, the id otherwise.
 * Usable inside a transaction. */
int image_store_resolve (box_engine *eng, const char *ref, char **out_id, image_match *out_match,
                         char **out_normalized, box_error **err);

/* 1 and the first such box id when a box's record references the image, 0 when none. */
int image_store_find_user (box_engine *eng, const char *image_id, char out_box_id[65],
                           box_error **err);

/* Deletes an image record and then the blobs and layers nothing references any more; adds
 * the bytes freed to *reclaimed (may be NULL). Call outside a transaction. */
int image_store_delete (box_engine *eng, const char *image_id, uint64_t *reclaimed,
                        box_error **err);

/* Appends an image event (tag, untag, delete, pull, load, ...) of image_id, named name (the
 * id when NULL), to the store's event log. */
int image_store_event (box_engine *eng, const char *action, const char *image_id, const char *name,
                       box_error **err);

/* "amd64", "arm64", ... for this host, as OCI platforms name architectures. */
const char *image_host_architecture (void);

#endif
