/* box start: starts created or exited boxes; -a attaches to one. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"

static int
run_start (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "attach", no_argument, NULL, 'a' },
    { "interactive", no_argument, NULL, 'i' },
    { 0 },
  };
  bool attach = false, interactive = false;
  int c;
  while ((c = getopt_long (argc, argv, "ai", options, NULL)) != -1)
    switch (c)
      {
      case 'a':
        attach = true;
        break;
      case 'i':
        interactive = true;
        break;
      default:
        return cli_usage_error ("start", "unknown option");
      }
  if (optind >= argc)
    return cli_usage_error ("start", "requires at least 1 argument");
  if (attach && argc - optind > 1)
    return cli_usage_error ("start", "you cannot start and attach multiple boxes at once");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;

  if (attach)
    {
      box_box *box = NULL;
      box_error *err = NULL;
      if (box_box_get (eng, argv[optind], &box, &err) < 0)
        return cli_report (err);
      json_t *config = json_loads (box->config_json, 0, NULL);
      json_t *cfg = json_object_get (config, "Config");
      cli_attach_options a = {
        .tty = json_is_true (json_object_get (cfg, "Tty")),
        .interactive = interactive && json_is_true (json_object_get (cfg, "OpenStdin")),
      };
      json_decref (config);
      int exit_code = 0;
      int status = cli_attach_start (eng, box->id, &a, &exit_code);
      box_box_free (box);
      return status ? status : exit_code;
    }

  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      if (box_box_start (eng, argv[i], NULL, &err) < 0)
        status = cli_report (err);
      else
        printf ("%s\n", argv[i]);
    }
  return status;
}

const cli_verb cli_verb_start = {
  .name = "start",
  .summary = "Start one or more stopped boxes",
  .usage = "Usage: box start [OPTIONS] BOX [BOX...]\n\n"
           "Start one or more created or exited boxes.\n\n"
           "Options:\n"
           "  -a, --attach        attach stdout/stderr and exit with the box's status\n"
           "  -i, --interactive   attach stdin (boxes created with -i)\n",
  .run = run_start,
};
