/* box load: images from a docker-archive or oci-archive (a file, or stdin). */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

static int
run_load (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "input", required_argument, NULL, 'i' },
    { "quiet", no_argument, NULL, 'q' },
    { 0 },
  };
  box_image_load_options opts = BOX_IMAGE_LOAD_OPTIONS_INIT;
  bool quiet = false;
  int c;
  while ((c = getopt_long (argc, argv, "i:q", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'i':
          opts.input_path = optarg;
          break;
        case 'q':
          quiet = true;
          break;
        default:
          return cli_usage_error ("load", "unknown option");
        }
    }
  if (optind < argc)
    return cli_usage_error ("load", "accepts no arguments");
  if (opts.input_path && opts.input_path[0] == '-' && opts.input_path[1] == '\0')
    opts.input_path = NULL;
  if (!opts.input_path)
    {
      /* docker's answer when nothing is piped in */
      if (isatty (STDIN_FILENO))
        {
          fprintf (stderr, "box: requested load from stdin, but stdin is empty\n");
          return CLI_EXIT_ENGINE_ERROR;
        }
      opts.input_fd = STDIN_FILENO;
    }
  box_engine *eng = cli_engine (ctx);
  if (!eng)
    return CLI_EXIT_ENGINE_ERROR;
  box_error *err = NULL;
  char **loaded = NULL;
  size_t n = 0;
  if (box_image_load (eng, &opts, &loaded, &n, &err) < 0)
    return cli_report (err);
  for (size_t i = 0; i < n && !quiet; i++)
    {
      bool is_id = loaded[i][0] == 's' && loaded[i][6] == ':' && loaded[i][7] != '\0';
      printf ("Loaded image%s: %s\n", is_id ? " ID" : "", loaded[i]);
    }
  box_image_load_list_free (loaded, n);
  return 0;
}

const cli_verb cli_verb_load = {
  .name = "load",
  .summary = "Load images from a tar archive or STDIN",
  .usage = "Usage: box load [OPTIONS]\n\n"
           "Load images from a tar archive (docker-archive or oci-archive) or STDIN.\n\n"
           "Options:\n"
           "  -i, --input FILE   read from FILE instead of STDIN (\"-\": STDIN)\n"
           "  -q, --quiet        print nothing on success\n",
  .run = run_load,
};
