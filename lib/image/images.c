/* Owns the public image API: get, list with docker's filters, inspect as JSON, tag, remove
 * and prune (import has its own file). */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "image/image-store.h"
#include "image/reference.h"
#include "store/events.h"
#include "store/images.h"
#include "util/json.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#define OUT_OF_MEMORY(err) box_err (err, BOX_E_INTERNAL, "out of memory")

void
box_image_free (box_image *image)
{
  if (!image)
    return;
  free (image->id);
  for (size_t i = 0; i < image->n_repo_tags; i++)
    free (image->repo_tags[i]);
  free (image->repo_tags);
  for (size_t i = 0; i < image->n_repo_digests; i++)
    free (image->repo_digests[i]);
  free (image->repo_digests);
  for (size_t i = 0; i < image->n_labels; i++)
    {
      free (image->labels[i].key);
      free (image->labels[i].value);
    }
  free (image->labels);
  free (image);
}

void
box_image_list_free (box_image **images, size_t n)
{
  if (!images)
    return;
  for (size_t i = 0; i < n; i++)
    box_image_free (images[i]);
  free (images);
}

void
box_image_delete_items_free (box_image_delete_item *items, size_t n)
{
  if (!items)
    return;
  for (size_t i = 0; i < n; i++)
    {
      free (items[i].untagged);
      free (items[i].deleted);
    }
  free (items);
}

DEFINE_POINTER_CLEANUP (box_image, box_image_free)

static char **
familiar_strings (char **normalized, size_t n)
{
  char **out = calloc (n + 1, sizeof *out);
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++)
    {
      char familiar[IMAGE_REFERENCE_STRING_MAX];
      image_reference_familiarize (normalized[i], familiar);
      if (!(out[i] = strdup (familiar)))
        {
          strv_free (out);
          return NULL;
        }
    }
  return out;
}

/* Moves what the public struct shows out of a store row. */
static int
public_image (store_image *row, box_image **out, box_error **err)
{
  _cleanup_ (box_image_freep) box_image *image = calloc (1, sizeof *image);
  if (!image)
    return OUT_OF_MEMORY (err);
  image->id = TAKE_PTR (row->id);
  image->repo_tags = familiar_strings (row->tags, row->n_tags);
  image->n_repo_tags = row->n_tags;
  image->repo_digests = familiar_strings (row->digests, row->n_digests);
  image->n_repo_digests = row->n_digests;
  if (!image->repo_tags || !image->repo_digests)
    return OUT_OF_MEMORY (err);
  image->created_ns = row->created_ns;
  image->size = row->size;
  image->labels = TAKE_PTR (row->labels);
  image->n_labels = row->n_labels;
  row->n_labels = 0;
  image->n_layers = row->n_layers;
  *out = TAKE_PTR (image);
  return 0;
}

static int
load_image (box_engine *eng, const char *id, store_image **out, box_error **err)
{
  int found = store_image_get (eng->store, id, out, err);
  if (found < 0)
    return box_err_code (err);
  if (!found)
    return box_err (err, BOX_E_NOT_FOUND, "no such image: %s", id);
  return 0;
}

int
box_image_get (box_engine *eng, const char *ref, box_image **out, box_error **err)
{
  _cleanup_free_ char *id = NULL;
  _cleanup_ (store_image_freep) store_image *row = NULL;
  if (image_store_resolve (eng, ref, &id, NULL, NULL, err) < 0
      || load_image (eng, id, &row, err) < 0)
    return box_err_code (err);
  return public_image (row, out, err);
}

/* ---- list filters ---- */

typedef struct list_filters {
  const char *const *references;
  size_t n_references;
  const char *const *labels;
  size_t n_labels;
  int dangling; /* -1: either */
} list_filters;

static int
parse_filters (const char *const *filters, size_t n, list_filters *out, const char ***storage,
               box_error **err)
{
  memset (out, 0, sizeof *out);
  out->dangling = -1;
  const char **v = calloc (2 * n + 1, sizeof *v);
  if (!v)
    return OUT_OF_MEMORY (err);
  *storage = v;
  const char **references = v, **labels = v + n;
  for (size_t i = 0; i < n; i++)
    {
      const char *f = filters[i];
      const char *eq = strchr (f, '=');
      if (!eq)
        return box_err (err, BOX_E_INVALID, "invalid filter \"%s\": expected key=value", f);
      size_t key_len = (size_t) (eq - f);
      const char *value = eq + 1;
      if (key_len == 9 && strncmp (f, "reference", 9) == 0)
        references[out->n_references++] = value;
      else if (key_len == 5 && strncmp (f, "label", 5) == 0)
        labels[out->n_labels++] = value;
      else if (key_len == 8 && strncmp (f, "dangling", 8) == 0)
        {
          if (strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
            out->dangling = 1;
          else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
            out->dangling = 0;
          else
            return box_err (err, BOX_E_INVALID, "invalid filter \"%s\": dangling is true or false",
                            f);
        }
      else
        return box_err (err, BOX_E_INVALID,
                        "invalid filter \"%s\": the image filters are reference, label and "
                        "dangling",
                        f);
    }
  out->references = references;
  out->labels = labels;
  return 0;
}

static bool
label_matches (const box_label *labels, size_t n, const char *filter)
{
  const char *eq = strchr (filter, '=');
  size_t key_len = eq ? (size_t) (eq - filter) : strlen (filter);
  for (size_t i = 0; i < n; i++)
    if (strlen (labels[i].key) == key_len && strncmp (labels[i].key, filter, key_len) == 0)
      return !eq || strcmp (labels[i].value, eq + 1) == 0;
  return false;
}

/* docker matches the pattern against the familiar name and the familiar name:tag */
static bool
reference_matches (const box_image *image, const char *pattern)
{
  for (size_t i = 0; i < image->n_repo_tags; i++)
    {
      const char *tagged = image->repo_tags[i];
      if (fnmatch (pattern, tagged, 0) == 0)
        return true;
      const char *colon = strrchr (tagged, ':');
      const char *slash = strrchr (tagged, '/');
      if (colon && (!slash || colon > slash))
        {
          char name[IMAGE_REFERENCE_STRING_MAX];
          snprintf (name, sizeof name, "%.*s", (int) (colon - tagged), tagged);
          if (fnmatch (pattern, name, 0) == 0)
            return true;
        }
    }
  return false;
}

static bool
image_matches (const box_image *image, const list_filters *f)
{
  if (f->dangling >= 0 && (image->n_repo_tags == 0) != (f->dangling == 1))
    return false;
  if (f->n_references)
    {
      bool any = false;
      for (size_t i = 0; i < f->n_references && !any; i++)
        any = reference_matches (image, f->references[i]);
      if (!any)
        return false;
    }
  for (size_t i = 0; i < f->n_labels; i++)
    if (!label_matches (image->labels, image->n_labels, f->labels[i]))
      return false;
  return true;
}

int
box_image_list (box_engine *eng, const box_image_list_options *opts, box_image ***out,
                size_t *out_n, box_error **err)
{
  if (opts && opts->version != BOX_IMAGE_LIST_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_list_options: unknown version %u",
                    opts->version);
  list_filters filters;
  _cleanup_free_ const char **filter_storage = NULL;
  if (parse_filters (opts ? opts->filters : NULL, opts ? opts->n_filters : 0, &filters,
                     &filter_storage, err)
      < 0)
    return box_err_wrap (err, "list images");

  _cleanup_strv_ char **ids = NULL;
  size_t n_ids = 0;
  if (store_image_list_ids (eng->store, &ids, &n_ids, err) < 0)
    return box_err_wrap (err, "list images");
  box_image **images = calloc (n_ids + 1, sizeof *images);
  if (!images)
    return OUT_OF_MEMORY (err);
  size_t n = 0;
  for (size_t i = 0; i < n_ids; i++)
    {
      _cleanup_ (store_image_freep) store_image *row = NULL;
      int found = store_image_get (eng->store, ids[i], &row, err);
      if (found == 0)
        continue; /* removed meanwhile */
      box_image *image = NULL;
      if (found < 0 || public_image (row, &image, err) < 0)
        {
          box_image_list_free (images, n);
          return box_err_wrap (err, "list images");
        }
      if (image_matches (image, &filters))
        images[n++] = image;
      else
        box_image_free (image);
    }
  *out = images;
  *out_n = n;
  return 0;
}

/* ---- inspect ---- */

static json_t *
string_array (char **v, size_t n, bool familiar)
{
  json_t *a = json_array ();
  for (size_t i = 0; a && i < n; i++)
    {
      char text[IMAGE_REFERENCE_STRING_MAX];
      if (familiar)
        image_reference_familiarize (v[i], text);
      else
        snprintf (text, sizeof text, "%s", v[i]);
      json_array_append_new (a, json_string (text));
    }
  return a;
}

int
box_image_inspect_json (box_engine *eng, const char *ref, char **out_json, box_error **err)
{
  _cleanup_free_ char *id = NULL;
  _cleanup_ (store_image_freep) store_image *row = NULL;
  if (image_store_resolve (eng, ref, &id, NULL, NULL, err) < 0
      || load_image (eng, id, &row, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *blob = NULL;
  if (json_parse_object (row->config, "image config", &blob, err) < 0)
    return box_err_wrap (err, "inspect image %s", id);

  json_t *config = json_object_get (blob, "config");
  json_t *layers = json_array ();
  for (size_t i = 0; layers && i < row->n_layers; i++)
    json_array_append_new (layers, json_string (row->layers[i].diff_id));
  char created[TIME_RFC3339_MAX];
  time_format_rfc3339 (row->created_ns, created, sizeof created);
  const char *created_text = json_string_value (json_object_get (blob, "created"));
  _cleanup_json_ json_t *o
      = json_pack ("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:I,s:{s:s,s:o},s:{s:n}}", "Id",
                   row->id, "RepoTags", string_array (row->tags, row->n_tags, true), "RepoDigests",
                   string_array (row->digests, row->n_digests, true), "Parent", "", "Comment",
                   json_string_value (json_object_get (blob, "comment")) ?: "", "Created",
                   created_text ?: created, "DockerVersion",
                   json_string_value (json_object_get (blob, "docker_version")) ?: "", "Author",
                   json_string_value (json_object_get (blob, "author")) ?: "", "Config",
                   json_is_object (config) ? config : json_null (), "Architecture",
                   row->architecture, "Os", row->os, "Size", (json_int_t) row->size, "RootFS",
                   "Type", "layers", "Layers", layers, "Metadata", "LastTagTime");
  if (!o)
    return OUT_OF_MEMORY (err);
  const char *variant = json_string_value (json_object_get (blob, "variant"));
  if (variant)
    json_object_set_new (o, "Variant", json_string (variant));
  json_t *history = json_object_get (blob, "history");
  if (json_is_array (history))
    json_object_set (o, "History", history);
  if (row->manifest_digest)
    json_object_set_new (o, "ManifestDigest", json_string (row->manifest_digest));
  *out_json = json_dumps (o, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  if (!*out_json)
    return OUT_OF_MEMORY (err);
  return 0;
}

/* ---- tag ---- */

int
box_image_tag (box_engine *eng, const char *source, const char *target, box_error **err)
{
  image_reference ref;
  if (image_reference_parse (target, &ref, err) < 0)
    return box_err_wrap (err, "tag %s", source ? source : "");
  if (ref.digest[0])
    return box_err (err, BOX_E_INVALID,
                    "tag %s: the target \"%s\" carries a digest; a tag is name[:tag]", source,
                    target);
  image_reference_default_tag (&ref);
  char normalized[IMAGE_REFERENCE_STRING_MAX];
  image_reference_string (&ref, normalized);

  _cleanup_tx_ store_tx tx = { 0 };
  _cleanup_free_ char *id = NULL;
  if (store_tx_begin (eng->store, &tx, err) < 0
      || image_store_resolve (eng, source, &id, NULL, NULL, err) < 0
      || store_image_tag_set (eng->store, normalized, id, err) < 0
      || image_store_event (eng, "tag", id, normalized, err) < 0 || store_tx_commit (&tx, err) < 0)
    return box_err_wrap (err, "tag %s as %s", source, target);
  return 0;
}

/* ---- remove ---- */

typedef struct delete_items {
  box_image_delete_item *v;
  size_t n;
} delete_items;

static void
delete_items_clear (delete_items *items)
{
  box_image_delete_items_free (items->v, items->n);
  items->v = NULL;
  items->n = 0;
}

static int
add_item (delete_items *items, const char *untagged_normalized, const char *deleted,
          box_error **err)
{
  box_image_delete_item *bigger = realloc (items->v, (items->n + 1) * sizeof *bigger);
  if (!bigger)
    return OUT_OF_MEMORY (err);
  items->v = bigger;
  box_image_delete_item *item = &items->v[items->n++];
  memset (item, 0, sizeof *item);
  if (untagged_normalized)
    {
      char familiar[IMAGE_REFERENCE_STRING_MAX];
      image_reference_familiarize (untagged_normalized, familiar);
      item->untagged = strdup (familiar);
    }
  if (deleted)
    item->deleted = strdup (deleted);
  if ((untagged_normalized && !item->untagged) || (deleted && !item->deleted))
    return OUT_OF_MEMORY (err);
  return 0;
}

static int
untag (box_engine *eng, const char *reference, bool is_digest, const char *image_id,
       delete_items *items, box_error **err)
{
  int removed = is_digest ? store_image_digest_delete (eng->store, reference, err)
                          : store_image_tag_delete (eng->store, reference, err);
  if (removed < 0)
    return box_err_code (err);
  if (removed == 0)
    return 0;
  if (image_store_event (eng, "untag", image_id, reference, err) < 0)
    return box_err_code (err);
  return add_item (items, reference, NULL, err);
}

static int
untag_all (box_engine *eng, const store_image *image, delete_items *items, box_error **err)
{
  for (size_t i = 0; i < image->n_tags; i++)
    if (untag (eng, image->tags[i], false, image->id, items, err) < 0)
      return box_err_code (err);
  for (size_t i = 0; i < image->n_digests; i++)
    if (untag (eng, image->digests[i], true, image->id, items, err) < 0)
      return box_err_code (err);
  return 0;
}

/* The repository part of a normalized reference ("docker.io/library/busybox"). */
static size_t
repository_length (const char *reference)
{
  const char *at = strchr (reference, '@');
  size_t len = at ? (size_t) (at - reference) : strlen (reference);
  for (size_t i = len; i > 0; i--)
    {
      if (reference[i - 1] == '/')
        break;
      if (reference[i - 1] == ':')
        return i - 1;
    }
  return len;
}

static bool
same_repository (const char *a, const char *b)
{
  size_t len = repository_length (a);
  return len == repository_length (b) && strncmp (a, b, len) == 0;
}

/* Whether the image has a tag other than `tag` in tag's repository. */
static bool
other_tag_in_repository (const store_image *image, const char *tag)
{
  for (size_t i = 0; i < image->n_tags; i++)
    if (strcmp (image->tags[i], tag) != 0 && same_repository (image->tags[i], tag))
      return true;
  return false;
}

static bool
several_repositories (const store_image *image)
{
  const char *first = NULL;
  size_t first_len = 0;
  for (size_t i = 0; i < image->n_tags + image->n_digests; i++)
    {
      const char *r = i < image->n_tags ? image->tags[i] : image->digests[i - image->n_tags];
      size_t len = repository_length (r);
      if (!first)
        {
          first = r;
          first_len = len;
        }
      else if (len != first_len || strncmp (r, first, len) != 0)
        return true;
    }
  return false;
}

/* Decides and performs (in the caller's transaction) what removing ref means; *delete_image
 * says whether the image itself goes too. */
static int
plan_removal (box_engine *eng, const char *ref, bool force, char **out_id, bool *delete_image,
              delete_items *items, box_error **err)
{
  _cleanup_free_ char *id = NULL, *normalized = NULL;
  image_match match;
  if (image_store_resolve (eng, ref, &id, &match, &normalized, err) < 0)
    return box_err_code (err);
  _cleanup_ (store_image_freep) store_image *image = NULL;
  if (load_image (eng, id, &image, err) < 0)
    return box_err_code (err);
  char short_id[13];
  snprintf (short_id, sizeof short_id, "%.12s", digest_hex (id));
  char user[65];
  int used = image_store_find_user (eng, id, user, err);
  if (used < 0)
    return box_err_code (err);
  *delete_image = false;

  if (match != IMAGE_MATCH_ID)
    {
      /* this name goes; for a tag that was its repository's last, the digests of that
       * repository go with it (as docker does: they were only how the tag was pulled) */
      bool is_digest = match == IMAGE_MATCH_DIGEST;
      bool digests_go = !is_digest && !other_tag_in_repository (image, normalized);
      size_t going = 1;
      for (size_t i = 0; digests_go && i < image->n_digests; i++)
        going += same_repository (image->digests[i], normalized);
      bool last_name = image->n_tags + image->n_digests <= going;
      if (last_name && used && !force)
        return box_err (err, BOX_E_CONFLICT,
                        "conflict: unable to remove repository reference \"%s\" (must force) - "
                        "box %.12s is using its referenced image %s",
                        ref, user, short_id);
      if (untag (eng, normalized, is_digest, id, items, err) < 0)
        return box_err_code (err);
      for (size_t i = 0; digests_go && i < image->n_digests; i++)
        if (same_repository (image->digests[i], normalized)
            && untag (eng, image->digests[i], true, id, items, err) < 0)
          return box_err_code (err);
      /* other names keep the image */
      *delete_image = last_name && !used;
      *out_id = TAKE_PTR (id);
      return 0;
    }

  if (several_repositories (image) && !force)
    return box_err (err, BOX_E_CONFLICT,
                    "conflict: unable to delete %s (must be forced) - image is referenced in "
                    "multiple repositories",
                    short_id);
  if (used && !force)
    return box_err (err, BOX_E_CONFLICT,
                    "conflict: unable to delete %s (must be forced) - image is being used by "
                    "box %.12s",
                    short_id, user);
  if (untag_all (eng, image, items, err) < 0)
    return box_err_code (err);
  *delete_image = !used;
  *out_id = TAKE_PTR (id);
  return 0;
}

int
box_image_remove (box_engine *eng, const char *ref, const box_image_remove_options *opts,
                  box_image_delete_item **out_items, size_t *out_n, box_error **err)
{
  if (opts && opts->version != BOX_IMAGE_REMOVE_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_remove_options: unknown version %u",
                    opts->version);
  bool force = opts && opts->force;
  _cleanup_ (delete_items_clear) delete_items items = { 0 };
  _cleanup_free_ char *id = NULL;
  bool delete_image = false;
  {
    _cleanup_tx_ store_tx tx = { 0 };
    if (store_tx_begin (eng->store, &tx, err) < 0
        || plan_removal (eng, ref, force, &id, &delete_image, &items, err) < 0
        || store_tx_commit (&tx, err) < 0)
      return box_err_code (err);
  }
  if (delete_image)
    {
      /* nothing names the image any more; another process may have tagged it meanwhile, in
       * which case it stays */
      _cleanup_ (store_image_freep) store_image *image = NULL;
      int found = store_image_get (eng->store, id, &image, err);
      if (found < 0)
        return box_err_code (err);
      if (found && image->n_tags == 0 && image->n_digests == 0)
        {
          if (image_store_delete (eng, id, NULL, err) < 0)
            return box_err_code (err);
          if (add_item (&items, NULL, id, err) < 0)
            return box_err_code (err);
        }
    }
  if (out_items)
    {
      *out_items = TAKE_PTR (items.v);
      *out_n = items.n;
      items.n = 0;
    }
  return 0;
}

/* ---- prune ---- */

int
box_image_prune (box_engine *eng, const box_image_prune_options *opts,
                 box_image_delete_item **out_items, size_t *out_n, uint64_t *out_reclaimed,
                 box_error **err)
{
  if (opts && opts->version != BOX_IMAGE_PRUNE_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_prune_options: unknown version %u",
                    opts->version);
  bool all = opts && opts->all;
  const char *const *label_filters = NULL;
  size_t n_label_filters = 0;
  if (opts && opts->n_filters)
    {
      label_filters = opts->filters;
      n_label_filters = opts->n_filters;
      for (size_t i = 0; i < n_label_filters; i++)
        if (!str_has_prefix (label_filters[i], "label=")
            && !str_has_prefix (label_filters[i], "label!="))
          return box_err (err, BOX_E_INVALID,
                          "invalid prune filter \"%s\": expected label=... or label!=...",
                          label_filters[i]);
    }

  _cleanup_ (delete_items_clear) delete_items items = { 0 };
  uint64_t reclaimed = 0;
  _cleanup_strv_ char **ids = NULL;
  size_t n_ids = 0;
  if (store_image_list_ids (eng->store, &ids, &n_ids, err) < 0)
    return box_err_wrap (err, "prune images");
  for (size_t i = 0; i < n_ids; i++)
    {
      _cleanup_ (store_image_freep) store_image *image = NULL;
      bool prune = false;
      {
        _cleanup_tx_ store_tx tx = { 0 };
        if (store_tx_begin (eng->store, &tx, err) < 0)
          return box_err_wrap (err, "prune images");
        int found = store_image_get (eng->store, ids[i], &image, err);
        if (found < 0)
          return box_err_wrap (err, "prune images");
        if (!found || (!all && image->n_tags > 0))
          continue;
        bool labels_match = true;
        for (size_t f = 0; f < n_label_filters && labels_match; f++)
          {
            bool negate = str_has_prefix (label_filters[f], "label!=");
            const char *spec = label_filters[f] + (negate ? 7 : 6);
            labels_match = label_matches (image->labels, image->n_labels, spec) != negate;
          }
        if (!labels_match)
          continue;
        char user[65];
        int used = image_store_find_user (eng, image->id, user, err);
        if (used < 0)
          return box_err_wrap (err, "prune images");
        if (used)
          continue;
        if (untag_all (eng, image, &items, err) < 0 || store_tx_commit (&tx, err) < 0)
          return box_err_wrap (err, "prune images");
        prune = true;
      }
      if (!prune)
        continue;
      if (image_store_delete (eng, image->id, &reclaimed, err) < 0)
        return box_err_wrap (err, "prune images");
      if (add_item (&items, NULL, image->id, err) < 0)
        return box_err_code (err);
    }
  if (out_reclaimed)
    *out_reclaimed = reclaimed;
  if (out_items)
    {
      *out_items = TAKE_PTR (items.v);
      *out_n = items.n;
      items.n = 0;
    }
  return 0;
}
