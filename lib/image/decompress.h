/* Streaming decompression of image layers, format detected from the magic bytes: gzip (ISA-L
 * igzip when built with it, zlib otherwise; multi-member, CRC and size verified), zstd
 * (multi-frame, skippable frames) and plain tar (passed through). The sha256 of the
 * uncompressed stream (the layer's diff_id) and, on request, of the compressed stream are
 * computed in the same pass.
 *
 * Two shapes over one engine:
 *  - push (a download pipeline): decompressor_feed() compressed bytes as they arrive; the
 *    uncompressed bytes come out through an output callback;
 *  - pull (import, load): decompress_reader_read() hands out uncompressed chunks read from a
 *    source callback; its signature is image_stream_read_fn, so a reader plugs straight into
 *    layer_unpack().
 * Trailing bytes after the last complete gzip member / zstd frame that do not start another
 * member are ignored (as gzip(1) does) and counted in trailing_bytes; a truncated or corrupt
 * member is an error. */
#ifndef BOX_IMAGE_DECOMPRESS_H
#define BOX_IMAGE_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/cleanup.h"
#include "util/error.h"

typedef enum decompress_format {
  DECOMPRESS_DETECT = 0, /* look at the magic bytes */
  DECOMPRESS_PLAIN,
  DECOMPRESS_GZIP,
  DECOMPRESS_ZSTD,
} decompress_format;

/* "plain", "gzip", "zstd" ("detect" for DECOMPRESS_DETECT). */
const char *decompress_format_name (decompress_format format);

/* The OCI media type of a layer tar in that format ("application/vnd.oci.image.layer.v1.tar",
 * "+gzip" or "+zstd"). */
const char *decompress_format_layer_media_type (decompress_format format);

/* Which gzip decoder this build uses: "isa-l" or "zlib". */
const char *decompress_gzip_backend (void);

/* A pull source of bytes: sets *data to the next chunk (valid until the next call on the same
 * source) and returns its length; 0 at the end of the stream; <0 (a box_error code, *err set)
 * on failure. */
typedef ssize_t (*image_stream_read_fn) (void *userdata, const void **data, box_error **err);

/* Receives uncompressed bytes in the push shape; <0 (with *err set) aborts the stream. */
typedef int (*decompress_output_fn) (void *userdata, const void *data, size_t len, box_error **err);

/* What a finished stream was. Digests are "sha256:<64 hex>" ("" when not computed). */
typedef struct decompress_result {
  decompress_format format;
  uint64_t compressed_size; /* every byte fed, trailing bytes included */
  uint64_t uncompressed_size;
  uint64_t trailing_bytes;    /* ignored bytes after the last member/frame */
  char diff_id[72];           /* sha256 of the uncompressed stream */
  char compressed_digest[72]; /* sha256 of every byte fed, when asked for */
} decompress_result;

typedef struct decompress_options {
  decompress_format format;  /* DECOMPRESS_DETECT unless the caller knows */
  bool digest_compressed;    /* also hash the compressed bytes */
  bool digest_uncompressed;  /* hash the uncompressed bytes (the diff_id); default on */
  uint64_t max_uncompressed; /* 0: no limit; more output is an error (decompression bombs) */
} decompress_options;

#define DECOMPRESS_OPTIONS_INIT                                                                    \
  {                                                                                                \
    .format = DECOMPRESS_DETECT, .digest_compressed = false, .digest_uncompressed = true,          \
    .max_uncompressed = 0                                                                          \
  }

/* ---- push shape ---- */
typedef struct decompressor decompressor;

/* opts may be NULL (defaults). */
int decompressor_new (const decompress_options *opts, decompress_output_fn output,
                      void *output_userdata, decompressor **out, box_error **err);

/* Feeds compressed bytes; uncompressed output is delivered before it returns. */
int decompressor_feed (decompressor *d, const void *data, size_t len, box_error **err);

/* Ends the input: fails when the stream is truncated (an unfinished member or frame, or no
 * data at all for a compressed format); fills *result (may be NULL). */
int decompressor_finish (decompressor *d, decompress_result *result, box_error **err);

void decompressor_free (decompressor *d);

/* ---- pull shape ---- */
typedef struct decompress_reader decompress_reader;

/* Reads compressed bytes from source. opts may be NULL. */
int decompress_reader_new (const decompress_options *opts, image_stream_read_fn source,
                           void *source_userdata, decompress_reader **out, box_error **err);

/* Convenience: the source is a file descriptor (not owned, not closed). */
int decompress_reader_new_fd (const decompress_options *opts, int fd, decompress_reader **out,
                              box_error **err);

/* An image_stream_read_fn: userdata is the decompress_reader. At the end of the stream (0
 * returned) the result is available. */
ssize_t decompress_reader_read (void *reader, const void **data, box_error **err);

/* Reads and discards whatever is left (so trailing data is verified and hashed), then fills
 * *result. Call after the consumer stopped reading, e.g. after the tar end marker. */
int decompress_reader_finish (decompress_reader *r, decompress_result *result, box_error **err);

void decompress_reader_free (decompress_reader *r);

DEFINE_POINTER_CLEANUP (decompressor, decompressor_free)
DEFINE_POINTER_CLEANUP (decompress_reader, decompress_reader_free)

#endif
