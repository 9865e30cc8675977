/* box inspect: docker-style JSON for boxes. */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

static void
format_time (int64_t ns, char *buf, size_t size)
{
  if (ns <= 0)
    {
      snprintf (buf, size, "0001-01-01T00:00:00Z");
      return;
    }
  time_t secs = (time_t) (ns / 1000000000LL);
  struct tm tm;
  gmtime_r (&secs, &tm);
  char date[32];
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, size, "%s.%09lldZ", date, (long long) (ns % 1000000000LL));
}

static json_t *
box_to_json (const box_box *b)
{
  char created[48], started[48], finished[48];
  format_time (b->created_ns, created, sizeof created);
  format_time (b->started_ns, started, sizeof started);
  format_time (b->finished_ns, finished, sizeof finished);

  json_t *config = json_loads (b->config_json, 0, NULL);
  if (!json_is_object (config))
    {
      json_decref (config);
      config = json_object ();
    }
  json_t *labels = json_object ();
  for (size_t i = 0; i < b->n_labels; i++)
    json_object_set_new (labels, b->labels[i].key, json_string (b->labels[i].value));
  json_object_set_new (config, "Image", json_string (b->image));
  json_object_set_new (config, "Labels", labels);

  char name[BOX_NAME_MAX + 2];
  snprintf (name, sizeof name, "/%s", b->name);
  json_t *o = json_pack (
      "{s:s,s:s,s:s,s:{s:s,s:b,s:b,s:b,s:i,s:i,s:s,s:s},s:s,s:o}", "Id", b->id, "Created", created,
      "Name", name, "State", "Status", box_state_name (b->state), "Running",
      b->state == BOX_STATE_RUNNING, "Paused", b->state == BOX_STATE_PAUSED, "Restarting",
      b->state == BOX_STATE_RESTARTING, "Pid", b->pid, "ExitCode", b->exit_code, "StartedAt",
      started, "FinishedAt", finished, "Image", b->image, "Config", config);
  if (o && b->external_ref)
    json_object_set_new (o, "ExternalRef", json_string (b->external_ref));
  return o;
}

static int
run_inspect (cli_context *ctx, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error ("inspect", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  json_t *out = json_array ();
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      box_error *err = NULL;
      box_box *b = NULL;
      if (box_box_get (eng, argv[i], &b, &err) < 0)
        {
          status = cli_report (err);
          continue;
        }
      json_array_append_new (out, box_to_json (b));
      box_box_free (b);
    }
  /* like docker: print what was found, even when some references failed */
  char *text = json_dumps (out, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  if (text)
    printf ("%s\n", text);
  free (text);
  json_decref (out);
  return status;
}

const cli_verb cli_verb_inspect = {
  .name = "inspect",
  .summary = "Show details of boxes as JSON",
  .usage = "Usage: box inspect BOX [BOX...]\n\n"
           "Show details of one or more boxes as a JSON array.\n",
  .run = run_inspect,
};
