/* Owns the reference grammar (docker's distribution/reference rules) and normalization:
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ], host a DNS-like name or a bracketed IPv6 address
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex
 * The first component is a domain only when it contains '.' or ':', is "localhost", or has an
 * uppercase letter; otherwise the name lives on docker.io, where one-component names belong
 * to "library/". */
#include "image/reference.h"

#include <stdio.h>
#include <string.h>

static bool
is_lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum (char c)
{
  return is_lower_alnum (c) || (c >= 'A' && c <= 'Z');
}

static bool
is_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool
is_word (char c)
{
  return is_alnum (c) || c == '_';
}

/* One path component, s[0..len). */
static bool
path_component_is_valid (const char *s, size_t len)
{
  size_t i = 0;
  if (len == 0 || !is_lower_alnum (s[0]))
    return false;
  while (i < len)
    {
      while (i < len && is_lower_alnum (s[i]))
        i++;
      if (i == len)
        return true;
      /* a separator, then at least one alphanumeric */
      if (s[i] == '.')
        i++;
      else if (s[i] == '_')
        i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
      else if (s[i] == '-')
        while (i < len && s[i] == '-')
          i++;
      else
        return false;
      if (i == len || !is_lower_alnum (s[i]))
        return false;
    }
  return true;
}

static bool
domain_component_is_valid (const char *s, size_t len)
{
  if (len == 0 || !is_alnum (s[0]) || !is_alnum (s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!is_alnum (s[i]) && s[i] != '-')
      return false;
  return true;
}

static bool
domain_is_valid (const char *s)
{
  size_t len = strlen (s);
  size_t host_len = len;
  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');
      if (!close || close == s + 1)
        return false;
      for (const char *p = s + 1; p < close; p++)
        if (!is_hex (*p) && !(*p >= 'A' && *p <= 'F') && *p != ':')
          return false;
      host_len = (size_t) (close - s) + 1;
    }
  else
    {
      const char *colon = strchr (s, ':');
      if (colon)
        host_len = (size_t) (colon - s);
      size_t start = 0;
      for (size_t i = 0; i <= host_len; i++)
        if (i == host_len || s[i] == '.')
          {
            if (!domain_component_is_valid (s + start, i - start))
              return false;
            start = i + 1;
          }
    }
  if (host_len == len)
    return true;
  if (s[host_len] != ':' || host_len + 1 == len)
    return false;
  for (size_t i = host_len + 1; i < len; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static bool
tag_is_valid (const char *s)
{
  size_t len = strlen (s);
  if (len == 0 || len > IMAGE_REFERENCE_TAG_MAX || !is_word (s[0]))
    return false;
  for (size_t i = 1; i < len; i++)
    if (!is_word (s[i]) && s[i] != '.' && s[i] != '-')
      return false;
  return true;
}

bool
image_digest_is_valid (const char *digest)
{
  size_t hex_len;
  if (strncmp (digest, "sha256:", 7) == 0)
    hex_len = 64;
  else if (strncmp (digest, "sha512:", 7) == 0)
    hex_len = 128;
  else
    return false;
  const char *hex = digest + 7;
  if (strlen (hex) != hex_len)
    return false;
  for (size_t i = 0; i < hex_len; i++)
    if (!is_hex (hex[i]))
      return false;
  return true;
}

static bool
is_64_hex (const char *s)
{
  if (strlen (s) != 64)
    return false;
  for (size_t i = 0; i < 64; i++)
    if (!is_hex (s[i]))
      return false;
  return true;
}

/* Copies src[0..len) into a buffer of size dst_size; false when it does not fit. */
static bool
copy_part (char *dst, size_t dst_size, const char *src, size_t len)
{
  if (len >= dst_size)
    return false;
  memcpy (dst, src, len);
  dst[len] = '\0';
  return true;
}

#define INVALID(fmt, ...)                                                                          \
  box_err (err, BOX_E_INVALID, "invalid reference \"%s\": " fmt, text, ##__VA_ARGS__)

int
image_reference_parse (const char *text, image_reference *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  if (!text)
    text = "";
  if (!*text)
    return box_err (err, BOX_E_INVALID, "invalid reference \"\": it is empty");
  size_t text_len = strlen (text);
  if (text_len >= IMAGE_REFERENCE_STRING_MAX)
    return box_err (err, BOX_E_INVALID, "invalid reference: %zu bytes is too long", text_len);
  if (is_64_hex (text))
    return INVALID ("a 64-character hexadecimal string is an image id, not a repository name");

  /* name [":" tag] ["@" digest]: the digest follows the first '@', the tag follows the last
   * ':' after the last '/' of what precedes it */
  const char *at = strchr (text, '@');
  size_t name_and_tag_len = at ? (size_t) (at - text) : text_len;
  if (at)
    {
      const char *digest = at + 1;
      if (!*digest)
        return INVALID ("empty digest after '@'");
      const char *colon = strchr (digest, ':');
      if (!colon)
        return INVALID ("digest \"%s\" has no algorithm (expected sha256:<hex>)", digest);
      if (!copy_part (out->digest, sizeof out->digest, digest, strlen (digest))
          || !image_digest_is_valid (out->digest))
        {
          if (strncmp (digest, "sha256:", 7) != 0 && strncmp (digest, "sha512:", 7) != 0)
            return INVALID ("unsupported digest algorithm \"%.*s\"", (int) (colon - digest),
                            digest);
          return INVALID ("digest \"%s\" is not %s lowercase hex characters", digest,
                          strncmp (digest, "sha256:", 7) == 0 ? "64" : "128");
        }
    }

  size_t name_len = name_and_tag_len;
  for (size_t i = name_and_tag_len; i > 0; i--)
    {
      char c = text[i - 1];
      if (c == '/')
        break;
      if (c == ':')
        {
          name_len = i - 1;
          size_t tag_len = name_and_tag_len - i;
          if (!copy_part (out->tag, sizeof out->tag, text + i, tag_len) || !tag_is_valid (out->tag))
            return INVALID ("tag \"%.*s\" must be [A-Za-z0-9_][A-Za-z0-9_.-]* of at most %d "
                            "characters",
                            (int) tag_len, text + i, IMAGE_REFERENCE_TAG_MAX);
          break;
        }
    }
  if (name_len == 0)
    return INVALID ("no repository name");

  /* the domain: the first component when it looks like a host */
  const char *slash = memchr (text, '/', name_len);
  const char *path = text;
  size_t path_len = name_len;
  bool has_domain = false;
  if (slash)
    {
      size_t first_len = (size_t) (slash - text);
      bool looks_like_host = memchr (text, '.', first_len) || memchr (text, ':', first_len)
                             || (first_len == 9 && memcmp (text, "localhost", 9) == 0);
      for (size_t i = 0; !looks_like_host && i < first_len; i++)
        looks_like_host = text[i] >= 'A' && text[i] <= 'Z';
      if (looks_like_host)
        {
          has_domain = true;
          if (!copy_part (out->domain, sizeof out->domain, text, first_len))
            return INVALID ("the name is longer than %d characters", IMAGE_REFERENCE_NAME_MAX);
          if (!domain_is_valid (out->domain))
            return INVALID ("\"%s\" is not a valid registry host[:port]", out->domain);
          path = slash + 1;
          path_len = name_len - first_len - 1;
        }
    }
  if (!has_domain || strcmp (out->domain, "index.docker.io") == 0)
    strcpy (out->domain, IMAGE_DEFAULT_DOMAIN);

  for (size_t i = 0; i < path_len; i++)
    if (path[i] >= 'A' && path[i] <= 'Z')
      return INVALID ("repository name \"%.*s\" must be lowercase", (int) path_len, path);

  size_t start = 0;
  for (size_t i = 0; i <= path_len; i++)
    if (i == path_len || path[i] == '/')
      {
        if (!path_component_is_valid (path + start, i - start))
          return INVALID ("repository name component \"%.*s\" must be lowercase letters and "
                          "digits, separated by '.', '_', '__' or dashes",
                          (int) (i - start), path + start);
        start = i + 1;
      }

  bool add_library
      = strcmp (out->domain, IMAGE_DEFAULT_DOMAIN) == 0 && !memchr (path, '/', path_len);
  size_t full_path_len = path_len + (add_library ? strlen ("library/") : 0);
  if (strlen (out->domain) + 1 + full_path_len > IMAGE_REFERENCE_NAME_MAX)
    return INVALID ("the repository name is longer than %d characters", IMAGE_REFERENCE_NAME_MAX);
  snprintf (out->path, sizeof out->path, "%s%.*s", add_library ? "library/" : "", (int) path_len,
            path);
  return 0;
}

void
image_reference_default_tag (image_reference *ref)
{
  if (!ref->tag[0] && !ref->digest[0])
    strcpy (ref->tag, IMAGE_DEFAULT_TAG);
}

void
image_reference_name (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX])
{
  snprintf (out, IMAGE_REFERENCE_STRING_MAX, "%s/%s", ref->domain, ref->path);
}

static void
append_tag_and_digest (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX])
{
  size_t len = strlen (out);
  snprintf (out + len, IMAGE_REFERENCE_STRING_MAX - len, "%s%s%s%s", ref->tag[0] ? ":" : "",
            ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}

void
image_reference_string (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX])
{
  image_reference_name (ref, out);
  append_tag_and_digest (ref, out);
}

void
image_reference_familiar_name (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX])
{
  if (strcmp (ref->domain, IMAGE_DEFAULT_DOMAIN) != 0)
    {
      image_reference_name (ref, out);
      return;
    }
  const char *path = ref->path;
  /* a first component that looks like a host would be read back as a registry: keep the
   * domain then, so the familiar form still means the same image */
  size_t first_len = strcspn (path, "/");
  if (path[first_len] == '/'
      && (memchr (path, '.', first_len) || memchr (path, ':', first_len)
          || (first_len == 9 && memcmp (path, "localhost", 9) == 0)))
    {
      image_reference_name (ref, out);
      return;
    }
  /* "library/" goes, unless what remains is 64 hex characters: alone, that reads back as an
   * image id, not as this repository */
  if (strncmp (path, "library/", 8) == 0 && !strchr (path + 8, '/') && !is_64_hex (path + 8))
    path += 8;
  snprintf (out, IMAGE_REFERENCE_STRING_MAX, "%s", path);
}

void
image_reference_familiar_string (const image_reference *ref, char out[IMAGE_REFERENCE_STRING_MAX])
{
  image_reference_familiar_name (ref, out);
  append_tag_and_digest (ref, out);
}

void
image_reference_familiarize (const char *normalized, char out[IMAGE_REFERENCE_STRING_MAX])
{
  image_reference ref;
  if (image_reference_parse (normalized, &ref, NULL) < 0)
    {
      snprintf (out, IMAGE_REFERENCE_STRING_MAX, "%s", normalized);
      return;
    }
  image_reference_familiar_string (&ref, out);
}
