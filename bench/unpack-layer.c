/* bench helper (not installed): decompresses and unpacks one layer file the way box does, for
 * bench/unpack to time against gzip|tar and igzip.
 *   box-bench-unpack pipeline FILE DIR   push shape: decompress + hash on this thread, unpack
 *                                        on a second one (the pull pipeline's shape)
 *   box-bench-unpack reader FILE DIR     pull shape, one thread (import's shape)
 *   box-bench-unpack decode FILE         decompress + diff_id only
 * Prints the diff_id and what was unpacked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image/decompress.h"
#include "image/layer-unpack.h"

#define READ_SIZE (256 * 1024)

static int
fail (box_error *err)
{
  fprintf (stderr, "box-bench-unpack: %s\n", box_error_message (err));
  box_error_free (err);
  return 1;
}

static int
discard (void *userdata, const void *data, size_t len, box_error **err)
{
  return 0;
}

static int
run_push (int fd, int dir_fd, box_error **err)
{
  /* the unpack thread hashes the diff id, this one decompresses and hashes the blob */
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  uopts.digest_stream = true;
  _cleanup_ (layer_unpack_job_freep) layer_unpack_job *job = NULL;
  if (dir_fd >= 0 && layer_unpack_job_start (dir_fd, &uopts, &job, err) < 0)
    return -1;
  decompress_options opts = DECOMPRESS_OPTIONS_INIT;
  opts.digest_compressed = true; /* a download verifies the blob digest in the same pass */
  opts.digest_uncompressed = !job;
  _cleanup_ (decompressor_freep) decompressor *d = NULL;
  if (decompressor_new (&opts, job ? layer_unpack_job_write : discard, job, &d, err) < 0)
    return -1;
  static unsigned char buf[READ_SIZE];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0)
        return box_err_errno (err, errno, "read");
      if (n == 0)
        break;
      if (decompressor_feed (d, buf, (size_t) n, err) < 0)
        return -1;
    }
  decompress_result result;
  if (decompressor_finish (d, &result, err) < 0)
    return -1;
  layer_unpack_stats stats = { 0 };
  if (job && layer_unpack_job_finish (job, &stats, err) < 0)
    return -1;
  printf ("%s %s compressed=%llu uncompressed=%llu files=%llu dirs=%llu\n",
          job ? stats.stream_digest : result.diff_id, decompress_gzip_backend (),
          (unsigned long long) result.compressed_size,
          (unsigned long long) result.uncompressed_size, (unsigned long long) stats.regular_files,
          (unsigned long long) stats.directories);
  return 0;
}

static int
run_reader (int fd, int dir_fd, box_error **err)
{
  _cleanup_ (decompress_reader_freep) decompress_reader *r = NULL;
  if (decompress_reader_new_fd (NULL, fd, &r, err) < 0)
    return -1;
  layer_unpack_stats stats;
  if (layer_unpack (dir_fd, decompress_reader_read, r, NULL, &stats, err) < 0)
    return -1;
  decompress_result result;
  if (decompress_reader_finish (r, &result, err) < 0)
    return -1;
  printf ("%s files=%llu dirs=%llu\n", result.diff_id, (unsigned long long) stats.regular_files,
          (unsigned long long) stats.directories);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 3 || (strcmp (argv[1], "decode") != 0 && argc < 4))
    {
      fprintf (stderr, "usage: box-bench-unpack pipeline|reader FILE DIR | decode FILE\n");
      return 2;
    }
  box_error *err = NULL;
  _cleanup_close_ int fd = open (argv[2], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      perror (argv[2]);
      return 1;
    }
  _cleanup_close_ int dir_fd = -1;
  if (argc >= 4)
    {
      dir_fd = open (argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd < 0)
        {
          perror (argv[3]);
          return 1;
        }
    }
  int rc;
  if (strcmp (argv[1], "reader") == 0)
    rc = run_reader (fd, dir_fd, &err);
  else
    rc = run_push (fd, strcmp (argv[1], "decode") == 0 ? -1 : dir_fd, &err);
  return rc < 0 ? fail (err) : 0;
}
