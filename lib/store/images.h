/* Rows of the image tables: images (id = config digest), their labels, repo tags and repo
 * digests, the layers they stack and the blobs they hold on to. Callers own transactions;
 * each function is one or a few statements. References are stored normalized
 * ("docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:…"). */
#ifndef BOX_STORE_IMAGES_H
#define BOX_STORE_IMAGES_H

#include <stdint.h>

#include "box/box.h"
#include "store/store.h"

typedef struct store_image_layer {
  char *chain_id;
  char *diff_id;
  char *blob_digest; /* the blob the layer came from; NULL when none is kept */
  char *blob_media_type;
  int64_t blob_size;
  int64_t size; /* uncompressed bytes */
} store_image_layer;

typedef struct store_image {
  char *id; /* "sha256:<hex>" of the config blob */
  int64_t created_ns;
  int64_t added_ns;
  int64_t size;
  char *architecture;
  char *os;
  char *config; /* the config blob's JSON text */
  char *manifest_digest;
  char *manifest_media_type;
  char **tags; /* normalized references, sorted */
  size_t n_tags;
  char **digests;
  size_t n_digests;
  store_image_layer *layers; /* lowest first */
  size_t n_layers;
  box_label *labels;
  size_t n_labels;
  char **blobs; /* every blob digest the image holds on to (config, manifest, layers, ...) */
  size_t n_blobs;
} store_image;

void store_image_free (store_image *image);
DEFINE_POINTER_CLEANUP (store_image, store_image_free)

/* Inserts an image with its labels, layers (layer rows are shared: existing ones are kept)
 * and blobs. An existing image id is BOX_E_CONFLICT. Tags and digests are set separately. */
int store_image_insert (store *s, const store_image *image, box_error **err);

/* 1 and *out when found, 0 when not. */
int store_image_get (store *s, const char *id, store_image **out, box_error **err);
/* The same with only what a box is built from: the id, config and layers (the other lists
 * stay empty). Two queries instead of seven, on every start. */
int store_image_get_for_box (store *s, const char *id, store_image **out, box_error **err);
/* 1 when an image with this id exists, 0 when not. */
int store_image_exists (store *s, const char *id, box_error **err);

/* 1 and *out_id when the reference is a tag / a digest reference, 0 when not. */
int store_image_id_by_tag (store *s, const char *reference, char **out_id, box_error **err);
int store_image_id_by_digest (store *s, const char *reference, char **out_id, box_error **err);

/* Counts images whose id hex starts with hex_prefix (stops at 2); when exactly one, *out_id. */
int store_image_find_by_id_prefix (store *s, const char *hex_prefix, char **out_id,
                                   box_error **err);

/* Every image id, newest first. */
int store_image_list_ids (store *s, char ***out, size_t *out_n, box_error **err);

/* Points a tag at an image (moving it from any other image). Returns 0. */
int store_image_tag_set (store *s, const char *reference, const char *image_id, box_error **err);
int store_image_digest_set (store *s, const char *reference, const char *image_id, box_error **err);

/* Return 1 when a row was deleted, 0 when none. */
int store_image_tag_delete (store *s, const char *reference, box_error **err);
int store_image_digest_delete (store *s, const char *reference, box_error **err);

/* Deletes an image row (labels, tags, digests, layer and blob links go with it) and reports
 * what nothing references any more: blob digests, and layer chain ids (whose rows are deleted
 * too). The caller removes those files after committing. */
int store_image_delete (store *s, const char *id, char ***out_orphan_blobs, size_t *out_n_blobs,
                        char ***out_orphan_layers, size_t *out_n_layers, box_error **err);

/* How many image links a layer / a blob has (under the write lock, the answer holds until
 * commit: files are removed only when it is 0). */
int store_layer_reference_count (store *s, const char *chain_id, int *out, box_error **err);
int store_blob_reference_count (store *s, const char *digest, int *out, box_error **err);

/* Deletes a layer row; 1 when one was deleted. */
int store_layer_delete (store *s, const char *chain_id, box_error **err);

/* Size of a layer row, 1 when found. */
int store_layer_get_size (store *s, const char *chain_id, int64_t *out_size, box_error **err);

#endif
