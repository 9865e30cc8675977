/* box inspect: docker-style JSON for boxes. */
#include "cli.h"

static int
run_inspect (cli_context *ctx, int argc, char **argv)
{
  return cli_inspect_each (ctx, "inspect", argc, argv, box_box_inspect_json);
}

const cli_verb cli_verb_inspect = {
  .name = "inspect",
  .summary = "Show details of boxes as JSON",
  .usage = "Usage: box inspect [OPTIONS] BOX [BOX...]\n\n"
           "Show details of one or more boxes as a JSON array.\n\n"
           "Options:\n"
           "  -f, --format TEMPLATE  print each box through a Go template: text, {{.State.Pid}},\n"
           "                         {{json .Config}} (docker's most used part of templates)\n",
  .run = run_inspect,
};
