/* Fuzzes `box load`'s reader: any byte stream is offered to image_archive_load on one engine
 * (a fresh state directory per process). No input may crash it or leak, and a failed load
 * must leave no blob it added behind. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "box/box.h"
#include "image/archive.h"
#include "input.h"

static box_engine *engine;
static char *blobs_dir;

static size_t
count_blobs (void)
{
  DIR *d = opendir (blobs_dir);
  if (!d)
    return 0;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    if (de->d_name[0] != '.')
      n++;
  closedir (d);
  return n;
}

static void
setup_once (void)
{
  if (engine)
    return;
  char *root = fuzz_make_temp_dir ("box-fuzz-load");
  box_engine_options opts = BOX_ENGINE_OPTIONS_INIT;
  opts.root = root;
  box_error *err = NULL;
  if (box_engine_open (&opts, &engine, &err) < 0)
    abort ();
  if (asprintf (&blobs_dir, "%s/blobs/sha256", root) < 0)
    abort ();
  free (root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  setup_once ();
  int fd = memfd_create ("archive", MFD_CLOEXEC);
  if (fd < 0)
    abort ();
  if (size && write (fd, data, size) != (ssize_t) size)
    abort ();
  lseek (fd, 0, SEEK_SET);
  size_t before = count_blobs ();
  box_error *err = NULL;
  char **loaded = NULL;
  size_t n = 0;
  if (image_archive_load (engine, fd, &loaded, &n, &err) < 0 && count_blobs () != before)
    {
      fprintf (stderr, "failed load left blobs: %s\n", box_error_message (err));
      abort ();
    }
  box_image_load_list_free (loaded, n);
  box_error_free (err);
  close (fd);
  return 0;
}
