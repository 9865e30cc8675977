/* Owns the string helpers: hex, UTF-8 validation, relative path normalization. */
#include "util/strutil.h"

#include <stdint.h>
#include <stdlib.h>

void
hex_encode (const unsigned char *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++)
    {
      out[2 * i] = digits[in[i] >> 4];
      out[2 * i + 1] = digits[in[i] & 0xf];
    }
  out[2 * len] = '\0';
}

bool
str_is_lower_hex (const char *s)
{
  if (!s || !*s)
    return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

bool
utf8_is_valid (const char *s, size_t len, bool reject_control)
{
  const unsigned char *p = (const unsigned char *) s, *end = p + len;
  while (p < end)
    {
      uint32_t cp;
      size_t n;
      if (p[0] < 0x80)
        {
          cp = p[0];
          n = 1;
        }
      else if ((p[0] & 0xe0) == 0xc0)
        {
          cp = p[0] & 0x1f;
          n = 2;
        }
      else if ((p[0] & 0xf0) == 0xe0)
        {
          cp = p[0] & 0x0f;
          n = 3;
        }
      else if ((p[0] & 0xf8) == 0xf0)
        {
          cp = p[0] & 0x07;
          n = 4;
        }
      else
        return false;
      if ((size_t) (end - p) < n)
        return false;
      for (size_t i = 1; i < n; i++)
        {
          if ((p[i] & 0xc0) != 0x80)
            return false;
          cp = (cp << 6) | (p[i] & 0x3f);
        }
      static const uint32_t minimum_for_length[] = { 0, 0, 0x80, 0x800, 0x10000 };
      if (cp < minimum_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
      if (reject_control && (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)))
        return false;
      p += n;
    }
  return true;
}

bool
strdup_or_null (const char *s, char **out)
{
  if (!s)
    {
      *out = NULL;
      return true;
    }
  *out = strdup (s);
  return *out != NULL;
}

bool
str_normalize_relative_path (const char *raw, char *out)
{
  size_t n = 0;
  const char *p = raw;
  while (*p)
    {
      while (*p == '/')
        p++;
      const char *start = p;
      while (*p && *p != '/')
        p++;
      size_t component = (size_t) (p - start);
      if (component == 0 || (component == 1 && start[0] == '.'))
        continue;
      if (component == 2 && start[0] == '.' && start[1] == '.')
        return false;
      if (n > 0)
        out[n++] = '/';
      memcpy (out + n, start, component);
      n += component;
    }
  out[n] = '\0';
  return true;
}
