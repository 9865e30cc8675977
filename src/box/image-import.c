/* box image import: a filesystem tarball (a file or "-" for stdin) becomes a one-layer image. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct import_progress {
  bool terminal;
  bool drawn;
} import_progress;

static void
show_progress (const box_transfer_progress *event, void *userdata)
{
  import_progress *p = userdata;
  const char *what = "import";
  uint64_t done = (uint64_t) event->current;
  uint64_t total = event->total > 0 ? (uint64_t) event->total : 0;
  char done_text[32], total_text[32];
  cli_format_size ((int64_t) done, done_text, sizeof done_text);
  cli_format_size ((int64_t) total, total_text, sizeof total_text);
  /* a terminal gets one line redrawn in place, a pipe gets plain lines */
  if (p->terminal)
    {
      if (total)
        fprintf (stderr, "\r\033[KImporting: %s / %s (%d%%)", done_text, total_text,
                 (int) (done * 100 / total));
      else
        fprintf (stderr, "\r\033[KImporting: %s", done_text);
      p->drawn = true;
    }
  else if (total)
    fprintf (stderr, "%s: %s / %s\n", what, done_text, total_text);
  else
    fprintf (stderr, "%s: %s\n", what, done_text);
  fflush (stderr);
}

static int
run_image_import (cli_context *ctx, int argc, char **argv)
{
  static const struct option options[] = {
    { "change", required_argument, NULL, 'c' },
    { "message", required_argument, NULL, 'm' },
    { "quiet", no_argument, NULL, 'q' },
    { 0 },
  };
  const char **changes = calloc ((size_t) argc + 1, sizeof *changes);
  if (!changes)
    return cli_usage_error ("image import", "out of memory");
  size_t n_changes = 0;
  const char *message = NULL;
  bool quiet = false;
  int c;
  while ((c = getopt_long (argc, argv, "c:m:q", options, NULL)) != -1)
    {
      switch (c)
        {
        case 'c':
          changes[n_changes++] = optarg;
          break;
        case 'm':
          message = optarg;
          break;
        case 'q':
          quiet = true;
          break;
        default:
          free (changes);
          return cli_usage_error ("image import", "unknown option");
        }
    }
  if (optind >= argc || argc - optind > 2)
    {
      free (changes);
      return cli_usage_error ("image import", "requires 1 or 2 arguments: TARBALL|- [REF]");
    }
  box_image_import_options opts = BOX_IMAGE_IMPORT_OPTIONS_INIT;
  const char *source = argv[optind];
  if (strcmp (source, "-") == 0)
    opts.source_fd = STDIN_FILENO;
  else
    opts.source_path = source;
  opts.reference = argc - optind == 2 ? argv[optind + 1] : NULL;
  opts.changes = changes;
  opts.n_changes = n_changes;
  opts.message = message;
  import_progress progress = { .terminal = isatty (STDERR_FILENO) == 1 };
  if (!quiet)
    {
      opts.progress = show_progress;
      opts.progress_userdata = &progress;
    }

  int status = CLI_EXIT_ENGINE_ERROR;
  box_engine *eng = cli_engine (ctx);
  if (eng)
    {
      box_error *err = NULL;
      char *id = NULL;
      int rc = box_image_import (eng, &opts, &id, &err);
      if (progress.drawn)
        fputc ('\n', stderr);
      if (rc < 0)
        status = cli_report (err);
      else
        {
          printf ("%s\n", id);
          status = 0;
        }
      free (id);
    }
  free (changes);
  return status;
}

const cli_verb cli_verb_image_import = {
  .name = "import",
  .summary = "Import a filesystem tarball as an image",
  .usage = "Usage: box image import [OPTIONS] TARBALL|- [REPOSITORY[:TAG]]\n"
           "\n"
           "Create a one-layer image from a filesystem tarball (plain, gzip or zstd).\n"
           "\n"
           "Options:\n"
           "  -c, --change INSTRUCTION  apply a Dockerfile instruction to the image config:\n"
           "                            CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,\n"
           "                            VOLUME, WORKDIR (repeatable)\n"
           "  -m, --message TEXT        history comment for the image\n"
           "  -q, --quiet               no progress output\n",
  .run = run_image_import,
};
