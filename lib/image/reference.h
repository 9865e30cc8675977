/* Image references, normalized the way docker does: `busybox` is
 * `docker.io/library/busybox:latest`, `host:port/repo:tag` keeps its registry, `repo@sha256:…`
 * names content, and a tag and a digest may come together. Parsing needs no allocation: the
 * parts land in fixed buffers sized by the grammar's limits. */
#ifndef BOX_IMAGE_REFERENCE_H
#define BOX_IMAGE_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* docker's limits: a full name (domain/path) of at most 255 bytes, a tag of at most 128 */
#define IMAGE_REFERENCE_NAME_MAX 255
#define IMAGE_REFERENCE_TAG_MAX 128
/* "sha512:" + 128 hex is the longest digest accepted */
#define IMAGE_REFERENCE_DIGEST_MAX 135
/* name ":" tag "@" digest, NUL */
#define IMAGE_REFERENCE_STRING_MAX                                                                 \
  (IMAGE_REFERENCE_NAME_MAX + 1 + IMAGE_REFERENCE_TAG_MAX + 1 + IMAGE_REFERENCE_DIGEST_MAX + 1)

#define IMAGE_DEFAULT_DOMAIN "docker.io"
#define IMAGE_DEFAULT_TAG "latest"

typedef struct image_reference {
  char domain[IMAGE_REFERENCE_NAME_MAX + 1];   /* "docker.io", "localhost:5000" */
  char path[IMAGE_REFERENCE_NAME_MAX + 1];     /* "library/busybox" */
  char tag[IMAGE_REFERENCE_TAG_MAX + 1];       /* "" when none was given */
  char digest[IMAGE_REFERENCE_DIGEST_MAX + 1]; /* "" when none was given */
} image_reference;

/* Parses and normalizes text. No tag is added (see image_reference_default_tag). Invalid
 * input is BOX_E_INVALID with a message that names the reference and what is wrong. */
int image_reference_parse (const char *text, image_reference *out, box_error **err);

/* Adds the tag "latest" when the reference has neither a tag nor a digest. */
void image_reference_default_tag (image_reference *ref);

/* "docker.io/library/busybox" */
void image_reference_name (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX]);

/* "docker.io/library/busybox:latest", "localhost:5000/a@sha256:…", name:tag@digest */
void image_reference_string (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX]);

/* The short form docker prints: "busybox:latest", "user/app:1", "localhost:5000/a:b". */
void image_reference_familiar_string (const image_reference *ref,
                                      char out[IMAGE_REFERENCE_STRING_MAX]);
void image_reference_familiar_name (const image_reference *ref,
                                    char out[IMAGE_REFERENCE_STRING_MAX]);

/* Rewrites a normalized reference string (as the store keeps them) into its familiar form;
 * text that does not parse is copied unchanged. */
void image_reference_familiarize (const char *normalized, char out[IMAGE_REFERENCE_STRING_MAX]);

/* True for a valid digest string "algorithm:hex" of an algorithm box verifies (sha256 with
 * 64 lowercase hex chars, sha512 with 128). */
bool image_digest_is_valid (const char *digest);

#endif
