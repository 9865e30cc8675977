/* Owns the SQL of the image tables. */
#include "store/images.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/timeutil.h"

#define OUT_OF_MEMORY(err) box_err (err, BOX_E_INTERNAL, "out of memory")

static void
free_layer (store_image_layer *l)
{
  free (l->chain_id);
  free (l->diff_id);
  free (l->blob_digest);
  free (l->blob_media_type);
}

static void
free_string_array (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

void
store_image_free (store_image *image)
{
  if (!image)
    return;
  free (image->id);
  free (image->architecture);
  free (image->os);
  free (image->config);
  free (image->manifest_digest);
  free (image->manifest_media_type);
  free_string_array (image->tags, image->n_tags);
  free_string_array (image->digests, image->n_digests);
  for (size_t i = 0; i < image->n_layers; i++)
    free_layer (&image->layers[i]);
  free (image->layers);
  for (size_t i = 0; i < image->n_labels; i++)
    {
      free (image->labels[i].key);
      free (image->labels[i].value);
    }
  free (image->labels);
  free_string_array (image->blobs, image->n_blobs);
  free (image);
}

static void
bind_text_or_null (sqlite3_stmt *st, int col, const char *text)
{
  if (text)
    sqlite3_bind_text (st, col, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (st, col);
}

static int
insert_blob_link (store *s, const char *image_id, const char *digest, box_error **err)
{
  if (!digest)
    return 0;
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?1, ?2)", &st,
                     err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, image_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, digest, -1, SQLITE_STATIC);
  return store_step_done (s, st, "store: link image blob", err);
}

int
store_image_insert (store *s, const store_image *image, box_error **err)
{
  {
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (store_prepare (s,
                       "INSERT INTO images (id, created_ns, added_ns, size, architecture, os, "
                       "config, manifest_digest, manifest_media_type) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                       &st, err)
        < 0)
      return box_err_code (err);
    sqlite3_bind_text (st, 1, image->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, image->created_ns);
    sqlite3_bind_int64 (st, 3, image->added_ns);
    sqlite3_bind_int64 (st, 4, image->size);
    sqlite3_bind_text (st, 5, image->architecture ? image->architecture : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 6, image->os ? image->os : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 7, image->config, -1, SQLITE_STATIC);
    bind_text_or_null (st, 8, image->manifest_digest);
    bind_text_or_null (st, 9, image->manifest_media_type);
    int rc = sqlite3_step (st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      return box_err (err, BOX_E_CONFLICT, "image %s is already in the store", image->id);
    if (rc != SQLITE_DONE)
      return store_error (s, err, rc, "store: insert image");
  }

  for (size_t i = 0; i < image->n_labels; i++)
    {
      _cleanup_stmt_ sqlite3_stmt *st = NULL;
      if (store_prepare (s,
                         "INSERT OR REPLACE INTO image_labels (image_id, key, value) "
                         "VALUES (?1, ?2, ?3)",
                         &st, err)
          < 0)
        return box_err_code (err);
      sqlite3_bind_text (st, 1, image->id, -1, SQLITE_STATIC);
      sqlite3_bind_text (st, 2, image->labels[i].key, -1, SQLITE_STATIC);
      sqlite3_bind_text (st, 3, image->labels[i].value, -1, SQLITE_STATIC);
      if (store_step_done (s, st, "store: insert image label", err) < 0)
        return box_err_code (err);
    }

  for (size_t i = 0; i < image->n_layers; i++)
    {
      const store_image_layer *l = &image->layers[i];
      _cleanup_stmt_ sqlite3_stmt *layer = NULL, *link = NULL;
      if (store_prepare (s,
                         "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, "
                         "created_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
                         &layer, err)
          < 0)
        return box_err_code (err);
      sqlite3_bind_text (layer, 1, l->chain_id, -1, SQLITE_STATIC);
      sqlite3_bind_text (layer, 2, l->diff_id, -1, SQLITE_STATIC);
      bind_text_or_null (layer, 3, i > 0 ? image->layers[i - 1].chain_id : NULL);
      sqlite3_bind_int64 (layer, 4, l->size);
      sqlite3_bind_int64 (layer, 5, image->added_ns);
      if (store_step_done (s, layer, "store: insert layer", err) < 0)
        return box_err_code (err);

      if (store_prepare (s,
                         "INSERT INTO image_layers (image_id, position, chain_id, blob_digest, "
                         "blob_media_type, blob_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         &link, err)
          < 0)
        return box_err_code (err);
      sqlite3_bind_text (link, 1, image->id, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (link, 2, (sqlite3_int64) i);
      sqlite3_bind_text (link, 3, l->chain_id, -1, SQLITE_STATIC);
      bind_text_or_null (link, 4, l->blob_digest);
      bind_text_or_null (link, 5, l->blob_media_type);
      sqlite3_bind_int64 (link, 6, l->blob_size);
      if (store_step_done (s, link, "store: link image layer", err) < 0)
        return box_err_code (err);
      if (insert_blob_link (s, image->id, l->blob_digest, err) < 0)
        return box_err_code (err);
    }

  if (insert_blob_link (s, image->id, image->id, err) < 0
      || insert_blob_link (s, image->id, image->manifest_digest, err) < 0)
    return box_err_code (err);
  for (size_t i = 0; i < image->n_blobs; i++)
    if (insert_blob_link (s, image->id, image->blobs[i], err) < 0)
      return box_err_code (err);
  return 0;
}

static int
read_string_row (store *s, sqlite3_stmt *st, void *item, box_error **err)
{
  (void) s;
  char **string = item;
  if (store_column_strdup (st, 0, string) < 0 || !*string)
    return OUT_OF_MEMORY (err);
  return 0;
}

/* Collects column 0 of every row of a statement bound to one text parameter (a
 * NULL-terminated array). */
static int
collect_strings (store *s, const char *sql, const char *param, char ***out, size_t *out_n,
                 box_error **err)
{
  char **v = NULL;
  size_t n = 0;
  if (store_collect_rows (s, sql, param, &v, &n, sizeof *v, read_string_row, "read image rows", err)
      < 0)
    {
      free_string_array (v, n);
      return box_err_code (err);
    }
  *out = v;
  *out_n = n;
  return 0;
}

static int
read_layer_row (store *s, sqlite3_stmt *st, void *item, box_error **err)
{
  (void) s;
  store_image_layer *l = item;
  if (store_column_strdup (st, 0, &l->chain_id) < 0 || store_column_strdup (st, 1, &l->diff_id) < 0
      || store_column_strdup (st, 2, &l->blob_digest) < 0
      || store_column_strdup (st, 3, &l->blob_media_type) < 0)
    return OUT_OF_MEMORY (err);
  l->blob_size = sqlite3_column_int64 (st, 4);
  l->size = sqlite3_column_int64 (st, 5);
  return 0;
}

static int
read_layers (store *s, store_image *image, box_error **err)
{
  return store_collect_rows (s,
                             "SELECT il.chain_id, l.diff_id, il.blob_digest, il.blob_media_type, "
                             "il.blob_size, l.size FROM image_layers il JOIN layers l "
                             "ON l.chain_id = il.chain_id WHERE il.image_id = ?1 ORDER BY "
                             "il.position",
                             image->id, &image->layers, &image->n_layers, sizeof *image->layers,
                             read_layer_row, "read image layers", err);
}

static int
read_labels (store *s, store_image *image, box_error **err)
{
  return store_collect_labels (
      s, "SELECT key, value FROM image_labels WHERE image_id = ?1 ORDER BY key", image->id,
      &image->labels, &image->n_labels, "read image labels", err);
}

static int
read_image (store *s, const char *id, bool whole, store_image **out, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "SELECT id, created_ns, added_ns, size, architecture, os, config, "
                     "manifest_digest, manifest_media_type FROM images WHERE id = ?1",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: read image");

  _cleanup_ (store_image_freep) store_image *image = calloc (1, sizeof *image);
  if (!image)
    return OUT_OF_MEMORY (err);
  if (store_column_strdup (st, 0, &image->id) < 0
      || store_column_strdup (st, 4, &image->architecture) < 0
      || store_column_strdup (st, 5, &image->os) < 0
      || store_column_strdup (st, 6, &image->config) < 0
      || store_column_strdup (st, 7, &image->manifest_digest) < 0
      || store_column_strdup (st, 8, &image->manifest_media_type) < 0)
    return OUT_OF_MEMORY (err);
  image->created_ns = sqlite3_column_int64 (st, 1);
  image->added_ns = sqlite3_column_int64 (st, 2);
  image->size = sqlite3_column_int64 (st, 3);

  if (!whole)
    {
      if (read_layers (s, image, err) < 0)
        return box_err_code (err);
      *out = TAKE_PTR (image);
      return 1;
    }
  if (collect_strings (s, "SELECT reference FROM image_tags WHERE image_id = ?1 ORDER BY reference",
                       id, &image->tags, &image->n_tags, err)
          < 0
      || collect_strings (s,
                          "SELECT reference FROM image_digests WHERE image_id = ?1 "
                          "ORDER BY reference",
                          id, &image->digests, &image->n_digests, err)
             < 0
      || collect_strings (s, "SELECT digest FROM image_blobs WHERE image_id = ?1 ORDER BY digest",
                          id, &image->blobs, &image->n_blobs, err)
             < 0
      || read_layers (s, image, err) < 0 || read_labels (s, image, err) < 0)
    return box_err_code (err);
  *out = TAKE_PTR (image);
  return 1;
}

int
store_image_get (store *s, const char *id, store_image **out, box_error **err)
{
  return read_image (s, id, true, out, err);
}

int
store_image_get_for_box (store *s, const char *id, store_image **out, box_error **err)
{
  return read_image (s, id, false, out, err);
}

int
store_image_exists (store *s, const char *id, box_error **err)
{
  _cleanup_free_ char *found = NULL;
  return store_read_one_row (s, "SELECT id FROM images WHERE id = ?1", id, &found,
                             read_string_row, "look up image", err);
}

static int
lookup_one (store *s, const char *sql, const char *param, char **out_id, box_error **err)
{
  return store_read_one_row (s, sql, param, out_id, read_string_row, "look up image", err);
}

int
store_image_id_by_tag (store *s, const char *reference, char **out_id, box_error **err)
{
  return lookup_one (s, "SELECT image_id FROM image_tags WHERE reference = ?1", reference, out_id,
                     err);
}

int
store_image_id_by_digest (store *s, const char *reference, char **out_id, box_error **err)
{
  return lookup_one (s, "SELECT image_id FROM image_digests WHERE reference = ?1", reference,
                     out_id, err);
}

int
store_image_find_by_id_prefix (store *s, const char *hex_prefix, char **out_id, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  /* ids are "sha256:<hex>"; a range scan on the primary key finds the prefix */
  if (store_prepare (s, "SELECT id FROM images WHERE substr(id, 1, ?2) = ?1 LIMIT 2", &st, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *full = NULL;
  if (asprintf (&full, "sha256:%s", hex_prefix) < 0)
    return OUT_OF_MEMORY (err);
  sqlite3_bind_text (st, 1, full, -1, SQLITE_STATIC);
  sqlite3_bind_int (st, 2, (int) strlen (full));
  int count = 0, rc;
  _cleanup_free_ char *first = NULL;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    {
      if (count == 0 && store_column_strdup (st, 0, &first) < 0)
        return OUT_OF_MEMORY (err);
      count++;
    }
  if (rc != SQLITE_DONE)
    return store_error (s, err, rc, "store: find image by id prefix");
  if (count == 1)
    *out_id = TAKE_PTR (first);
  return count;
}

int
store_image_list_ids (store *s, char ***out, size_t *out_n, box_error **err)
{
  return collect_strings (s, "SELECT id FROM images ORDER BY created_ns DESC, added_ns DESC, id",
                          NULL, out, out_n, err);
}

int
store_image_tag_set (store *s, const char *reference, const char *image_id, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s,
                     "INSERT OR REPLACE INTO image_tags (reference, image_id, added_ns) "
                     "VALUES (?1, ?2, ?3)",
                     &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, reference, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, image_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 3, time_now_ns ());
  return store_step_done (s, st, "store: set image tag", err);
}

int
store_image_digest_set (store *s, const char *reference, const char *image_id, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (
          s, "INSERT OR REPLACE INTO image_digests (reference, image_id) VALUES (?1, ?2)", &st, err)
      < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, reference, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, image_id, -1, SQLITE_STATIC);
  return store_step_done (s, st, "store: set image digest", err);
}

static int
delete_one (store *s, const char *sql, const char *param, const char *what, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, sql, &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, param, -1, SQLITE_STATIC);
  if (store_step_done (s, st, what, err) < 0)
    return box_err_code (err);
  return sqlite3_changes (store_db (s)) > 0 ? 1 : 0;
}

int
store_image_tag_delete (store *s, const char *reference, box_error **err)
{
  return delete_one (s, "DELETE FROM image_tags WHERE reference = ?1", reference,
                     "store: delete image tag", err);
}

int
store_image_digest_delete (store *s, const char *reference, box_error **err)
{
  return delete_one (s, "DELETE FROM image_digests WHERE reference = ?1", reference,
                     "store: delete image digest", err);
}

static int
count_references (store *s, const char *sql, const char *param, int *out, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, sql, &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, param, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: count references");
  *out = sqlite3_column_int (st, 0);
  return 0;
}

/* Keeps the strings of v[0..n) that count_sql counts no reference to, compacting in place. */
static size_t
keep_unreferenced (store *s, char **v, size_t n, const char *count_sql, box_error **err,
                   int *failed)
{
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    {
      int refs = 0;
      if (count_references (s, count_sql, v[i], &refs, err) < 0)
        {
          *failed = 1;
          refs = 1;
        }
      if (refs == 0)
        v[kept++] = v[i];
      else
        free (v[i]);
    }
  if (v)
    v[kept] = NULL;
  return kept;
}

int
store_image_delete (store *s, const char *id, char ***out_orphan_blobs, size_t *out_n_blobs,
                    char ***out_orphan_layers, size_t *out_n_layers, box_error **err)
{
  char **blobs = NULL, **layers = NULL;
  size_t n_blobs = 0, n_layers = 0;
  if (collect_strings (s, "SELECT digest FROM image_blobs WHERE image_id = ?1", id, &blobs,
                       &n_blobs, err)
      < 0)
    return box_err_code (err);
  if (collect_strings (s, "SELECT DISTINCT chain_id FROM image_layers WHERE image_id = ?1", id,
                       &layers, &n_layers, err)
      < 0)
    {
      free_string_array (blobs, n_blobs);
      return box_err_code (err);
    }

  int failed = 0;
  if (delete_one (s, "DELETE FROM images WHERE id = ?1", id, "store: delete image", err) < 0)
    failed = 1;
  if (!failed)
    n_blobs = keep_unreferenced (
        s, blobs, n_blobs, "SELECT count(*) FROM image_blobs WHERE digest = ?1", err, &failed);
  if (!failed)
    n_layers = keep_unreferenced (
        s, layers, n_layers, "SELECT count(*) FROM image_layers WHERE chain_id = ?1", err, &failed);
  for (size_t i = 0; !failed && i < n_layers; i++)
    if (delete_one (s, "DELETE FROM layers WHERE chain_id = ?1", layers[i], "store: delete layer",
                    err)
        < 0)
      failed = 1;
  if (failed)
    {
      free_string_array (blobs, n_blobs);
      free_string_array (layers, n_layers);
      return box_err_code (err);
    }
  *out_orphan_blobs = blobs;
  *out_n_blobs = n_blobs;
  *out_orphan_layers = layers;
  *out_n_layers = n_layers;
  return 0;
}

int
store_layer_get_size (store *s, const char *chain_id, int64_t *out_size, box_error **err)
{
  _cleanup_stmt_ sqlite3_stmt *st = NULL;
  if (store_prepare (s, "SELECT size FROM layers WHERE chain_id = ?1", &st, err) < 0)
    return box_err_code (err);
  sqlite3_bind_text (st, 1, chain_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc != SQLITE_ROW)
    return store_error (s, err, rc, "store: read layer");
  *out_size = sqlite3_column_int64 (st, 0);
  return 1;
}

int
store_layer_reference_count (store *s, const char *chain_id, int *out, box_error **err)
{
  return count_references (s, "SELECT count(*) FROM image_layers WHERE chain_id = ?1", chain_id,
                           out, err);
}

int
store_blob_reference_count (store *s, const char *digest, int *out, box_error **err)
{
  return count_references (s, "SELECT count(*) FROM image_blobs WHERE digest = ?1", digest, out,
                           err);
}

int
store_layer_delete (store *s, const char *chain_id, box_error **err)
{
  return delete_one (s, "DELETE FROM layers WHERE chain_id = ?1", chain_id, "store: delete layer",
                     err);
}
