/* Image manifests as registries serve them: OCI image manifest and index, Docker schema2
 * manifest and manifest list. Parsing validates what the pull pipeline relies on (digests,
 * sizes, media types) so nothing downstream sees a malformed descriptor; platform selection
 * picks one manifest out of an index. */
#ifndef BOX_REGISTRY_MANIFEST_H
#define BOX_REGISTRY_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"
#include "util/error.h"

#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_TYPE_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* The Accept header value for manifest requests: every type we can parse. */
#define MANIFEST_ACCEPT_HEADER                                                                     \
  "Accept: " MEDIA_TYPE_OCI_INDEX ", " MEDIA_TYPE_OCI_MANIFEST ", " MEDIA_TYPE_DOCKER_LIST         \
  ", " MEDIA_TYPE_DOCKER_MANIFEST

/* Manifests are small; a larger document is refused before parsing (distribution's own
 * limit is 4 MiB). */
#define MANIFEST_MAX_SIZE (4u * 1024 * 1024)

typedef enum layer_compression {
  LAYER_COMPRESSION_NONE,
  LAYER_COMPRESSION_GZIP,
  LAYER_COMPRESSION_ZSTD,
} layer_compression;

typedef struct registry_descriptor {
  char *media_type;
  char *digest; /* "sha256:<64 lowercase hex>" */
  int64_t size;
  /* only for the entries of an index */
  char *os, *architecture, *variant;
} registry_descriptor;

typedef enum manifest_kind {
  MANIFEST_KIND_IMAGE, /* config + layers */
  MANIFEST_KIND_INDEX, /* manifests, one per platform */
} manifest_kind;

typedef struct registry_manifest {
  manifest_kind kind;
  char *media_type;
  registry_descriptor config;  /* image only */
  registry_descriptor *layers; /* image only, lowest first */
  size_t n_layers;
  registry_descriptor *manifests; /* index only */
  size_t n_manifests;
} registry_manifest;

/* Parses a manifest body; content_type (may be NULL) is the server's Content-Type, used when
 * the document has no mediaType of its own. Schema1 manifests are refused as unsupported. */
int registry_manifest_parse (const char *body, size_t len, const char *content_type,
                             registry_manifest **out, box_error **err);
void registry_manifest_free (registry_manifest *m);
DEFINE_POINTER_CLEANUP (registry_manifest, registry_manifest_free)

/* The compression of a layer media type; unknown or non-distributable types are refused. */
int registry_layer_compression (const char *media_type, layer_compression *out, box_error **err);

/* "linux/<arch>" of this host in OCI's architecture words (amd64, arm64, ...), with the
 * variant for arm ("linux/arm/v7"). */
const char *registry_host_platform (void);

/* Picks the entry of an index matching platform ("os/arch[/variant]", NULL: the host's).
 * An arm64 entry without a variant matches "linux/arm64/v8" and the other way round. */
int registry_index_select (const registry_manifest *index, const char *platform,
                           const registry_descriptor **out, box_error **err);

/* True when s is "sha256:" + 64 lowercase hex digits (the only algorithm box accepts). */
bool registry_digest_is_valid (const char *s);

#endif
