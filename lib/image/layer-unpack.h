/* Unpacks one layer tar stream into an empty layer directory, safely and fast. libarchive
 * only parses (pax, GNU long names and sparse files, xattrs); every entry is written with
 * fd-relative calls confined to the layer root: parents are opened with openat2
 * (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), the entry itself is created
 * as one component under its parent fd, never through a symlink.
 *
 * Paths: leading "/" and "./" are stripped and "." / empty components dropped, as docker
 * does; any ".." component rejects the layer (no legitimate layer needs one). The whole layer
 * is rejected, with an error naming the entry, for: "..", an entry whose parent path goes
 * through a symlink (or a non-directory), a hardlink whose target is missing, leaves the
 * layer or is a directory, a device node when the process cannot create them (no
 * CAP_MKNOD) or they are refused by options, a size above the limits, an unknown entry type.
 * On rejection the directory may hold a partial tree: the caller removes it (layers become
 * visible only through a ready marker written after a successful unpack).
 *
 * Whiteouts become overlayfs whiteouts: "<dir>/.wh.<name>" a 0/0 character device
 * "<dir>/<name>", "<dir>/.wh..wh..opq" the xattr trusted.overlay.opaque=y on <dir>; other
 * ".wh..wh." names (aufs metadata) are skipped. Ownership, modes (setuid, setgid, sticky),
 * mtimes (directories after their children), xattrs (except trusted.overlay.* other than
 * opaque, which would steer overlayfs), hardlinks and symlinks are preserved.
 *
 * No per-file fsync: set opts->sync for one syncfs(2) at the end, or sync the way the caller
 * prefers. */
#ifndef BOX_IMAGE_LAYER_UNPACK_H
#define BOX_IMAGE_LAYER_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "image/decompress.h"
#include "util/cleanup.h"
#include "util/error.h"

typedef enum layer_device_policy {
  LAYER_DEVICES_AUTO = 0, /* create when the process has CAP_MKNOD, else reject the layer */
  LAYER_DEVICES_REJECT,   /* any block/char device (other than a whiteout) rejects the layer */
} layer_device_policy;

typedef struct layer_unpack_options {
  layer_device_policy devices;
  bool preserve_ownership; /* chown to the tar's uid/gid (default on) */
  bool sync;               /* syncfs(2) the layer's filesystem after the last entry */
  uint64_t max_entry_size; /* 0: LAYER_UNPACK_DEFAULT_MAX_ENTRY_SIZE */
  uint64_t max_total_size; /* bytes of file data in the whole layer; 0: no limit */
  uint64_t max_entries;    /* 0: LAYER_UNPACK_DEFAULT_MAX_ENTRIES */
  /* layer_unpack_job only: sha256 of every byte written to the job (the diff id, the bytes
   * after the tar end marker included), computed on the unpack thread so the producer's
   * thread only decompresses; the result is stats.stream_digest */
  bool digest_stream;
} layer_unpack_options;

/* Larger than any real file in an image, small enough to catch a corrupt or hostile header
 * before it fills the disk. */
#define LAYER_UNPACK_DEFAULT_MAX_ENTRY_SIZE (UINT64_C (64) << 30)
/* An inode-exhaustion guard; the largest real layers hold a few hundred thousand entries. */
#define LAYER_UNPACK_DEFAULT_MAX_ENTRIES UINT64_C (10000000)

#define LAYER_UNPACK_OPTIONS_INIT                                                                  \
  {                                                                                                \
    .devices = LAYER_DEVICES_AUTO, .preserve_ownership = true, .sync = false, .max_entry_size = 0, \
    .max_total_size = 0, .max_entries = 0                                                          \
  }

typedef struct layer_unpack_stats {
  uint64_t entries; /* tar entries read (whiteouts and skipped ones included) */
  uint64_t regular_files;
  uint64_t directories;
  uint64_t symlinks;
  uint64_t hardlinks;
  uint64_t devices; /* block/char devices and fifos */
  uint64_t whiteouts;
  uint64_t opaque_directories;
  uint64_t file_bytes;    /* regular file data written */
  char stream_digest[72]; /* with digest_stream: "sha256:<hex>" of the stream, else "" */
  uint64_t stream_size;   /* with digest_stream: bytes in the stream */
} layer_unpack_stats;

/* Unpacks the uncompressed tar stream read from `read` into layer_dir_fd (a directory,
 * normally empty; not closed). opts and stats may be NULL. Reading stops at the tar
 * end-of-archive marker: a caller that hashes the stream drains the rest itself
 * (decompress_reader_finish does). */
int layer_unpack (int layer_dir_fd, image_stream_read_fn read, void *read_userdata,
                  const layer_unpack_options *opts, layer_unpack_stats *stats, box_error **err);

/* The push shape, for a download pipeline: a thread runs layer_unpack while the caller feeds
 * uncompressed bytes (e.g. as the decompressor's output callback), so decompression and
 * writing use two cores. Bytes are handed over in bounded chunks (memory stays bounded). */
typedef struct layer_unpack_job layer_unpack_job;

/* layer_dir_fd is duplicated; the caller keeps its own. */
int layer_unpack_job_start (int layer_dir_fd, const layer_unpack_options *opts,
                            layer_unpack_job **out, box_error **err);

/* A decompress_output_fn (userdata is the job). Fails as soon as the unpack failed (the error
 * is the unpack's); bytes after the tar end marker are accepted and dropped. */
int layer_unpack_job_write (void *job, const void *data, size_t len, box_error **err);

/* Ends the input, waits for the thread and returns its result. */
int layer_unpack_job_finish (layer_unpack_job *job, layer_unpack_stats *stats, box_error **err);

/* Aborts a job that was not finished (the thread stops at its next read), joins, frees. */
void layer_unpack_job_free (layer_unpack_job *job);

DEFINE_POINTER_CLEANUP (layer_unpack_job, layer_unpack_job_free)

#endif
