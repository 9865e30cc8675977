/* box stop: the stop signal, then SIGKILL after the timeout. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int
stop_one (box_engine *eng, const char *ref, void *timeout, box_error **err)
{
  if (box_box_stop (eng, ref, *(int *) timeout, err) < 0)
    return -1;
  printf ("%s\n", ref);
  return 0;
}

static int
run_stop (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "time", required_argument, NULL, 't' },
    { "timeout", required_argument, NULL, 't' },
    { 0 },
  };
  int timeout = BOX_STOP_TIMEOUT_DEFAULT, c;
  while ((c = getopt_long (argc, argv, "t:", options, NULL)) != -1)
    switch (c)
      {
      case 't':
        {
          char *end;
          long v = strtol (optarg, &end, 10);
          if (*end || end == optarg || v > INT32_MAX)
            return cli_usage_error ("stop", "invalid timeout: %s", optarg);
          timeout = v < 0 ? BOX_STOP_TIMEOUT_FOREVER : (int) v; /* docker: no limit */
          break;
        }
      default:
        return cli_usage_error ("stop", "unknown option");
      }
  return cli_for_each_ref (ctx, "stop", argc - optind, argv + optind, stop_one, &timeout);
}

const cli_verb cli_verb_stop = {
  .name = "stop",
  .summary = "Stop one or more running boxes",
  .usage = "Usage: box stop [OPTIONS] BOX [BOX...]\n\n"
           "Send the box's stop signal (--stop-signal, the image's StopSignal, else SIGTERM),\n"
           "then SIGKILL after the timeout.\n\n"
           "Options:\n"
           "  -t, --time SECONDS   seconds to wait before killing (default: the box's\n"
           "                       --stop-timeout, else 10; -1: no limit)\n",
  .run = run_stop,
};
