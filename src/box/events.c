/* box events: the engine's event log, streamed (like docker events). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "timearg.h"

#define MAX_FILTERS 32

typedef struct events_print {
  const char *filters[MAX_FILTERS]; /* "key=value" */
  size_t n_filters;
  bool json;
} events_print;

/* The filters events knows, in the order matches tests them. */
static const char *const filter_keys[] = { "type", "event", "container", "box", "image", "label",
                                           NULL };

/* docker's filter semantics: values of the same key are ORed, different keys ANDed. */
static bool
matches (const events_print *p, const box_event *e, json_t *attributes)
{
  const char *const *keys = filter_keys;
  for (size_t k = 0; keys[k]; k++)
    {
      bool seen = false, any = false;
      size_t key_len = strlen (keys[k]);
      for (size_t i = 0; i < p->n_filters; i++)
        {
          const char *f = p->filters[i];
          if (strncmp (f, keys[k], key_len) != 0 || f[key_len] != '=')
            continue;
          seen = true;
          const char *v = f + key_len + 1;
          const char *name = json_string_value (json_object_get (attributes, "name"));
          const char *image = json_string_value (json_object_get (attributes, "image"));
          if (k == 0)
            any |= strcmp (v, e->type) == 0;
          else if (k == 1)
            any |= strcmp (v, e->action) == 0;
          else if (k == 2 || k == 3)
            any |= strncmp (e->actor_id, v, strlen (v)) == 0 || (name && strcmp (name, v) == 0);
          else if (k == 4)
            any |= image && strcmp (image, v) == 0;
          else
            {
              const char *eq = strchr (v, '=');
              if (eq)
                {
                  char label[256];
                  snprintf (label, sizeof label, "%.*s", (int) (eq - v), v);
                  const char *lv = json_string_value (json_object_get (attributes, label));
                  any |= lv && strcmp (lv, eq + 1) == 0;
                }
              else
                any |= json_object_get (attributes, v) != NULL;
            }
        }
      if (seen && !any)
        return false;
    }
  return true;
}

static int
print_event (void *data, const box_event *e)
{
  events_print *p = data;
  json_t *attributes = json_loads (e->attributes_json, 0, NULL);
  if (!attributes)
    attributes = json_object ();
  if (!matches (p, e, attributes))
    {
      json_decref (attributes);
      return 0;
    }
  if (p->json)
    {
      const char *image = json_string_value (json_object_get (attributes, "image"));
      json_t *o = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:O},s:s,s:I,s:I}", "status", e->action,
                             "id", e->actor_id, "from", image ? image : "", "Type", e->type,
                             "Action", e->action, "Actor", "ID", e->actor_id, "Attributes",
                             attributes, "scope", "local", "time",
                             (json_int_t) (e->time_ns / 1000000000LL), "timeNano",
                             (json_int_t) e->time_ns);
      char *text = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
      printf ("%s\n", text);
      free (text);
      json_decref (o);
    }
  else
    {
      time_t secs = (time_t) (e->time_ns / 1000000000LL);
      struct tm tm;
      gmtime_r (&secs, &tm);
      char date[32];
      strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
      printf ("%s.%09lldZ %s %s %s (", date, (long long) (e->time_ns % 1000000000LL), e->type,
              e->action, e->actor_id);
      const char *key;
      json_t *v;
      bool first = true;
      json_object_foreach (attributes, key, v)
      {
        printf ("%s%s=%s", first ? "" : ", ", key, json_string_value (v) ?: "");
        first = false;
      }
      printf (")\n");
    }
  fflush (stdout);
  json_decref (attributes);
  return 0;
}

static int
run_events (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "since", required_argument, NULL, 's' },
    { "until", required_argument, NULL, 'u' },
    { "filter", required_argument, NULL, 'f' },
    { "format", required_argument, NULL, 'F' },
    { 0 },
  };
  box_events_options opts = BOX_EVENTS_OPTIONS_INIT;
  events_print p = { 0 };
  int c, bad;
  const char *since_arg = NULL, *until_arg = NULL;
  while ((c = getopt_long (argc, argv, "f:", options, NULL)) != -1)
    switch (c)
      {
      case 's':
        if (cli_parse_time (optarg, &opts.since_ns) < 0)
          return cli_usage_error ("events", "invalid --since: %s", optarg);
        since_arg = optarg;
        break;
      case 'u':
        if (cli_parse_time (optarg, &opts.until_ns) < 0)
          return cli_usage_error ("events", "invalid --until: %s", optarg);
        until_arg = optarg;
        break;
      case 'f':
        if (p.n_filters == MAX_FILTERS)
          return cli_usage_error ("events", "too many filters (at most %d)", MAX_FILTERS);
        if ((bad = cli_check_filter ("events", optarg, filter_keys)) != 0)
          return bad;
        p.filters[p.n_filters++] = optarg;
        break;
      case 'F':
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "{{json .}}") != 0)
          return cli_usage_error ("events", "unsupported --format %s (json)", optarg);
        p.json = true;
        break;
      default:
        return cli_usage_error ("events", "unknown option");
      }
  if (optind < argc)
    return cli_usage_error ("events", "takes no arguments");
  if (opts.since_ns && opts.until_ns && opts.since_ns > opts.until_ns)
    return cli_usage_error ("events", "--since %s is after --until %s", since_arg, until_arg);
  /* docker: without --until, or until a time still to come, the stream goes on (from now
     on without --since: the library's default for a follow) */
  opts.follow = opts.until_ns == 0 || opts.until_ns > cli_now_ns ();
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  if (box_events_read (eng, &opts, print_event, &p, &err) < 0)
    return cli_report (err);
  return 0;
}

const cli_verb cli_verb_events = {
  .name = "events",
  .summary = "Stream the engine's events",
  .usage = "Usage: box events [OPTIONS]\n\n"
           "Print events (create, start, die, oom, kill, stop, destroy, rename, ...) as they\n"
           "happen; with --until, stop there.\n\n"
           "Options:\n"
           "      --since TIME          events since TIME (RFC 3339, Unix seconds, or 10m)\n"
           "      --until TIME          stop at TIME\n"
           "  -f, --filter KEY=VALUE    type, event, box (or container), image, label\n"
           "      --format json         one JSON object per event (docker's shape)\n",
  .run = run_events,
};
