/* box image inspect: docker-like JSON for images. */
#include "cli.h"

static int
run_image_inspect (cli_context *ctx, int argc, char **argv)
{
  return cli_inspect_each (ctx, "image inspect", argc, argv, box_image_inspect_json);
}

const cli_verb cli_verb_image_inspect = {
  .name = "inspect",
  .summary = "Show details of images as JSON",
  .usage = "Usage: box image inspect [OPTIONS] IMAGE [IMAGE...]\n\n"
           "Show details of one or more images as a JSON array.\n\n"
           "Options:\n"
           "  -f, --format TEMPLATE  print each image through a Go template: text, {{.Id}},\n"
           "                         {{json .Config}} (docker's most used part of templates)\n",
  .run = run_image_inspect,
};
