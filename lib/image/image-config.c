/* Owns the reading and editing of image config blobs: type checks, times, labels and the
 * docker-import --change instructions. */
#include "image/image-config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/digest.h"
#include "util/json.h"
#include "util/strutil.h"

#define OUT_OF_MEMORY(err) box_err (err, BOX_E_INTERNAL, "out of memory")

static bool
is_string_array (const json_t *v)
{
  if (!json_is_array (v))
    return false;
  size_t i;
  json_t *item;
  json_array_foreach (v, i, item) if (!json_is_string (item)) return false;
  return true;
}

static bool
is_string_map (const json_t *v)
{
  if (!json_is_object (v))
    return false;
  const char *key;
  json_t *value;
  json_object_foreach ((json_t *) v, key, value) if (!json_is_string (value)) return false;
  return true;
}

int
image_config_validate (const json_t *blob, box_error **err)
{
  if (!json_is_object (blob))
    return box_err (err, BOX_E_INVALID, "image config: not a JSON object");
  const json_t *config = json_object_get (blob, "config");
  if (config && !json_is_null (config))
    {
      if (!json_is_object (config))
        return box_err (err, BOX_E_INVALID, "image config: \"config\" is not an object");
      static const char *const string_arrays[] = { "Env", "Cmd", "Entrypoint" };
      for (size_t i = 0; i < sizeof string_arrays / sizeof string_arrays[0]; i++)
        {
          const json_t *v = json_object_get (config, string_arrays[i]);
          if (v && !json_is_null (v) && !is_string_array (v))
            return box_err (err, BOX_E_INVALID,
                            "image config: config.%s is not an array of strings", string_arrays[i]);
        }
      static const char *const strings[] = { "WorkingDir", "User", "StopSignal" };
      for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        {
          const json_t *v = json_object_get (config, strings[i]);
          if (v && !json_is_null (v) && !json_is_string (v))
            return box_err (err, BOX_E_INVALID, "image config: config.%s is not a string",
                            strings[i]);
        }
      static const char *const objects[] = { "ExposedPorts", "Volumes", "Healthcheck" };
      for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        {
          const json_t *v = json_object_get (config, objects[i]);
          if (v && !json_is_null (v) && !json_is_object (v))
            return box_err (err, BOX_E_INVALID, "image config: config.%s is not an object",
                            objects[i]);
        }
      const json_t *labels = json_object_get (config, "Labels");
      if (labels && !json_is_null (labels) && !is_string_map (labels))
        return box_err (err, BOX_E_INVALID,
                        "image config: config.Labels is not an object of strings");
      const json_t *health = json_object_get (config, "Healthcheck");
      const json_t *test = health ? json_object_get (health, "Test") : NULL;
      if (test && !json_is_null (test) && !is_string_array (test))
        return box_err (err, BOX_E_INVALID,
                        "image config: config.Healthcheck.Test is not an array of strings");
    }
  const json_t *history = json_object_get (blob, "history");
  if (history && !json_is_null (history) && !json_is_array (history))
    return box_err (err, BOX_E_INVALID, "image config: \"history\" is not an array");
  const json_t *created = json_object_get (blob, "created");
  if (created && !json_is_null (created) && !json_is_string (created))
    return box_err (err, BOX_E_INVALID, "image config: \"created\" is not a string");
  const json_t *rootfs = json_object_get (blob, "rootfs");
  if (!json_is_object (rootfs))
    return box_err (err, BOX_E_INVALID, "image config: \"rootfs\" is missing or not an object");
  const json_t *type = json_object_get (rootfs, "type");
  if (!json_is_string (type) || strcmp (json_string_value (type), "layers") != 0)
    return box_err (err, BOX_E_INVALID, "image config: rootfs.type must be \"layers\"");
  const json_t *diff_ids = json_object_get (rootfs, "diff_ids");
  if (!json_is_array (diff_ids))
    return box_err (err, BOX_E_INVALID, "image config: rootfs.diff_ids is not an array");
  size_t i;
  json_t *diff_id;
  json_array_foreach (diff_ids, i, diff_id) if (
      !digest_is_valid_sha256 (json_string_value (
          diff_id))) return box_err (err, BOX_E_INVALID,
                                     "image config: rootfs.diff_ids[%zu] is not a sha256 digest",
                                     i);
  return 0;
}

static bool
parse_digits (const char **p, int count, int *out)
{
  int v = 0;
  for (int i = 0; i < count; i++)
    {
      if (!isdigit ((unsigned char) (*p)[i]))
        return false;
      v = v * 10 + ((*p)[i] - '0');
    }
  *p += count;
  *out = v;
  return true;
}

int
image_time_parse_rfc3339 (const char *text, int64_t *out_ns, box_error **err)
{
  const char *p = text;
  int year, month, day, hour, minute, second;
  if (!parse_digits (&p, 4, &year) || *p++ != '-' || !parse_digits (&p, 2, &month) || *p++ != '-'
      || !parse_digits (&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
    goto invalid;
  p++;
  if (!parse_digits (&p, 2, &hour) || *p++ != ':' || !parse_digits (&p, 2, &minute) || *p++ != ':'
      || !parse_digits (&p, 2, &second))
    goto invalid;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    goto invalid;
  int64_t fraction_ns = 0;
  if (*p == '.')
    {
      p++;
      int digits = 0;
      int64_t scale = 100000000;
      while (isdigit ((unsigned char) *p))
        {
          if (digits < 9)
            fraction_ns += (*p - '0') * scale;
          scale /= 10;
          digits++;
          p++;
        }
      if (digits == 0)
        goto invalid;
    }
  int offset_seconds = 0;
  if (*p == 'Z' || *p == 'z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      int sign = *p == '-' ? -1 : 1, oh, om;
      p++;
      if (!parse_digits (&p, 2, &oh) || *p++ != ':' || !parse_digits (&p, 2, &om) || oh > 23
          || om > 59)
        goto invalid;
      offset_seconds = sign * (oh * 3600 + om * 60);
    }
  else
    goto invalid;
  if (*p)
    goto invalid;

  struct tm tm = { .tm_year = year - 1900,
                   .tm_mon = month - 1,
                   .tm_mday = day,
                   .tm_hour = hour,
                   .tm_min = minute,
                   .tm_sec = second };
  time_t secs = timegm (&tm);
  /* nanoseconds in an int64_t reach from 1677 to 2262; a year outside is refused, not
   * wrapped around */
  int64_t ns;
  if (__builtin_mul_overflow ((int64_t) secs - offset_seconds, 1000000000LL, &ns)
      || __builtin_add_overflow (ns, fraction_ns, out_ns))
    return box_err (err, BOX_E_INVALID, "RFC 3339 time \"%s\" is out of range (1677 to 2262)",
                    text);
  return 0;
invalid:
  return box_err (err, BOX_E_INVALID, "invalid RFC 3339 time \"%s\"", text);
}

int
image_config_created_ns (const json_t *blob, int64_t *out, box_error **err)
{
  const char *created = json_string_value (json_object_get (blob, "created"));
  *out = 0;
  if (!created)
    return 0;
  if (image_time_parse_rfc3339 (created, out, err) < 0)
    return box_err_wrap (err, "image config: created");
  return 0;
}

void
image_labels_free (box_label *labels, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (labels[i].key);
      free (labels[i].value);
    }
  free (labels);
}

int
image_config_labels (const json_t *blob, box_label **out, size_t *out_n, box_error **err)
{
  *out = NULL;
  *out_n = 0;
  const json_t *labels = json_object_get (json_object_get (blob, "config"), "Labels");
  if (!json_is_object (labels) || json_object_size (labels) == 0)
    return 0;
  size_t n = json_object_size (labels), i = 0;
  box_label *v = calloc (n, sizeof *v);
  if (!v)
    return OUT_OF_MEMORY (err);
  const char *key;
  json_t *value;
  json_object_foreach ((json_t *) labels, key, value)
  {
    if (!json_is_string (value))
      continue;
    v[i].key = strdup (key);
    v[i].value = strdup (json_string_value (value));
    i++;
    if (!v[i - 1].key || !v[i - 1].value)
      {
        image_labels_free (v, i);
        return OUT_OF_MEMORY (err);
      }
  }
  *out = v;
  *out_n = i;
  return 0;
}

/* ---- --change instructions ---- */

/* Splits text into words the way a Dockerfile's key=value instructions quote them: blanks
 * separate words, "..." and '...' group (the quotes are removed), a backslash escapes the
 * next character outside single quotes. */
static int
split_words (const char *text, char ***out, size_t *out_n, box_error **err)
{
  _cleanup_strv_ char **words = NULL;
  size_t n = 0;
  const char *p = text;
  size_t len = strlen (text);
  _cleanup_free_ char *word = malloc (len + 1);
  if (!word)
    return OUT_OF_MEMORY (err);
  for (;;)
    {
      while (*p == ' ' || *p == '\t')
        p++;
      if (!*p)
        break;
      size_t w = 0;
      char quote = 0;
      while (*p && (quote || (*p != ' ' && *p != '\t')))
        {
          if (quote == '\'' && *p == '\'')
            quote = 0;
          else if (quote == '"' && *p == '"')
            quote = 0;
          else if (!quote && (*p == '"' || *p == '\''))
            quote = *p;
          else if (*p == '\\' && quote != '\'' && p[1])
            word[w++] = *++p;
          else
            word[w++] = *p;
          p++;
        }
      if (quote)
        return box_err (err, BOX_E_INVALID, "unterminated %c quote in \"%s\"", quote, text);
      word[w] = '\0';
      char **bigger = realloc (words, (n + 2) * sizeof *bigger);
      if (!bigger)
        return OUT_OF_MEMORY (err);
      words = bigger;
      words[n] = strdup (word);
      words[n + 1] = NULL;
      if (!words[n++])
        return OUT_OF_MEMORY (err);
    }
  *out = TAKE_PTR (words);
  *out_n = n;
  return 0;
}

/* The exec form (a JSON array of strings) when the argument is one, else NULL. */
static json_t *
parse_exec_form (const char *args)
{
  if (args[0] != '[')
    return NULL;
  json_t *v = json_loads (args, JSON_DECODE_ANY, NULL);
  if (!is_string_array (v) || json_array_size (v) == 0)
    {
      json_decref (v);
      return NULL;
    }
  return v;
}

static int
apply_command (json_t *config, const char *key, const char *args, box_error **err)
{
  json_t *command = parse_exec_form (args);
  if (!command)
    command = json_pack ("[s,s,s]", "/bin/sh", "-c", args);
  if (!command)
    return OUT_OF_MEMORY (err);
  json_object_set_new (config, key, command);
  return 0;
}

static json_t *
object_member (json_t *config, const char *key)
{
  json_t *o = json_object_get (config, key);
  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (config, key, o);
    }
  return o;
}

static int
set_env (json_t *config, const char *key, const char *value, box_error **err)
{
  json_t *env = json_object_get (config, "Env");
  if (!json_is_array (env))
    {
      env = json_array ();
      json_object_set_new (config, "Env", env);
    }
  _cleanup_free_ char *entry = NULL;
  if (asprintf (&entry, "%s=%s", key, value) < 0)
    return OUT_OF_MEMORY (err);
  size_t key_len = strlen (key), i;
  json_t *item;
  json_array_foreach (env, i, item)
  {
    const char *s = json_string_value (item);
    if (s && strncmp (s, key, key_len) == 0 && s[key_len] == '=')
      {
        json_array_set_new (env, i, json_string (entry));
        return 0;
      }
  }
  json_array_append_new (env, json_string (entry));
  return 0;
}

static int
apply_key_values (json_t *config, const char *instruction, const char *args, bool env,
                  box_error **err)
{
  _cleanup_strv_ char **words = NULL;
  size_t n = 0;
  if (split_words (args, &words, &n, err) < 0)
    return box_err_wrap (err, "%s", instruction);
  if (n == 0)
    return box_err (err, BOX_E_INVALID, "%s needs at least one argument", instruction);
  /* ENV's legacy form: "ENV key value with spaces" */
  if (env && !strchr (words[0], '='))
    {
      const char *rest = args;
      while (*rest == ' ' || *rest == '\t')
        rest++;
      rest += strcspn (rest, " \t");
      while (*rest == ' ' || *rest == '\t')
        rest++;
      if (!*rest)
        return box_err (err, BOX_E_INVALID, "ENV %s needs a value", words[0]);
      return set_env (config, words[0], rest, err);
    }
  for (size_t i = 0; i < n; i++)
    {
      char *eq = strchr (words[i], '=');
      if (!eq || eq == words[i])
        return box_err (err, BOX_E_INVALID, "%s: \"%s\" is not key=value", instruction, words[i]);
      *eq = '\0';
      if (env)
        {
          if (set_env (config, words[i], eq + 1, err) < 0)
            return box_err_code (err);
        }
      else
        json_object_set_new (object_member (config, "Labels"), words[i], json_string (eq + 1));
    }
  return 0;
}

static int
apply_expose (json_t *config, const char *args, box_error **err)
{
  _cleanup_strv_ char **words = NULL;
  size_t n = 0;
  if (split_words (args, &words, &n, err) < 0)
    return box_err_wrap (err, "EXPOSE");
  if (n == 0)
    return box_err (err, BOX_E_INVALID, "EXPOSE needs at least one port");
  json_t *ports = object_member (config, "ExposedPorts");
  for (size_t i = 0; i < n; i++)
    {
      char *slash = strchr (words[i], '/');
      const char *proto = slash ? slash + 1 : "tcp";
      if (slash)
        *slash = '\0';
      char *end = NULL;
      long port = strtol (words[i], &end, 10);
      if (!*words[i] || *end || port < 1 || port > 65535
          || (strcmp (proto, "tcp") != 0 && strcmp (proto, "udp") != 0
              && strcmp (proto, "sctp") != 0))
        return box_err (err, BOX_E_INVALID,
                        "EXPOSE: \"%s%s%s\" is not PORT[/tcp|udp|sctp] with 1 <= PORT <= 65535",
                        words[i], slash ? "/" : "", slash ? proto : "");
      char key[32];
      snprintf (key, sizeof key, "%ld/%s", port, proto);
      json_object_set_new (ports, key, json_object ());
    }
  return 0;
}

static int
apply_volume (json_t *config, const char *args, box_error **err)
{
  json_t *volumes = object_member (config, "Volumes");
  _cleanup_json_ json_t *list = parse_exec_form (args);
  if (list)
    {
      size_t i;
      json_t *item;
      json_array_foreach (list, i, item)
          json_object_set_new (volumes, json_string_value (item), json_object ());
      return 0;
    }
  _cleanup_strv_ char **words = NULL;
  size_t n = 0;
  if (split_words (args, &words, &n, err) < 0)
    return box_err_wrap (err, "VOLUME");
  if (n == 0)
    return box_err (err, BOX_E_INVALID, "VOLUME needs at least one path");
  for (size_t i = 0; i < n; i++)
    json_object_set_new (volumes, words[i], json_object ());
  return 0;
}

int
image_config_apply_change (json_t *config, const char *change, box_error **err)
{
  if (!utf8_is_valid (change, strlen (change), false))
    return box_err (err, BOX_E_INVALID, "invalid change: not valid UTF-8");
  const char *p = change;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t keyword_len = strcspn (p, " \t");
  char keyword[16];
  if (keyword_len == 0 || keyword_len >= sizeof keyword)
    return box_err (err, BOX_E_INVALID, "invalid change \"%s\": expected INSTRUCTION ARGUMENTS",
                    change);
  memcpy (keyword, p, keyword_len);
  keyword[keyword_len] = '\0';
  const char *args = p + keyword_len;
  while (*args == ' ' || *args == '\t')
    args++;
  /* trailing blanks are not part of the argument */
  _cleanup_free_ char *trimmed = strdup (args);
  if (!trimmed)
    return OUT_OF_MEMORY (err);
  size_t len = strlen (trimmed);
  while (len > 0
         && (trimmed[len - 1] == ' ' || trimmed[len - 1] == '\t' || trimmed[len - 1] == '\n'
             || trimmed[len - 1] == '\r'))
    trimmed[--len] = '\0';

  int rc;
  if (!*trimmed)
    rc = box_err (err, BOX_E_INVALID, "%s needs an argument", keyword);
  else if (strcasecmp (keyword, "CMD") == 0)
    rc = apply_command (config, "Cmd", trimmed, err);
  else if (strcasecmp (keyword, "ENTRYPOINT") == 0)
    rc = apply_command (config, "Entrypoint", trimmed, err);
  else if (strcasecmp (keyword, "ENV") == 0)
    rc = apply_key_values (config, "ENV", trimmed, true, err);
  else if (strcasecmp (keyword, "LABEL") == 0)
    rc = apply_key_values (config, "LABEL", trimmed, false, err);
  else if (strcasecmp (keyword, "EXPOSE") == 0)
    rc = apply_expose (config, trimmed, err);
  else if (strcasecmp (keyword, "VOLUME") == 0)
    rc = apply_volume (config, trimmed, err);
  else if (strcasecmp (keyword, "WORKDIR") == 0)
    rc = (json_object_set_new (config, "WorkingDir", json_string (trimmed)), 0);
  else if (strcasecmp (keyword, "USER") == 0)
    rc = (json_object_set_new (config, "User", json_string (trimmed)), 0);
  else if (strcasecmp (keyword, "STOPSIGNAL") == 0)
    rc = (json_object_set_new (config, "StopSignal", json_string (trimmed)), 0);
  else
    return box_err (err, BOX_E_INVALID,
                    "invalid change \"%s\": %s is not one of CMD, ENTRYPOINT, ENV, EXPOSE, "
                    "LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR",
                    change, keyword);
  if (rc < 0)
    return box_err_wrap (err, "invalid change \"%s\"", change);
  return 0;
}
