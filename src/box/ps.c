/* box ps: lists boxes. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The box's command as docker shows it: the words joined by spaces, quoted as a whole. */
static void
format_command (const char *config_json, char *buf, size_t size, bool truncate)
{
  buf[0] = '\0';
  json_t *config = json_loads (config_json, 0, NULL);
  json_t *cmd = config ? json_object_get (config, "Cmd") : NULL;
  size_t used = 0;
  size_t i;
  json_t *word;
  json_array_foreach (cmd, i, word)
  {
    const char *s = json_string_value (word);
    if (!s)
      continue;
    int n = snprintf (buf + used, size - used, "%s%s", used ? " " : "", s);
    if (n < 0 || (size_t) n >= size - used)
      break;
    used += (size_t) n;
  }
  json_decref (config);
  /* docker cuts the command at 20 columns with an ellipsis */
  if (truncate && strlen (buf) > 20)
    strcpy (buf + 19, "…");
}

static int
run_ps (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "all", no_argument, NULL, 'a' },
    { "quiet", no_argument, NULL, 'q' },
    { "no-trunc", no_argument, NULL, 't' },
    { 0 },
  };
  bool all = false, quiet = false, no_trunc = false;
  int c;
  while ((c = getopt_long (argc, argv, "aq", options, NULL)) != -1)
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
        default:
          return cli_usage_error ("ps", "unknown option");
        }
    }
  if (optind < argc)
    return cli_usage_error ("ps", "takes no arguments");

  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  box_box **boxes = NULL;
  size_t n = 0;
  if (box_box_list (eng, &boxes, &n, &err) < 0)
    return cli_report (err);

  if (!quiet)
    printf ("%-*s   %-20s %-22s %-26s %s\n", no_trunc ? 64 : 12, "BOX ID", "IMAGE", "COMMAND",
            "STATUS", "NAMES");
  for (size_t i = 0; i < n; i++)
    {
      const box_box *b = boxes[i];
      if (!all && b->state != BOX_STATE_RUNNING)
        continue;
      char short_id[13];
      const char *id = no_trunc ? b->id : cli_short_id (b->id, short_id);
      if (quiet)
        {
          printf ("%s\n", id);
          continue;
        }
      char command[256], status[64], ago[48];
      format_command (b->config_json, command, sizeof command, !no_trunc);
      if (b->state == BOX_STATE_CREATED)
        snprintf (status, sizeof status, "Created");
      else if (b->state == BOX_STATE_EXITED)
        {
          cli_format_ago (b->finished_ns, ago, sizeof ago);
          snprintf (status, sizeof status, "Exited (%d) %s", b->exit_code, ago);
        }
      else
        snprintf (status, sizeof status, "%s", box_state_name (b->state));
      char quoted[260];
      snprintf (quoted, sizeof quoted, "\"%s\"", command);
      printf ("%-*s   %-20s %-22s %-26s %s\n", no_trunc ? 64 : 12, id, b->image, quoted, status,
              b->name);
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
           "  -a, --all        show all boxes\n"
           "  -q, --quiet      only print ids\n"
           "      --no-trunc   do not truncate ids and commands\n",
  .run = run_ps,
};
