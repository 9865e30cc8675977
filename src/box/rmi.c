/* box rmi / box image rm: removes image references and images. */
#include <getopt.h>

#include "cli.h"

static void
print_items (const box_image_delete_item *items, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      if (items[i].untagged)
        printf ("Untagged: %s\n", items[i].untagged);
      if (items[i].deleted)
        printf ("Deleted: %s\n", items[i].deleted);
    }
}

static int
run_rmi (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "force", no_argument, NULL, 'f' },
    { "no-prune", no_argument, NULL, 'n' },
    { 0 },
  };
  box_image_remove_options opts = BOX_IMAGE_REMOVE_OPTIONS_INIT;
  int c;
  while ((c = getopt_long (argc, argv, "f", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'f':
          opts.force = 1;
          break;
        case 'n':
          break; /* box keeps no untagged parents to prune */
        default:
          return cli_usage_error ("rmi", "unknown option");
        }
    }
  if (optind >= argc)
    return cli_usage_error ("rmi", "requires at least 1 argument");
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  int status = 0;
  for (int i = optind; i < argc; i++)
    {
      box_error *err = NULL;
      box_image_delete_item *items = NULL;
      size_t n = 0;
      if (box_image_remove (eng, argv[i], &opts, &items, &n, &err) < 0)
        {
          status = cli_report (err);
          continue;
        }
      print_items (items, n);
      box_image_delete_items_free (items, n);
    }
  return status;
}

const cli_verb cli_verb_rmi = {
  .name = "rmi",
  .summary = "Remove one or more images",
  .usage = "Usage: box rmi [OPTIONS] IMAGE [IMAGE...]\n"
           "       box image rm [OPTIONS] IMAGE [IMAGE...]\n"
           "\n"
           "Remove images: a name removes that reference (and the image when it was the last\n"
           "one), an id removes the image with all its references. Blobs and layers no other\n"
           "image uses are deleted.\n"
           "\n"
           "Options:\n"
           "  -f, --force   remove an image referenced by several repositories; for an image\n"
           "                a box uses, remove its references and keep the image\n",
  .run = run_rmi,
};
