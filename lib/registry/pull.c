/* Owns box_image_pull: reference → manifest (platform picked from an index) → config → layers,
 * then the image record. Each missing layer is fetched by a worker (a bounded pool) in one
 * pass: every byte that arrives is written to the content store (hashed there, verified
 * against the manifest digest at commit), fed to the decompressor (which hashes the diff id)
 * and handed to a layer-unpack thread writing the staging layer directory. The layer becomes
 * visible only after the blob verified and the diff id matched the config. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/decompress.h"
#include "image/image-store.h"
#include "image/layer-store.h"
#include "image/layer-unpack.h"
#include "image/reference.h"
#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/progress.h"
#include "registry/stage.h"
#include "store/images.h"
#include "util/digest.h"
#include "util/json.h"
#include "util/strutil.h"

/* Three transfers at once keep a link busy without starving each other (docker's default). */
#define PULL_DEFAULT_PARALLEL 3
#define PULL_MAX_PARALLEL 16

typedef enum layer_plan {
  LAYER_PLAN_SKIP,         /* blob and unpacked layer both present */
  LAYER_PLAN_FETCH_UNPACK, /* neither: the streaming pipeline */
  LAYER_PLAN_UNPACK_LOCAL, /* the blob is stored, the layer is not unpacked */
  LAYER_PLAN_FETCH_BLOB,   /* the layer is unpacked, the blob is missing (save/push need it) */
} layer_plan;

typedef struct pull_layer {
  const registry_descriptor *desc;
  const char *diff_id; /* from the config */
  char chain_id[DIGEST_STRING_MAX];
  layer_plan plan;
  int64_t unpacked_size;
} pull_layer;

typedef struct pull_job {
  box_engine *eng;
  registry_client *client;
  pull_layer *layers;
  size_t n_layers;
  progress_reporter *progress;
  pthread_mutex_t lock; /* next, failed, error */
  size_t next;
  bool failed;
  box_error *error;
} pull_job;

typedef struct layer_stream {
  pull_job *job;
  pull_layer *layer;
  content_writer *blob;       /* written here when blob_stage is NULL */
  stage *blob_stage;          /* else the blob is written on this stage's thread */
  decompressor *decompressor; /* NULL when only the blob is fetched */
  int64_t received;
  bool consumer_failed; /* the bytes were refused downstream (not a transfer failure) */
} layer_stream;

static int
blob_stage_consume (void *userdata, const void *data, size_t len, box_error **err)
{
  return content_writer_write (userdata, data, len, err);
}

/* The uncompressed stream's stage: hashes the diff id and hands the bytes to the unpack. */
typedef struct diff_stage_target {
  digest_hasher *hasher;
  layer_unpack_job *unpack;
} diff_stage_target;

static int
diff_stage_consume (void *userdata, const void *data, size_t len, box_error **err)
{
  diff_stage_target *t = userdata;
  if (digest_hasher_update (t->hasher, data, len, err) < 0)
    return box_err_code (err);
  return layer_unpack_job_write (t->unpack, data, len, err);
}

/* A decompress_output_fn feeding the diff stage. */
static int
to_diff_stage (void *userdata, const void *data, size_t len, box_error **err)
{
  return stage_write (userdata, data, len, err);
}

static bool
job_failed (pull_job *job)
{
  pthread_mutex_lock (&job->lock);
  bool failed = job->failed;
  pthread_mutex_unlock (&job->lock);
  return failed;
}

static int
layer_stream_write (const void *data, size_t len, void *userdata, box_error **err)
{
  layer_stream *ls = userdata;
  if (job_failed (ls->job))
    return box_err (err, BOX_E_IO, "cancelled: another layer failed");
  int rc = ls->blob_stage ? stage_write (ls->blob_stage, data, len, err)
                          : content_writer_write (ls->blob, data, len, err);
  if (rc < 0)
    {
      ls->consumer_failed = true;
      return rc;
    }
  if (ls->decompressor && decompressor_feed (ls->decompressor, data, len, err) < 0)
    {
      ls->consumer_failed = true;
      return box_err_code (err);
    }
  ls->received += (int64_t) len;
  progress_report (ls->job->progress, BOX_TRANSFER_DOWNLOADING, ls->layer->desc->digest,
                   ls->received, ls->layer->desc->size);
  return 0;
}

/* Bytes a killed or failed earlier pull left in the partial blob: they are already stored, so
 * they only go through the decompression (and count as received). */
static int
replay_partial (void *userdata, const void *data, size_t len, box_error **err)
{
  layer_stream *ls = userdata;
  if (decompressor_feed (ls->decompressor, data, len, err) < 0)
    return box_err_code (err);
  ls->received += (int64_t) len;
  return 0;
}

static int
check_diff_id (const pull_layer *layer, const char *diff_id, box_error **err)
{
  if (strcmp (diff_id, layer->diff_id) != 0)
    return box_err (err, BOX_E_INVALID,
                    "the uncompressed layer has digest %s, the image config says %s", diff_id,
                    layer->diff_id);
  return 0;
}

/* Download + verify + decompress + unpack, in one pass. */
static int
fetch_and_unpack (pull_job *job, pull_layer *layer, box_error **err)
{
  _cleanup_ (layer_abortp) layer_writer *staging = NULL;
  if (layer_begin (job->eng, &staging, err) < 0)
    return box_err_code (err);
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  _cleanup_ (layer_unpack_job_freep) layer_unpack_job *unpack = NULL;
  if (layer_unpack_job_start (layer_writer_directory_fd (staging), &uopts, &unpack, err) < 0)
    return box_err_code (err);
  layer_compression compression;
  if (registry_layer_compression (layer->desc->media_type, &compression, err) < 0)
    return box_err_code (err);
  /* Four threads share the work, so the slowest step alone sets the pace: this one
     receives and decompresses; the blob stage hashes and stores the compressed bytes; the
     diff stage hashes the uncompressed stream (the diff id); the unpack thread writes files. */
  _cleanup_ (digest_hasher_freep) digest_hasher *diff_hasher = NULL;
  if (digest_hasher_new (&diff_hasher, err) < 0)
    return box_err_code (err);
  diff_stage_target diff_target = { diff_hasher, unpack };
  _cleanup_ (stage_freep) stage *diff_stage = NULL;
  if (stage_start (diff_stage_consume, &diff_target, &diff_stage, err) < 0)
    return box_err_code (err);
  decompress_options dopts = DECOMPRESS_OPTIONS_INIT;
  /* the media type says what it should be; the magic bytes say what it is (some registries
     label plain tars as gzip), so let the decompressor look */
  dopts.format = DECOMPRESS_DETECT;
  dopts.digest_uncompressed = false;
  _cleanup_ (decompressor_freep) decompressor *dec = NULL;
  if (decompressor_new (&dopts, to_diff_stage, diff_stage, &dec, err) < 0)
    return box_err_code (err);
  _cleanup_ (content_writer_abortp) content_writer *blob = NULL;
  if (content_writer_open_resumable (job->eng, layer->desc->digest, (uint64_t) layer->desc->size,
                                     &blob, err)
      < 0)
    return box_err_code (err);
  layer_stream ls = { job, layer, NULL, NULL, dec, 0, false };
  /* continue an interrupted download: what is stored already only needs decompressing */
  if (content_writer_replay (blob, replay_partial, &ls, err) < 0)
    {
      content_writer_discard_partial (blob);
      return box_err_wrap (err, "stored part of the blob");
    }
  _cleanup_ (stage_freep) stage *blob_stage = NULL;
  if (stage_start (blob_stage_consume, blob, &blob_stage, err) < 0)
    return box_err_code (err);
  ls.blob_stage = blob_stage;
  if (registry_fetch_blob (job->client, layer->desc->digest, layer->desc->size, ls.received,
                           layer_stream_write, &ls, err)
      < 0)
    {
      /* keep what arrived for the next pull, unless the bytes themselves were refused */
      if (ls.consumer_failed)
        content_writer_discard_partial (blob);
      return box_err_code (err);
    }
  /* from here on a failure means the content is wrong: start over next time */
  content_writer_discard_partial (blob);
  if (stage_finish (blob_stage, err) < 0)
    return box_err_code (err);
  if (decompressor_finish (dec, NULL, err) < 0 || stage_finish (diff_stage, err) < 0)
    return box_err_code (err);
  char diff_id[DIGEST_STRING_MAX];
  if (digest_hasher_final (diff_hasher, diff_id, err) < 0)
    return box_err_code (err);
  layer_unpack_stats stats = { 0 };
  int unpack_rc = layer_unpack_job_finish (unpack, &stats, err);
  if (unpack_rc < 0)
    return unpack_rc;
  /* the compressed digest first: bytes that are not the manifest's are rejected as such,
     whatever they decompress to */
  if (content_writer_commit (blob, NULL, err) < 0)
    return box_err_code (err);
  if (check_diff_id (layer, diff_id, err) < 0)
    return box_err_code (err);
  if (layer_commit (staging, layer->chain_id, err) < 0)
    return box_err_code (err);
  layer->unpacked_size = (int64_t) stats.file_bytes;
  return 0;
}

static int
unpack_local_blob (pull_job *job, pull_layer *layer, box_error **err)
{
  progress_report (job->progress, BOX_TRANSFER_EXTRACTING, layer->desc->digest, 0,
                   layer->desc->size);
  _cleanup_close_ int fd = -1;
  if (content_blob_open (job->eng, layer->desc->digest, &fd, err) < 0)
    return box_err_code (err);
  _cleanup_ (layer_abortp) layer_writer *staging = NULL;
  if (layer_begin (job->eng, &staging, err) < 0)
    return box_err_code (err);
  _cleanup_ (decompress_reader_freep) decompress_reader *reader = NULL;
  if (decompress_reader_new_fd (NULL, fd, &reader, err) < 0)
    return box_err_code (err);
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  layer_unpack_stats stats = { 0 };
  decompress_result result;
  if (layer_unpack (layer_writer_directory_fd (staging), decompress_reader_read, reader, &uopts,
                    &stats, err)
          < 0
      || decompress_reader_finish (reader, &result, err) < 0)
    return box_err_code (err);
  if (check_diff_id (layer, result.diff_id, err) < 0
      || layer_commit (staging, layer->chain_id, err) < 0)
    return box_err_code (err);
  layer->unpacked_size = (int64_t) stats.file_bytes;
  return 0;
}

static int
fetch_blob_only (pull_job *job, pull_layer *layer, box_error **err)
{
  _cleanup_ (content_writer_abortp) content_writer *blob = NULL;
  if (content_writer_open (job->eng, layer->desc->digest, &blob, err) < 0)
    return box_err_code (err);
  layer_stream ls = { job, layer, blob, NULL, NULL, 0, false };
  if (registry_fetch_blob (job->client, layer->desc->digest, layer->desc->size, 0,
                           layer_stream_write, &ls, err)
          < 0
      || content_writer_commit (blob, NULL, err) < 0)
    return box_err_code (err);
  return 0;
}

static void *
pull_worker (void *arg)
{
  pull_job *job = arg;
  for (;;)
    {
      pthread_mutex_lock (&job->lock);
      while (job->next < job->n_layers && job->layers[job->next].plan == LAYER_PLAN_SKIP)
        job->next++;
      if (job->failed || job->next >= job->n_layers)
        {
          pthread_mutex_unlock (&job->lock);
          return NULL;
        }
      pull_layer *layer = &job->layers[job->next++];
      pthread_mutex_unlock (&job->lock);

      box_error *local = NULL;
      int rc;
      switch (layer->plan)
        {
        case LAYER_PLAN_FETCH_UNPACK:
          rc = fetch_and_unpack (job, layer, &local);
          break;
        case LAYER_PLAN_UNPACK_LOCAL:
          rc = unpack_local_blob (job, layer, &local);
          break;
        default:
          rc = fetch_blob_only (job, layer, &local);
          break;
        }
      if (rc < 0)
        {
          box_err_wrap (&local, "layer %s", layer->desc->digest);
          pthread_mutex_lock (&job->lock);
          /* the first failure is the one to report; the others are its consequences */
          if (!job->failed)
            {
              job->failed = true;
              job->error = TAKE_PTR (local);
            }
          pthread_mutex_unlock (&job->lock);
          box_error_free (local);
          return NULL;
        }
      progress_report (job->progress, BOX_TRANSFER_LAYER_COMPLETE, layer->desc->digest,
                       layer->desc->size, layer->desc->size);
    }
}

/* Fetches the image manifest for ref, through an index when there is one. */
static int
resolve_manifest (registry_client *client, const char *reference, const char *platform,
                  registry_fetched_manifest *top, registry_fetched_manifest *image,
                  registry_manifest **out, box_error **err)
{
  if (registry_get_manifest (client, reference, top, err) < 0)
    return box_err_code (err);
  _cleanup_ (registry_manifest_freep) registry_manifest *m = NULL;
  if (registry_manifest_parse (top->body, top->len, top->content_type, &m, err) < 0)
    return box_err_wrap (err, "manifest %s", top->digest);
  if (m->kind == MANIFEST_KIND_IMAGE)
    {
      *out = TAKE_PTR (m);
      return 0;
    }
  const registry_descriptor *chosen = NULL;
  if (registry_index_select (m, platform, &chosen, err) < 0)
    return box_err_wrap (err, "image index %s", top->digest);
  if (registry_get_manifest (client, chosen->digest, image, err) < 0)
    return box_err_code (err);
  _cleanup_ (registry_manifest_freep) registry_manifest *platform_manifest = NULL;
  if (registry_manifest_parse (image->body, image->len, image->content_type, &platform_manifest,
                               err)
      < 0)
    return box_err_wrap (err, "manifest %s", image->digest);
  if (platform_manifest->kind != MANIFEST_KIND_IMAGE)
    return box_err (err, BOX_E_INVALID, "image index %s: entry %s is not an image manifest",
                    top->digest, chosen->digest);
  *out = TAKE_PTR (platform_manifest);
  return 0;
}

static int
store_verified_buffer (box_engine *eng, const char *body, size_t len, const char *digest,
                       box_error **err)
{
  char stored[DIGEST_STRING_MAX];
  if (content_blob_write_buffer (eng, body, len, stored, err) < 0)
    return box_err_code (err);
  if (strcmp (stored, digest) != 0)
    return box_err (err, BOX_E_INTERNAL, "stored %s as %s", digest, stored);
  return 0;
}

static int
pull_layers (box_engine *eng, registry_client *client, pull_layer *layers, size_t n_layers,
             unsigned max_parallel, progress_reporter *progress, box_error **err)
{
  size_t pending = 0;
  for (size_t i = 0; i < n_layers; i++)
    {
      if (layers[i].plan == LAYER_PLAN_SKIP)
        progress_report (progress, BOX_TRANSFER_ALREADY_EXISTS, layers[i].desc->digest, 0,
                         layers[i].desc->size);
      else
        {
          pending++;
          progress_report (progress, BOX_TRANSFER_WAITING, layers[i].desc->digest, 0,
                           layers[i].desc->size);
        }
    }
  if (pending == 0)
    return 0;
  pull_job job = {
    .eng = eng, .client = client, .layers = layers, .n_layers = n_layers, .progress = progress
  };
  pthread_mutex_init (&job.lock, NULL);
  size_t n_workers = max_parallel < pending ? max_parallel : pending;
  pthread_t workers[PULL_MAX_PARALLEL];
  size_t started = 0;
  for (; started < n_workers; started++)
    {
      int rc = pthread_create (&workers[started], NULL, pull_worker, &job);
      if (rc != 0)
        {
          if (started == 0)
            {
              pthread_mutex_destroy (&job.lock);
              return box_err_errno (err, rc, "start a download thread");
            }
          break; /* fewer workers still finish the job */
        }
    }
  for (size_t i = 0; i < started; i++)
    pthread_join (workers[i], NULL);
  pthread_mutex_destroy (&job.lock);
  if (job.failed)
    {
      box_err_propagate (err, &job.error);
      return box_err_code (err);
    }
  return 0;
}

static int
pull_once (box_engine *eng, const char *ref_text, const box_pull_options *opts,
           char **out_image_id, box_error **err)
{
  if (opts && opts->version != BOX_PULL_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_pull_options: unknown version %u", opts->version);
  box_pull_options defaults = BOX_PULL_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  unsigned max_parallel = opts->max_parallel ? opts->max_parallel : PULL_DEFAULT_PARALLEL;
  if (max_parallel > PULL_MAX_PARALLEL)
    max_parallel = PULL_MAX_PARALLEL;

  image_reference ref;
  if (image_reference_parse (ref_text, &ref, err) < 0)
    return box_err_wrap (err, "pull");
  image_reference_default_tag (&ref);
  char name[IMAGE_REFERENCE_STRING_MAX];
  image_reference_name (&ref, name);
  if (ref.digest[0] && !registry_digest_is_valid (ref.digest))
    return box_err (err, BOX_E_UNSUPPORTED, "pull %s: only sha256 digests are supported", ref_text);
  const char *wanted = ref.digest[0] ? ref.digest : ref.tag;

  _cleanup_ (registry_settings_freep) registry_settings *settings = NULL;
  if (registry_settings_load (eng->root_fd, &settings, err) < 0)
    return box_err_wrap (err, "pull %s", name);
  _cleanup_ (registry_client_freep) registry_client *client = NULL;
  if (registry_client_new (ref.domain, ref.path, REGISTRY_ACCESS_PULL, settings, &client, err) < 0)
    return box_err_wrap (err, "pull %s", name);

  registry_fetched_manifest top = { 0 }, platform_body = { 0 };
  _cleanup_ (registry_manifest_freep) registry_manifest *manifest = NULL;
  int rc = resolve_manifest (client, wanted, opts->platform, &top, &platform_body, &manifest, err);
  /* the image's own manifest: the platform entry of an index, else the top document */
  registry_fetched_manifest *image_manifest = platform_body.body ? &platform_body : &top;
  _cleanup_ (progress_reporter_freep) progress_reporter *progress = NULL;
  _cleanup_free_ char *config_text = NULL;
  size_t config_len = 0;
  _cleanup_json_ json_t *config = NULL;
  _cleanup_free_ pull_layer *layers = NULL;
  _cleanup_free_ image_add_layer *added = NULL;
  if (rc < 0)
    goto fail;
  if ((rc = progress_reporter_new (opts->progress, opts->progress_userdata, &progress, err)) < 0)
    goto fail;
  progress_report (progress, BOX_TRANSFER_RESOLVED, top.digest, 0, -1);

  /* the config: small, fetched whole, verified, stored */
  if ((rc = registry_fetch_small_blob (client, manifest->config.digest, manifest->config.size,
                                       &config_text, &config_len, err))
      < 0)
    goto fail;
  if ((rc = json_parse_object (config_text, "image config", &config, err)) < 0)
    goto fail;
  json_t *diff_ids = json_object_get (json_object_get (config, "rootfs"), "diff_ids");
  if (json_array_size (diff_ids) != manifest->n_layers)
    {
      rc = box_err (err, BOX_E_INVALID, "image config %s lists %zu layers, the manifest %zu",
                    manifest->config.digest, json_array_size (diff_ids), manifest->n_layers);
      goto fail;
    }

  layers = calloc (manifest->n_layers ? manifest->n_layers : 1, sizeof *layers);
  if (!layers)
    {
      rc = box_err (err, BOX_E_INTERNAL, "out of memory");
      goto fail;
    }
  for (size_t i = 0; i < manifest->n_layers; i++)
    {
      pull_layer *l = &layers[i];
      l->desc = &manifest->layers[i];
      l->diff_id = json_string_value (json_array_get (diff_ids, i));
      if (!l->diff_id || !registry_digest_is_valid (l->diff_id))
        {
          rc = box_err (err, BOX_E_INVALID,
                        "image config %s: diff_ids[%zu] is not a sha256 "
                        "digest",
                        manifest->config.digest, i);
          goto fail;
        }
      if ((rc = layer_chain_id (i ? layers[i - 1].chain_id : NULL, l->diff_id, l->chain_id, err))
          < 0)
        goto fail;
      int have_layer = layer_exists (eng, l->chain_id, err);
      int have_blob = have_layer < 0 ? -1 : content_blob_exists (eng, l->desc->digest, err);
      if (have_layer < 0 || have_blob < 0)
        {
          rc = box_err_code (err);
          goto fail;
        }
      l->plan = have_layer ? (have_blob ? LAYER_PLAN_SKIP : LAYER_PLAN_FETCH_BLOB)
                           : (have_blob ? LAYER_PLAN_UNPACK_LOCAL : LAYER_PLAN_FETCH_UNPACK);
      if (have_layer)
        {
          int64_t size = 0;
          box_error *ignored = NULL;
          if (store_layer_get_size (eng->store, l->chain_id, &size, &ignored) > 0)
            l->unpacked_size = size;
          box_error_free (ignored);
        }
    }

  if ((rc = pull_layers (eng, client, layers, manifest->n_layers, max_parallel, progress, err)) < 0)
    goto fail;

  /* config, manifest (and index) into the content store, then the record */
  if ((rc = store_verified_buffer (eng, config_text, config_len, manifest->config.digest, err)) < 0
      || (rc = store_verified_buffer (eng, image_manifest->body, image_manifest->len,
                                      image_manifest->digest, err))
             < 0)
    goto fail;
  const char *extra_blobs[1] = { NULL };
  size_t n_extra = 0;
  if (platform_body.body)
    {
      if ((rc = store_verified_buffer (eng, top.body, top.len, top.digest, err)) < 0)
        goto fail;
      extra_blobs[n_extra++] = top.digest;
    }
  added = calloc (manifest->n_layers + 1, sizeof *added);
  if (!added)
    {
      rc = box_err (err, BOX_E_INTERNAL, "out of memory");
      goto fail;
    }
  for (size_t i = 0; i < manifest->n_layers; i++)
    added[i] = (image_add_layer){ .diff_id = layers[i].diff_id,
                                  .blob_digest = layers[i].desc->digest,
                                  .blob_media_type = layers[i].desc->media_type,
                                  .blob_size = layers[i].desc->size,
                                  .size = layers[i].unpacked_size };
  char tag_ref[2 * IMAGE_REFERENCE_STRING_MAX] = "", digest_ref[2 * IMAGE_REFERENCE_STRING_MAX];
  if (ref.tag[0] && !ref.digest[0])
    snprintf (tag_ref, sizeof tag_ref, "%s:%s", name, ref.tag);
  /* docker records the digest the reference resolved to: the index's for a multi-platform
     image */
  snprintf (digest_ref, sizeof digest_ref, "%s@%s", name, top.digest);
  image_add_request req = {
    .config_digest = manifest->config.digest,
    .manifest_digest = image_manifest->digest,
    .manifest_media_type = manifest->media_type,
    .layers = added,
    .n_layers = manifest->n_layers,
    .extra_blobs = extra_blobs,
    .n_extra_blobs = n_extra,
    .tag = tag_ref[0] ? tag_ref : NULL,
    .repo_digest = digest_ref,
    .event_action = "pull",
  };
  if ((rc = image_store_add (eng, &req, err)) < 0)
    goto fail;
  if (out_image_id && !(*out_image_id = strdup (manifest->config.digest)))
    {
      rc = box_err (err, BOX_E_INTERNAL, "out of memory");
      goto fail;
    }
  registry_fetched_manifest_clear (&top);
  registry_fetched_manifest_clear (&platform_body);
  return 0;

fail:
  registry_fetched_manifest_clear (&top);
  registry_fetched_manifest_clear (&platform_body);
  return box_err_wrap (err, "pull %s", ref_text);
}

int
box_image_pull (box_engine *eng, const char *ref_text, const box_pull_options *opts,
                char **out_image_id, box_error **err)
{
  box_error *first = NULL;
  int rc = pull_once (eng, ref_text, opts, out_image_id, &first);
  /* a removal in another process took a layer or blob this pull found present and skipped:
   * the second attempt fetches what is missing now */
  if (rc == BOX_E_CONFLICT)
    {
      box_error_free (first);
      first = NULL;
      rc = pull_once (eng, ref_text, opts, out_image_id, &first);
    }
  if (rc < 0)
    box_err_propagate (err, &first);
  return rc;
}
