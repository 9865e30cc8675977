/* Owns image archives: the tar writer and the docker-archive / oci-archive layouts of
 * `box save`, and the one-pass reader of `box load` (blobs to the content store, then layers
 * unpacked from them, diff ids checked, images recorded). */
#include "image/archive.h"

#include "image/archive-dl.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/decompress.h"
#include "image/image-store.h"
#include "image/layer-store.h"
#include "image/layer-unpack.h"
#include "image/reference.h"
#include "store/images.h"
#include "util/digest.h"
#include "util/json.h"
#include "util/strutil.h"

#define OUT_OF_MEMORY(err) box_err (err, BOX_E_INTERNAL, "out of memory")

#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

#define TAR_BLOCK 512
#define COPY_CHUNK (1024 * 1024)
/* Metadata files of an archive (manifest.json, index.json, configs) are read into memory;
 * nothing legitimate comes near this. */
#define ARCHIVE_METADATA_MAX (16 * 1024 * 1024)
/* An index may point at an index: this deep and no deeper. */
#define ARCHIVE_INDEX_DEPTH_MAX 4

/* ---------------------------------------------------------------------------------------- */
/* Writing tar                                                                              */
/* ---------------------------------------------------------------------------------------- */

typedef struct tar_out {
  int fd;
  uint64_t written;
} tar_out;

static int
write_all (tar_out *t, const void *data, size_t len, box_error **err)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = write (t->fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return box_err_errno (err, errno, "write archive");
      p += n;
      len -= (size_t) n;
      t->written += (uint64_t) n;
    }
  return 0;
}

/* Octal in a NUL-terminated field; sizes past the octal range use GNU's base-256 form. */
static void
tar_number (char *field, size_t width, uint64_t value)
{
  uint64_t octal_max = (UINT64_C (1) << (3 * (width - 1))) - 1;
  if (value <= octal_max)
    {
      snprintf (field, width, "%0*llo", (int) width - 1, (unsigned long long) value);
      return;
    }
  memset (field, 0, width);
  field[0] = (char) 0x80;
  for (size_t i = width - 1; i > 0 && value; i--, value >>= 8)
    field[i] = (char) (value & 0xff);
}

static int
tar_header (tar_out *t, const char *name, char type, uint64_t size, box_error **err)
{
  unsigned char block[TAR_BLOCK];
  memset (block, 0, sizeof block);
  size_t len = strlen (name);
  if (len >= 100)
    return box_err (err, BOX_E_INTERNAL, "archive member name too long: %s", name);
  memcpy (block, name, len);
  tar_number ((char *) block + 100, 8, type == '5' ? 0755 : 0644);
  tar_number ((char *) block + 108, 8, 0);
  tar_number ((char *) block + 116, 8, 0);
  tar_number ((char *) block + 124, 12, size);
  tar_number ((char *) block + 136, 12, 0); /* mtime 0: the same images give the same bytes */
  block[156] = (unsigned char) type;
  memcpy (block + 257, "ustar", 6);
  memcpy (block + 263, "00", 2);
  memset (block + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof block; i++)
    sum += block[i];
  snprintf ((char *) block + 148, 8, "%06o", sum);
  return write_all (t, block, sizeof block, err);
}

static int
tar_pad (tar_out *t, uint64_t size, box_error **err)
{
  static const unsigned char zeros[TAR_BLOCK];
  size_t rest = (size_t) (size % TAR_BLOCK);
  return rest ? write_all (t, zeros, TAR_BLOCK - rest, err) : 0;
}

static int
tar_add_buffer (tar_out *t, const char *name, const void *data, size_t len, box_error **err)
{
  if (tar_header (t, name, '0', len, err) < 0 || write_all (t, data, len, err) < 0
      || tar_pad (t, len, err) < 0)
    return box_err_code (err);
  return 0;
}

static int
tar_add_json (tar_out *t, const char *name, json_t *value, box_error **err)
{
  _cleanup_free_ char *text = json_dumps (value, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!text)
    return OUT_OF_MEMORY (err);
  return tar_add_buffer (t, name, text, strlen (text), err);
}

static int
tar_finish (tar_out *t, box_error **err)
{
  static const unsigned char end[2 * TAR_BLOCK];
  return write_all (t, end, sizeof end, err);
}

/* Copies len bytes of in_fd (from its offset) to the archive. */
static int
copy_fd (tar_out *t, int in_fd, uint64_t len, const char *what, box_error **err)
{
  bool use_sendfile = true;
  _cleanup_free_ char *buffer = NULL;
  while (len > 0)
    {
      size_t step = len < COPY_CHUNK ? (size_t) len : COPY_CHUNK;
      ssize_t n = -1;
      if (use_sendfile)
        {
          n = sendfile (t->fd, in_fd, NULL, step);
          if (n < 0 && (errno == EINVAL || errno == ENOSYS))
            {
              use_sendfile = false;
              continue;
            }
        }
      else
        {
          if (!buffer && !(buffer = malloc (COPY_CHUNK)))
            return OUT_OF_MEMORY (err);
          n = read (in_fd, buffer, step);
          if (n > 0 && write_all (t, buffer, (size_t) n, err) < 0)
            return box_err_code (err);
          if (n > 0)
            t->written -= (uint64_t) n; /* counted below */
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return box_err_errno (err, errno, "copy %s into the archive", what);
      if (n == 0)
        return box_err (err, BOX_E_IO, "copy %s into the archive: it shrank", what);
      len -= (uint64_t) n;
      t->written += (uint64_t) n;
    }
  return 0;
}

/* A stored blob as an archive member, byte for byte. */
static int
tar_add_blob (tar_out *t, box_engine *eng, const char *name, const char *digest, box_error **err)
{
  _cleanup_close_ int fd = -1;
  if (content_blob_open (eng, digest, &fd, err) < 0)
    return box_err_code (err);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return box_err_errno (err, errno, "stat blob %s", digest);
  uint64_t size = (uint64_t) st.st_size;
  if (tar_header (t, name, '0', size, err) < 0 || copy_fd (t, fd, size, digest, err) < 0
      || tar_pad (t, size, err) < 0)
    return box_err_code (err);
  return 0;
}

static int
count_output (void *userdata, const void *data, size_t len, box_error **err)
{
  return 0; /* the decompressor counts and hashes */
}

static int
tar_output (void *userdata, const void *data, size_t len, box_error **err)
{
  return write_all (userdata, data, len, err);
}

/* Feeds a whole fd through a decompressor (hashing the output unless the consumer does). */
static int
decompress_fd (int fd, decompress_output_fn output, void *userdata, bool hash_output,
               decompress_result *result, const char *what, box_error **err)
{
  decompress_options opts = DECOMPRESS_OPTIONS_INIT;
  opts.digest_uncompressed = hash_output;
  _cleanup_ (decompressor_freep) decompressor *d = NULL;
  if (decompressor_new (&opts, output, userdata, &d, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *buffer = malloc (COPY_CHUNK);
  if (!buffer)
    return OUT_OF_MEMORY (err);
  for (;;)
    {
      ssize_t n = read (fd, buffer, COPY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return box_err_errno (err, errno, "read %s", what);
      if (n == 0)
        break;
      if (decompressor_feed (d, buffer, (size_t) n, err) < 0)
        return box_err_wrap (err, "%s", what);
    }
  if (decompressor_finish (d, result, err) < 0)
    return box_err_wrap (err, "%s", what);
  return 0;
}

/* A layer as an uncompressed tar member (docker-archive): a compressed blob is decompressed
 * once to learn the size (and check the diff id), then again into the archive. */
static int
tar_add_uncompressed_layer (tar_out *t, box_engine *eng, const char *name,
                            const store_image_layer *layer, box_error **err)
{
  if (!layer->blob_digest)
    return box_err (err, BOX_E_UNSUPPORTED, "layer %s: no blob of it is stored", layer->diff_id);
  if (strcmp (layer->blob_digest, layer->diff_id) == 0)
    return tar_add_blob (t, eng, name, layer->blob_digest, err);

  _cleanup_close_ int fd = -1;
  if (content_blob_open (eng, layer->blob_digest, &fd, err) < 0)
    return box_err_code (err);
  decompress_result first, second;
  if (decompress_fd (fd, count_output, NULL, true, &first, layer->blob_digest, err) < 0)
    return box_err_code (err);
  if (strcmp (first.diff_id, layer->diff_id) != 0)
    return box_err (err, BOX_E_INVALID, "layer blob %s decompresses to %s, not %s",
                    layer->blob_digest, first.diff_id, layer->diff_id);
  if (lseek (fd, 0, SEEK_SET) < 0)
    return box_err_errno (err, errno, "rewind blob %s", layer->blob_digest);
  if (tar_header (t, name, '0', first.uncompressed_size, err) < 0
      || decompress_fd (fd, tar_output, t, false, &second, layer->blob_digest, err) < 0)
    return box_err_code (err);
  if (second.uncompressed_size != first.uncompressed_size)
    return box_err (err, BOX_E_IO, "layer blob %s changed while it was saved", layer->blob_digest);
  return tar_pad (t, second.uncompressed_size, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Save                                                                                     */
/* ---------------------------------------------------------------------------------------- */

typedef struct saved_image {
  store_image *record;
  char **tags; /* normalized references, in the order given */
  size_t n_tags;
} saved_image;

typedef struct save_set {
  saved_image *images;
  size_t n_images;
  char **written; /* member names already in the archive */
  size_t n_written, cap_written;
} save_set;

static void
save_set_release (save_set *s)
{
  for (size_t i = 0; i < s->n_images; i++)
    {
      store_image_free (s->images[i].record);
      for (size_t j = 0; j < s->images[i].n_tags; j++)
        free (s->images[i].tags[j]);
      free (s->images[i].tags);
    }
  free (s->images);
  for (size_t i = 0; i < s->n_written; i++)
    free (s->written[i]);
  free (s->written);
}

static int
append_string (char ***v, size_t *n, const char *s, box_error **err)
{
  char **grown = realloc (*v, (*n + 1) * sizeof **v);
  if (!grown)
    return OUT_OF_MEMORY (err);
  *v = grown;
  if (!(grown[*n] = strdup (s)))
    return OUT_OF_MEMORY (err);
  (*n)++;
  return 0;
}

/* append_string unless s is there already. */
static int
append_unique_string (char ***v, size_t *n, const char *s, box_error **err)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp ((*v)[i], s) == 0)
      return 0;
  return append_string (v, n, s, err);
}

/* True (and remembered) the first time a member name comes up. */
static int
first_time (save_set *s, const char *name, bool *first, box_error **err)
{
  for (size_t i = 0; i < s->n_written; i++)
    if (strcmp (s->written[i], name) == 0)
      {
        *first = false;
        return 0;
      }
  *first = true;
  return append_string (&s->written, &s->n_written, name, err);
}

static int
collect_images (box_engine *eng, const char *const *refs, size_t n_refs, save_set *s,
                box_error **err)
{
  if (n_refs == 0)
    return box_err (err, BOX_E_INVALID, "save: no image given");
  for (size_t i = 0; i < n_refs; i++)
    {
      _cleanup_free_ char *id = NULL, *normalized = NULL;
      image_match match;
      if (image_store_resolve (eng, refs[i], &id, &match, &normalized, err) < 0)
        return box_err_wrap (err, "save %s", refs[i]);
      saved_image *image = NULL;
      for (size_t j = 0; j < s->n_images; j++)
        if (strcmp (s->images[j].record->id, id) == 0)
          image = &s->images[j];
      if (!image)
        {
          saved_image *grown = realloc (s->images, (s->n_images + 1) * sizeof *grown);
          if (!grown)
            return OUT_OF_MEMORY (err);
          s->images = grown;
          image = &s->images[s->n_images];
          memset (image, 0, sizeof *image);
          int found = store_image_get (eng->store, id, &image->record, err);
          if (found < 0)
            return box_err_wrap (err, "save %s", refs[i]);
          if (!found)
            return box_err (err, BOX_E_NOT_FOUND, "save %s: image %s was removed meanwhile",
                            refs[i], id);
          s->n_images++;
        }
      if (match == IMAGE_MATCH_TAG
          && append_unique_string (&image->tags, &image->n_tags, normalized, err) < 0)
        return box_err_code (err);
    }
  return 0;
}

static int
save_docker (tar_out *t, box_engine *eng, save_set *s, box_error **err)
{
  _cleanup_json_ json_t *manifest = json_array ();
  _cleanup_json_ json_t *repositories = json_object ();
  if (!manifest || !repositories)
    return OUT_OF_MEMORY (err);
  for (size_t i = 0; i < s->n_images; i++)
    {
      saved_image *image = &s->images[i];
      store_image *r = image->record;
      json_t *layers = json_array ();
      json_t *item = json_object ();
      if (!layers || !item || json_array_append_new (manifest, item) < 0)
        {
          json_decref (layers);
          return OUT_OF_MEMORY (err);
        }
      /* docker's key order: Config, RepoTags, Layers */
      json_object_set_new (item, "Config", json_null ());
      json_object_set_new (item, "RepoTags", json_null ());
      json_object_set_new (item, "Layers", layers);
      for (size_t j = 0; j < r->n_layers; j++)
        {
          char name[DIGEST_STRING_MAX + 8];
          snprintf (name, sizeof name, "%s.tar", digest_hex (r->layers[j].diff_id));
          bool first;
          if (first_time (s, name, &first, err) < 0)
            return box_err_code (err);
          if (first && tar_add_uncompressed_layer (t, eng, name, &r->layers[j], err) < 0)
            return box_err_wrap (err, "save image %s", r->id);
          json_array_append_new (layers, json_string (name));
        }
      char config_name[DIGEST_STRING_MAX + 8];
      snprintf (config_name, sizeof config_name, "%s.json", digest_hex (r->id));
      bool first;
      if (first_time (s, config_name, &first, err) < 0)
        return box_err_code (err);
      if (first && tar_add_blob (t, eng, config_name, r->id, err) < 0)
        return box_err_wrap (err, "save image %s", r->id);
      json_object_set_new (item, "Config", json_string (config_name));
      json_t *tags = image->n_tags ? json_array () : json_null ();
      json_object_set_new (item, "RepoTags", tags);
      for (size_t j = 0; j < image->n_tags; j++)
        {
          image_reference ref;
          if (image_reference_parse (image->tags[j], &ref, err) < 0)
            return box_err_code (err);
          char familiar[IMAGE_REFERENCE_STRING_MAX], familiar_name[IMAGE_REFERENCE_STRING_MAX];
          image_reference_familiar_string (&ref, familiar);
          image_reference_familiar_name (&ref, familiar_name);
          json_array_append_new (tags, json_string (familiar));
          /* the legacy file names the top layer per tag; loaders use manifest.json */
          json_t *repo = json_object_get (repositories, familiar_name);
          if (!repo)
            {
              repo = json_object ();
              json_object_set_new (repositories, familiar_name, repo);
            }
          if (r->n_layers > 0)
            json_object_set_new (repo, ref.tag,
                                 json_string (digest_hex (r->layers[r->n_layers - 1].diff_id)));
        }
    }
  if (tar_add_json (t, "manifest.json", manifest, err) < 0)
    return box_err_code (err);
  if (json_object_size (repositories) > 0
      && tar_add_json (t, "repositories", repositories, err) < 0)
    return box_err_code (err);
  return 0;
}

static int
save_oci_blob (tar_out *t, box_engine *eng, save_set *s, const char *digest, box_error **err)
{
  char name[DIGEST_STRING_MAX + 16];
  snprintf (name, sizeof name, "blobs/sha256/%s", digest_hex (digest));
  bool first;
  if (first_time (s, name, &first, err) < 0)
    return box_err_code (err);
  return first ? tar_add_blob (t, eng, name, digest, err) : 0;
}

static int
save_oci (tar_out *t, box_engine *eng, save_set *s, box_error **err)
{
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  if (tar_add_buffer (t, "oci-layout", layout, strlen (layout), err) < 0
      || tar_header (t, "blobs/", '5', 0, err) < 0
      || tar_header (t, "blobs/sha256/", '5', 0, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *manifests = json_array ();
  if (!manifests)
    return OUT_OF_MEMORY (err);
  for (size_t i = 0; i < s->n_images; i++)
    {
      saved_image *image = &s->images[i];
      store_image *r = image->record;
      if (!r->manifest_digest)
        return box_err (err, BOX_E_UNSUPPORTED,
                        "save image %s: no manifest is stored for it (try docker-archive)", r->id);
      for (size_t j = 0; j < r->n_layers; j++)
        {
          if (!r->layers[j].blob_digest)
            return box_err (err, BOX_E_UNSUPPORTED, "save image %s: layer %s has no stored blob",
                            r->id, r->layers[j].diff_id);
          if (save_oci_blob (t, eng, s, r->layers[j].blob_digest, err) < 0)
            return box_err_wrap (err, "save image %s", r->id);
        }
      uint64_t manifest_size = 0;
      if (save_oci_blob (t, eng, s, r->id, err) < 0
          || save_oci_blob (t, eng, s, r->manifest_digest, err) < 0
          || content_blob_size (eng, r->manifest_digest, &manifest_size, err) < 0)
        return box_err_wrap (err, "save image %s", r->id);
      const char *media_type
          = r->manifest_media_type ? r->manifest_media_type : MEDIA_TYPE_OCI_MANIFEST;
      for (size_t j = 0; j < (image->n_tags ? image->n_tags : 1); j++)
        {
          json_t *desc = json_pack ("{s:s,s:s,s:I}", "mediaType", media_type, "digest",
                                    r->manifest_digest, "size", (json_int_t) manifest_size);
          if (!desc || json_array_append_new (manifests, desc) < 0)
            return OUT_OF_MEMORY (err);
          if (image->n_tags)
            {
              image_reference ref;
              if (image_reference_parse (image->tags[j], &ref, err) < 0)
                return box_err_code (err);
              /* containerd's (and docker's) full name, and the tag as the OCI spec's ref name */
              json_object_set_new (desc, "annotations",
                                   json_pack ("{s:s,s:s}", ANNOTATION_CONTAINERD_NAME,
                                              image->tags[j], ANNOTATION_REF_NAME, ref.tag));
            }
        }
    }
  _cleanup_json_ json_t *index = json_pack ("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType",
                                            MEDIA_TYPE_OCI_INDEX, "manifests", manifests);
  if (!index)
    return OUT_OF_MEMORY (err);
  return tar_add_json (t, "index.json", index, err);
}

int
image_archive_save (box_engine *eng, const char *const *refs, size_t n_refs,
                    box_image_archive_format format, int out_fd, box_error **err)
{
  save_set s = { 0 };
  tar_out t = { out_fd, 0 };
  int rc = collect_images (eng, refs, n_refs, &s, err);
  if (rc >= 0)
    {
      if (format == BOX_IMAGE_ARCHIVE_OCI)
        rc = save_oci (&t, eng, &s, err);
      else if (format == BOX_IMAGE_ARCHIVE_DOCKER)
        rc = save_docker (&t, eng, &s, err);
      else
        rc = box_err (err, BOX_E_INVALID, "save: unknown archive format %d", (int) format);
    }
  if (rc >= 0)
    rc = tar_finish (&t, err);
  save_set_release (&s);
  return rc < 0 ? box_err_code (err) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Load                                                                                     */
/* ---------------------------------------------------------------------------------------- */

typedef struct member {
  char *name;
  char *alias;  /* a link: the member it stands for */
  char *digest; /* stored in the content store */
  char *data;   /* kept in memory (metadata), NUL-terminated */
  size_t len;
} member;

typedef struct load_state {
  box_engine *eng;
  member *members;
  size_t n_members, cap_members;
  char **new_blobs; /* blobs this load put into the store */
  size_t n_new_blobs;
  char **used_blobs; /* blobs a loaded image holds on to */
  size_t n_used_blobs;
  char **loaded;
  size_t n_loaded;
  /* the input */
  int fd;
  char *buffer;
  box_error *read_error;
} load_state;

static void
load_state_release (load_state *ls)
{
  for (size_t i = 0; i < ls->n_members; i++)
    {
      free (ls->members[i].name);
      free (ls->members[i].alias);
      free (ls->members[i].digest);
      free (ls->members[i].data);
    }
  free (ls->members);
  for (size_t i = 0; i < ls->n_new_blobs; i++)
    free (ls->new_blobs[i]);
  free (ls->new_blobs);
  for (size_t i = 0; i < ls->n_used_blobs; i++)
    free (ls->used_blobs[i]);
  free (ls->used_blobs);
  for (size_t i = 0; i < ls->n_loaded; i++)
    free (ls->loaded[i]);
  free (ls->loaded);
  free (ls->buffer);
  box_error_freep (&ls->read_error);
}

/* "./a//b" → "a/b"; a ".." component or nothing left is NULL (not a member we use). */
static char *
normalize_member_name (const char *raw)
{
  char *out = malloc (strlen (raw) + 1);
  if (!out)
    return NULL;
  if (!str_normalize_relative_path (raw, out) || !out[0])
    {
      free (out);
      return NULL;
    }
  return out;
}

static member *
add_member (load_state *ls, char *name, box_error **err)
{
  if (ls->n_members == ls->cap_members)
    {
      size_t cap = ls->cap_members ? 2 * ls->cap_members : 32;
      member *grown = realloc (ls->members, cap * sizeof *grown);
      if (!grown)
        {
          free (name);
          OUT_OF_MEMORY (err);
          return NULL;
        }
      ls->members = grown;
      ls->cap_members = cap;
    }
  member *m = &ls->members[ls->n_members++];
  memset (m, 0, sizeof *m);
  m->name = name;
  return m;
}

/* The last member of that name, links followed (a bounded number of times). */
static member *
find_member (load_state *ls, const char *name)
{
  for (int hops = 0; name && hops < 8; hops++)
    {
      member *found = NULL;
      for (size_t i = ls->n_members; i > 0; i--)
        if (strcmp (ls->members[i - 1].name, name) == 0)
          {
            found = &ls->members[i - 1];
            break;
          }
      if (!found || !found->alias)
        return found;
      name = found->alias;
    }
  return NULL;
}

static bool
is_oci_blob_name (const char *name, char digest[DIGEST_STRING_MAX])
{
  if (!str_has_prefix (name, "blobs/sha256/"))
    return false;
  snprintf (digest, DIGEST_STRING_MAX, "sha256:%s", name + strlen ("blobs/sha256/"));
  return digest_is_valid_sha256 (digest);
}

static bool
is_metadata_name (const char *name)
{
  if (strchr (name, '/'))
    return false;
  size_t len = strlen (name);
  return strcmp (name, "repositories") == 0 || strcmp (name, "oci-layout") == 0
         || (len > 5 && strcmp (name + len - 5, ".json") == 0);
}

static la_ssize_t
load_read_callback (struct archive *a, void *client_data, const void **buffer)
{
  load_state *ls = client_data;
  for (;;)
    {
      ssize_t n = read (ls->fd, ls->buffer, COPY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          box_err_errno (&ls->read_error, errno, "read archive");
          archive_set_error (a, errno, "read failed");
          return -1;
        }
      *buffer = ls->buffer;
      return n;
    }
}

static int
archive_failure (load_state *ls, struct archive *a, const char *what, box_error **err)
{
  if (ls->read_error)
    return box_err_propagate (err, &ls->read_error);
  const char *msg = archive_error_string (a);
  return box_err (err, BOX_E_INVALID, "archive: %s: %s", what, msg ? msg : "not a tar archive");
}

/* The member's next block of data: 1 with block, len and offset set, 0 at its end. */
static int
next_data_block (load_state *ls, struct archive *a, const member *m, const void **block,
                 size_t *len, la_int64_t *offset, box_error **err)
{
  int rc = archive_read_data_block (a, block, len, offset);
  if (rc == ARCHIVE_EOF)
    return 0;
  if (rc < ARCHIVE_WARN)
    return archive_failure (ls, a, m->name, err);
  return 1;
}

static int
read_member_to_memory (load_state *ls, struct archive *a, member *m, int64_t size, box_error **err)
{
  if (size < 0 || size > ARCHIVE_METADATA_MAX)
    return box_err (err, BOX_E_INVALID, "archive: %s is too large for a metadata file", m->name);
  m->data = malloc ((size_t) size + 1);
  if (!m->data)
    return OUT_OF_MEMORY (err);
  const void *block;
  size_t len;
  la_int64_t offset;
  int more;
  while ((more = next_data_block (ls, a, m, &block, &len, &offset, err)) > 0)
    {
      if (offset < 0 || (uint64_t) offset + len > (uint64_t) size)
        return box_err (err, BOX_E_INVALID, "archive: %s: data beyond its size", m->name);
      memcpy (m->data + offset, block, len);
      if ((size_t) offset + len > m->len)
        m->len = (size_t) offset + len;
    }
  if (more < 0)
    return box_err_code (err);
  m->data[m->len] = '\0';
  return 0;
}

/* Streams a member into the content store; an OCI blob is verified against its name. */
static int
read_member_to_store (load_state *ls, struct archive *a, member *m, const char *expected,
                      box_error **err)
{
  _cleanup_ (content_writer_abortp) content_writer *w = NULL;
  _cleanup_ (digest_hasher_freep) digest_hasher *h = NULL;
  if (content_writer_open (ls->eng, expected, &w, err) < 0 || digest_hasher_new (&h, err) < 0)
    return box_err_wrap (err, "archive: %s", m->name);
  uint64_t expected_offset = 0;
  const void *block;
  size_t len;
  la_int64_t offset;
  int more;
  while ((more = next_data_block (ls, a, m, &block, &len, &offset, err)) > 0)
    {
      if (offset < 0 || (uint64_t) offset != expected_offset)
        return box_err (err, BOX_E_INVALID, "archive: %s: sparse members are not blobs", m->name);
      expected_offset += len;
      if (content_writer_write (w, block, len, err) < 0
          || digest_hasher_update (h, block, len, err) < 0)
        return box_err_wrap (err, "archive: %s", m->name);
    }
  if (more < 0)
    return box_err_code (err);
  char digest[DIGEST_STRING_MAX];
  if (digest_hasher_final (h, digest, err) < 0)
    return box_err_code (err);
  int present = content_blob_exists (ls->eng, digest, err);
  if (present < 0)
    return box_err_code (err);
  if (content_writer_commit (w, NULL, err) < 0)
    return box_err_wrap (err, "archive: %s", m->name);
  if (!present && append_unique_string (&ls->new_blobs, &ls->n_new_blobs, digest, err) < 0)
    return box_err_code (err);
  if (!(m->digest = strdup (digest)))
    return OUT_OF_MEMORY (err);
  return 0;
}

DEFINE_POINTER_CLEANUP (struct archive, archive_read_free)

static int
read_archive (load_state *ls, box_error **err)
{
  _cleanup_ (archive_read_freep) struct archive *a = archive_read_new ();
  if (!a || archive_read_support_format_tar (a) != ARCHIVE_OK)
    return box_err (err, BOX_E_INTERNAL, "archive: cannot set up a tar reader (libarchive)");
  if (!(ls->buffer = malloc (COPY_CHUNK)))
    return OUT_OF_MEMORY (err);
  if (archive_read_open2 (a, ls, NULL, load_read_callback, NULL, NULL) != ARCHIVE_OK)
    return archive_failure (ls, a, "open", err);
  for (;;)
    {
      struct archive_entry *entry;
      int rc = archive_read_next_header (a, &entry);
      if (rc == ARCHIVE_EOF)
        break;
      if (rc < ARCHIVE_WARN)
        return archive_failure (ls, a, "read header", err);
      const char *raw = archive_entry_pathname (entry);
      char *name = raw ? normalize_member_name (raw) : NULL;
      if (!name)
        continue;
      const char *hardlink = archive_entry_hardlink (entry);
      mode_t type = archive_entry_filetype (entry);
      if (hardlink || type == AE_IFLNK)
        {
          _cleanup_free_ char *target = NULL;
          if (hardlink)
            target = normalize_member_name (hardlink);
          else
            {
              /* relative to the link's directory, as old docker saves link layer.tar files */
              const char *link = archive_entry_symlink (entry);
              const char *slash = strrchr (name, '/');
              _cleanup_free_ char *joined = NULL;
              if (link
                  && asprintf (&joined, "%.*s/%s", slash ? (int) (slash - name) : 0, name, link)
                         >= 0)
                target = normalize_member_name (joined[0] == '/' ? joined + 1 : joined);
            }
          member *m = add_member (ls, name, err);
          if (!m)
            return box_err_code (err);
          m->alias = TAKE_PTR (target);
          continue;
        }
      if (type != AE_IFREG)
        {
          free (name);
          continue;
        }
      member *m = add_member (ls, name, err);
      if (!m)
        return box_err_code (err);
      char digest[DIGEST_STRING_MAX];
      if (is_oci_blob_name (m->name, digest))
        rc = read_member_to_store (ls, a, m, digest, err);
      else if (is_metadata_name (m->name))
        rc = read_member_to_memory (ls, a, m, archive_entry_size (entry), err);
      else
        rc = read_member_to_store (ls, a, m, NULL, err);
      if (rc < 0)
        return box_err_code (err);
    }
  return 0;
}

/* A member's bytes: from memory, or the stored blob (small ones only: configs, manifests). */
static int
member_text (load_state *ls, member *m, char **out, box_error **err)
{
  if (m->data)
    {
      if (!(*out = strdup (m->data)))
        return OUT_OF_MEMORY (err);
      return 0;
    }
  size_t len;
  return content_blob_read (ls->eng, m->digest, out, &len, err);
}

/* One image found in the archive, ready to be unpacked and recorded. */
typedef struct load_image {
  char config_digest[DIGEST_STRING_MAX];
  json_t *config;
  char **layer_blobs;
  char **layer_media_types; /* NULL entries: from the decompressed format */
  size_t n_layers;
  char manifest_digest[DIGEST_STRING_MAX]; /* "" when one is to be made */
  char index_digest[DIGEST_STRING_MAX];    /* oci-archive: what index.json points at */
  char *manifest_media_type;
  char **extra_blobs;
  size_t n_extra_blobs;
  char **names; /* normalized references */
  size_t n_names;
} load_image;

static void
load_image_release (load_image *li)
{
  json_decref (li->config);
  for (size_t i = 0; i < li->n_layers; i++)
    {
      free (li->layer_blobs[i]);
      free (li->layer_media_types[i]);
    }
  free (li->layer_blobs);
  free (li->layer_media_types);
  free (li->manifest_media_type);
  for (size_t i = 0; i < li->n_extra_blobs; i++)
    free (li->extra_blobs[i]);
  free (li->extra_blobs);
  for (size_t i = 0; i < li->n_names; i++)
    free (li->names[i]);
  free (li->names);
  memset (li, 0, sizeof *li);
}

static int
add_layer (load_image *li, const char *blob, const char *media_type, box_error **err)
{
  char **blobs = realloc (li->layer_blobs, (li->n_layers + 1) * sizeof *blobs);
  if (!blobs)
    return OUT_OF_MEMORY (err);
  li->layer_blobs = blobs;
  char **types = realloc (li->layer_media_types, (li->n_layers + 1) * sizeof *types);
  if (!types)
    return OUT_OF_MEMORY (err);
  li->layer_media_types = types;
  blobs[li->n_layers] = strdup (blob);
  types[li->n_layers] = media_type ? strdup (media_type) : NULL;
  if (!blobs[li->n_layers] || (media_type && !types[li->n_layers]))
    {
      free (blobs[li->n_layers]);
      free (types[li->n_layers]);
      return OUT_OF_MEMORY (err);
    }
  li->n_layers++;
  return 0;
}

/* Normalizes a name the archive gives and adds it (names that do not parse are reported). */
static int
add_name (load_image *li, const char *text, box_error **err)
{
  image_reference ref;
  if (image_reference_parse (text, &ref, err) < 0)
    return box_err_wrap (err, "archive: image name");
  if (ref.digest[0])
    return 0; /* a digest is not a name to tag with */
  image_reference_default_tag (&ref);
  char normalized[IMAGE_REFERENCE_STRING_MAX];
  image_reference_string (&ref, normalized);
  return append_unique_string (&li->names, &li->n_names, normalized, err);
}

static int
parse_json_text (const char *text, const char *what, json_t **out, box_error **err)
{
  json_error_t jerr;
  json_t *j = json_loads (text, 0, &jerr);
  if (!j)
    return box_err (err, BOX_E_INVALID, "archive: %s: invalid JSON: %s", what, jerr.text);
  *out = j;
  return 0;
}

static int
load_config (load_state *ls, load_image *li, const char *text, box_error **err)
{
  if (digest_sha256_buffer (text, strlen (text), li->config_digest, err) < 0)
    return box_err_code (err);
  return parse_json_text (text, "image config", &li->config, err);
}

/* The config bytes as they are, as a blob: their digest is the image id. */
static int
store_config (load_state *ls, load_image *li, const char *text, box_error **err)
{
  int present = content_blob_exists (ls->eng, li->config_digest, err);
  if (present < 0)
    return box_err_code (err);
  if (present)
    return 0;
  char digest[DIGEST_STRING_MAX];
  if (content_blob_write_buffer (ls->eng, text, strlen (text), digest, err) < 0)
    return box_err_wrap (err, "archive: store config");
  return append_unique_string (&ls->new_blobs, &ls->n_new_blobs, digest, err);
}

/* docker-archive: manifest.json lists Config, RepoTags and Layers paths. */
static int
collect_docker_images (load_state *ls, member *manifest_member, load_image **out, size_t *out_n,
                       box_error **err)
{
  _cleanup_json_ json_t *manifest = NULL;
  if (parse_json_text (manifest_member->data, "manifest.json", &manifest, err) < 0)
    return box_err_code (err);
  if (!json_is_array (manifest))
    return box_err (err, BOX_E_INVALID, "archive: manifest.json is not an array");
  size_t n = json_array_size (manifest);
  load_image *images = calloc (n ? n : 1, sizeof *images);
  if (!images)
    return OUT_OF_MEMORY (err);
  *out = images;
  *out_n = n;
  for (size_t i = 0; i < n; i++)
    {
      json_t *item = json_array_get (manifest, i);
      const char *config_path = json_string_value (json_object_get (item, "Config"));
      json_t *layers = json_object_get (item, "Layers");
      if (!config_path || !json_is_array (layers))
        return box_err (err, BOX_E_INVALID,
                        "archive: manifest.json entry %zu lacks Config or Layers", i);
      _cleanup_free_ char *config_name = normalize_member_name (config_path);
      member *config = config_name ? find_member (ls, config_name) : NULL;
      if (!config)
        return box_err (err, BOX_E_INVALID, "archive: config %s is not in the archive",
                        config_path);
      _cleanup_free_ char *text = NULL;
      if (member_text (ls, config, &text, err) < 0 || load_config (ls, &images[i], text, err) < 0
          || store_config (ls, &images[i], text, err) < 0)
        return box_err_code (err);
      size_t j;
      json_t *layer;
      json_array_foreach (layers, j, layer)
      {
        const char *path = json_string_value (layer);
        _cleanup_free_ char *layer_name = path ? normalize_member_name (path) : NULL;
        member *m = layer_name ? find_member (ls, layer_name) : NULL;
        if (!m)
          return box_err (err, BOX_E_INVALID, "archive: layer %s is not in the archive",
                          path ? path : "(not a string)");
        if (!m->digest)
          {
            /* a layer small enough to have been taken for metadata: store it now */
            char digest[DIGEST_STRING_MAX];
            if (content_blob_write_buffer (ls->eng, m->data, m->len, digest, err) < 0
                || !(m->digest = strdup (digest)))
              return box_err_code (err) ? box_err_code (err) : OUT_OF_MEMORY (err);
          }
        if (add_layer (&images[i], m->digest, NULL, err) < 0)
          return box_err_code (err);
      }
      json_t *tags = json_object_get (item, "RepoTags");
      json_t *tag;
      json_array_foreach (tags, j, tag)
      {
        if (json_is_string (tag) && add_name (&images[i], json_string_value (tag), err) < 0)
          return box_err_code (err);
      }
    }
  return 0;
}

static bool
media_type_is_index (const char *type)
{
  return type
         && (strcmp (type, MEDIA_TYPE_OCI_INDEX) == 0
             || strcmp (type, MEDIA_TYPE_DOCKER_LIST) == 0);
}

/* Follows a descriptor (index → the linux/<host arch> manifest) to an image manifest. */
static int
collect_oci_manifest (load_state *ls, load_image *li, json_t *desc, int depth, box_error **err)
{
  const char *digest = json_string_value (json_object_get (desc, "digest"));
  if (!digest || !digest_is_valid_sha256 (digest))
    return box_err (err, BOX_E_INVALID, "archive: index.json: a descriptor without a valid digest");
  _cleanup_free_ char *text = NULL;
  size_t len;
  if (content_blob_read (ls->eng, digest, &text, &len, err) < 0)
    return box_err_wrap (err, "archive: manifest %s", digest);
  _cleanup_json_ json_t *manifest = NULL;
  if (parse_json_text (text, digest, &manifest, err) < 0)
    return box_err_code (err);
  const char *type = json_string_value (json_object_get (desc, "mediaType"));
  if (!type)
    type = json_string_value (json_object_get (manifest, "mediaType"));
  if (media_type_is_index (type) || json_is_array (json_object_get (manifest, "manifests")))
    {
      if (depth >= ARCHIVE_INDEX_DEPTH_MAX)
        return box_err (err, BOX_E_INVALID, "archive: indexes nested too deep");
      if (append_string (&li->extra_blobs, &li->n_extra_blobs, digest, err) < 0)
        return box_err_code (err);
      size_t i;
      json_t *entry;
      json_array_foreach (json_object_get (manifest, "manifests"), i, entry)
      {
        json_t *platform = json_object_get (entry, "platform");
        const char *os = json_string_value (json_object_get (platform, "os"));
        const char *arch = json_string_value (json_object_get (platform, "architecture"));
        if (str_eq (os, "linux") && str_eq (arch, image_host_architecture ()))
          return collect_oci_manifest (ls, li, entry, depth + 1, err);
      }
      return box_err (err, BOX_E_NOT_FOUND, "archive: index %s has no linux/%s image", digest,
                      image_host_architecture ());
    }
  snprintf (li->manifest_digest, sizeof li->manifest_digest, "%s", digest);
  if (!(li->manifest_media_type = strdup (type ? type : MEDIA_TYPE_OCI_MANIFEST)))
    return OUT_OF_MEMORY (err);
  const char *config_digest
      = json_string_value (json_object_get (json_object_get (manifest, "config"), "digest"));
  if (!config_digest || !digest_is_valid_sha256 (config_digest))
    return box_err (err, BOX_E_INVALID, "archive: manifest %s has no valid config digest", digest);
  _cleanup_free_ char *config_text = NULL;
  if (content_blob_read (ls->eng, config_digest, &config_text, &len, err) < 0)
    return box_err_wrap (err, "archive: config of manifest %s", digest);
  if (load_config (ls, li, config_text, err) < 0)
    return box_err_code (err);
  size_t i;
  json_t *layer;
  json_array_foreach (json_object_get (manifest, "layers"), i, layer)
  {
    const char *layer_digest = json_string_value (json_object_get (layer, "digest"));
    if (!layer_digest || !digest_is_valid_sha256 (layer_digest))
      return box_err (err, BOX_E_INVALID, "archive: manifest %s: layer %zu has no valid digest",
                      digest, i);
    int present = content_blob_exists (ls->eng, layer_digest, err);
    if (present < 0)
      return box_err_code (err);
    if (!present)
      return box_err (err, BOX_E_INVALID, "archive: layer blob %s is not in the archive",
                      layer_digest);
    if (add_layer (li, layer_digest, json_string_value (json_object_get (layer, "mediaType")), err)
        < 0)
      return box_err_code (err);
  }
  return 0;
}

/* oci-archive: index.json's manifests, names from their annotations. */
static int
collect_oci_images (load_state *ls, member *index_member, load_image **out, size_t *out_n,
                    box_error **err)
{
  _cleanup_json_ json_t *index = NULL;
  if (parse_json_text (index_member->data, "index.json", &index, err) < 0)
    return box_err_code (err);
  json_t *manifests = json_object_get (index, "manifests");
  if (!json_is_array (manifests))
    return box_err (err, BOX_E_INVALID, "archive: index.json has no manifests");
  size_t n = json_array_size (manifests);
  load_image *images = calloc (n ? n : 1, sizeof *images);
  if (!images)
    return OUT_OF_MEMORY (err);
  *out = images;
  size_t used = 0;
  for (size_t i = 0; i < n; i++)
    {
      json_t *desc = json_array_get (manifests, i);
      const char *digest = json_string_value (json_object_get (desc, "digest"));
      /* one image under several names is listed once per name: collect it once */
      load_image *image = NULL;
      for (size_t j = 0; j < used && digest; j++)
        if (strcmp (images[j].index_digest, digest) == 0)
          image = &images[j];
      if (!image)
        {
          image = &images[used++];
          *out_n = used;
          if (collect_oci_manifest (ls, image, desc, 0, err) < 0)
            return box_err_code (err);
          snprintf (image->index_digest, sizeof image->index_digest, "%s", digest);
        }
      json_t *annotations = json_object_get (desc, "annotations");
      const char *name
          = json_string_value (json_object_get (annotations, ANNOTATION_CONTAINERD_NAME));
      const char *ref_name = json_string_value (json_object_get (annotations, ANNOTATION_REF_NAME));
      /* a ref name that is only a tag ("latest") names no repository */
      if (!name && ref_name && (strchr (ref_name, ':') || strchr (ref_name, '/')))
        name = ref_name;
      if (name && add_name (image, name, err) < 0)
        return box_err_code (err);
    }
  return 0;
}

/* Records the image under each of the archive's names (once, untagged, when it gives none)
 * and lists it as loaded. Once recorded, the layers in committed (may be NULL) belong to the
 * image: the list is emptied. */
static int
record_image (load_state *ls, load_image *li, image_add_request *req, char **committed,
              size_t *n_committed, box_error **err)
{
  for (size_t i = 0; i < (li->n_names ? li->n_names : 1); i++)
    {
      req->tag = li->n_names ? li->names[i] : NULL;
      if (image_store_add (ls->eng, req, err) < 0)
        return box_err_wrap (err, "load image %s", li->config_digest);
      /* recorded: its layers belong to the image now, whatever happens next */
      for (size_t j = 0; committed && j < *n_committed; j++)
        free (committed[j]);
      if (committed)
        *n_committed = 0;
      char shown[IMAGE_REFERENCE_STRING_MAX];
      if (li->n_names)
        image_reference_familiarize (li->names[i], shown);
      else
        snprintf (shown, sizeof shown, "%s", li->config_digest);
      if (append_string (&ls->loaded, &ls->n_loaded, shown, err) < 0)
        return box_err_code (err);
    }
  return 0;
}

/* Records the archive's names for an image the store already holds: its layers and blobs
 * stay those it has, and what the archive brought for it is dropped again. */
static int
add_names_to_existing (load_state *ls, load_image *li, store_image *existing, box_error **err)
{
  _cleanup_free_ image_add_layer *layers
      = calloc (existing->n_layers ? existing->n_layers : 1, sizeof *layers);
  if (!layers)
    return OUT_OF_MEMORY (err);
  for (size_t i = 0; i < existing->n_layers; i++)
    layers[i] = (image_add_layer){ .diff_id = existing->layers[i].diff_id,
                                   .blob_digest = existing->layers[i].blob_digest,
                                   .blob_media_type = existing->layers[i].blob_media_type,
                                   .blob_size = existing->layers[i].blob_size,
                                   .size = existing->layers[i].size };
  image_add_request req = {
    .config_digest = existing->id,
    .manifest_digest = existing->manifest_digest,
    .manifest_media_type = existing->manifest_media_type,
    .layers = layers,
    .n_layers = existing->n_layers,
    .event_action = "load",
  };
  return record_image (ls, li, &req, NULL, NULL, err);
}

/* Unpacks (or, when present already, only verifies) each layer, then records the image.
 * committed collects the layers this call made (for removal when it fails). */
static int
install_image_steps (load_state *ls, load_image *li, char ***committed, size_t *n_committed,
                     box_error **err)
{
  {
    store_image *existing = NULL;
    int found = store_image_get (ls->eng->store, li->config_digest, &existing, err);
    if (found < 0)
      return box_err_code (err);
    if (found)
      {
        int rc = add_names_to_existing (ls, li, existing, err);
        store_image_free (existing);
        return rc;
      }
  }
  json_t *diff_ids = json_object_get (json_object_get (li->config, "rootfs"), "diff_ids");
  if (json_array_size (diff_ids) != li->n_layers)
    return box_err (err, BOX_E_INVALID, "image %s: the config lists %zu layers, the archive %zu",
                    li->config_digest, json_array_size (diff_ids), li->n_layers);
  image_add_layer *layers = calloc (li->n_layers ? li->n_layers : 1, sizeof *layers);
  if (!layers)
    return OUT_OF_MEMORY (err);
  _cleanup_free_ image_add_layer *owned_layers = layers;
  char (*diffs)[DIGEST_STRING_MAX] = calloc (li->n_layers ? li->n_layers : 1, sizeof *diffs);
  _cleanup_free_ void *owned_diffs = diffs;
  const char **types = calloc (li->n_layers ? li->n_layers : 1, sizeof *types);
  _cleanup_free_ void *owned_types = types;
  if (!diffs || !types)
    return OUT_OF_MEMORY (err);

  char chain[DIGEST_STRING_MAX] = "";
  for (size_t i = 0; i < li->n_layers; i++)
    {
      const char *want = json_string_value (json_array_get (diff_ids, i));
      if (!want || !digest_is_valid_sha256 (want))
        return box_err (err, BOX_E_INVALID, "image %s: diff id %zu is not a sha256 digest",
                        li->config_digest, i);
      char next_chain[DIGEST_STRING_MAX];
      if (layer_chain_id (chain[0] ? chain : NULL, want, next_chain, err) < 0)
        return box_err_code (err);
      int present = layer_exists (ls->eng, next_chain, err);
      if (present < 0)
        return box_err_code (err);

      /* decompression and hashing on this thread, writing on the unpack job's */
      _cleanup_close_ int fd = -1;
      if (content_blob_open (ls->eng, li->layer_blobs[i], &fd, err) < 0)
        return box_err_wrap (err, "image %s: layer %zu", li->config_digest, i);
      _cleanup_ (layer_abortp) layer_writer *writer = NULL;
      _cleanup_ (layer_unpack_job_freep) layer_unpack_job *job = NULL;
      layer_unpack_stats stats = { 0 };
      decompress_result result;
      /* the unpack thread hashes the diff id: the two threads share the work evenly */
      layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
      uopts.digest_stream = true;
      if (!present
          && (layer_begin (ls->eng, &writer, err) < 0
              || layer_unpack_job_start (layer_writer_directory_fd (writer), &uopts, &job, err)
                     < 0))
        return box_err_wrap (err, "image %s: layer %s", li->config_digest, li->layer_blobs[i]);
      if (decompress_fd (fd, job ? layer_unpack_job_write : count_output, job, !job, &result,
                         li->layer_blobs[i], err)
              < 0
          || (job && layer_unpack_job_finish (job, &stats, err) < 0))
        return box_err_wrap (err, "image %s: layer %s", li->config_digest, li->layer_blobs[i]);
      const char *diff_id = job ? stats.stream_digest : result.diff_id;
      if (strcmp (diff_id, want) != 0)
        return box_err (err, BOX_E_INVALID, "image %s: layer %s has diff id %s, the config says %s",
                        li->config_digest, li->layer_blobs[i], diff_id, want);
      if (writer && layer_commit (writer, next_chain, err) < 0)
        return box_err_wrap (err, "image %s: layer %s", li->config_digest, want);
      if (writer && append_string (committed, n_committed, next_chain, err) < 0)
        return box_err_code (err);
      snprintf (chain, sizeof chain, "%s", next_chain);
      snprintf (diffs[i], DIGEST_STRING_MAX, "%s", want);
      types[i] = li->layer_media_types[i] ? li->layer_media_types[i]
                                          : decompress_format_layer_media_type (result.format);
      uint64_t blob_size = 0;
      if (content_blob_size (ls->eng, li->layer_blobs[i], &blob_size, err) < 0)
        return box_err_code (err);
      layers[i] = (image_add_layer){
        .diff_id = diffs[i],
        .blob_digest = li->layer_blobs[i],
        .blob_media_type = types[i],
        .blob_size = (int64_t) blob_size,
        .size = (int64_t) (present ? result.uncompressed_size : stats.file_bytes),
      };
    }

  if (!li->manifest_digest[0])
    {
      /* docker-archive carries no manifest: make the OCI one a registry would hold */
      uint64_t config_size = 0;
      if (content_blob_size (ls->eng, li->config_digest, &config_size, err) < 0)
        return box_err_code (err);
      _cleanup_json_ json_t *manifest_layers = json_array ();
      for (size_t i = 0; i < li->n_layers; i++)
        json_array_append_new (manifest_layers, json_pack ("{s:s,s:s,s:I}", "mediaType", types[i],
                                                           "digest", li->layer_blobs[i], "size",
                                                           (json_int_t) layers[i].blob_size));
      _cleanup_json_ json_t *manifest = json_pack (
          "{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType", MEDIA_TYPE_OCI_MANIFEST,
          "config", "mediaType", MEDIA_TYPE_OCI_CONFIG, "digest", li->config_digest, "size",
          (json_int_t) config_size, "layers", manifest_layers);
      _cleanup_free_ char *text
          = manifest ? json_dumps (manifest, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
      if (!text)
        return OUT_OF_MEMORY (err);
      int had = 0;
      char digest[DIGEST_STRING_MAX];
      if (digest_sha256_buffer (text, strlen (text), digest, err) < 0
          || (had = content_blob_exists (ls->eng, digest, err)) < 0
          || content_blob_write_buffer (ls->eng, text, strlen (text), li->manifest_digest, err) < 0)
        return box_err_code (err);
      if (!had && append_unique_string (&ls->new_blobs, &ls->n_new_blobs, digest, err) < 0)
        return box_err_code (err);
      if (!(li->manifest_media_type = strdup (MEDIA_TYPE_OCI_MANIFEST)))
        return OUT_OF_MEMORY (err);
    }

  image_add_request req = {
    .config_digest = li->config_digest,
    .manifest_digest = li->manifest_digest,
    .manifest_media_type = li->manifest_media_type,
    .layers = layers,
    .n_layers = li->n_layers,
    .extra_blobs = (const char *const *) li->extra_blobs,
    .n_extra_blobs = li->n_extra_blobs,
    .event_action = "load",
  };
  if (record_image (ls, li, &req, *committed, n_committed, err) < 0)
    return box_err_code (err);

  const char *used[] = { li->config_digest, li->manifest_digest };
  for (size_t i = 0; i < ARRAY_SIZE (used); i++)
    if (append_unique_string (&ls->used_blobs, &ls->n_used_blobs, used[i], err) < 0)
      return box_err_code (err);
  for (size_t i = 0; i < li->n_layers; i++)
    if (append_unique_string (&ls->used_blobs, &ls->n_used_blobs, li->layer_blobs[i], err) < 0)
      return box_err_code (err);
  for (size_t i = 0; i < li->n_extra_blobs; i++)
    if (append_unique_string (&ls->used_blobs, &ls->n_used_blobs, li->extra_blobs[i], err) < 0)
      return box_err_code (err);
  return 0;
}

static int
install_image (load_state *ls, load_image *li, box_error **err)
{
  char **committed = NULL;
  size_t n_committed = 0;
  int rc = install_image_steps (ls, li, &committed, &n_committed, err);
  for (size_t i = 0; i < n_committed; i++)
    {
      if (rc < 0)
        {
          /* no image holds these layers: a failed load leaves none behind */
          box_error *ignored = NULL;
          layer_remove (ls->eng, committed[i], &ignored);
          box_error_free (ignored);
        }
      free (committed[i]);
    }
  free (committed);
  return rc;
}

/* Blobs this load added that no loaded image uses (an archive's extra files, the blobs of a
 * failed load) are removed; blobs that were there before stay. */
static void
remove_unused_blobs (load_state *ls)
{
  for (size_t i = 0; i < ls->n_new_blobs; i++)
    {
      bool used = false;
      for (size_t j = 0; j < ls->n_used_blobs && !used; j++)
        used = strcmp (ls->new_blobs[i], ls->used_blobs[j]) == 0;
      if (!used)
        {
          box_error *ignored = NULL;
          content_blob_remove (ls->eng, ls->new_blobs[i], &ignored);
          box_error_free (ignored);
        }
    }
}

int
image_archive_load (box_engine *eng, int in_fd, char ***out_loaded, size_t *out_n, box_error **err)
{
  load_state ls = { .eng = eng, .fd = in_fd };
  load_image *images = NULL;
  size_t n_images = 0;
  int rc = read_archive (&ls, err);
  if (rc >= 0)
    {
      /* docker >= 25 writes both layouts: the OCI index keeps the manifests' digests */
      member *index = find_member (&ls, "index.json");
      member *manifest = find_member (&ls, "manifest.json");
      if (index && index->data && find_member (&ls, "oci-layout"))
        rc = collect_oci_images (&ls, index, &images, &n_images, err);
      else if (manifest && manifest->data)
        rc = collect_docker_images (&ls, manifest, &images, &n_images, err);
      else
        rc = box_err (err, BOX_E_INVALID,
                      "archive: neither a docker-archive (manifest.json) nor an oci-archive "
                      "(oci-layout, index.json)");
    }
  if (rc >= 0 && n_images == 0)
    rc = box_err (err, BOX_E_INVALID, "archive: it holds no image");
  for (size_t i = 0; rc >= 0 && i < n_images; i++)
    rc = install_image (&ls, &images[i], err);
  for (size_t i = 0; i < n_images; i++)
    load_image_release (&images[i]);
  free (images);
  remove_unused_blobs (&ls);
  if (rc >= 0 && out_loaded)
    {
      *out_loaded = TAKE_PTR (ls.loaded);
      *out_n = ls.n_loaded;
      ls.n_loaded = 0;
    }
  load_state_release (&ls);
  return rc < 0 ? box_err_code (err) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API                                                                               */
/* ---------------------------------------------------------------------------------------- */

int
box_image_save (box_engine *eng, const char *const *refs, size_t n_refs,
                const box_image_save_options *opts, box_error **err)
{
  if (!opts || opts->version != BOX_IMAGE_SAVE_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_save_options: missing or unknown version");
  if (!opts->output_path)
    {
      if (opts->output_fd < 0)
        return box_err (err, BOX_E_INVALID, "save: no output (give output_path or output_fd)");
      return image_archive_save (eng, refs, n_refs, opts->format, opts->output_fd, err);
    }
  /* a temporary name beside the target, renamed over it once complete */
  _cleanup_free_ char *tmp = NULL;
  if (asprintf (&tmp, "%s.box-save-XXXXXX", opts->output_path) < 0)
    return OUT_OF_MEMORY (err);
  _cleanup_close_ int fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "save: create %s", tmp);
  int rc = image_archive_save (eng, refs, n_refs, opts->format, fd, err);
  if (rc >= 0 && fchmod (fd, 0644) < 0)
    rc = box_err_errno (err, errno, "save: chmod %s", tmp);
  if (rc >= 0 && fsync (fd) < 0)
    rc = box_err_errno (err, errno, "save: fsync %s", tmp);
  if (rc >= 0 && rename (tmp, opts->output_path) < 0)
    rc = box_err_errno (err, errno, "save: rename to %s", opts->output_path);
  if (rc < 0)
    unlink (tmp);
  return rc;
}

int
box_image_load (box_engine *eng, const box_image_load_options *opts, char ***out_loaded,
                size_t *out_n, box_error **err)
{
  if (!opts || opts->version != BOX_IMAGE_LOAD_OPTIONS_VERSION)
    return box_err (err, BOX_E_INVALID, "box_image_load_options: missing or unknown version");
  _cleanup_close_ int owned = -1;
  int fd = opts->input_fd;
  if (opts->input_path)
    {
      owned = open (opts->input_path, O_RDONLY | O_CLOEXEC);
      if (owned < 0)
        return box_err_errno (err, errno, "load: open %s", opts->input_path);
      fd = owned;
    }
  if (fd < 0)
    return box_err (err, BOX_E_INVALID, "load: no input (give input_path or input_fd)");
  if (out_loaded)
    {
      *out_loaded = NULL;
      *out_n = 0;
    }
  if (image_archive_load (eng, fd, out_loaded, out_n, err) < 0)
    return box_err_wrap (err, "load %s", opts->input_path ? opts->input_path : "-");
  return 0;
}

void
box_image_load_list_free (char **loaded, size_t n)
{
  if (!loaded)
    return;
  for (size_t i = 0; i < n; i++)
    free (loaded[i]);
  free (loaded);
}
