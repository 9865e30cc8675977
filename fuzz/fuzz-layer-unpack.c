/* Fuzzes layer decompression and unpack together: any byte stream (gzip, zstd or plain tar)
 * is unpacked into a fresh layer directory next to an "outside" directory. No input may crash
 * it, and whatever it accepts or rejects, nothing may appear outside the layer. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/decompress.h"
#include "image/layer-unpack.h"
#include "input.h"
#include "util/fs.h"

static char *workdir; /* holds layer/ (fresh per input) and outside/ (must stay empty) */
static int workdir_fd = -1;

typedef struct memory_source {
  const uint8_t *data;
  size_t len, off;
} memory_source;

/* Small chunks, so chunk boundaries fall everywhere in headers and members. */
static ssize_t
memory_read (void *userdata, const void **out, box_error **err)
{
  memory_source *s = userdata;
  size_t n = s->len - s->off;
  if (n > 4093)
    n = 4093;
  *out = s->data + s->off;
  s->off += n;
  return (ssize_t) n;
}

static void
setup_once (void)
{
  if (workdir)
    return;
  workdir = fuzz_make_temp_dir ("box-fuzz-unpack");
  workdir_fd = open (workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (workdir_fd < 0 || mkdirat (workdir_fd, "outside", 0755) < 0)
    abort ();
}

static void
assert_outside_empty (void)
{
  int fd = openat (workdir_fd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  if (!d)
    abort ();
  struct dirent *de;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      {
        fprintf (stderr, "escape: outside/%s was written\n", de->d_name);
        abort ();
      }
  closedir (d);
  /* only layer/ and outside/ may exist in the work directory */
  int wfd = dup (workdir_fd);
  DIR *w = fdopendir (wfd);
  rewinddir (w);
  while ((de = readdir (w)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0
        && strcmp (de->d_name, "layer") != 0 && strcmp (de->d_name, "outside") != 0)
      {
        fprintf (stderr, "escape: %s/%s was written\n", workdir, de->d_name);
        abort ();
      }
  closedir (w);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  setup_once ();
  box_error *err = NULL;
  if (fs_remove_tree (workdir_fd, "layer", &err) < 0 || mkdirat (workdir_fd, "layer", 0755) < 0)
    abort ();
  int layer_fd = openat (workdir_fd, "layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (layer_fd < 0)
    abort ();

  decompress_options dopts = DECOMPRESS_OPTIONS_INIT;
  dopts.max_uncompressed = 64 << 20;
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  uopts.devices = LAYER_DEVICES_REJECT; /* never make real device nodes while fuzzing */
  uopts.max_total_size = 32 << 20;
  uopts.max_entries = 10000;

  memory_source src = { data, size, 0 };
  decompress_reader *r = NULL;
  if (decompress_reader_new (&dopts, memory_read, &src, &r, &err) < 0)
    abort ();
  if (layer_unpack (layer_fd, decompress_reader_read, r, &uopts, NULL, &err) == 0)
    (void) decompress_reader_finish (r, NULL, &err);
  decompress_reader_free (r);
  box_error_free (err);
  close (layer_fd);
  assert_outside_empty ();
  return 0;
}
