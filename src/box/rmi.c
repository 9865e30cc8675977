/* box rmi / box image rm: removes image references and images. */
#include <getopt.h>
#include <stdio.h>

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
remove_image (box_engine *eng, const char *ref, void *opts, box_error **err)
{
  box_image_delete_item *items = NULL;
  size_t n = 0;
  if (box_image_remove (eng, ref, opts, &items, &n, err) < 0)
    return -1;
  print_items (items, n);
  box_image_delete_items_free (items, n);
  return 0;
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
  return cli_for_each_ref (ctx, "rmi", argc - optind, argv + optind, remove_image, &opts);
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
