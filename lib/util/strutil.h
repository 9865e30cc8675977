/* Small string helpers the whole library uses. */
#ifndef BOX_UTIL_STRUTIL_H
#define BOX_UTIL_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool
str_has_prefix (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

static inline bool
str_eq (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

/* Writes 2*len lowercase hex chars and a NUL to out. */
void hex_encode (const unsigned char *in, size_t len, char *out);

/* True when s is non-empty and only [0-9a-f]. */
bool str_is_lower_hex (const char *s);

/* Validates UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). When
 * reject_control is set, C0 controls, DEL and C1 controls (U+0080..U+009F) are rejected. */
bool utf8_is_valid (const char *s, size_t len, bool reject_control);

/* strdup that keeps NULL as NULL; returns false only when allocation failed. */
bool strdup_or_null (const char *s, char **out);

/* Normalizes a relative path as tar member names are read: leading and repeated "/", "."
 * and empty components are dropped ("./a//./b/" is "a/b", "/" is ""). out has room for
 * strlen (raw) + 1 bytes. False, with out undefined, when a component is "..". */
bool str_normalize_relative_path (const char *raw, char *out);

#endif
