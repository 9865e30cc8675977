/* Owns image records over the content and layer stores: adding an image, resolving a
 * reference, finding the boxes that use an image, and deleting an image together with the
 * blobs and layers only it held. */
#include "image/image-store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/image-config.h"
#include "image/layer-store.h"
#include "image/reference.h"
#include "store/boxes.h"
#include "store/events.h"
#include "store/images.h"
#include "util/json.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#define OUT_OF_MEMORY(err) box_err (err, BOX_E_INTERNAL, "out of memory")

const char *
image_host_architecture (void)
{
  static const struct {
    const char *machine, *oci;
  } names[] = {
    { "x86_64", "amd64" }, { "aarch64", "arm64" },   { "armv7l", "arm" },  { "i686", "386" },
    { "i386", "386" },     { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
  };
  static char machine[65];
  struct utsname u;
  if (uname (&u) < 0)
    return "amd64";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (u.machine, names[i].machine) == 0)
      return names[i].oci;
  snprintf (machine, sizeof machine, "%s", u.machine);
  return machine;
}

int
image_store_event (box_engine *eng, const char *action, const char *image_id, const char *name,
                   box_error **err)
{
  _cleanup_json_ json_t *attributes = json_pack ("{s:s}", "name", name ? name : image_id);
  _cleanup_free_ char *text = attributes ? json_dumps (attributes, JSON_COMPACT) : NULL;
  if (!text)
    return OUT_OF_MEMORY (err);
  return store_event_append (eng->store, 0, "image", action, image_id, text, err);
}

/* Checks a reference meant as a tag and normalizes it (default tag latest). */
static int
normalize_tag (const char *text, char out[IMAGE_REFERENCE_STRING_MAX], box_error **err)
{
  image_reference ref;
  if (image_reference_parse (text, &ref, err) < 0)
    return box_err_code (err);
  if (ref.digest[0])
    return box_err (err, BOX_E_INVALID,
                    "invalid tag \"%s\": a tag cannot carry a digest (refer to content by "
                    "digest, tag by name:tag)",
                    text);
  image_reference_default_tag (&ref);
  image_reference_string (&ref, out);
  return 0;
}

/* BOX_E_CONFLICT when a blob the new record would reference is not in the content store. */
static int
check_blob_present (box_engine *eng, const char *digest, box_error **err)
{
  int exists = content_blob_exists (eng, digest, err);
  if (exists < 0)
    return box_err_code (err);
  if (exists == 0)
    return box_err (err, BOX_E_CONFLICT, "blob %s is not in the content store (removed meanwhile?)",
                    digest);
  return 0;
}

int
image_store_add (box_engine *eng, const image_add_request *req, box_error **err)
{
  if (!digest_is_valid_sha256 (req->config_digest))
    return box_err (err, BOX_E_INVALID, "add image: invalid config digest \"%s\"",
                    req->config_digest ? req->config_digest : "");
  char tag[IMAGE_REFERENCE_STRING_MAX] = "";
  if (req->tag && normalize_tag (req->tag, tag, err) < 0)
    return box_err_wrap (err, "add image");

  _cleanup_free_ char *config_text = NULL;
  size_t config_len = 0;
  if (content_blob_read (eng, req->config_digest, &config_text, &config_len, err) < 0)
    return box_err_wrap (err, "add image");
  if (strlen (config_text) != config_len)
    return box_err (err, BOX_E_INVALID, "add image: config %s contains a NUL byte",
                    req->config_digest);
  _cleanup_json_ json_t *config = NULL;
  if (json_parse_object (config_text, "image config", &config, err) < 0
      || image_config_validate (config, err) < 0)
    return box_err_wrap (err, "add image %s", req->config_digest);

  const json_t *diff_ids = json_object_get (json_object_get (config, "rootfs"), "diff_ids");
  if (json_array_size (diff_ids) != req->n_layers)
    return box_err (err, BOX_E_INVALID,
                    "add image %s: the config lists %zu layers, %zu were provided",
                    req->config_digest, json_array_size (diff_ids), req->n_layers);

  _cleanup_free_ store_image_layer *layers = calloc (req->n_layers + 1, sizeof *layers);
  _cleanup_free_ char (*chain_ids)[DIGEST_STRING_MAX]
      = calloc (req->n_layers + 1, sizeof *chain_ids);
  if (!layers || !chain_ids)
    return OUT_OF_MEMORY (err);
  int64_t total_size = 0;
  for (size_t i = 0; i < req->n_layers; i++)
    {
      const image_add_layer *in = &req->layers[i];
      const char *listed = json_string_value (json_array_get (diff_ids, i));
      if (!in->diff_id || strcmp (listed, in->diff_id) != 0)
        return box_err (err, BOX_E_INVALID,
                        "add image %s: layer %zu has diff id %s, the config says %s",
                        req->config_digest, i, in->diff_id ? in->diff_id : "(none)", listed);
      if (layer_chain_id (i ? chain_ids[i - 1] : NULL, in->diff_id, chain_ids[i], err) < 0)
        return box_err_wrap (err, "add image %s", req->config_digest);
      layers[i] = (store_image_layer){ .chain_id = chain_ids[i],
                                       .diff_id = (char *) in->diff_id,
                                       .blob_digest = (char *) in->blob_digest,
                                       .blob_media_type = (char *) in->blob_media_type,
                                       .blob_size = in->blob_size,
                                       .size = in->size };
      total_size += in->size;
    }

  box_label *labels = NULL;
  size_t n_labels = 0;
  if (image_config_labels (config, &labels, &n_labels, err) < 0)
    return box_err_code (err);
  int64_t created_ns = 0;
  if (image_config_created_ns (config, &created_ns, err) < 0)
    {
      image_labels_free (labels, n_labels);
      return box_err_wrap (err, "add image %s", req->config_digest);
    }

  store_image row = {
    .id = (char *) req->config_digest,
    .created_ns = created_ns,
    .added_ns = time_now_ns (),
    .size = total_size,
    .architecture = (char *) json_string_value (json_object_get (config, "architecture")),
    .os = (char *) json_string_value (json_object_get (config, "os")),
    .config = config_text,
    .manifest_digest = (char *) req->manifest_digest,
    .manifest_media_type = (char *) req->manifest_media_type,
    .layers = layers,
    .n_layers = req->n_layers,
    .labels = labels,
    .n_labels = n_labels,
    .blobs = (char **) req->extra_blobs,
    .n_blobs = req->n_extra_blobs,
  };

  _cleanup_tx_ store_tx tx = { 0 };
  int rc = store_tx_begin (eng->store, &tx, err);
  store_image *existing = NULL;
  /* under the write lock: a removal in another process takes layer directories and blobs
   * away only under it too, after checking that no image links them */
  for (size_t i = 0; rc == 0 && i < req->n_layers; i++)
    {
      int exists = layer_exists (eng, chain_ids[i], err);
      if (exists == 0)
        rc = box_err (err, BOX_E_CONFLICT, "layer %s is not unpacked (removed meanwhile?)",
                      chain_ids[i]);
      else if (exists < 0)
        rc = box_err_code (err);
    }
  if (rc == 0)
    rc = check_blob_present (eng, req->config_digest, err);
  for (size_t i = 0; rc == 0 && i < req->n_layers; i++)
    if (req->layers[i].blob_digest)
      rc = check_blob_present (eng, req->layers[i].blob_digest, err);
  for (size_t i = 0; rc == 0 && i < req->n_extra_blobs; i++)
    rc = check_blob_present (eng, req->extra_blobs[i], err);
  if (rc == 0)
    rc = store_image_get (eng->store, req->config_digest, &existing, err);
  if (rc == 0)
    rc = store_image_insert (eng->store, &row, err);
  store_image_free (existing);
  image_labels_free (labels, n_labels);
  if (rc < 0)
    return box_err_wrap (err, "add image %s", req->config_digest);

  if (tag[0]
      && (store_image_tag_set (eng->store, tag, req->config_digest, err) < 0
          || image_store_event (eng, "tag", req->config_digest, tag, err) < 0))
    return box_err_wrap (err, "add image %s: tag %s", req->config_digest, tag);
  if (req->repo_digest
      && store_image_digest_set (eng->store, req->repo_digest, req->config_digest, err) < 0)
    return box_err_wrap (err, "add image %s", req->config_digest);
  if (req->event_action
      && image_store_event (eng, req->event_action, req->config_digest, tag[0] ? tag : NULL, err)
             < 0)
    return box_err_wrap (err, "add image %s", req->config_digest);
  if (store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "add image %s", req->config_digest);
  return 0;
}

static bool
is_hex_of_length (const char *s, size_t min, size_t max)
{
  size_t len = strlen (s);
  return len >= min && len <= max && str_is_lower_hex (s);
}

int
image_store_resolve (box_engine *eng, const char *ref, char **out_id, image_match *out_match,
                     char **out_normalized, box_error **err)
{
  if (!ref || !*ref)
    return box_err (err, BOX_E_INVALID, "empty image reference");
  const char *hex = str_has_prefix (ref, "sha256:") ? ref + 7 : ref;
  bool id_like = is_hex_of_length (hex, 1, DIGEST_SHA256_HEX_LENGTH);
  _cleanup_free_ char *id = NULL;
  image_match match = IMAGE_MATCH_ID;
  char normalized[IMAGE_REFERENCE_STRING_MAX] = "";

  int found = 0;
  if (id_like && strlen (hex) == DIGEST_SHA256_HEX_LENGTH)
    {
      char full[DIGEST_STRING_MAX];
      snprintf (full, sizeof full, "sha256:%s", hex);
      found = store_image_exists (eng->store, full, err);
      if (found < 0)
        return box_err_code (err);
      if (found && !(id = strdup (full)))
        return OUT_OF_MEMORY (err);
    }

  if (!found && hex == ref)
    {
      image_reference parsed;
      box_error *parse_err = NULL;
      if (image_reference_parse (ref, &parsed, &parse_err) == 0)
        {
          if (parsed.digest[0])
            {
              /* name@digest, ignoring a tag given with it, as docker does */
              parsed.tag[0] = '\0';
              image_reference_string (&parsed, normalized);
              found = store_image_id_by_digest (eng->store, normalized, &id, err);
              match = IMAGE_MATCH_DIGEST;
            }
          else
            {
              image_reference_default_tag (&parsed);
              image_reference_string (&parsed, normalized);
              found = store_image_id_by_tag (eng->store, normalized, &id, err);
              match = IMAGE_MATCH_TAG;
            }
          if (found < 0)
            return box_err_code (err);
        }
      else if (!id_like)
        return box_err_propagate (err, &parse_err);
      box_error_free (parse_err);
    }

  if (!found && id_like)
    {
      found = store_image_find_by_id_prefix (eng->store, hex, &id, err);
      if (found < 0)
        return box_err_code (err);
      if (found > 1)
        return box_err (err, BOX_E_AMBIGUOUS,
                        "image reference \"%s\" is ambiguous: several image ids start with %s", ref,
                        hex);
      match = IMAGE_MATCH_ID;
    }

  if (!found)
    return box_err (err, BOX_E_NOT_FOUND, "no such image: %s", ref);
  if (match == IMAGE_MATCH_ID)
    snprintf (normalized, sizeof normalized, "%s", id);
  if (out_normalized && !(*out_normalized = strdup (normalized)))
    return OUT_OF_MEMORY (err);
  if (out_match)
    *out_match = match;
  *out_id = TAKE_PTR (id);
  return 0;
}

static bool
box_references_image (box_engine *eng, const box_box *b, const char *image_id)
{
  const char *image = b->image ? b->image : "";
  if (strcmp (image, image_id) == 0 || strcmp (image, digest_hex (image_id)) == 0)
    return true;
  _cleanup_json_ json_t *config = json_loads (b->config_json ? b->config_json : "{}", 0, NULL);
  const char *recorded = json_string_value (json_object_get (config, "ImageID"));
  if (recorded)
    return strcmp (recorded, image_id) == 0 || strcmp (recorded, digest_hex (image_id)) == 0;
  _cleanup_free_ char *resolved = NULL;
  box_error *ignored = NULL;
  bool same = image_store_resolve (eng, image, &resolved, NULL, NULL, &ignored) == 0
              && strcmp (resolved, image_id) == 0;
  box_error_free (ignored);
  return same;
}

int
image_store_find_user (box_engine *eng, const char *image_id, char out_box_id[65], box_error **err)
{
  box_box **boxes = NULL;
  size_t n = 0;
  if (store_box_list (eng->store, &boxes, &n, err) < 0)
    return box_err_code (err);
  int found = 0;
  for (size_t i = 0; i < n && !found; i++)
    if (box_references_image (eng, boxes[i], image_id))
      {
        found = 1;
        snprintf (out_box_id, 65, "%s", boxes[i]->id);
      }
  box_box_list_free (boxes, n);
  return found;
}

static void
strings_free (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

int
image_store_delete (box_engine *eng, const char *image_id, uint64_t *reclaimed, box_error **err)
{
  char **blobs = NULL, **layers = NULL;
  size_t n_blobs = 0, n_layers = 0;
  int64_t layer_bytes = 0;
  {
    _cleanup_tx_ store_tx tx = { 0 };
    if (store_tx_begin (eng->store, &tx, err) < 0)
      return box_err_wrap (err, "delete image %s", image_id);
    _cleanup_ (store_image_freep) store_image *image = NULL;
    int found = store_image_get (eng->store, image_id, &image, err);
    if (found < 0)
      return box_err_wrap (err, "delete image %s", image_id);
    if (!found)
      return box_err (err, BOX_E_NOT_FOUND, "delete image: no such image: %s", image_id);
    if (store_image_delete (eng->store, image_id, &blobs, &n_blobs, &layers, &n_layers, err) < 0)
      return box_err_wrap (err, "delete image %s", image_id);
    for (size_t i = 0; i < n_layers; i++)
      for (size_t j = 0; j < image->n_layers; j++)
        if (strcmp (layers[i], image->layers[j].chain_id) == 0)
          {
            layer_bytes += image->layers[j].size;
            break;
          }
    if (image_store_event (eng, "delete", image_id, NULL, err) < 0
        || store_tx_commit (&tx, err) < 0)
      {
        strings_free (blobs, n_blobs);
        strings_free (layers, n_layers);
        return box_err_wrap (err, "delete image %s", image_id);
      }
  }

  /* the record is gone. The files go under the write lock, after checking again that no
   * image links them: an add in another process checks its layer directories under the same
   * lock, so it either sees them gone or has linked them before this check. A crash here
   * leaves unreferenced files, which the next removal or an add of the same content reuses. */
  int rc = 0;
  uint64_t freed = (uint64_t) layer_bytes;
  {
    _cleanup_tx_ store_tx tx = { 0 };
    if (store_tx_begin (eng->store, &tx, err) < 0)
      rc = box_err_wrap (err, "delete image %s: remove its files", image_id);
    for (size_t i = 0; rc == 0 && i < n_layers; i++)
      {
        int refs = 0;
        if (store_layer_reference_count (eng->store, layers[i], &refs, err) < 0)
          rc = box_err_code (err);
        else if (refs == 0
                 && (store_layer_delete (eng->store, layers[i], err) < 0
                     || layer_remove (eng, layers[i], err) < 0))
          rc = box_err_wrap (err, "delete image %s", image_id);
      }
    for (size_t i = 0; rc == 0 && i < n_blobs; i++)
      {
        int refs = 0;
        uint64_t size = 0;
        if (store_blob_reference_count (eng->store, blobs[i], &refs, err) < 0)
          rc = box_err_code (err);
        else if (refs == 0)
          {
            if (content_blob_size (eng, blobs[i], &size, NULL) == 0)
              freed += size;
            if (content_blob_remove (eng, blobs[i], err) < 0)
              rc = box_err_wrap (err, "delete image %s", image_id);
          }
      }
    if (rc == 0 && store_tx_commit (&tx, err) < 0)
      rc = box_err_wrap (err, "delete image %s", image_id);
  }
  strings_free (blobs, n_blobs);
  strings_free (layers, n_layers);
  if (reclaimed)
    *reclaimed += freed;
  return rc;
}
