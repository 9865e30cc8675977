/* A Go text/template subset for --format. */
#include "template.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int
fail (char **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (error, fmt, ap) < 0)
    *error = NULL;
  va_end (ap);
  return -1;
}

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Go's %v of a decoded JSON value */
static void
print_value (const json_t *v, FILE *out)
{
  switch (json_typeof (v))
    {
    case JSON_STRING:
      fwrite (json_string_value (v), 1, json_string_length (v), out);
      break;
    case JSON_INTEGER:
      fprintf (out, "%lld", (long long) json_integer_value (v));
      break;
    case JSON_REAL:
      fprintf (out, "%g", json_real_value (v));
      break;
    case JSON_TRUE:
      fputs ("true", out);
      break;
    case JSON_FALSE:
      fputs ("false", out);
      break;
    case JSON_NULL:
      fputs ("<nil>", out);
      break;
    case JSON_ARRAY:
      {
        fputc ('[', out);
        for (size_t i = 0; i < json_array_size (v); i++)
          {
            if (i)
              fputc (' ', out);
            print_value (json_array_get (v, i), out);
          }
        fputc (']', out);
        break;
      }
    case JSON_OBJECT:
      {
        size_t n = json_object_size (v);
        const char **keys = calloc (n ? n : 1, sizeof *keys);
        if (!keys)
          return;
        size_t i = 0;
        const char *key;
        json_t *member;
        json_object_foreach ((json_t *) v, key, member) keys[i++] = key;
        qsort (keys, n, sizeof *keys, compare_keys);
        fputs ("map[", out);
        for (i = 0; i < n; i++)
          {
            fprintf (out, "%s%s:", i ? " " : "", keys[i]);
            print_value (json_object_get (v, keys[i]), out);
          }
        fputc (']', out);
        free (keys);
        break;
      }
    }
}

/* ".A.B" (or ".") applied to doc */
static int
evaluate (const char *path, size_t len, const json_t *doc, const json_t **out, char **error)
{
  if (len == 0 || path[0] != '.')
    return fail (error, "--format: unsupported action \"%.*s\" (a field like .State.Pid, "
                        "or json .Config)",
                 (int) len, path);
  const json_t *v = doc;
  size_t i = 1;
  while (i < len)
    {
      size_t start = i;
      while (i < len && (isalnum ((unsigned char) path[i]) || path[i] == '_'))
        i++;
      if (i == start || (i < len && path[i] != '.'))
        return fail (error, "--format: unsupported field path \"%.*s\"", (int) len, path);
      char key[256];
      snprintf (key, sizeof key, "%.*s", (int) (i - start), path + start);
      const json_t *next = json_is_object (v) ? json_object_get (v, key) : NULL;
      if (!next)
        return fail (error, "--format: no field %s in %.*s", key, (int) len, path);
      v = next;
      if (i < len)
        i++; /* the dot before the next name */
    }
  *out = v;
  return 0;
}

static int
run_action (const char *action, size_t len, const json_t *doc, FILE *out, char **error)
{
  while (len && isspace ((unsigned char) *action))
    action++, len--;
  while (len && isspace ((unsigned char) action[len - 1]))
    len--;
  bool as_json = len > 5 && strncmp (action, "json", 4) == 0 && isspace ((unsigned char) action[4]);
  if (as_json)
    {
      action += 5;
      len -= 5;
      while (len && isspace ((unsigned char) *action))
        action++, len--;
    }
  const json_t *v;
  if (evaluate (action, len, doc, &v, error) < 0)
    return -1;
  if (!as_json)
    {
      print_value (v, out);
      return 0;
    }
  char *text = json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
  if (!text)
    return fail (error, "--format: out of memory");
  fputs (text, out);
  free (text);
  return 0;
}

int
cli_template_render (const char *template, const json_t *doc, FILE *out, char **error)
{
  *error = NULL;
  const char *p = template;
  bool trim_leading = false; /* the action before ended with -}} */
  for (;;)
    {
      const char *open = strstr (p, "{{");
      const char *text_end = open ? open : p + strlen (p);
      if (trim_leading)
        while (p < text_end && isspace ((unsigned char) *p))
          p++;
      bool trim_trailing = open && open[2] == '-' && isspace ((unsigned char) open[3]);
      const char *last = text_end;
      if (trim_trailing)
        while (last > p && isspace ((unsigned char) last[-1]))
          last--;
      fwrite (p, 1, (size_t) (last - p), out);
      if (!open)
        return 0;
      const char *body = open + (trim_trailing ? 3 : 2);
      const char *close = strstr (body, "}}");
      if (!close)
        return fail (error, "--format: unclosed action in \"%s\"", template);
      const char *body_end = close;
      trim_leading = close - body >= 2 && close[-1] == '-' && isspace ((unsigned char) close[-2]);
      if (trim_leading)
        body_end--;
      if (run_action (body, (size_t) (body_end - body), doc, out, error) < 0)
        return -1;
      p = close + 2;
    }
}
