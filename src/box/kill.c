/* box kill: sends a signal to running boxes. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static int
kill_one (box_engine *eng, const char *ref, void *signal_name, box_error **err)
{
  if (box_box_kill (eng, ref, signal_name, err) < 0)
    return -1;
  printf ("%s\n", ref);
  return 0;
}

static int
run_kill (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "signal", required_argument, NULL, 's' },
    { 0 },
  };
  const char *signal_name = "KILL";
  int c;
  while ((c = getopt_long (argc, argv, "s:", options, NULL)) != -1)
    switch (c)
      {
      case 's':
        signal_name = optarg;
        break;
      default:
        return cli_usage_error ("kill", "unknown option");
      }
  return cli_for_each_ref (ctx, "kill", argc - optind, argv + optind, kill_one,
                           (void *) signal_name);
}

const cli_verb cli_verb_kill = {
  .name = "kill",
  .summary = "Send a signal to running boxes",
  .usage = "Usage: box kill [OPTIONS] BOX [BOX...]\n\n"
           "Options:\n"
           "  -s, --signal SIG   signal to send (name or number; default KILL)\n",
  .run = run_kill,
};
