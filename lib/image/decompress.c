/* Owns layer decompression: magic-byte detection, the gzip (ISA-L or zlib) and zstd decoders
 * with member/frame boundaries and trailing bytes, the diff_id hashing, and the push and pull
 * shapes over one step function. */
#include "image/decompress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#ifndef BOX_HAVE_ISAL
#include <zlib.h>
#endif

#include "util/crypto-dl.h"
#ifdef BOX_HAVE_ISAL
#include "util/isal-dl.h"
#endif
#include "util/strutil.h"

/* Output chunk: big enough that the consumer (libarchive, write(2)) sees few calls, small
 * enough to stay in L2 while the decoder writes it and the hash reads it. */
#define DECOMPRESS_OUTPUT_SIZE (256 * 1024)
/* Input chunk of the fd source. */
#define DECOMPRESS_FD_READ_SIZE (256 * 1024)
/* The longest magic we look at (xz: fd 37 7a 58 5a 00). */
#define DECOMPRESS_MAGIC_MAX 6
/* ISA-L counts in uint32_t: feed it at most this much per call. */
#define DECOMPRESS_MAX_STEP_INPUT (1u << 30)

static const unsigned char gzip_magic[] = { 0x1f, 0x8b };
static const unsigned char zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
static const unsigned char xz_magic[] = { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 };
static const unsigned char bzip2_magic[] = { 'B', 'Z', 'h' };

typedef enum stream_state {
  STATE_DETECT,       /* collecting the first bytes */
  STATE_PLAIN,        /* passing bytes through */
  STATE_MEMBER_START, /* between gzip members / zstd frames: does another one follow? */
  STATE_IN_MEMBER,    /* inside a gzip member or zstd frame */
  STATE_TRAILING,     /* after the last member: bytes are counted and ignored */
} stream_state;

typedef struct engine {
  decompress_options opts;
  decompress_format format;
  stream_state state;
  unsigned char pending[DECOMPRESS_MAGIC_MAX]; /* bytes taken but not yet decoded */
  size_t pending_len;
  uint64_t members; /* completed gzip members / zstd frames */
  EVP_MD_CTX *compressed_hash;
  EVP_MD_CTX *uncompressed_hash;
  uint64_t compressed_size, uncompressed_size, trailing_bytes;
  unsigned char *output;
  bool output_full; /* the last step filled the output: the decoder may hold more */
#ifdef BOX_HAVE_ISAL
  struct inflate_state *isal;
#else
  z_stream zlib;
  bool zlib_ready;
#endif
  ZSTD_DStream *zstd;
} engine;

const char *
decompress_format_name (decompress_format format)
{
  switch (format)
    {
    case DECOMPRESS_PLAIN:
      return "plain";
    case DECOMPRESS_GZIP:
      return "gzip";
    case DECOMPRESS_ZSTD:
      return "zstd";
    case DECOMPRESS_DETECT:
      break;
    }
  return "detect";
}

const char *
decompress_format_layer_media_type (decompress_format format)
{
  switch (format)
    {
    case DECOMPRESS_GZIP:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case DECOMPRESS_ZSTD:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
      return "application/vnd.oci.image.layer.v1.tar";
    }
}

const char *
decompress_gzip_backend (void)
{
#ifdef BOX_HAVE_ISAL
  return "isa-l";
#else
  return "zlib";
#endif
}

static void
engine_release (engine *e)
{
  EVP_MD_CTX_free (e->compressed_hash);
  EVP_MD_CTX_free (e->uncompressed_hash);
  free (e->output);
#ifdef BOX_HAVE_ISAL
  free (e->isal);
#else
  if (e->zlib_ready)
    inflateEnd (&e->zlib);
#endif
  ZSTD_freeDStream (e->zstd);
}

static int
engine_init (engine *e, const decompress_options *opts, box_error **err)
{
  memset (e, 0, sizeof *e);
  decompress_options defaults = DECOMPRESS_OPTIONS_INIT;
  e->opts = opts ? *opts : defaults;
  e->format = e->opts.format;
  switch (e->format)
    {
    case DECOMPRESS_DETECT:
      e->state = STATE_DETECT;
      break;
    case DECOMPRESS_PLAIN:
      e->state = STATE_PLAIN;
      break;
    case DECOMPRESS_GZIP:
    case DECOMPRESS_ZSTD:
      e->state = STATE_MEMBER_START;
      break;
    default:
      return box_err (err, BOX_E_INVALID, "decompress: unknown format %d", (int) e->format);
    }
  e->output = malloc (DECOMPRESS_OUTPUT_SIZE);
  if (!e->output)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (e->opts.digest_compressed)
    {
      e->compressed_hash = EVP_MD_CTX_new ();
      if (!e->compressed_hash || EVP_DigestInit_ex (e->compressed_hash, EVP_sha256 (), NULL) != 1)
        return box_err (err, BOX_E_INTERNAL, "decompress: cannot set up sha256");
    }
  if (e->opts.digest_uncompressed)
    {
      e->uncompressed_hash = EVP_MD_CTX_new ();
      if (!e->uncompressed_hash
          || EVP_DigestInit_ex (e->uncompressed_hash, EVP_sha256 (), NULL) != 1)
        return box_err (err, BOX_E_INTERNAL, "decompress: cannot set up sha256");
    }
  return 0;
}

static int
engine_hash_compressed (engine *e, const void *data, size_t len, box_error **err)
{
  e->compressed_size += len;
  if (e->compressed_hash && len > 0 && EVP_DigestUpdate (e->compressed_hash, data, len) != 1)
    return box_err (err, BOX_E_INTERNAL, "decompress: sha256 update failed");
  return 0;
}

static int
engine_account_output (engine *e, const void *data, size_t len, box_error **err)
{
  e->uncompressed_size += len;
  if (e->opts.max_uncompressed && e->uncompressed_size > e->opts.max_uncompressed)
    return box_err (err, BOX_E_INVALID,
                    "decompress: uncompressed stream exceeds the limit of %llu bytes",
                    (unsigned long long) e->opts.max_uncompressed);
  if (e->uncompressed_hash && len > 0 && EVP_DigestUpdate (e->uncompressed_hash, data, len) != 1)
    return box_err (err, BOX_E_INTERNAL, "decompress: sha256 update failed");
  return 0;
}

/* Copies up to n bytes of pending followed by input into buf; returns how many. */
static size_t
engine_peek (const engine *e, const unsigned char *in, size_t in_len, unsigned char *buf, size_t n)
{
  size_t got = 0;
  for (size_t i = 0; i < e->pending_len && got < n; i++)
    buf[got++] = e->pending[i];
  for (size_t i = 0; i < in_len && got < n; i++)
    buf[got++] = in[i];
  return got;
}

/* Moves input into pending (the caller checked it fits). */
static void
engine_stash (engine *e, const unsigned char **in, size_t *in_len)
{
  if (*in_len == 0)
    return;
  memcpy (e->pending + e->pending_len, *in, *in_len);
  e->pending_len += *in_len;
  *in += *in_len;
  *in_len = 0;
}

static bool
has_magic (const unsigned char *buf, size_t len, const unsigned char *magic, size_t magic_len)
{
  return len >= magic_len && memcmp (buf, magic, magic_len) == 0;
}

static bool
is_zstd_frame_start (const unsigned char *buf, size_t len)
{
  /* skippable frames: magic 0x184D2A50..0x184D2A5F, little endian */
  if (len >= 4 && (buf[0] & 0xf0) == 0x50 && buf[1] == 0x2a && buf[2] == 0x4d && buf[3] == 0x18)
    return true;
  return has_magic (buf, len, zstd_magic, sizeof zstd_magic);
}

static int
engine_detect (engine *e, const unsigned char **in, size_t *in_len, bool at_eof, box_error **err)
{
  unsigned char head[DECOMPRESS_MAGIC_MAX];
  size_t got = engine_peek (e, *in, *in_len, head, sizeof head);
  if (got < sizeof head && !at_eof)
    {
      engine_stash (e, in, in_len);
      return 0;
    }
  if (has_magic (head, got, gzip_magic, sizeof gzip_magic))
    {
      e->format = DECOMPRESS_GZIP;
      e->state = STATE_MEMBER_START;
    }
  else if (is_zstd_frame_start (head, got))
    {
      e->format = DECOMPRESS_ZSTD;
      e->state = STATE_MEMBER_START;
    }
  else if (has_magic (head, got, xz_magic, sizeof xz_magic))
    return box_err (err, BOX_E_UNSUPPORTED, "decompress: xz-compressed layers are not supported");
  else if (has_magic (head, got, bzip2_magic, sizeof bzip2_magic))
    return box_err (err, BOX_E_UNSUPPORTED,
                    "decompress: bzip2-compressed layers are not supported");
  else
    {
      e->format = DECOMPRESS_PLAIN;
      e->state = STATE_PLAIN;
    }
  return 0;
}

static int
engine_start_member (engine *e, box_error **err)
{
  if (e->format == DECOMPRESS_GZIP)
    {
#ifdef BOX_HAVE_ISAL
      const char *why = NULL;
      if (!box_isal_load (&why))
        return box_err (err, BOX_E_UNSUPPORTED, "decompress gzip: %s", why);
      if (!e->isal)
        {
          e->isal = malloc (sizeof *e->isal);
          if (!e->isal)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
      isal_inflate_init (e->isal);
      e->isal->crc_flag = ISAL_GZIP;
#else
      if (!e->zlib_ready)
        {
          memset (&e->zlib, 0, sizeof e->zlib);
          /* 16 + MAX_WBITS: a gzip wrapper only, its CRC-32 and ISIZE checked */
          if (inflateInit2 (&e->zlib, 16 + MAX_WBITS) != Z_OK)
            return box_err (err, BOX_E_INTERNAL, "decompress: zlib init failed");
          e->zlib_ready = true;
        }
      else if (inflateReset (&e->zlib) != Z_OK)
        return box_err (err, BOX_E_INTERNAL, "decompress: zlib reset failed");
#endif
    }
  else
    {
      if (!e->zstd)
        {
          e->zstd = ZSTD_createDStream ();
          if (!e->zstd)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
      size_t rc = ZSTD_DCtx_reset (e->zstd, ZSTD_reset_session_only);
      if (ZSTD_isError (rc))
        return box_err (err, BOX_E_INTERNAL, "decompress: zstd reset: %s", ZSTD_getErrorName (rc));
    }
  e->state = STATE_IN_MEMBER;
  return 0;
}

static int
engine_member_start (engine *e, const unsigned char **in, size_t *in_len, bool at_eof,
                     box_error **err)
{
  size_t need = e->format == DECOMPRESS_GZIP ? sizeof gzip_magic : sizeof zstd_magic;
  unsigned char head[4];
  size_t got = engine_peek (e, *in, *in_len, head, need);
  if (got == 0)
    return 0;
  if (got < need && !at_eof)
    {
      engine_stash (e, in, in_len);
      return 0;
    }
  bool another = e->format == DECOMPRESS_GZIP ? has_magic (head, got, gzip_magic, need)
                                              : is_zstd_frame_start (head, got);
  if (another)
    return engine_start_member (e, err);
  if (e->members == 0)
    return box_err (err, BOX_E_INVALID, "decompress: not a %s stream (bad magic bytes)",
                    decompress_format_name (e->format));
  e->state = STATE_TRAILING;
  return 0;
}

/* Runs the decoder of the current member on src, into e->output. */
static int
engine_decode (engine *e, const unsigned char *src, size_t src_len, size_t *consumed,
               size_t *produced, box_error **err)
{
  if (src_len > DECOMPRESS_MAX_STEP_INPUT)
    src_len = DECOMPRESS_MAX_STEP_INPUT;
  bool member_done = false;
  if (e->format == DECOMPRESS_GZIP)
    {
#ifdef BOX_HAVE_ISAL
      struct inflate_state *s = e->isal;
      s->next_in = (uint8_t *) src;
      s->avail_in = (uint32_t) src_len;
      s->next_out = e->output;
      s->avail_out = DECOMPRESS_OUTPUT_SIZE;
      int rc = isal_inflate (s);
      *consumed = src_len - s->avail_in;
      *produced = DECOMPRESS_OUTPUT_SIZE - s->avail_out;
      if (rc == ISAL_INCORRECT_CHECKSUM)
        return box_err (err, BOX_E_INVALID, "decompress: gzip member %llu: CRC or size mismatch",
                        (unsigned long long) e->members + 1);
      if (rc < 0)
        return box_err (err, BOX_E_INVALID, "decompress: gzip member %llu: corrupt data (isa-l %d)",
                        (unsigned long long) e->members + 1, rc);
      if (rc == ISAL_NEED_DICT)
        return box_err (err, BOX_E_INVALID, "decompress: gzip member needs a preset dictionary");
      member_done = s->block_state == ISAL_BLOCK_FINISH;
#else
      z_stream *z = &e->zlib;
      z->next_in = (Bytef *) src;
      z->avail_in = (uInt) src_len;
      z->next_out = e->output;
      z->avail_out = DECOMPRESS_OUTPUT_SIZE;
      int rc = inflate (z, Z_NO_FLUSH);
      *consumed = src_len - z->avail_in;
      *produced = DECOMPRESS_OUTPUT_SIZE - z->avail_out;
      if (rc == Z_DATA_ERROR)
        return box_err (err, BOX_E_INVALID, "decompress: gzip member %llu: %s",
                        (unsigned long long) e->members + 1, z->msg ? z->msg : "corrupt data");
      if (rc == Z_NEED_DICT)
        return box_err (err, BOX_E_INVALID, "decompress: gzip member needs a preset dictionary");
      if (rc == Z_MEM_ERROR)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      member_done = rc == Z_STREAM_END;
#endif
    }
  else
    {
      ZSTD_inBuffer input = { src, src_len, 0 };
      ZSTD_outBuffer output = { e->output, DECOMPRESS_OUTPUT_SIZE, 0 };
      size_t rc = ZSTD_decompressStream (e->zstd, &output, &input);
      *consumed = input.pos;
      *produced = output.pos;
      if (ZSTD_isError (rc))
        return box_err (err, BOX_E_INVALID, "decompress: zstd frame %llu: %s",
                        (unsigned long long) e->members + 1, ZSTD_getErrorName (rc));
      member_done = rc == 0;
    }
  e->output_full = *produced == DECOMPRESS_OUTPUT_SIZE;
  /* the decoders report the end of a member only once all of its output is flushed */
  if (member_done)
    {
      e->members++;
      e->state = STATE_MEMBER_START;
    }
  return 0;
}

/* One step: consumes some of *in (advancing it) and/or produces output (*out, *out_len; 0 when
 * none). at_eof says no input will follow *in. Returns <0 on error. Callers repeat while input
 * is left or the previous step filled the output buffer. */
static int
engine_step (engine *e, const unsigned char **in, size_t *in_len, bool at_eof, const void **out,
             size_t *out_len, box_error **err)
{
  *out = NULL;
  *out_len = 0;
  e->output_full = false;
  for (;;)
    {
      switch (e->state)
        {
        case STATE_DETECT:
          if (engine_detect (e, in, in_len, at_eof, err) < 0)
            return box_err_code (err);
          if (e->state == STATE_DETECT)
            return 0;
          continue;

        case STATE_PLAIN:
          if (e->pending_len > 0)
            {
              memcpy (e->output, e->pending, e->pending_len);
              *out = e->output;
              *out_len = e->pending_len;
              e->pending_len = 0;
            }
          else if (*in_len > 0)
            {
              *out = *in;
              *out_len = *in_len;
              *in += *in_len;
              *in_len = 0;
            }
          break;

        case STATE_MEMBER_START:
          if (e->pending_len == 0 && *in_len == 0)
            return 0;
          if (engine_member_start (e, in, in_len, at_eof, err) < 0)
            return box_err_code (err);
          if (e->state == STATE_MEMBER_START)
            return 0;
          continue;

        case STATE_IN_MEMBER:
          {
            size_t consumed = 0, produced = 0;
            if (e->pending_len > 0)
              {
                if (engine_decode (e, e->pending, e->pending_len, &consumed, &produced, err) < 0)
                  return box_err_code (err);
                memmove (e->pending, e->pending + consumed, e->pending_len - consumed);
                e->pending_len -= consumed;
              }
            else
              {
                if (engine_decode (e, *in, *in_len, &consumed, &produced, err) < 0)
                  return box_err_code (err);
                *in += consumed;
                *in_len -= consumed;
              }
            if (produced > 0)
              {
                *out = e->output;
                *out_len = produced;
                break;
              }
            if (e->state == STATE_IN_MEMBER && consumed == 0)
              return 0; /* needs more input */
            continue;
          }

        case STATE_TRAILING:
          e->trailing_bytes += e->pending_len + *in_len;
          e->pending_len = 0;
          *in += *in_len;
          *in_len = 0;
          return 0;
        }
      break;
    }
  return engine_account_output (e, *out, *out_len, err);
}

static int
engine_check_end (engine *e, box_error **err)
{
  if (e->state == STATE_IN_MEMBER)
    return box_err (err, BOX_E_INVALID,
                    "decompress: %s stream is truncated (member %llu unfinished)",
                    decompress_format_name (e->format), (unsigned long long) e->members + 1);
  if ((e->format == DECOMPRESS_GZIP || e->format == DECOMPRESS_ZSTD) && e->members == 0)
    return box_err (err, BOX_E_INVALID, "decompress: empty %s stream",
                    decompress_format_name (e->format));
  return 0;
}

static int
digest_final (EVP_MD_CTX *ctx, char out[72], box_error **err)
{
  unsigned char md[32];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex (ctx, md, &len) != 1 || len != sizeof md)
    return box_err (err, BOX_E_INTERNAL, "decompress: sha256 final failed");
  memcpy (out, "sha256:", 7);
  hex_encode (md, sizeof md, out + 7);
  return 0;
}

static int
engine_result (engine *e, decompress_result *result, box_error **err)
{
  decompress_result r = { 0 };
  r.format = e->format;
  r.compressed_size = e->compressed_size;
  r.uncompressed_size = e->uncompressed_size;
  r.trailing_bytes = e->trailing_bytes;
  if (e->uncompressed_hash && digest_final (e->uncompressed_hash, r.diff_id, err) < 0)
    return box_err_code (err);
  if (e->compressed_hash && digest_final (e->compressed_hash, r.compressed_digest, err) < 0)
    return box_err_code (err);
  if (result)
    *result = r;
  return 0;
}

/* ---- push shape ---- */

struct decompressor {
  engine engine;
  decompress_output_fn output;
  void *output_userdata;
  bool finished;
  bool failed;
};

int
decompressor_new (const decompress_options *opts, decompress_output_fn output,
                  void *output_userdata, decompressor **out, box_error **err)
{
  decompressor *d = calloc (1, sizeof *d);
  if (!d)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (engine_init (&d->engine, opts, err) < 0)
    {
      engine_release (&d->engine);
      free (d);
      return box_err_code (err);
    }
  d->output = output;
  d->output_userdata = output_userdata;
  *out = d;
  return 0;
}

static int
decompressor_run (decompressor *d, const unsigned char *in, size_t in_len, bool at_eof,
                  box_error **err)
{
  do
    {
      const void *chunk;
      size_t chunk_len;
      const unsigned char *before = in;
      if (engine_step (&d->engine, &in, &in_len, at_eof, &chunk, &chunk_len, err) < 0)
        return box_err_code (err);
      if (chunk_len > 0 && d->output (d->output_userdata, chunk, chunk_len, err) < 0)
        return box_err_code (err);
      if (chunk_len == 0 && in_len > 0 && in == before)
        return box_err (err, BOX_E_INTERNAL, "decompress: decoder made no progress");
    }
  while (in_len > 0 || d->engine.output_full);
  return 0;
}

int
decompressor_feed (decompressor *d, const void *data, size_t len, box_error **err)
{
  if (d->finished || d->failed)
    return box_err (err, BOX_E_INVALID, "decompress: stream already %s",
                    d->failed ? "failed" : "finished");
  if (engine_hash_compressed (&d->engine, data, len, err) < 0
      || decompressor_run (d, data, len, false, err) < 0)
    {
      d->failed = true;
      return box_err_code (err);
    }
  return 0;
}

int
decompressor_finish (decompressor *d, decompress_result *result, box_error **err)
{
  if (d->finished || d->failed)
    return box_err (err, BOX_E_INVALID, "decompress: stream already %s",
                    d->failed ? "failed" : "finished");
  d->finished = true;
  if (decompressor_run (d, NULL, 0, true, err) < 0 || engine_check_end (&d->engine, err) < 0)
    return box_err_code (err);
  return engine_result (&d->engine, result, err);
}

void
decompressor_free (decompressor *d)
{
  if (!d)
    return;
  engine_release (&d->engine);
  free (d);
}

/* ---- pull shape ---- */

struct decompress_reader {
  engine engine;
  image_stream_read_fn source;
  void *source_userdata;
  const unsigned char *in; /* the rest of the source's current chunk */
  size_t in_len;
  bool source_eof;
  bool done;   /* the end was reached and checked */
  bool failed; /* an error was returned: later calls fail too */
  /* the fd source */
  int fd;
  unsigned char *fd_buffer;
};

int
decompress_reader_new (const decompress_options *opts, image_stream_read_fn source,
                       void *source_userdata, decompress_reader **out, box_error **err)
{
  decompress_reader *r = calloc (1, sizeof *r);
  if (!r)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  r->fd = -1;
  if (engine_init (&r->engine, opts, err) < 0)
    {
      decompress_reader_free (r);
      return box_err_code (err);
    }
  r->source = source;
  r->source_userdata = source_userdata;
  *out = r;
  return 0;
}

static ssize_t
fd_source_read (void *userdata, const void **data, box_error **err)
{
  decompress_reader *r = userdata;
  for (;;)
    {
      ssize_t n = read (r->fd, r->fd_buffer, DECOMPRESS_FD_READ_SIZE);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return box_err_errno (err, errno, "read compressed stream");
      *data = r->fd_buffer;
      return n;
    }
}

int
decompress_reader_new_fd (const decompress_options *opts, int fd, decompress_reader **out,
                          box_error **err)
{
  decompress_reader *r = NULL;
  if (decompress_reader_new (opts, fd_source_read, NULL, &r, err) < 0)
    return box_err_code (err);
  r->source_userdata = r;
  r->fd = fd;
  r->fd_buffer = malloc (DECOMPRESS_FD_READ_SIZE);
  if (!r->fd_buffer)
    {
      decompress_reader_free (r);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  *out = r;
  return 0;
}

static ssize_t
reader_fail (decompress_reader *r, box_error **err)
{
  r->failed = true;
  return box_err_code (err);
}

ssize_t
decompress_reader_read (void *reader, const void **data, box_error **err)
{
  decompress_reader *r = reader;
  if (r->failed)
    return box_err (err, BOX_E_INVALID, "decompress: read after a failure");
  while (!r->done)
    {
      if (r->in_len == 0 && !r->engine.output_full && !r->source_eof)
        {
          const void *chunk = NULL;
          ssize_t n = r->source (r->source_userdata, &chunk, err);
          if (n < 0)
            return reader_fail (r, err);
          if (n == 0)
            r->source_eof = true;
          else if (engine_hash_compressed (&r->engine, chunk, (size_t) n, err) < 0)
            return reader_fail (r, err);
          r->in = chunk;
          r->in_len = (size_t) n;
          continue;
        }
      const void *out = NULL;
      size_t out_len = 0;
      if (engine_step (&r->engine, &r->in, &r->in_len, r->source_eof, &out, &out_len, err) < 0)
        return reader_fail (r, err);
      if (out_len > 0)
        {
          *data = out;
          return (ssize_t) out_len;
        }
      if (r->in_len > 0 || r->engine.output_full || !r->source_eof)
        continue;
      /* at the end of input, a step without output means nothing is left to decode */
      if (engine_check_end (&r->engine, err) < 0)
        return reader_fail (r, err);
      r->done = true;
    }
  return 0;
}

int
decompress_reader_finish (decompress_reader *r, decompress_result *result, box_error **err)
{
  for (;;)
    {
      const void *data;
      ssize_t n = decompress_reader_read (r, &data, err);
      if (n < 0)
        return (int) n;
      if (n == 0)
        break;
    }
  return engine_result (&r->engine, result, err);
}

void
decompress_reader_free (decompress_reader *r)
{
  if (!r)
    return;
  engine_release (&r->engine);
  free (r->fd_buffer);
  free (r);
}
