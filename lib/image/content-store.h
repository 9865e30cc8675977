/* The content store: blobs addressed by their sha256 digest under <state>/blobs/sha256/<hex>,
 * the layout of an OCI image layout's blobs directory. A blob is written to a temporary file
 * in the same directory while it is hashed, verified against the digest it must have, fsynced,
 * and only then becomes visible by an atomic rename. Blobs are shared by every image that
 * references them; a reader never sees a partial blob.
 *
 * Several processes may write the same blob at once: both verify, both rename, and the
 * content is the same. A writer holds an flock on its temporary file, so the repair on the
 * next engine open removes only temporaries whose writer is gone. */
#ifndef BOX_IMAGE_CONTENT_STORE_H
#define BOX_IMAGE_CONTENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "box/box.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/error.h"

typedef struct content_writer content_writer;

/* Starts a blob. expected_digest ("sha256:<hex>") may be NULL when the digest is only known
 * after the last byte (then commit reports it). */
int content_writer_open (box_engine *eng, const char *expected_digest, content_writer **out,
                         box_error **err);

int content_writer_write (content_writer *w, const void *data, size_t len, box_error **err);

/* Bytes written so far. */
uint64_t content_writer_size (const content_writer *w);

/* Verifies, fsyncs and renames the blob into place, writing its digest into out_digest (may
 * be NULL). A digest other than the expected one is BOX_E_INVALID naming both, and nothing is
 * left behind. The writer is finished either way: free it with content_writer_abort. */
int content_writer_commit (content_writer *w, char out_digest[DIGEST_STRING_MAX], box_error **err);

/* Frees the writer, removing its temporary file unless it was committed. Accepts NULL. */
void content_writer_abort (content_writer *w);
DEFINE_POINTER_CLEANUP (content_writer, content_writer_abort)

/* A writer for a download that may be interrupted: its temporary is
 * blobs/sha256/.partial-<hex of expected_digest> and outlives the writer when it is freed
 * without a commit (a failed or killed pull), so the next writer for the same digest
 * continues it instead of starting over. A partial larger than expected_size is discarded.
 * When another live writer holds the partial, this is an ordinary writer. A partial whose
 * content turns out wrong (digest mismatch at commit, or content_writer_discard_partial) is
 * removed; partials nobody resumed for PARTIAL_MAX_AGE_DAYS are removed on engine open. */
#define CONTENT_PARTIAL_MAX_AGE_DAYS 7
int content_writer_open_resumable (box_engine *eng, const char *expected_digest,
                                   uint64_t expected_size, content_writer **out, box_error **err);

/* Hands the bytes an earlier writer left (0 for a fresh writer) to fn in order, hashing
 * them; later writes append. */
int content_writer_replay (content_writer *w,
                           int (*fn) (void *userdata, const void *data, size_t len,
                                      box_error **err),
                           void *userdata, box_error **err);

/* Makes a resumable writer remove its partial when freed (its content proved unusable). */
void content_writer_discard_partial (content_writer *w);

/* 1 when the blob is present, 0 when not. */
int content_blob_exists (box_engine *eng, const char *digest, box_error **err);

/* Opens a blob for reading (O_RDONLY|O_CLOEXEC); a missing blob is BOX_E_NOT_FOUND. */
int content_blob_open (box_engine *eng, const char *digest, int *out_fd, box_error **err);

/* Reads a whole (small) blob, e.g. a config or manifest, NUL-terminated. */
int content_blob_read (box_engine *eng, const char *digest, char **out, size_t *out_len,
                       box_error **err);

/* Writes a whole buffer as a blob (a config, a manifest) and returns its digest. */
int content_blob_write_buffer (box_engine *eng, const void *data, size_t len,
                               char out_digest[DIGEST_STRING_MAX], box_error **err);

/* Absolute path of a blob (which may not exist). */
int content_blob_path (box_engine *eng, const char *digest, char **out, box_error **err);

/* Size of a present blob. */
int content_blob_size (box_engine *eng, const char *digest, uint64_t *out, box_error **err);

/* Removes a blob; a missing one is fine. Callers decide that no image references it. */
int content_blob_remove (box_engine *eng, const char *digest, box_error **err);

/* Creates blobs/sha256 and removes temporaries left by writers that died. Called by
 * box_engine_open. */
int content_store_repair (box_engine *eng, box_error **err);

#endif
