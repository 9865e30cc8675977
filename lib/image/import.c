/* Owns box_image_import: a filesystem tarball (plain, gzip or zstd) becomes a one-layer image,
 * like `docker import`. One pass over the input: every byte read is written to the layer's
 * blob (hashed as it goes), decompressed, hashed again as the diff id and unpacked into a
 * staging layer directory; then the config and an OCI manifest are stored and the image is
 * recorded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/decompress.h"
#include "image/image-config.h"
#include "image/image-store.h"
#include "image/layer-store.h"
#include "image/layer-unpack.h"
#include "image/reference.h"
#include "util/json.h"
#include "util/timeutil.h"

/* Large reads keep syscall overhead out of the profile; the buffer is reused. */
#define IMPORT_READ_CHUNK (1024 * 1024)
/* Progress callbacks at most every this many bytes (a terminal redraw per MiB is plenty). */
#define IMPORT_PROGRESS_STEP (4 * 1024 * 1024)

#define MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"

typedef struct import_source {
  int fd;
  const char *name;
  char *buffer;
  content_writer *blob;
  uint64_t done;
  uint64_t total;
  uint64_t last_progress;
  const box_image_import_options *opts;
} import_source;

static void
report_progress (const import_source *src)
{
  box_transfer_progress event = { .status = BOX_TRANSFER_IMPORTING,
                                  .id = src->opts->source_path ? src->opts->source_path : "-",
                                  .current = (int64_t) src->done,
                                  .total = src->total ? (int64_t) src->total : -1 };
  src->opts->progress (&event, src->opts->progress_userdata);
}

static ssize_t
read_source (void *userdata, const void **data, box_error **err)
{
  import_source *src = userdata;
  ssize_t n;
  do
    n = read (src->fd, src->buffer, IMPORT_READ_CHUNK);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return box_err_errno (err, errno, "read %s", src->name);
  if (n > 0 && content_writer_write (src->blob, src->buffer, (size_t) n, err) < 0)
    return box_err_code (err);
  src->done += (uint64_t) n;
  if (src->opts->progress && (n == 0 || src->done - src->last_progress >= IMPORT_PROGRESS_STEP))
    {
      src->last_progress = src->done;
      report_progress (src);
    }
  *data = src->buffer;
  return n;
}

static int
store_json_blob (box_engine *eng, json_t *value, char digest[DIGEST_STRING_MAX], size_t *out_size,
                 box_error **err)
{
  _cleanup_free_ char *text = json_dumps (value, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out_size = strlen (text);
  return content_blob_write_buffer (eng, text, *out_size, digest, err);
}

static int
build_config (const box_image_import_options *opts, const char *source_name, const char *diff_id,
              json_t **out, box_error **err)
{
  _cleanup_json_ json_t *runtime = json_object ();
  if (!runtime)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < opts->n_changes; i++)
    if (image_config_apply_change (runtime, opts->changes[i], err) < 0)
      return box_err_code (err);

  char created[TIME_RFC3339_MAX];
  time_format_rfc3339 (time_now_ns (), created, sizeof created);
  _cleanup_free_ char *comment = NULL;
  if (opts->message)
    comment = strdup (opts->message);
  else if (asprintf (&comment, "Imported from %s", source_name) < 0)
    comment = NULL;
  if (!comment)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  json_t *config
      = json_pack ("{s:s,s:s,s:s,s:O,s:{s:s,s:[s]},s:[{s:s,s:s,s:s}]}", "architecture",
                   image_host_architecture (), "os", "linux", "created", created, "config", runtime,
                   "rootfs", "type", "layers", "diff_ids", diff_id, "history", "created", created,
                   "created_by", "box image import", "comment", comment);
  if (!config)
    return box_err (err, BOX_E_INVALID,
                    "build image config: a change or the message is not valid UTF-8");
  if (opts->message)
    json_object_set_new (config, "comment", json_string (opts->message));
  *out = config;
  return 0;
}

int
box_image_import (box_engine *eng, const box_image_import_options *opts, char **out_id,
                  box_error **err)
{
  if (!opts || opts->version != BOX_IMAGE_IMPORT_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_import_options: missing or unknown version");
  const char *source_name = opts->source_path ? opts->source_path : "-";
  if (opts->reference)
    {
      /* a bad tag fails before any byte is read */
      image_reference ref;
      if (image_reference_parse (opts->reference, &ref, err) < 0)
        return box_err_wrap (err, "import %s", source_name);
      if (ref.digest[0])
        return box_err (err, BOX_E_INVALID,
                        "import %s: the reference \"%s\" carries a digest; tag with name[:tag]",
                        source_name, opts->reference);
    }
  /* changes are checked up front too, on a scratch config */
  {
    _cleanup_json_ json_t *scratch = json_object ();
    for (size_t i = 0; i < opts->n_changes; i++)
      if (image_config_apply_change (scratch, opts->changes[i], err) < 0)
        return box_err_wrap (err, "import %s", source_name);
  }

  _cleanup_close_ int owned_fd = -1;
  int fd = opts->source_fd;
  if (opts->source_path)
    {
      owned_fd = open (opts->source_path, O_RDONLY | O_CLOEXEC);
      if (owned_fd < 0)
        return box_err_errno (err, errno, "import: open %s", opts->source_path);
      fd = owned_fd;
    }
  if (fd < 0)
    return box_err (err, BOX_E_INVALID, "import: no source (give source_path or source_fd)");

  _cleanup_free_ char *buffer = malloc (IMPORT_READ_CHUNK);
  if (!buffer)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_ (content_writer_abortp) content_writer *blob = NULL;
  if (content_writer_open (eng, NULL, &blob, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  import_source src
      = { .fd = fd, .name = source_name, .buffer = buffer, .blob = blob, .opts = opts };
  struct stat st;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
    src.total = (uint64_t) st.st_size;

  /* two threads: this one reads, stores and hashes the input and decompresses it (hashing
   * the diff id); the unpack job writes the files */
  _cleanup_ (layer_abortp) layer_writer *layer = NULL;
  if (layer_begin (eng, &layer, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  _cleanup_ (layer_unpack_job_freep) layer_unpack_job *unpack = NULL;
  if (layer_unpack_job_start (layer_writer_directory_fd (layer), &uopts, &unpack, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  decompress_options dopts = DECOMPRESS_OPTIONS_INIT;
  _cleanup_ (decompressor_freep) decompressor *dec = NULL;
  if (decompressor_new (&dopts, layer_unpack_job_write, unpack, &dec, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  for (;;)
    {
      const void *chunk = NULL;
      ssize_t n = read_source (&src, &chunk, err);
      if (n < 0)
        return box_err_wrap (err, "import %s", source_name);
      if (n == 0)
        break;
      if (decompressor_feed (dec, chunk, (size_t) n, err) < 0)
        {
          /* when the unpack failed, its error says why (it is the one the feed returns) */
          return box_err_wrap (err, "import %s", source_name);
        }
    }
  decompress_result result;
  layer_unpack_stats stats = { 0 };
  if (decompressor_finish (dec, &result, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  if (layer_unpack_job_finish (unpack, &stats, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  if (opts->progress && src.done != src.last_progress)
    report_progress (&src);

  char blob_digest[DIGEST_STRING_MAX];
  if (content_writer_commit (blob, blob_digest, err) < 0)
    return box_err_wrap (err, "import %s", source_name);

  /* one layer: its chain id is its diff id (an identical layer already present stays) */
  if (layer_commit (layer, result.diff_id, err) < 0)
    return box_err_wrap (err, "import %s", source_name);

  _cleanup_json_ json_t *config = NULL;
  if (build_config (opts, source_name, result.diff_id, &config, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  char config_digest[DIGEST_STRING_MAX], manifest_digest[DIGEST_STRING_MAX];
  size_t config_size = 0, manifest_size = 0;
  if (store_json_blob (eng, config, config_digest, &config_size, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  const char *media_type = decompress_format_layer_media_type (result.format);
  _cleanup_json_ json_t *manifest
      = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "mediaType",
                   MEDIA_TYPE_MANIFEST, "config", "mediaType", MEDIA_TYPE_CONFIG, "digest",
                   config_digest, "size", (json_int_t) config_size, "layers", "mediaType",
                   media_type, "digest", blob_digest, "size", (json_int_t) result.compressed_size);
  if (!manifest || store_json_blob (eng, manifest, manifest_digest, &manifest_size, err) < 0)
    return box_err_wrap (err, "import %s", source_name);

  image_add_layer added = {
    .diff_id = result.diff_id,
    .blob_digest = blob_digest,
    .blob_media_type = media_type,
    .blob_size = (int64_t) result.compressed_size,
    .size = (int64_t) stats.file_bytes,
  };
  image_add_request req = {
    .config_digest = config_digest,
    .manifest_digest = manifest_digest,
    .manifest_media_type = MEDIA_TYPE_MANIFEST,
    .layers = &added,
    .n_layers = 1,
    .tag = opts->reference,
    .event_action = "import",
  };
  if (image_store_add (eng, &req, err) < 0)
    return box_err_wrap (err, "import %s", source_name);
  if (out_id && !(*out_id = strdup (config_digest)))
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}
