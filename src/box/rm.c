/* box rm */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static int
remove_one (box_engine *eng, const char *ref, void *force, box_error **err)
{
  if (box_box_remove_force (eng, ref, *(int *) force, err) < 0)
    return -1;
  printf ("%s\n", ref);
  return 0;
}

static int
run_rm (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "force", no_argument, NULL, 'f' },
    { 0 },
  };
  int c, force = 0;
  while ((c = getopt_long (argc, argv, "f", options, NULL)) != -1)
    {
      if (c != 'f')
        return cli_usage_error ("rm", "unknown option");
      force = 1;
    }
  return cli_for_each_ref (ctx, "rm", argc - optind, argv + optind, remove_one, &force);
}

const cli_verb cli_verb_rm = {
  .name = "rm",
  .summary = "Remove one or more boxes",
  .usage = "Usage: box rm [OPTIONS] BOX [BOX...]\n\n"
           "Remove boxes: record, root filesystem, logs.\n\n"
           "Options:\n"
           "  -f, --force   kill a running box first\n",
  .run = run_rm,
};
