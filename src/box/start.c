/* box start: starts created or exited boxes; -a attaches to one (-i with its stdin). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"

static int
run_start (cli_context *ctx, int argc, char **argv)
{
  enum { OPT_DETACH_KEYS = 256 };
  static const struct option options[] = {
    { "attach", no_argument, NULL, 'a' },
    { "interactive", no_argument, NULL, 'i' },
    { "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
    { 0 },
  };
  bool attach = false, interactive = false;
  const char *detach_keys = NULL;
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
      case OPT_DETACH_KEYS:
        {
          int status = cli_parse_detach_keys ("start", optarg, &detach_keys);
          if (status != 0)
            return status;
          break;
        }
      default:
        return cli_usage_error ("start", "unknown option");
      }
  if (optind >= argc)
    return cli_usage_error ("start", "requires at least 1 argument");
  if ((attach || interactive) && argc - optind > 1)
    return cli_usage_error ("start", "you cannot start and attach multiple boxes at once");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;

  if (attach || interactive)
    {
      box_box *box = NULL;
      box_error *err = NULL;
      if (box_box_get (eng, argv[optind], &box, &err) < 0)
        return cli_report (err);
      json_t *config = json_loads (box->config_json, 0, NULL);
      json_t *cfg = json_object_get (config, "Config");
      bool tty = json_is_true (json_object_get (cfg, "Tty"));
      cli_attach_options a = {
        .tty = tty,
        .interactive = interactive && json_is_true (json_object_get (cfg, "OpenStdin")),
        .sig_proxy = !tty,
        .detach_keys = detach_keys,
      };
      json_decref (config);
      int exit_code = 0, status;
      if (box->state == BOX_STATE_RUNNING)
        {
          /* already running: attach to it, as docker does */
          bool detached = false;
          status = cli_attach_running (eng, box->id, &a, &exit_code, &detached);
          if (detached)
            exit_code = 0;
        }
      else
        status = cli_attach_start (eng, box->id, &a, &exit_code);
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
           "  -a, --attach          attach stdout/stderr and exit with the box's status\n"
           "  -i, --interactive     attach stdin (boxes created with -i)\n"
           "      --detach-keys KEYS  keys that detach from a tty box (default ctrl-p,ctrl-q)\n",
  .run = run_start,
};
