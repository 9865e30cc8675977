/* A client for one repository on one registry (OCI distribution spec): manifests, blobs
 * (streamed, resumed after a dropped connection, redirects followed), existence checks,
 * uploads (monolithic or chunked), cross-repository mounts, manifest upload.
 *
 * Authentication is transparent: a 401 is answered with Basic credentials or with a Bearer
 * token fetched from the challenge's realm (tokens are cached per realm, service, scope and
 * user until they expire, process-wide). Transient failures (connection errors, 429, 5xx) are
 * retried with exponential backoff. Plain HTTP is used only for loopback registries and for
 * ones the engine's registry settings list as insecure; docker.io may be served by mirrors.
 *
 * A client may be used from several threads at once (parallel layer downloads). */
#ifndef BOX_REGISTRY_CLIENT_H
#define BOX_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/http.h"
#include "util/cleanup.h"
#include "util/error.h"

/* docker's default registry, as references name it, and the endpoint that serves it */
#define REGISTRY_DOCKER_HUB_HOST "docker.io"

/* Engine settings for registries, read from <state dir>/registries.json (docker's daemon.json
 * key names):
 *   { "insecure-registries": ["myregistry:5000", ...],
 *     "registry-mirrors": ["http://127.0.0.1:5001", "https://mirror.example"] }
 * Insecure registries are spoken to over plain HTTP; mirrors are tried in order before
 * docker.io for pulls. A missing file means no settings. */
typedef struct registry_settings {
  char **insecure_registries; /* NULL-terminated, may be NULL */
  char **mirrors;             /* NULL-terminated base URLs, may be NULL */
} registry_settings;

#define REGISTRY_SETTINGS_FILE "registries.json"

int registry_settings_load (int root_dirfd, registry_settings **out, box_error **err);
void registry_settings_free (registry_settings *settings);
DEFINE_POINTER_CLEANUP (registry_settings, registry_settings_free)

typedef enum registry_access {
  REGISTRY_ACCESS_PULL = 1,
  REGISTRY_ACCESS_PUSH = 2, /* implies pull */
} registry_access;

typedef struct registry_client registry_client;

/* host: "host[:port]" as in a normalized reference ("docker.io" for the default registry);
 * repository: the path ("library/busybox"). settings may be NULL. */
int registry_client_new (const char *host, const char *repository, registry_access access,
                         const registry_settings *settings, registry_client **out, box_error **err);
void registry_client_free (registry_client *client);
DEFINE_POINTER_CLEANUP (registry_client, registry_client_free)

/* Asks for pull access to another repository of the same registry too (for cross-repository
 * mounts); call before the first request. */
int registry_client_add_source_repository (registry_client *client, const char *repository,
                                           box_error **err);

const char *registry_client_host (const registry_client *client);

/* Checks that the registry accepts the client's credentials (GET /v2/, with the token
 * flow when the registry asks for it). Used by `box login`. */
int registry_check_credentials (const char *host, const char *username, const char *password,
                                const registry_settings *settings, box_error **err);

typedef struct registry_fetched_manifest {
  char *body;
  size_t len;
  char *content_type;
  char *digest; /* sha256 of body, verified against the requested digest when by digest */
} registry_fetched_manifest;

void registry_fetched_manifest_clear (registry_fetched_manifest *m);

/* GETs the manifest for reference (a tag or "sha256:..."). */
int registry_get_manifest (registry_client *client, const char *reference,
                           registry_fetched_manifest *out, box_error **err);

/* Streams blob digest to sink, starting at byte offset (to continue a partial download).
 * Dropped connections are retried with a Range request from where the bytes stopped, so the
 * sink sees every byte exactly once, in order. expected_size (-1: unknown) bounds the
 * transfer: more bytes than that is an error. Verification is the caller's. */
int registry_fetch_blob (registry_client *client, const char *digest, int64_t expected_size,
                         int64_t offset, http_sink_fn sink, void *sink_data, box_error **err);

/* Fetches a small blob (an image config) into memory and verifies its digest. */
int registry_fetch_small_blob (registry_client *client, const char *digest, int64_t size,
                               char **out, size_t *out_len, box_error **err);

/* HEAD of a blob in the client's repository. */
int registry_blob_exists (registry_client *client, const char *digest, bool *out_exists,
                          box_error **err);

/* Tries to mount digest from another repository of the same registry (no upload).
 * *out_mounted is false when the registry answered with an upload session instead (the
 * session is cancelled). */
int registry_mount_blob (registry_client *client, const char *digest, const char *from_repository,
                         bool *out_mounted, box_error **err);

/* Told how many bytes of a blob have been sent (a retried request starts its part again). */
typedef void (*registry_upload_progress_fn) (int64_t sent, void *userdata);

/* Uploads size bytes read from fd (from its current offset) as blob digest. Blobs up to
 * chunk_threshold go in one request (POST then PUT); bigger ones in PATCH chunks of that
 * size, which lets a registry behind a body-size-limited proxy take them. 0: a default.
 * progress may be NULL. */
int registry_upload_blob (registry_client *client, const char *digest, int fd, int64_t size,
                          int64_t chunk_threshold, registry_upload_progress_fn progress,
                          void *progress_userdata, box_error **err);

/* PUTs a manifest under reference (tag or digest). */
int registry_put_manifest (registry_client *client, const char *reference, const char *media_type,
                           const char *body, size_t len, box_error **err);

#endif
