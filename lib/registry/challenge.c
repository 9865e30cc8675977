/* Owns parsing of WWW-Authenticate challenges (RFC 7235 auth-params). */
#include "registry/challenge.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

void
auth_challenge_clear (auth_challenge *c)
{
  free (c->realm);
  free (c->service);
  free (c->scope);
  free (c->error);
  memset (c, 0, sizeof *c);
}

/* Parses `Bearer realm="...",service="...",scope="..."` (RFC 7235 auth-params; quoted
 * strings with backslash escapes, or bare tokens). */
int
auth_challenge_parse (const char *header, auth_challenge *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  const char *p = header;
  while (*p == ' ')
    p++;
  size_t scheme_len = strcspn (p, " ");
  if (scheme_len == 0 || scheme_len >= sizeof out->scheme)
    return box_err (err, BOX_E_INVALID, "malformed authentication challenge");
  for (size_t i = 0; i < scheme_len; i++)
    out->scheme[i] = (char) (p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
  p += scheme_len;
  while (*p)
    {
      while (*p == ' ' || *p == ',')
        p++;
      if (!*p)
        break;
      size_t name_len = strcspn (p, "= ,");
      const char *name = p;
      p += name_len;
      while (*p == ' ')
        p++;
      if (*p != '=')
        continue;
      p++;
      while (*p == ' ')
        p++;
      _cleanup_free_ char *value = malloc (strlen (p) + 1);
      if (!value)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      size_t n = 0;
      if (*p == '"')
        {
          p++;
          while (*p && *p != '"')
            {
              if (*p == '\\' && p[1])
                p++;
              value[n++] = *p++;
            }
          if (*p == '"')
            p++;
        }
      else
        while (*p && *p != ',' && *p != ' ')
          value[n++] = *p++;
      value[n] = '\0';
      char **slot = NULL;
      if (name_len == 5 && strncasecmp (name, "realm", 5) == 0)
        slot = &out->realm;
      else if (name_len == 7 && strncasecmp (name, "service", 7) == 0)
        slot = &out->service;
      else if (name_len == 5 && strncasecmp (name, "scope", 5) == 0)
        slot = &out->scope;
      else if (name_len == 5 && strncasecmp (name, "error", 5) == 0)
        slot = &out->error;
      if (slot)
        {
          free (*slot);
          *slot = TAKE_PTR (value);
        }
    }
  return 0;
}
