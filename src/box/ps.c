/* box ps: lists boxes, with docker's filters and formats. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"

#define MAX_FILTERS 32

/* The box's command as docker shows it: Path and Args joined by spaces. */
static void
format_command (const char *config_json, char *buf, size_t size, bool truncate)
{
  buf[0] = '\0';
  json_t *config = json_loads (config_json, 0, NULL);
  json_t *words = json_array ();
  json_t *path = json_object_get (config, "Path");
  if (json_is_string (path))
    {
      json_array_append (words, path);
      json_array_extend (words, json_object_get (config, "Args"));
    }
  else /* record-only boxes keep {"Cmd": [...]} */
    json_array_extend (words, json_object_get (config, "Cmd"));
  size_t used = 0, i;
  json_t *word;
  json_array_foreach (words, i, word)
  {
    const char *s = json_string_value (word);
    if (!s)
      continue;
    int n = snprintf (buf + used, size - used, "%s%s", used ? " " : "", s);
    if (n < 0 || (size_t) n >= size - used)
      break;
    used += (size_t) n;
  }
  json_decref (words);
  json_decref (config);
  /* docker cuts the command at 20 columns with an ellipsis */
  if (truncate && strlen (buf) > 20)
    strcpy (buf + 19, "…");
}

static void
format_status (const box_box *b, char *buf, size_t size)
{
  char ago[48];
  switch (b->state)
    {
    case BOX_STATE_CREATED:
      snprintf (buf, size, "Created");
      break;
    case BOX_STATE_EXITED:
      cli_format_ago (b->finished_ns, ago, sizeof ago);
      snprintf (buf, size, "Exited (%d) %s", b->exit_code, ago);
      break;
    case BOX_STATE_RUNNING:
      cli_format_ago (b->started_ns, ago, sizeof ago);
      /* "Up 3 seconds": docker's wording without "ago" */
      if (strlen (ago) > 4 && strcmp (ago + strlen (ago) - 4, " ago") == 0)
        ago[strlen (ago) - 4] = '\0';
      snprintf (buf, size, "Up %s", ago);
      break;
    default:
      snprintf (buf, size, "%s", box_state_name (b->state));
    }
}

static bool
label_matches (const box_box *b, const char *want)
{
  const char *eq = strchr (want, '=');
  size_t key_len = eq ? (size_t) (eq - want) : strlen (want);
  for (size_t i = 0; i < b->n_labels; i++)
    if (strlen (b->labels[i].key) == key_len && strncmp (b->labels[i].key, want, key_len) == 0)
      return !eq || strcmp (b->labels[i].value, eq + 1) == 0;
  return false;
}

/* The filters ps knows, in the order filters_match tests them. */
static const char *const filter_keys[] = { "id", "name", "label", "status", "ancestor", "exited",
                                           NULL };

/* docker's states: a status filter naming anything else is an error, as in docker */
static const char *const docker_states[] = { "created", "restarting", "running", "removing",
                                             "paused",  "exited",     "dead",    NULL };

/* docker: values of one key are ORed, different keys ANDed. */
static bool
filters_match (const box_box *b, const char *const *filters, size_t n)
{
  const char *const *keys = filter_keys;
  for (size_t k = 0; keys[k]; k++)
    {
      size_t key_len = strlen (keys[k]);
      bool seen = false, any = false;
      for (size_t i = 0; i < n; i++)
        {
          if (strncmp (filters[i], keys[k], key_len) != 0 || filters[i][key_len] != '=')
            continue;
          seen = true;
          const char *v = filters[i] + key_len + 1;
          switch (k)
            {
            case 0:
              any |= strncmp (b->id, v, strlen (v)) == 0;
              break;
            case 1:
              /* docker matches names as a substring (a regexp, really) */
              any |= strstr (b->name, v[0] == '/' ? v + 1 : v) != NULL;
              break;
            case 2:
              any |= label_matches (b, v);
              break;
            case 3:
              any |= strcmp (box_state_name (b->state), v) == 0;
              break;
            case 4:
              any |= strcmp (b->image, v) == 0
                     || (strchr (b->image, ':') == NULL && strlen (v) > strlen (b->image)
                         && strncmp (v, b->image, strlen (b->image)) == 0
                         && strcmp (v + strlen (b->image), ":latest") == 0)
                     || (strchr (v, ':') == NULL && strlen (b->image) > strlen (v)
                         && strncmp (b->image, v, strlen (v)) == 0
                         && strcmp (b->image + strlen (v), ":latest") == 0);
              break;
            case 5:
              any |= b->state == BOX_STATE_EXITED && b->exit_code == atoi (v);
              break;
            }
        }
      if (seen && !any)
        return false;
    }
  return true;
}

static bool
filters_name_state (const char *const *filters, size_t n)
{
  /* a status or exited filter looks at every box, as docker does */
  for (size_t i = 0; i < n; i++)
    if (strncmp (filters[i], "status=", 7) == 0 || strncmp (filters[i], "exited=", 7) == 0)
      return true;
  return false;
}

/* The values docker checks: a state name for status, a number for exited. */
static int
check_filter_value (const char *filter)
{
  const char *v = strchr (filter, '=') + 1;
  if (strncmp (filter, "status=", 7) == 0)
    {
      for (size_t i = 0; docker_states[i]; i++)
        if (strcmp (v, docker_states[i]) == 0)
          return 0;
      return cli_usage_error ("ps", "invalid filter 'status=%s' (a state: created, restarting, "
                                    "running, removing, paused, exited, dead)",
                              v);
    }
  if (strncmp (filter, "exited=", 7) == 0)
    {
      char *end;
      errno = 0;
      long code = strtol (v, &end, 10);
      if (!*v || *end || errno || code < INT_MIN || code > INT_MAX)
        return cli_usage_error ("ps", "invalid filter 'exited=%s' (an exit code)", v);
    }
  return 0;
}

static json_t *
box_row_json (const box_box *b, bool no_trunc)
{
  char command[1024], status[96], short_id[13], created_at[64], running_for[48];
  format_command (b->config_json, command, sizeof command, !no_trunc);
  format_status (b, status, sizeof status);
  cli_format_time (b->created_ns, created_at, sizeof created_at);
  cli_format_ago (b->created_ns, running_for, sizeof running_for);
  json_t *labels = json_object ();
  for (size_t i = 0; i < b->n_labels; i++)
    json_object_set_new (labels, b->labels[i].key, json_string (b->labels[i].value));
  char quoted[1100];
  snprintf (quoted, sizeof quoted, "\"%s\"", command);
  return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "ID",
                    no_trunc ? b->id : cli_short_id (b->id, short_id), "Names", b->name, "Image",
                    b->image, "Command", quoted, "State", box_state_name (b->state), "Status",
                    status, "CreatedAt", created_at, "RunningFor", running_for, "Labels",
                    labels);
}

static int
run_ps (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "all", no_argument, NULL, 'a' },
    { "quiet", no_argument, NULL, 'q' },
    { "no-trunc", no_argument, NULL, 't' },
    { "filter", required_argument, NULL, 'f' },
    { "format", required_argument, NULL, 'F' },
    { 0 },
  };
  bool all = false, quiet = false, no_trunc = false, as_json = false;
  const char *filters[MAX_FILTERS];
  size_t n_filters = 0;
  int c, bad;
  while ((c = getopt_long (argc, argv, "aqf:", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'a':
          all = true;
          break;
        case 'q':
          quiet = true;
          break;
        case 't':
          no_trunc = true;
          break;
        case 'f':
          if (n_filters == MAX_FILTERS)
            return cli_usage_error ("ps", "too many filters (at most %d)", MAX_FILTERS);
          if ((bad = cli_check_filter ("ps", optarg, filter_keys)) != 0
              || (bad = check_filter_value (optarg)) != 0)
            return bad;
          filters[n_filters++] = optarg;
          break;
        case 'F':
          if (strcmp (optarg, "json") != 0 && strcmp (optarg, "{{json .}}") != 0)
            return cli_usage_error ("ps", "unsupported --format %s (json)", optarg);
          as_json = true;
          break;
        default:
          return cli_usage_error ("ps", "unknown option");
        }
    }
  if (optind < argc)
    return cli_usage_error ("ps", "takes no arguments");
  if (filters_name_state (filters, n_filters))
    all = true;

  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  box_box **boxes = NULL;
  size_t n = 0;
  if (box_box_list (eng, &boxes, &n, &err) < 0)
    return cli_report (err);

  cli_table table = { 0 };
  static const char *const headers[] = { "BOX ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                         "NAMES" };
  bool as_table = !quiet && !as_json;
  if (as_table && cli_table_init (&table, 6, headers) < 0)
    {
      box_box_list_free (boxes, n);
      return cli_usage_error ("ps", "out of memory");
    }
  for (size_t i = 0; i < n; i++)
    {
      const box_box *b = boxes[i];
      if (!all && b->state != BOX_STATE_RUNNING)
        continue;
      if (!filters_match (b, filters, n_filters))
        continue;
      char short_id[13];
      const char *id = no_trunc ? b->id : cli_short_id (b->id, short_id);
      if (quiet)
        {
          printf ("%s\n", id);
          continue;
        }
      if (as_json)
        {
          json_t *row = box_row_json (b, no_trunc);
          char *text = json_dumps (row, JSON_COMPACT | JSON_PRESERVE_ORDER);
          printf ("%s\n", text);
          free (text);
          json_decref (row);
          continue;
        }
      char command[256], status[96], created[48], quoted[260];
      format_command (b->config_json, command, sizeof command, !no_trunc);
      format_status (b, status, sizeof status);
      cli_format_ago (b->created_ns, created, sizeof created);
      snprintf (quoted, sizeof quoted, "\"%s\"", command);
      const char *cells[] = { id, b->image, quoted, created, status, b->name };
      cli_table_add (&table, cells);
    }
  if (as_table)
    {
      cli_table_print (&table);
      cli_table_free (&table);
    }
  box_box_list_free (boxes, n);
  return 0;
}

const cli_verb cli_verb_ps = {
  .name = "ps",
  .summary = "List boxes",
  .usage = "Usage: box ps [OPTIONS]\n\n"
           "List boxes (running ones unless -a).\n\n"
           "Options:\n"
           "  -a, --all               show all boxes\n"
           "  -q, --quiet             only print ids\n"
           "      --no-trunc          do not truncate ids and commands\n"
           "  -f, --filter KEY=VALUE  id, name, label, status, ancestor, exited (repeatable)\n"
           "      --format json       one JSON object per box\n",
  .run = run_ps,
};
