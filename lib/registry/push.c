/* Owns box_image_push: the local image a reference names goes to its registry. Its stored
 * manifest is pushed byte for byte (so the digest a pull gets back is the one it had); each
 * blob the manifest names is skipped when the registry has it, mounted when the image came
 * from another repository of the same registry, uploaded otherwise; the manifest goes last. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/image-store.h"
#include "image/reference.h"
#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/progress.h"
#include "store/images.h"
#include "store/store.h"
#include "util/json.h"
#include "util/strutil.h"

/* Repositories of the target registry the image is known to come from (its tags and repo
 * digests there), as mount sources; NULL-terminated. */
static int
mount_sources (const store_image *img, const image_reference *target, char ***out, box_error **err)
{
  size_t cap = img->n_tags + img->n_digests + 1, n = 0;
  char **sources = calloc (cap, sizeof *sources);
  if (!sources)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out = sources;
  for (size_t i = 0; i < img->n_tags + img->n_digests; i++)
    {
      const char *text = i < img->n_tags ? img->tags[i] : img->digests[i - img->n_tags];
      image_reference ref;
      if (image_reference_parse (text, &ref, NULL) < 0)
        continue;
      if (strcmp (ref.domain, target->domain) != 0 || strcmp (ref.path, target->path) == 0)
        continue;
      bool seen = false;
      for (size_t j = 0; j < n; j++)
        seen = seen || strcmp (sources[j], ref.path) == 0;
      if (seen)
        continue;
      sources[n] = strdup (ref.path);
      if (!sources[n])
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      n++;
    }
  return 0;
}

/* A manifest for an image that has none stored (one imported by an older path): OCI, from
 * the layers' stored blobs. */
static int
build_manifest (box_engine *eng, const store_image *img, char **out, size_t *out_len,
                box_error **err)
{
  uint64_t config_size = 0;
  if (content_blob_size (eng, img->id, &config_size, err) < 0)
    return box_err_wrap (err, "config blob");
  _cleanup_json_ json_t *layers = json_array ();
  if (!layers)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < img->n_layers; i++)
    {
      const store_image_layer *l = &img->layers[i];
      if (!l->blob_digest)
        return box_err (err, BOX_E_NOT_FOUND,
                        "layer %s has no stored blob to push (pull or load the image again)",
                        l->diff_id);
      json_t *d = json_pack ("{s:s,s:s,s:I}", "mediaType",
                             l->blob_media_type ? l->blob_media_type : MEDIA_TYPE_OCI_LAYER_GZIP,
                             "digest", l->blob_digest, "size", (json_int_t) l->blob_size);
      if (!d || json_array_append_new (layers, d) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  _cleanup_json_ json_t *manifest
      = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
                   MEDIA_TYPE_OCI_MANIFEST, "config", "mediaType", MEDIA_TYPE_OCI_CONFIG, "digest",
                   img->id, "size", (json_int_t) config_size, "layers", layers);
  if (!manifest)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out = json_dumps (manifest, JSON_COMPACT);
  if (!*out)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out_len = strlen (*out);
  return 0;
}

typedef struct blob_upload_progress {
  progress_reporter *progress;
  const registry_descriptor *desc;
} blob_upload_progress;

static void
on_blob_sent (int64_t sent, void *userdata)
{
  blob_upload_progress *u = userdata;
  progress_report (u->progress, BOX_TRANSFER_UPLOADING, u->desc->digest, sent, u->desc->size);
}

static int
push_blob (box_engine *eng, registry_client *client, const registry_descriptor *desc,
           char **sources, int64_t chunk_size, progress_reporter *progress, box_error **err)
{
  bool exists = false;
  if (registry_blob_exists (client, desc->digest, &exists, err) < 0)
    return box_err_code (err);
  if (exists)
    {
      progress_report (progress, BOX_TRANSFER_ALREADY_EXISTS, desc->digest, desc->size, desc->size);
      return 0;
    }
  for (char **source = sources; source && *source; source++)
    {
      bool mounted = false;
      box_error *local = NULL;
      /* a refused mount is not an error: the blob is uploaded instead */
      if (registry_mount_blob (client, desc->digest, *source, &mounted, &local) < 0)
        {
          box_error_free (local);
          continue;
        }
      if (mounted)
        {
          progress_report (progress, BOX_TRANSFER_MOUNTED, desc->digest, desc->size, desc->size);
          return 0;
        }
    }
  _cleanup_close_ int fd = -1;
  if (content_blob_open (eng, desc->digest, &fd, err) < 0)
    return box_err_code (err);
  uint64_t size = 0;
  if (content_blob_size (eng, desc->digest, &size, err) < 0)
    return box_err_code (err);
  if ((int64_t) size != desc->size)
    return box_err (err, BOX_E_INTERNAL, "stored blob has %llu bytes, the manifest says %lld",
                    (unsigned long long) size, (long long) desc->size);
  progress_report (progress, BOX_TRANSFER_UPLOADING, desc->digest, 0, desc->size);
  blob_upload_progress upload = { .progress = progress, .desc = desc };
  if (registry_upload_blob (client, desc->digest, fd, desc->size, chunk_size,
                            progress ? on_blob_sent : NULL, &upload, err)
      < 0)
    return box_err_code (err);
  progress_report (progress, BOX_TRANSFER_PUSHED, desc->digest, desc->size, desc->size);
  return 0;
}

/* Blobs go up three at a time, like layers come down. */
#define PUSH_PARALLEL 3

typedef struct push_item {
  const registry_descriptor *desc;
  const char *what; /* "layer", "config" */
  bool report;      /* config blobs are not shown as progress rows */
} push_item;

typedef struct push_job {
  box_engine *eng;
  registry_client *client;
  const push_item *items;
  size_t n_items;
  char **sources;
  int64_t chunk_size;
  progress_reporter *progress;
  pthread_mutex_t lock; /* next, failed, error */
  size_t next;
  bool failed;
  box_error *error;
} push_job;

static void *
push_worker (void *arg)
{
  push_job *job = arg;
  for (;;)
    {
      pthread_mutex_lock (&job->lock);
      if (job->failed || job->next >= job->n_items)
        {
          pthread_mutex_unlock (&job->lock);
          return NULL;
        }
      const push_item *item = &job->items[job->next++];
      pthread_mutex_unlock (&job->lock);
      box_error *local = NULL;
      if (push_blob (job->eng, job->client, item->desc, job->sources, job->chunk_size,
                     item->report ? job->progress : NULL, &local)
          < 0)
        {
          box_err_wrap (&local, "%s %s", item->what, item->desc->digest);
          pthread_mutex_lock (&job->lock);
          if (!job->failed)
            {
              job->failed = true;
              job->error = TAKE_PTR (local);
            }
          pthread_mutex_unlock (&job->lock);
          box_error_free (local);
          return NULL;
        }
    }
}

static int
push_blobs (push_job *job, box_error **err)
{
  pthread_mutex_init (&job->lock, NULL);
  size_t n_workers = job->n_items < PUSH_PARALLEL ? job->n_items : PUSH_PARALLEL;
  pthread_t workers[PUSH_PARALLEL];
  size_t started = 0;
  for (; started < n_workers; started++)
    {
      int rc = pthread_create (&workers[started], NULL, push_worker, job);
      if (rc != 0)
        {
          if (started == 0)
            {
              pthread_mutex_destroy (&job->lock);
              return box_err_errno (err, rc, "start an upload thread");
            }
          break; /* fewer workers still finish the job */
        }
    }
  for (size_t i = 0; i < started; i++)
    pthread_join (workers[i], NULL);
  pthread_mutex_destroy (&job->lock);
  if (job->failed)
    {
      box_err_propagate (err, &job->error);
      return box_err_code (err);
    }
  return 0;
}

/* Records name@digest on the image, as docker does after a push. */
static int
record_repo_digest (box_engine *eng, const image_reference *target, const char *digest,
                    const char *image_id, box_error **err)
{
  char name[IMAGE_REFERENCE_STRING_MAX];
  image_reference_name (target, name);
  _cleanup_free_ char *reference = NULL;
  if (asprintf (&reference, "%s@%s", name, digest) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_tx_ store_tx tx = { 0 };
  if (store_tx_begin (eng->store, &tx, err) < 0
      || store_image_digest_set (eng->store, reference, image_id, err) < 0
      || store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "record %s", reference);
  return 0;
}

int
box_image_push (box_engine *eng, const char *ref_text, const box_push_options *opts,
                char **out_digest, box_error **err)
{
  if (opts && opts->version != BOX_PUSH_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_push_options: unknown version %u", opts->version);
  box_push_options defaults = BOX_PUSH_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;

  image_reference target;
  if (image_reference_parse (ref_text, &target, err) < 0)
    return box_err_wrap (err, "push");
  if (target.digest[0])
    return box_err (err, BOX_E_INVALID, "push %s: push a tag, not a digest", ref_text);
  image_reference_default_tag (&target);
  char target_string[IMAGE_REFERENCE_STRING_MAX];
  image_reference_string (&target, target_string);

  _cleanup_free_ char *image_id = NULL;
  if (image_store_resolve (eng, target_string, &image_id, NULL, NULL, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);
  _cleanup_ (store_image_freep) store_image *img = NULL;
  if (store_image_get (eng->store, image_id, &img, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);

  _cleanup_free_ char *manifest_text = NULL;
  size_t manifest_len = 0;
  const char *media_type = MEDIA_TYPE_OCI_MANIFEST;
  int have_manifest
      = img->manifest_digest ? content_blob_exists (eng, img->manifest_digest, err) : 0;
  if (have_manifest < 0)
    return box_err_wrap (err, "push %s", ref_text);
  if (have_manifest)
    {
      if (content_blob_read (eng, img->manifest_digest, &manifest_text, &manifest_len, err) < 0)
        return box_err_wrap (err, "push %s", ref_text);
      if (img->manifest_media_type)
        media_type = img->manifest_media_type;
    }
  else if (build_manifest (eng, img, &manifest_text, &manifest_len, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);
  _cleanup_ (registry_manifest_freep) registry_manifest *manifest = NULL;
  if (registry_manifest_parse (manifest_text, manifest_len, media_type, &manifest, err) < 0)
    return box_err_wrap (err, "push %s: stored manifest", ref_text);
  if (manifest->kind != MANIFEST_KIND_IMAGE || strcmp (manifest->config.digest, img->id) != 0)
    return box_err (err, BOX_E_INTERNAL, "push %s: the stored manifest does not describe image %s",
                    ref_text, img->id);

  _cleanup_ (registry_settings_freep) registry_settings *settings = NULL;
  if (registry_settings_load (eng->root_fd, &settings, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);
  _cleanup_ (registry_client_freep) registry_client *client = NULL;
  if (registry_client_new (target.domain, target.path, REGISTRY_ACCESS_PUSH, settings, &client, err)
      < 0)
    return box_err_wrap (err, "push %s", ref_text);
  _cleanup_strv_ char **sources = NULL;
  if (mount_sources (img, &target, &sources, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);
  for (char **s = sources; *s; s++)
    if (registry_client_add_source_repository (client, *s, err) < 0)
      return box_err_wrap (err, "push %s", ref_text);

  _cleanup_ (progress_reporter_freep) progress_reporter *progress = NULL;
  if (progress_reporter_new (opts->progress, opts->progress_userdata, &progress, err) < 0)
    return box_err_code (err);
  for (size_t i = 0; i < manifest->n_layers; i++)
    progress_report (progress, BOX_TRANSFER_WAITING, manifest->layers[i].digest, 0,
                     manifest->layers[i].size);
  _cleanup_free_ push_item *items = calloc (manifest->n_layers + 1, sizeof *items);
  if (!items)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < manifest->n_layers; i++)
    items[i] = (push_item){ &manifest->layers[i], "layer", true };
  items[manifest->n_layers] = (push_item){ &manifest->config, "config", false };
  push_job job = { .eng = eng,
                   .client = client,
                   .items = items,
                   .n_items = manifest->n_layers + 1,
                   .sources = sources,
                   .chunk_size = opts->chunk_size,
                   .progress = progress };
  if (push_blobs (&job, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);

  if (registry_put_manifest (client, target.tag, manifest->media_type, manifest_text, manifest_len,
                             err)
      < 0)
    return box_err_wrap (err, "push %s", ref_text);
  char digest[DIGEST_STRING_MAX];
  if (digest_sha256_buffer (manifest_text, manifest_len, digest, err) < 0)
    return box_err_code (err);
  if (record_repo_digest (eng, &target, digest, img->id, err) < 0)
    return box_err_wrap (err, "push %s", ref_text);
  progress_report (progress, BOX_TRANSFER_RESOLVED, digest, 0, -1);
  if (out_digest && !(*out_digest = strdup (digest)))
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}
