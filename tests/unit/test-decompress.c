/* Layer decompression: format detection, gzip (multi-member, CRC/size checks, trailing bytes),
 * zstd (multi-frame, skippable frames), plain passthrough, the diff_id and both API shapes. */
#include "unit.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/decompress.h"
#include "util/strutil.h"

typedef struct buffer {
  unsigned char *data;
  size_t len, cap;
} buffer;

static void
buffer_append (buffer *b, const void *data, size_t len)
{
  if (len == 0)
    return;
  if (b->len + len > b->cap)
    {
      b->cap = (b->len + len) * 2 + 64;
      b->data = realloc (b->data, b->cap);
      assert_non_null (b->data);
    }
  memcpy (b->data + b->len, data, len);
  b->len += len;
}

/* Pseudo-random but compressible input of a given size. */
static buffer
make_input (size_t len, unsigned seed)
{
  buffer b = { 0 };
  unsigned x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++)
    {
      x = x * 1103515245u + 12345u;
      unsigned char c
          = (x >> 16) % 7 == 0 ? (unsigned char) (x >> 8) : (unsigned char) ('a' + i % 13);
      buffer_append (&b, &c, 1);
    }
  return b;
}

static void
gzip_member (buffer *out, const unsigned char *data, size_t len)
{
  z_stream z = { 0 };
  assert_int_equal (deflateInit2 (&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t bound = deflateBound (&z, len) + 64;
  unsigned char *tmp = malloc (bound);
  z.next_in = (Bytef *) data;
  z.avail_in = (uInt) len;
  z.next_out = tmp;
  z.avail_out = (uInt) bound;
  assert_int_equal (deflate (&z, Z_FINISH), Z_STREAM_END);
  buffer_append (out, tmp, bound - z.avail_out);
  deflateEnd (&z);
  free (tmp);
}

static void
zstd_frame (buffer *out, const unsigned char *data, size_t len)
{
  size_t bound = ZSTD_compressBound (len);
  unsigned char *tmp = malloc (bound);
  size_t n = ZSTD_compress (tmp, bound, data, len, 3);
  assert_false (ZSTD_isError (n));
  buffer_append (out, tmp, n);
  free (tmp);
}

static void
sha256_id (const unsigned char *data, size_t len, char out[72])
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256 (data, len, md);
  memcpy (out, "sha256:", 7);
  hex_encode (md, sizeof md, out + 7);
}

static int
collect (void *userdata, const void *data, size_t len, box_error **err)
{
  buffer_append (userdata, data, len);
  return 0;
}

/* Push shape, fed in pieces of `step` bytes. */
static int
push_decompress (const buffer *in, size_t step, const decompress_options *opts, buffer *out,
                 decompress_result *result, box_error **err)
{
  decompressor *d = NULL;
  int rc = decompressor_new (opts, collect, out, &d, err);
  if (rc < 0)
    return rc;
  for (size_t off = 0; off < in->len && rc >= 0; off += step)
    rc = decompressor_feed (d, in->data + off, in->len - off < step ? in->len - off : step, err);
  if (rc >= 0)
    rc = decompressor_finish (d, result, err);
  decompressor_free (d);
  return rc;
}

typedef struct chunk_source {
  const buffer *in;
  size_t off, step;
} chunk_source;

static ssize_t
chunk_source_read (void *userdata, const void **data, box_error **err)
{
  chunk_source *s = userdata;
  size_t n = s->in->len - s->off;
  if (n > s->step)
    n = s->step;
  *data = s->in->data + s->off;
  s->off += n;
  return (ssize_t) n;
}

/* Pull shape, the source handing out `step` bytes at a time. */
static int
pull_decompress (const buffer *in, size_t step, const decompress_options *opts, buffer *out,
                 decompress_result *result, box_error **err)
{
  chunk_source src = { in, 0, step };
  decompress_reader *r = NULL;
  int rc = decompress_reader_new (opts, chunk_source_read, &src, &r, err);
  if (rc < 0)
    return rc;
  for (;;)
    {
      const void *data;
      ssize_t n = decompress_reader_read (r, &data, err);
      if (n < 0)
        {
          rc = (int) n;
          break;
        }
      if (n == 0)
        break;
      buffer_append (out, data, (size_t) n);
    }
  if (rc >= 0)
    rc = decompress_reader_finish (r, result, err);
  decompress_reader_free (r);
  return rc;
}

typedef int (*decompress_fn) (const buffer *, size_t, const decompress_options *, buffer *,
                              decompress_result *, box_error **);

static const decompress_fn both_shapes[] = { push_decompress, pull_decompress };
static const size_t steps[] = { 1, 7, 4096, 1 << 20 };

/* Decompresses `in` in both shapes and several feed sizes; checks output, diff_id, format. */
static void
check_roundtrip (const buffer *in, const buffer *expected, decompress_format format,
                 uint64_t trailing)
{
  char want_id[72];
  sha256_id (expected->data, expected->len, want_id);
  char want_compressed[72];
  sha256_id (in->data, in->len, want_compressed);
  for (size_t s = 0; s < ARRAY_SIZE (both_shapes); s++)
    for (size_t i = 0; i < ARRAY_SIZE (steps); i++)
      {
        if (steps[i] < 4096 && in->len > 300000)
          continue; /* tiny feeds on big inputs only cost time */
        buffer out = { 0 };
        decompress_result result;
        box_error *err = NULL;
        decompress_options opts = DECOMPRESS_OPTIONS_INIT;
        opts.digest_compressed = true;
        int rc = both_shapes[s](in, steps[i], &opts, &out, &result, &err);
        assert_ok (rc, err);
        assert_int_equal (out.len, expected->len);
        assert_true (out.len == 0 || memcmp (out.data, expected->data, out.len) == 0);
        assert_string_equal (result.diff_id, want_id);
        assert_string_equal (result.compressed_digest, want_compressed);
        assert_int_equal (result.format, format);
        assert_int_equal (result.uncompressed_size, expected->len);
        assert_int_equal (result.compressed_size, in->len);
        assert_int_equal (result.trailing_bytes, trailing);
        free (out.data);
      }
}

/* Expects failure in both shapes with a message containing `needle`. */
static void
check_fails (const buffer *in, const char *needle)
{
  for (size_t s = 0; s < ARRAY_SIZE (both_shapes); s++)
    for (size_t i = 1; i < ARRAY_SIZE (steps); i++)
      {
        buffer out = { 0 };
        decompress_result result;
        box_error *err = NULL;
        int rc = both_shapes[s](in, steps[i], NULL, &out, &result, &err);
        assert_true (rc < 0);
        if (!strstr (box_error_message (err), needle))
          fail_msg ("expected \"%s\" in \"%s\"", needle, box_error_message (err));
        box_error_free (err);
        free (out.data);
      }
}

static void
test_gzip_single_member (void **state)
{
  buffer plain = make_input (3 * 1024 * 1024 + 17, 1);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  check_roundtrip (&gz, &plain, DECOMPRESS_GZIP, 0);
  free (plain.data);
  free (gz.data);
}

static void
test_gzip_multi_member (void **state)
{
  buffer plain = { 0 }, gz = { 0 };
  /* tiny members too: their trailers end mid-buffer, next to the following header */
  size_t sizes[] = { 100, 0, 5, 700000, 1, 33 };
  for (size_t i = 0; i < ARRAY_SIZE (sizes); i++)
    {
      buffer part = make_input (sizes[i], (unsigned) i + 10);
      gzip_member (&gz, part.data, part.len);
      buffer_append (&plain, part.data, part.len);
      free (part.data);
    }
  check_roundtrip (&gz, &plain, DECOMPRESS_GZIP, 0);
  free (plain.data);
  free (gz.data);
}

static void
test_gzip_trailing_bytes_are_ignored_and_counted (void **state)
{
  buffer plain = make_input (50000, 2);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  static const unsigned char zeros[1000];
  buffer_append (&gz, zeros, sizeof zeros);
  buffer_append (&gz, "garbage", 7);
  check_roundtrip (&gz, &plain, DECOMPRESS_GZIP, 1007);
  free (gz.data);

  /* a single 0x1f byte after the member is trailing too */
  gz = (buffer){ 0 };
  gzip_member (&gz, plain.data, plain.len);
  buffer_append (&gz, "\x1f", 1);
  check_roundtrip (&gz, &plain, DECOMPRESS_GZIP, 1);
  free (gz.data);
  free (plain.data);
}

static void
test_gzip_corrupt_crc_and_size_are_rejected (void **state)
{
  buffer plain = make_input (20000, 3);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  gz.data[gz.len - 8] ^= 0x01; /* CRC-32 */
  check_fails (&gz, "gzip member 1");
  gz.data[gz.len - 8] ^= 0x01;
  gz.data[gz.len - 4] ^= 0x01; /* ISIZE */
  check_fails (&gz, "gzip member 1");
  free (gz.data);
  free (plain.data);
}

static void
test_gzip_truncated_is_rejected (void **state)
{
  buffer plain = make_input (200000, 4);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  size_t full = gz.len;
  gz.len = full / 2;
  check_fails (&gz, "truncated");
  gz.len = full - 3; /* inside the trailer */
  check_fails (&gz, "truncated");
  /* a second member that starts and stops */
  gz.len = full;
  buffer_append (&gz, "\x1f\x8b\x08", 3);
  check_fails (&gz, "truncated");
  free (gz.data);
  free (plain.data);
}

static void
test_gzip_corrupt_data_is_rejected (void **state)
{
  buffer plain = make_input (200000, 5);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  for (size_t i = 20; i < 60; i++)
    gz.data[i] ^= 0xa5;
  check_fails (&gz, "gzip member 1");
  free (gz.data);
  free (plain.data);
}

static void
test_zstd_frames_and_skippable (void **state)
{
  buffer plain = { 0 }, zs = { 0 };
  buffer a = make_input (400000, 6), b = make_input (1234, 7);
  zstd_frame (&zs, a.data, a.len);
  /* a skippable frame (magic 0x184D2A50, 4 bytes of content) between data frames */
  static const unsigned char skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
  buffer_append (&zs, skippable, sizeof skippable);
  zstd_frame (&zs, b.data, b.len);
  buffer_append (&plain, a.data, a.len);
  buffer_append (&plain, b.data, b.len);
  check_roundtrip (&zs, &plain, DECOMPRESS_ZSTD, 0);

  buffer_append (&zs, "tail", 4);
  check_roundtrip (&zs, &plain, DECOMPRESS_ZSTD, 4);

  zs.len -= 4 + 10;
  check_fails (&zs, "truncated");
  free (a.data);
  free (b.data);
  free (plain.data);
  free (zs.data);
}

static void
test_plain_passes_through (void **state)
{
  buffer plain = make_input (100000, 8);
  memcpy (plain.data, "ustar", 5);
  check_roundtrip (&plain, &plain, DECOMPRESS_PLAIN, 0);
  /* shorter than any magic */
  buffer tiny = { 0 };
  buffer_append (&tiny, "ab", 2);
  check_roundtrip (&tiny, &tiny, DECOMPRESS_PLAIN, 0);
  buffer empty = { 0 };
  check_roundtrip (&empty, &empty, DECOMPRESS_PLAIN, 0);
  free (plain.data);
  free (tiny.data);
}

static void
test_unsupported_formats_are_named (void **state)
{
  buffer xz = { 0 };
  buffer_append (&xz,
                 "\xfd"
                 "7zXZ\0rest",
                 10);
  check_fails (&xz, "xz");
  buffer bz = { 0 };
  buffer_append (&bz, "BZh91AY&SY", 10);
  check_fails (&bz, "bzip2");
  free (xz.data);
  free (bz.data);
}

static void
test_forced_format_mismatch (void **state)
{
  buffer plain = make_input (1000, 9);
  decompress_options opts = DECOMPRESS_OPTIONS_INIT;
  opts.format = DECOMPRESS_GZIP;
  buffer out = { 0 };
  box_error *err = NULL;
  decompress_result result;
  assert_true (push_decompress (&plain, 100, &opts, &out, &result, &err) < 0);
  assert_non_null (strstr (box_error_message (err), "not a gzip stream"));
  box_error_free (err);
  free (out.data);
  free (plain.data);
}

static void
test_uncompressed_limit (void **state)
{
  buffer plain = make_input (1 << 20, 10);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  decompress_options opts = DECOMPRESS_OPTIONS_INIT;
  opts.max_uncompressed = 1000;
  for (size_t s = 0; s < ARRAY_SIZE (both_shapes); s++)
    {
      buffer out = { 0 };
      box_error *err = NULL;
      decompress_result result;
      assert_true (both_shapes[s](&gz, 65536, &opts, &out, &result, &err) < 0);
      assert_non_null (strstr (box_error_message (err), "exceeds the limit"));
      box_error_free (err);
      free (out.data);
    }
  free (gz.data);
  free (plain.data);
}

static int
failing_output (void *userdata, const void *data, size_t len, box_error **err)
{
  return box_err (err, BOX_E_IO, "consumer gave up");
}

static void
test_output_error_stops_the_stream (void **state)
{
  buffer plain = make_input (100000, 11);
  buffer gz = { 0 };
  gzip_member (&gz, plain.data, plain.len);
  decompressor *d = NULL;
  box_error *err = NULL;
  assert_ok (decompressor_new (NULL, failing_output, NULL, &d, &err), err);
  assert_true (decompressor_feed (d, gz.data, gz.len, &err) < 0);
  assert_string_equal (box_error_message (err), "consumer gave up");
  box_error_free (err);
  err = NULL;
  assert_true (decompressor_feed (d, gz.data, 1, &err) < 0);
  box_error_free (err);
  decompressor_free (d);
  free (gz.data);
  free (plain.data);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_gzip_single_member),
    cmocka_unit_test (test_gzip_multi_member),
    cmocka_unit_test (test_gzip_trailing_bytes_are_ignored_and_counted),
    cmocka_unit_test (test_gzip_corrupt_crc_and_size_are_rejected),
    cmocka_unit_test (test_gzip_truncated_is_rejected),
    cmocka_unit_test (test_gzip_corrupt_data_is_rejected),
    cmocka_unit_test (test_zstd_frames_and_skippable),
    cmocka_unit_test (test_plain_passes_through),
    cmocka_unit_test (test_unsupported_formats_are_named),
    cmocka_unit_test (test_forced_format_mismatch),
    cmocka_unit_test (test_uncompressed_limit),
    cmocka_unit_test (test_output_error_stops_the_stream),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
