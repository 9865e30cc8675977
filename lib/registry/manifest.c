/* Owns manifest parsing and validation, layer media types and platform selection. */
#include "registry/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/strutil.h"

/* A manifest with more layers than this is hostile or broken (docker refuses > 127 lowers for
 * overlay anyway). */
#define MANIFEST_MAX_LAYERS 512
#define INDEX_MAX_ENTRIES 1024

bool
registry_digest_is_valid (const char *s)
{
  if (!s || !str_has_prefix (s, "sha256:"))
    return false;
  const char *hex = s + strlen ("sha256:");
  return strlen (hex) == 64 && str_is_lower_hex (hex);
}

static void
descriptor_clear (registry_descriptor *d)
{
  free (d->media_type);
  free (d->digest);
  free (d->os);
  free (d->architecture);
  free (d->variant);
  memset (d, 0, sizeof *d);
}

void
registry_manifest_free (registry_manifest *m)
{
  if (!m)
    return;
  free (m->media_type);
  descriptor_clear (&m->config);
  for (size_t i = 0; i < m->n_layers; i++)
    descriptor_clear (&m->layers[i]);
  free (m->layers);
  for (size_t i = 0; i < m->n_manifests; i++)
    descriptor_clear (&m->manifests[i]);
  free (m->manifests);
  free (m);
}

static int
dup_string_field (json_t *obj, const char *key, bool required, char **out, const char *what,
                  box_error **err)
{
  json_t *v = json_object_get (obj, key);
  if (!v)
    {
      if (required)
        return box_err (err, BOX_E_INVALID, "%s: missing \"%s\"", what, key);
      return 0;
    }
  if (!json_is_string (v))
    return box_err (err, BOX_E_INVALID, "%s: \"%s\" is not a string", what, key);
  *out = strdup (json_string_value (v));
  if (!*out)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

static int
parse_descriptor (json_t *obj, const char *what, bool with_platform, registry_descriptor *d,
                  box_error **err)
{
  if (!json_is_object (obj))
    return box_err (err, BOX_E_INVALID, "%s: not a JSON object", what);
  if (dup_string_field (obj, "mediaType", true, &d->media_type, what, err) < 0
      || dup_string_field (obj, "digest", true, &d->digest, what, err) < 0)
    return box_err_code (err);
  if (!registry_digest_is_valid (d->digest))
    {
      if (str_has_prefix (d->digest, "sha512:"))
        return box_err (err, BOX_E_UNSUPPORTED, "%s: digest algorithm sha512 is not supported",
                        what);
      return box_err (err, BOX_E_INVALID, "%s: invalid digest", what);
    }
  json_t *size = json_object_get (obj, "size");
  if (!json_is_integer (size) || json_integer_value (size) < 0)
    return box_err (err, BOX_E_INVALID, "%s %s: missing or negative size", what, d->digest);
  d->size = json_integer_value (size);
  if (with_platform)
    {
      json_t *platform = json_object_get (obj, "platform");
      if (platform)
        {
          if (!json_is_object (platform))
            return box_err (err, BOX_E_INVALID, "%s %s: platform is not an object", what,
                            d->digest);
          if (dup_string_field (platform, "os", false, &d->os, what, err) < 0
              || dup_string_field (platform, "architecture", false, &d->architecture, what, err) < 0
              || dup_string_field (platform, "variant", false, &d->variant, what, err) < 0)
            return box_err_code (err);
        }
    }
  return 0;
}

static int
parse_descriptor_array (json_t *array, const char *what, bool with_platform, size_t max,
                        registry_descriptor **out, size_t *out_n, box_error **err)
{
  if (!json_is_array (array))
    return box_err (err, BOX_E_INVALID, "manifest: \"%s\" is not an array", what);
  size_t n = json_array_size (array);
  if (n > max)
    return box_err (err, BOX_E_INVALID, "manifest: %zu %s (at most %zu accepted)", n, what, max);
  if (n == 0)
    {
      *out = NULL;
      *out_n = 0;
      return 0;
    }
  registry_descriptor *items = calloc (n, sizeof *items);
  if (!items)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  /* hand the array over first, so the caller's cleanup frees whatever was filled in */
  *out = items;
  *out_n = n;
  for (size_t i = 0; i < n; i++)
    {
      char label[64];
      snprintf (label, sizeof label, "manifest %s[%zu]", what, i);
      if (parse_descriptor (json_array_get (array, i), label, with_platform, &items[i], err) < 0)
        return box_err_code (err);
    }
  return 0;
}

int
registry_manifest_parse (const char *body, size_t len, const char *content_type,
                         registry_manifest **out, box_error **err)
{
  if (len > MANIFEST_MAX_SIZE)
    return box_err (err, BOX_E_INVALID, "manifest: %zu bytes is larger than the %u accepted", len,
                    MANIFEST_MAX_SIZE);
  json_error_t jerr;
  _cleanup_json_ json_t *doc = json_loadb (body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc)
    return box_err (err, BOX_E_INVALID, "manifest: invalid JSON at line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
  if (!json_is_object (doc))
    return box_err (err, BOX_E_INVALID, "manifest: not a JSON object");

  json_t *schema = json_object_get (doc, "schemaVersion");
  if (json_is_integer (schema) && json_integer_value (schema) == 1)
    return box_err (err, BOX_E_UNSUPPORTED,
                    "manifest: schema version 1 manifests are not supported (push the image "
                    "again with a current client)");
  if (!json_is_integer (schema) || json_integer_value (schema) != 2)
    return box_err (err, BOX_E_INVALID, "manifest: schemaVersion must be 2");

  _cleanup_ (registry_manifest_freep) registry_manifest *m = calloc (1, sizeof *m);
  if (!m)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (dup_string_field (doc, "mediaType", false, &m->media_type, "manifest", err) < 0)
    return box_err_code (err);
  if (!m->media_type)
    {
      /* OCI allows leaving mediaType out: the Content-Type, else the shape, decides */
      const char *type = content_type;
      if (!type
          || (strcmp (type, MEDIA_TYPE_OCI_MANIFEST) != 0
              && strcmp (type, MEDIA_TYPE_OCI_INDEX) != 0))
        type = json_object_get (doc, "manifests") ? MEDIA_TYPE_OCI_INDEX : MEDIA_TYPE_OCI_MANIFEST;
      m->media_type = strdup (type);
      if (!m->media_type)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }

  if (strcmp (m->media_type, MEDIA_TYPE_OCI_INDEX) == 0
      || strcmp (m->media_type, MEDIA_TYPE_DOCKER_LIST) == 0)
    {
      m->kind = MANIFEST_KIND_INDEX;
      if (parse_descriptor_array (json_object_get (doc, "manifests"), "manifests", true,
                                  INDEX_MAX_ENTRIES, &m->manifests, &m->n_manifests, err)
          < 0)
        return box_err_code (err);
    }
  else if (strcmp (m->media_type, MEDIA_TYPE_OCI_MANIFEST) == 0
           || strcmp (m->media_type, MEDIA_TYPE_DOCKER_MANIFEST) == 0)
    {
      m->kind = MANIFEST_KIND_IMAGE;
      if (parse_descriptor (json_object_get (doc, "config"), "manifest config", false, &m->config,
                            err)
          < 0)
        return box_err_code (err);
      if (parse_descriptor_array (json_object_get (doc, "layers"), "layers", false,
                                  MANIFEST_MAX_LAYERS, &m->layers, &m->n_layers, err)
          < 0)
        return box_err_code (err);
      for (size_t i = 0; i < m->n_layers; i++)
        {
          layer_compression compression;
          if (registry_layer_compression (m->layers[i].media_type, &compression, err) < 0)
            return box_err_wrap (err, "manifest layer %s", m->layers[i].digest);
        }
    }
  else
    return box_err (err, BOX_E_UNSUPPORTED, "manifest: unsupported media type \"%s\"",
                    m->media_type);

  *out = TAKE_PTR (m);
  return 0;
}

int
registry_layer_compression (const char *media_type, layer_compression *out, box_error **err)
{
  if (strcmp (media_type, MEDIA_TYPE_OCI_LAYER_GZIP) == 0
      || strcmp (media_type, MEDIA_TYPE_DOCKER_LAYER_GZIP) == 0)
    *out = LAYER_COMPRESSION_GZIP;
  else if (strcmp (media_type, MEDIA_TYPE_OCI_LAYER_ZSTD) == 0)
    *out = LAYER_COMPRESSION_ZSTD;
  else if (strcmp (media_type, MEDIA_TYPE_OCI_LAYER) == 0)
    *out = LAYER_COMPRESSION_NONE;
  else if (strstr (media_type, "nondistributable") || strstr (media_type, "foreign"))
    return box_err (err, BOX_E_UNSUPPORTED, "non-distributable layer (%s) is not supported",
                    media_type);
  else
    return box_err (err, BOX_E_UNSUPPORTED, "unsupported layer media type \"%s\"", media_type);
  return 0;
}

const char *
registry_host_platform (void)
{
#if defined(__x86_64__)
  return "linux/amd64";
#elif defined(__aarch64__)
  return "linux/arm64";
#elif defined(__arm__)
  return "linux/arm/v7";
#elif defined(__i386__)
  return "linux/386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "linux/ppc64le";
#elif defined(__s390x__)
  return "linux/s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "linux/riscv64";
#else
  return "linux/unknown";
#endif
}

static bool
variant_matches (const char *arch, const char *wanted, const char *have)
{
  if (!wanted || !*wanted)
    return true; /* no variant asked for: any */
  if (have && strcmp (wanted, have) == 0)
    return true;
  /* arm64 images rarely say v8 */
  return strcmp (arch, "arm64") == 0 && strcmp (wanted, "v8") == 0 && (!have || !*have);
}

int
registry_index_select (const registry_manifest *index, const char *platform,
                       const registry_descriptor **out, box_error **err)
{
  const char *wanted = platform && *platform ? platform : registry_host_platform ();
  char os[64], arch[64], variant[64] = "";
  int fields = sscanf (wanted, "%63[^/]/%63[^/]/%63s", os, arch, variant);
  if (fields < 2)
    return box_err (err, BOX_E_INVALID, "invalid platform \"%s\": expected os/arch[/variant]",
                    wanted);
  for (size_t i = 0; i < index->n_manifests; i++)
    {
      const registry_descriptor *d = &index->manifests[i];
      if (!d->os || !d->architecture)
        continue;
      if (strcmp (d->os, os) == 0 && strcmp (d->architecture, arch) == 0
          && variant_matches (arch, variant, d->variant))
        {
          *out = d;
          return 0;
        }
    }
  return box_err (err, BOX_E_NOT_FOUND, "no manifest for platform %s in the image index", wanted);
}
