/* box stop: the stop signal, then SIGKILL after the timeout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int
run_stop (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "time", required_argument, NULL, 't' },
    { "timeout", required_argument, NULL, 't' },
    { 0 },
  };
  int timeout = -1, c;
  while ((c = getopt_long (argc, argv, "t:", options, NULL)) != -1)
    switch (c)
      {
      case 't':
        {
          char *end;
          long v = strtol (optarg, &end, 10);
          if (*end || end == optarg || v < -1)
            return cli_usage_error ("stop", "invalid timeout: %s", optarg);
          timeout = (int) v;
          break;
        }
      default:
        return cli_usage_error ("stop", "unknown option");
      }
  if (optind >= argc)
    return cli_usage_error ("stop", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      if (box_box_stop (eng, argv[i], timeout, &err) < 0)
        status = cli_report (err);
      else
        printf ("%s\n", argv[i]);
    }
  return status;
}

const cli_verb cli_verb_stop = {
  .name = "stop",
  .summary = "Stop one or more running boxes",
  .usage = "Usage: box stop [OPTIONS] BOX [BOX...]\n\n"
           "Send the box's stop signal (--stop-signal, the image's StopSignal, else SIGTERM),\n"
           "then SIGKILL after the timeout.\n\n"
           "Options:\n"
           "  -t, --time SECONDS   seconds to wait before killing (default: the box's\n"
           "                       --stop-timeout, else 10)\n",
  .run = run_stop,
};
