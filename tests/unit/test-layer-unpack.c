/* Layer unpack: a faithful tree (modes, owners, times, xattrs, links, long names, sparse files),
 * overlayfs whiteouts, and every escape attempt rejected with nothing written outside. Tars
 * are built with libarchive's writer, hostile ones included. */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "image/decompress.h"
#include "image/layer-unpack.h"
#include "util/digest.h"

/* ---- building tars ---- */

typedef struct tar_builder {
  struct archive *archive;
  unsigned char *data;
  size_t len, cap;
} tar_builder;

static la_ssize_t
builder_write (struct archive *a, void *userdata, const void *buf, size_t len)
{
  tar_builder *b = userdata;
  if (b->len + len > b->cap)
    {
      b->cap = (b->len + len) * 2;
      b->data = realloc (b->data, b->cap);
      assert_non_null (b->data);
    }
  memcpy (b->data + b->len, buf, len);
  b->len += len;
  return (la_ssize_t) len;
}

/* format: ARCHIVE_FORMAT_TAR_PAX_RESTRICTED or ARCHIVE_FORMAT_TAR_GNUTAR */
static void
tar_begin (tar_builder *b, int format)
{
  memset (b, 0, sizeof *b);
  b->archive = archive_write_new ();
  assert_int_equal (archive_write_set_format (b->archive, format), ARCHIVE_OK);
  assert_int_equal (archive_write_open (b->archive, b, NULL, builder_write, NULL), ARCHIVE_OK);
}

static struct archive_entry *
tar_entry (const char *path, mode_t type, mode_t perm)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, path);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, perm);
  archive_entry_set_uid (e, 0);
  archive_entry_set_gid (e, 0);
  archive_entry_set_mtime (e, 1600000000, 0);
  return e;
}

static void
tar_write (tar_builder *b, struct archive_entry *e, const void *data, size_t len)
{
  if (archive_write_header (b->archive, e) != ARCHIVE_OK)
    fail_msg ("archive_write_header: %s", archive_error_string (b->archive));
  if (len > 0)
    assert_int_equal (archive_write_data (b->archive, data, len), (la_ssize_t) len);
  archive_entry_free (e);
}

static void
tar_dir (tar_builder *b, const char *path, mode_t perm)
{
  tar_write (b, tar_entry (path, AE_IFDIR, perm), NULL, 0);
}

static void
tar_file (tar_builder *b, const char *path, const char *content)
{
  struct archive_entry *e = tar_entry (path, AE_IFREG, 0644);
  archive_entry_set_size (e, (la_int64_t) strlen (content));
  tar_write (b, e, content, strlen (content));
}

static void
tar_symlink (tar_builder *b, const char *path, const char *target)
{
  struct archive_entry *e = tar_entry (path, AE_IFLNK, 0777);
  archive_entry_set_symlink (e, target);
  tar_write (b, e, NULL, 0);
}

static void
tar_hardlink (tar_builder *b, const char *path, const char *target)
{
  struct archive_entry *e = tar_entry (path, AE_IFREG, 0644);
  archive_entry_set_hardlink (e, target);
  archive_entry_set_size (e, 0);
  tar_write (b, e, NULL, 0);
}

static void
tar_end (tar_builder *b)
{
  assert_int_equal (archive_write_close (b->archive), ARCHIVE_OK);
  archive_write_free (b->archive);
  b->archive = NULL;
}

/* ---- unpacking ---- */

typedef struct memory_source {
  const unsigned char *data;
  size_t len, off, step;
} memory_source;

static ssize_t
memory_read (void *userdata, const void **data, box_error **err)
{
  memory_source *s = userdata;
  size_t n = s->len - s->off;
  if (n > s->step)
    n = s->step;
  *data = s->data + s->off;
  s->off += n;
  return (ssize_t) n;
}

typedef struct fixture {
  char *dir;   /* holds layer/ and outside/ */
  char *layer; /* the layer root */
  char *outside;
  int layer_fd;
} fixture;

static int
setup (void **state)
{
  fixture *f = calloc (1, sizeof *f);
  f->dir = unit_make_temp_dir ();
  assert_true (asprintf (&f->layer, "%s/layer", f->dir) > 0);
  assert_true (asprintf (&f->outside, "%s/outside", f->dir) > 0);
  assert_int_equal (mkdir (f->layer, 0755), 0);
  assert_int_equal (mkdir (f->outside, 0755), 0);
  f->layer_fd = open (f->layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (f->layer_fd >= 0);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  fixture *f = *state;
  close (f->layer_fd);
  unit_remove_tree (f->dir);
  free (f->dir);
  free (f->layer);
  free (f->outside);
  free (f);
  return 0;
}

static int
unpack_with (fixture *f, tar_builder *b, size_t step, const layer_unpack_options *opts,
             layer_unpack_stats *stats, box_error **err)
{
  memory_source src = { b->data, b->len, 0, step };
  return layer_unpack (f->layer_fd, memory_read, &src, opts, stats, err);
}

static void
unpack_ok (fixture *f, tar_builder *b, layer_unpack_stats *stats)
{
  box_error *err = NULL;
  int rc = unpack_with (f, b, 65536, NULL, stats, &err);
  assert_ok (rc, err);
}

static size_t
count_entries (const char *dir)
{
  DIR *d = opendir (dir);
  assert_non_null (d);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      n++;
  closedir (d);
  return n;
}

/* The layer is rejected with a message naming the entry, and nothing appeared outside. */
static void
expect_rejected (fixture *f, tar_builder *b, const layer_unpack_options *opts, const char *needle)
{
  box_error *err = NULL;
  int rc = unpack_with (f, b, 4096, opts, NULL, &err);
  if (rc >= 0)
    fail_msg ("hostile layer was accepted (expected \"%s\")", needle);
  if (!strstr (box_error_message (err), needle))
    fail_msg ("expected \"%s\" in \"%s\"", needle, box_error_message (err));
  box_error_free (err);
  assert_int_equal (count_entries (f->outside), 0);
}

static char *
layer_path (fixture *f, const char *rel)
{
  char *p = NULL;
  assert_true (asprintf (&p, "%s/%s", f->layer, rel) > 0);
  return p;
}

static struct stat
lstat_in (fixture *f, const char *rel)
{
  char *p = layer_path (f, rel);
  struct stat st;
  if (lstat (p, &st) < 0)
    fail_msg ("lstat %s: %s", p, strerror (errno));
  free (p);
  return st;
}

static bool
exists_in (fixture *f, const char *rel)
{
  char *p = layer_path (f, rel);
  struct stat st;
  bool ok = lstat (p, &st) == 0;
  free (p);
  return ok;
}

static char *
read_in (fixture *f, const char *rel)
{
  char *p = layer_path (f, rel);
  FILE *fp = fopen (p, "re");
  assert_non_null (fp);
  char *buf = calloc (1, 1 << 16);
  size_t n = fread (buf, 1, (1 << 16) - 1, fp);
  buf[n] = '\0';
  fclose (fp);
  free (p);
  return buf;
}

/* ---- tests: a faithful tree ---- */

static void
test_tree_modes_owners_times (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
  struct archive_entry *root = tar_entry ("./", AE_IFDIR, 0751);
  archive_entry_set_mtime (root, 1500000000, 0);
  tar_write (&b, root, NULL, 0);
  struct archive_entry *d = tar_entry ("./usr/", AE_IFDIR, 0755);
  archive_entry_set_mtime (d, 1400000000, 123456789);
  tar_write (&b, d, NULL, 0);
  tar_dir (&b, "usr/bin", 0755);
  struct archive_entry *suid = tar_entry ("usr/bin/su", AE_IFREG, 04755);
  archive_entry_set_uid (suid, 1234);
  archive_entry_set_gid (suid, 5678);
  archive_entry_set_mtime (suid, 1300000000, 500);
  archive_entry_set_size (suid, 5);
  tar_write (&b, suid, "hello", 5);
  tar_dir (&b, "tmp", 01777);
  tar_dir (&b, "srv", 02775);
  tar_file (&b, "srv/file", "in a setgid dir");
  tar_file (&b, "/etc/hostname", "box\n"); /* leading / is stripped, as docker does */
  struct archive_entry *fifo = tar_entry ("run/fifo", AE_IFIFO, 0640);
  tar_write (&b, fifo, NULL, 0);
  tar_end (&b);

  layer_unpack_stats stats;
  unpack_ok (f, &b, &stats);
  free (b.data);

  struct stat st = lstat_in (f, ".");
  assert_int_equal (st.st_mode & 07777, 0751);
  assert_int_equal (st.st_mtim.tv_sec, 1500000000);
  st = lstat_in (f, "usr");
  assert_true (S_ISDIR (st.st_mode));
  /* set after its children were created */
  assert_int_equal (st.st_mtim.tv_sec, 1400000000);
  assert_int_equal (st.st_mtim.tv_nsec, 123456789);
  st = lstat_in (f, "usr/bin/su");
  assert_int_equal (st.st_mode & 07777, 04755);
  assert_int_equal (st.st_uid, 1234);
  assert_int_equal (st.st_gid, 5678);
  assert_int_equal (st.st_mtim.tv_sec, 1300000000);
  assert_int_equal (st.st_size, 5);
  assert_int_equal (lstat_in (f, "tmp").st_mode & 07777, 01777);
  assert_int_equal (lstat_in (f, "srv").st_mode & 07777, 02775);
  /* owner from the tar, not inherited from the setgid directory */
  assert_int_equal (lstat_in (f, "srv/file").st_gid, 0);
  char *content = read_in (f, "etc/hostname");
  assert_string_equal (content, "box\n");
  free (content);
  /* a parent missing from the tar is created */
  assert_true (S_ISDIR (lstat_in (f, "etc").st_mode));
  st = lstat_in (f, "run/fifo");
  assert_true (S_ISFIFO (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0640);
  assert_int_equal (stats.regular_files, 3);
  assert_int_equal (stats.directories, 5); /* etc and run were implied */
  assert_int_equal (stats.devices, 1);
  assert_int_equal (stats.file_bytes, 5 + 15 + 4);
}

static void
test_links_and_xattrs (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_dir (&b, "bin", 0755);
  struct archive_entry *e = tar_entry ("bin/busybox", AE_IFREG, 0755);
  archive_entry_set_size (e, 4);
  archive_entry_xattr_add_entry (e, "user.origin", "debian", 6);
  archive_entry_xattr_add_entry (e, "trusted.box-test", "t", 1);
  /* overlayfs' own xattrs must not come from an image */
  archive_entry_xattr_add_entry (e, "trusted.overlay.redirect", "/etc", 4);
  tar_write (&b, e,
             "\x7f"
             "ELF",
             4);
  tar_hardlink (&b, "bin/sh", "bin/busybox");
  tar_symlink (&b, "bin/ls", "busybox");
  tar_symlink (&b, "etc-link", "/etc/passwd"); /* kept as is, never followed */
  tar_symlink (&b, "up", "../../..");
  struct archive_entry *l = tar_entry ("bin/marked", AE_IFLNK, 0777);
  archive_entry_set_symlink (l, "busybox");
  archive_entry_set_uid (l, 42);
  archive_entry_xattr_add_entry (l, "trusted.box-link", "L", 1);
  tar_write (&b, l, NULL, 0);
  tar_end (&b);
  layer_unpack_stats stats;
  unpack_ok (f, &b, &stats);
  free (b.data);

  struct stat busybox = lstat_in (f, "bin/busybox"), sh = lstat_in (f, "bin/sh");
  assert_int_equal (busybox.st_ino, sh.st_ino);
  assert_int_equal (busybox.st_nlink, 2);
  char target[256];
  char *p = layer_path (f, "bin/ls");
  ssize_t n = readlink (p, target, sizeof target - 1);
  free (p);
  assert_true (n > 0);
  target[n] = '\0';
  assert_string_equal (target, "busybox");
  p = layer_path (f, "etc-link");
  n = readlink (p, target, sizeof target - 1);
  free (p);
  target[n] = '\0';
  assert_string_equal (target, "/etc/passwd");
  assert_int_equal (lstat_in (f, "etc-link").st_mtim.tv_sec, 1600000000);

  p = layer_path (f, "bin/busybox");
  char value[64];
  n = getxattr (p, "user.origin", value, sizeof value);
  assert_int_equal (n, 6);
  assert_memory_equal (value, "debian", 6);
  assert_int_equal (getxattr (p, "trusted.box-test", value, sizeof value), 1);
  assert_true (getxattr (p, "trusted.overlay.redirect", value, sizeof value) < 0);
  free (p);
  /* a symlink's own owner and xattrs, never its target's */
  p = layer_path (f, "bin/marked");
  assert_int_equal (lgetxattr (p, "trusted.box-link", value, sizeof value), 1);
  assert_int_equal (value[0], 'L');
  free (p);
  assert_int_equal (lstat_in (f, "bin/marked").st_uid, 42);
  assert_int_equal (lstat_in (f, "bin/busybox").st_uid, 0);
  p = layer_path (f, "bin/busybox");
  assert_true (getxattr (p, "trusted.box-link", value, sizeof value) < 0);
  free (p);
  assert_int_equal (stats.hardlinks, 1);
  assert_int_equal (stats.symlinks, 4);
}

static void
check_long_names (fixture *f, int format)
{
  char component[201];
  memset (component, 'n', 200);
  component[200] = '\0';
  char dir[512], file[768], link[768];
  snprintf (dir, sizeof dir, "deep/%s", component);
  snprintf (file, sizeof file, "%s/%s.txt", dir, component);
  snprintf (link, sizeof link, "%s/link-%s", dir, component);
  tar_builder b;
  tar_begin (&b, format);
  tar_dir (&b, "deep", 0755);
  tar_dir (&b, dir, 0755);
  tar_file (&b, file, "long");
  tar_symlink (&b, link, file); /* a long target too */
  tar_hardlink (&b, "short", file);
  tar_end (&b);
  unpack_ok (f, &b, NULL);
  free (b.data);
  char *content = read_in (f, file);
  assert_string_equal (content, "long");
  free (content);
  assert_int_equal (lstat_in (f, "short").st_ino, lstat_in (f, file).st_ino);
  assert_true (S_ISLNK (lstat_in (f, link).st_mode));
}

static void
test_long_names_pax (void **state)
{
  check_long_names (*state, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
}

static void
test_long_names_gnu (void **state)
{
  check_long_names (*state, ARCHIVE_FORMAT_TAR_GNUTAR);
}

static void
test_sparse_file (void **state)
{
  fixture *f = *state;
  /* GNU tar writes the sparse map; build the file and the tar with the real tool */
  char *cmd = NULL;
  assert_true (asprintf (&cmd,
                         "cd %s && truncate -s 10M sparse && printf data | dd of=sparse bs=1 "
                         "seek=5000000 conv=notrunc status=none && tar --sparse --format=gnu -cf "
                         "sparse.tar sparse",
                         f->dir)
               > 0);
  assert_int_equal (system (cmd), 0);
  free (cmd);
  char *tar_path = NULL;
  assert_true (asprintf (&tar_path, "%s/sparse.tar", f->dir) > 0);
  int fd = open (tar_path, O_RDONLY | O_CLOEXEC);
  assert_true (fd >= 0);
  decompress_reader *r = NULL;
  box_error *err = NULL;
  assert_ok (decompress_reader_new_fd (NULL, fd, &r, &err), err);
  layer_unpack_stats stats;
  assert_ok (layer_unpack (f->layer_fd, decompress_reader_read, r, NULL, &stats, &err), err);
  decompress_reader_free (r);
  close (fd);
  free (tar_path);
  struct stat st = lstat_in (f, "sparse");
  assert_int_equal (st.st_size, 10 * 1024 * 1024);
  assert_true (st.st_blocks * 512 < 1024 * 1024); /* holes stayed holes */
  char *p = layer_path (f, "sparse");
  int sfd = open (p, O_RDONLY | O_CLOEXEC);
  char buf[4];
  assert_int_equal (pread (sfd, buf, 4, 5000000), 4);
  assert_memory_equal (buf, "data", 4);
  close (sfd);
  free (p);
}

static void
test_whiteouts (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_dir (&b, "etc", 0755);
  tar_file (&b, "etc/.wh.motd", "");
  tar_dir (&b, "var/cache", 0755);
  tar_file (&b, "var/cache/.wh..wh..opq", "");
  tar_file (&b, "var/cache/new", "fresh");
  tar_file (&b, ".wh..wh.plnk", "");     /* aufs metadata: skipped */
  tar_file (&b, "opt/.wh..wh..opq", ""); /* parent not listed: created */
  tar_end (&b);
  layer_unpack_stats stats;
  unpack_ok (f, &b, &stats);
  free (b.data);

  struct stat st = lstat_in (f, "etc/motd");
  assert_true (S_ISCHR (st.st_mode));
  assert_int_equal (major (st.st_rdev), 0);
  assert_int_equal (minor (st.st_rdev), 0);
  assert_false (exists_in (f, "etc/.wh.motd"));
  assert_false (exists_in (f, ".wh..wh.plnk"));
  assert_false (exists_in (f, "var/cache/.wh..wh..opq"));
  char value[8];
  char *p = layer_path (f, "var/cache");
  assert_int_equal (getxattr (p, "trusted.overlay.opaque", value, sizeof value), 1);
  assert_int_equal (value[0], 'y');
  free (p);
  p = layer_path (f, "opt");
  assert_int_equal (getxattr (p, "trusted.overlay.opaque", value, sizeof value), 1);
  free (p);
  assert_int_equal (stats.whiteouts, 1);
  assert_int_equal (stats.opaque_directories, 2);
}

static void
test_later_entries_replace_earlier (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, "a", "first");
  tar_file (&b, "a", "second");
  tar_dir (&b, "d", 0755);
  tar_file (&b, "d/x", "x");
  tar_file (&b, "d", "now a file");
  tar_file (&b, "f", "file");
  tar_dir (&b, "f", 0700);
  tar_file (&b, "f/y", "y");
  tar_end (&b);
  unpack_ok (f, &b, NULL);
  free (b.data);
  char *c = read_in (f, "a");
  assert_string_equal (c, "second");
  free (c);
  c = read_in (f, "d");
  assert_string_equal (c, "now a file");
  free (c);
  assert_true (S_ISDIR (lstat_in (f, "f").st_mode));
  assert_true (exists_in (f, "f/y"));
}

static void
test_device_nodes (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  struct archive_entry *e = tar_entry ("dev/null", AE_IFCHR, 0666);
  archive_entry_set_rdevmajor (e, 1);
  archive_entry_set_rdevminor (e, 3);
  tar_write (&b, e, NULL, 0);
  tar_end (&b);

  layer_unpack_options reject = LAYER_UNPACK_OPTIONS_INIT;
  reject.devices = LAYER_DEVICES_REJECT;
  expect_rejected (f, &b, &reject, "entry dev/null: device nodes are not allowed");

  if (geteuid () == 0)
    {
      unpack_ok (f, &b, NULL);
      struct stat st = lstat_in (f, "dev/null");
      assert_true (S_ISCHR (st.st_mode));
      assert_int_equal (st.st_rdev, makedev (1, 3));
      assert_int_equal (st.st_mode & 07777, 0666);
    }
  free (b.data);
}

/* ---- tests: escapes ---- */

static void
test_dotdot_is_rejected (void **state)
{
  fixture *f = *state;
  const char *paths[]
      = { "../outside/evil", "a/../../outside/evil", "a/b/../../../outside/evil", "./..", "x/.." };
  for (size_t i = 0; i < ARRAY_SIZE (paths); i++)
    {
      tar_builder b;
      tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
      tar_file (&b, paths[i], "pwned");
      tar_end (&b);
      char needle[128];
      snprintf (needle, sizeof needle, "entry %s: path contains a \"..\" component", paths[i]);
      expect_rejected (f, &b, NULL, needle);
      free (b.data);
    }
}

static void
test_absolute_path_stays_inside (void **state)
{
  fixture *f = *state;
  char abs[512];
  snprintf (abs, sizeof abs, "%s/evil", f->outside);
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, abs, "pwned");
  tar_end (&b);
  unpack_ok (f, &b, NULL);
  free (b.data);
  assert_int_equal (count_entries (f->outside), 0);
  assert_true (exists_in (f, abs + 1));
}

static void
test_write_through_symlink_is_rejected (void **state)
{
  fixture *f = *state;
  const char *targets[] = { f->outside, "../outside", "/", "." };
  for (size_t i = 0; i < ARRAY_SIZE (targets); i++)
    {
      tar_builder b;
      tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
      tar_symlink (&b, "link", targets[i]);
      tar_file (&b, "link/evil", "pwned");
      tar_end (&b);
      expect_rejected (f, &b, NULL, "entry link/evil: refusing to write through a symlink");
      free (b.data);
    }
}

static void
test_symlink_replacing_directory_is_not_followed (void **state)
{
  fixture *f = *state;
  /* the directory was the cached parent: the cache must not outlive it */
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_dir (&b, "d", 0755);
  tar_file (&b, "d/a", "a");
  tar_symlink (&b, "d", f->outside);
  tar_file (&b, "d/evil", "pwned");
  tar_end (&b);
  expect_rejected (f, &b, NULL, "entry d/evil: refusing to write through a symlink");
  free (b.data);
}

static void
test_symlink_in_deeper_parent_is_rejected (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_dir (&b, "a", 0755);
  tar_symlink (&b, "a/b", "../../outside");
  tar_file (&b, "a/b/c/evil", "pwned");
  tar_end (&b);
  expect_rejected (f, &b, NULL, "entry a/b/c/evil: refusing to write through a symlink");
  free (b.data);
}

static void
test_file_as_parent_is_rejected (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, "plain", "x");
  tar_file (&b, "plain/child", "y");
  tar_end (&b);
  expect_rejected (f, &b, NULL, "entry plain/child: plain is not a directory");
  free (b.data);
}

static void
test_hardlink_escapes_are_rejected (void **state)
{
  fixture *f = *state;
  /* a real file outside that a hostile link would expose */
  char secret[512];
  snprintf (secret, sizeof secret, "%s/secret", f->dir);
  FILE *fp = fopen (secret, "we");
  fputs ("secret", fp);
  fclose (fp);

  struct {
    const char *target;
    const char *needle;
  } cases[] = {
    { "../secret", "entry h: hardlink target: path contains a \"..\" component" },
    { "missing", "entry h: hardlink target missing does not exist in the layer" },
    { "nodir/missing", "entry h: hardlink target nodir/missing does not exist in the layer" },
    { "l/secret", "entry h: refusing to write through a symlink in l" },
    { "h", "entry h: hardlink to itself" },
    { "d", "entry h: hardlink to a directory" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      tar_builder b;
      tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
      tar_symlink (&b, "l", f->dir);
      tar_dir (&b, "d", 0755);
      tar_hardlink (&b, "h", cases[i].target);
      tar_end (&b);
      expect_rejected (f, &b, NULL, cases[i].needle);
      free (b.data);
    }
  /* an absolute target is inside the layer, like an absolute path */
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_hardlink (&b, "h", secret);
  tar_end (&b);
  char needle[600];
  snprintf (needle, sizeof needle, "hardlink target %s does not exist in the layer", secret);
  expect_rejected (f, &b, NULL, needle);
  free (b.data);
  struct stat st;
  assert_int_equal (stat (secret, &st), 0);
  assert_int_equal (st.st_nlink, 1);
}

static void
test_sizes_and_counts_are_bounded (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, "small", "0123456789");
  tar_file (&b, "big", "0123456789012345678901234567890123456789");
  tar_end (&b);
  layer_unpack_options opts = LAYER_UNPACK_OPTIONS_INIT;
  opts.max_entry_size = 20;
  expect_rejected (f, &b, &opts, "entry big: size 40 exceeds the limit of 20 bytes");
  opts = (layer_unpack_options) LAYER_UNPACK_OPTIONS_INIT;
  opts.max_total_size = 45;
  expect_rejected (f, &b, &opts, "entry big: the layer's file data exceeds the limit");
  opts = (layer_unpack_options) LAYER_UNPACK_OPTIONS_INIT;
  opts.max_entries = 1;
  expect_rejected (f, &b, &opts, "more than 1 entries");
  free (b.data);

  /* a header claiming an absurd size (octal 77777777777 = 8 GiB, beyond the default limit) */
  tar_begin (&b, ARCHIVE_FORMAT_TAR_USTAR);
  tar_file (&b, "huge", "x");
  tar_end (&b);
  memcpy (b.data + 124, "77777777777", 11);
  unsigned sum = 0;
  memset (b.data + 148, ' ', 8);
  for (int i = 0; i < 512; i++)
    sum += b.data[i];
  snprintf ((char *) b.data + 148, 8, "%06o", sum);
  opts = (layer_unpack_options) LAYER_UNPACK_OPTIONS_INIT;
  opts.max_entry_size = 1 << 30;
  expect_rejected (f, &b, &opts, "entry huge: size 8589934591 exceeds the limit");
  free (b.data);
}

static void
test_root_cannot_be_replaced (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_symlink (&b, "./", f->outside);
  tar_end (&b);
  expect_rejected (f, &b, NULL, "entry ./: only a directory may be the layer root");
  free (b.data);
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, ".wh..", "");
  tar_end (&b);
  expect_rejected (f, &b, NULL, "entry .wh..: invalid whiteout name");
  free (b.data);
}

static void
test_truncated_and_garbage_tars_fail (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  char big[5000];
  memset (big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  tar_file (&b, "file", big);
  tar_end (&b);
  b.len = 512 + 2000; /* inside the data */
  expect_rejected (f, &b, NULL, "entry file: read data");
  free (b.data);
  tar_builder junk = { 0 };
  junk.data = calloc (1, 1024);
  memset (junk.data, 'j', 1024);
  junk.len = 1024;
  expect_rejected (f, &junk, NULL, "layer tar");
  free (junk.data);
}

/* ---- the push adapter and the whole pipeline ---- */

static void
make_realistic_tar (tar_builder *b, size_t files)
{
  tar_begin (b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  char path[64], content[3000];
  for (size_t i = 0; i < files; i++)
    {
      if (i % 50 == 0)
        {
          snprintf (path, sizeof path, "dir%zu", i / 50);
          tar_dir (b, path, 0755);
        }
      snprintf (path, sizeof path, "dir%zu/file%zu", i / 50, i);
      size_t len = (i * 37) % sizeof content;
      memset (content, 'a' + (int) (i % 26), len);
      content[len] = '\0';
      tar_file (b, path, content);
    }
  tar_end (b);
}

static void
test_job_unpacks_fed_bytes (void **state)
{
  fixture *f = *state;
  tar_builder b;
  make_realistic_tar (&b, 400);
  /* gzip it, and feed the decompressor's output into the job, as the pull pipeline does */
  uLongf gz_cap = compressBound (b.len) + 64;
  unsigned char *gz = malloc (gz_cap);
  z_stream z = { 0 };
  deflateInit2 (&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = b.data;
  z.avail_in = (uInt) b.len;
  z.next_out = gz;
  z.avail_out = (uInt) gz_cap;
  assert_int_equal (deflate (&z, Z_FINISH), Z_STREAM_END);
  size_t gz_len = gz_cap - z.avail_out;
  deflateEnd (&z);
  /* bytes after the tar end marker are accepted and dropped */
  static const unsigned char padding[10000];

  box_error *err = NULL;
  layer_unpack_job *job = NULL;
  layer_unpack_options uopts = LAYER_UNPACK_OPTIONS_INIT;
  uopts.digest_stream = true;
  assert_ok (layer_unpack_job_start (f->layer_fd, &uopts, &job, &err), err);
  decompressor *d = NULL;
  assert_ok (decompressor_new (NULL, layer_unpack_job_write, job, &d, &err), err);
  for (size_t off = 0; off < gz_len; off += 3001)
    assert_ok (decompressor_feed (d, gz + off, gz_len - off < 3001 ? gz_len - off : 3001, &err),
               err);
  decompress_result result;
  assert_ok (decompressor_finish (d, &result, &err), err);
  assert_ok (layer_unpack_job_write (job, padding, sizeof padding, &err), err);
  layer_unpack_stats stats;
  assert_ok (layer_unpack_job_finish (job, &stats, &err), err);
  layer_unpack_job_free (job);
  decompressor_free (d);
  assert_int_equal (stats.regular_files, 400);
  assert_int_equal (stats.directories, 8);
  assert_int_equal (result.uncompressed_size, b.len);
  /* the job hashed everything it was given, the bytes after the tar end included */
  unsigned char *whole = malloc (b.len + sizeof padding);
  memcpy (whole, b.data, b.len);
  memcpy (whole + b.len, padding, sizeof padding);
  char want[DIGEST_STRING_MAX];
  assert_ok (digest_sha256_buffer (whole, b.len + sizeof padding, want, &err), err);
  free (whole);
  assert_string_equal (stats.stream_digest, want);
  assert_int_equal (stats.stream_size, b.len + sizeof padding);
  char *c = read_in (f, "dir7/file399");
  assert_int_equal (strlen (c), (399 * 37) % 3000);
  free (c);
  free (gz);
  free (b.data);
}

static void
test_job_reports_rejection (void **state)
{
  fixture *f = *state;
  tar_builder b;
  tar_begin (&b, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_file (&b, "../evil", "x");
  tar_end (&b);
  /* enough bytes after it that the producer sees the failure while writing */
  size_t total = 8 << 20;
  unsigned char *stream = calloc (1, total);
  memcpy (stream, b.data, b.len);
  box_error *err = NULL;
  layer_unpack_job *job = NULL;
  assert_ok (layer_unpack_job_start (f->layer_fd, NULL, &job, &err), err);
  int rc = 0;
  for (size_t off = 0; off < total && rc >= 0; off += 65536)
    rc = layer_unpack_job_write (job, stream + off, 65536, &err);
  assert_true (rc < 0);
  assert_non_null (strstr (box_error_message (err), "entry ../evil"));
  box_error_free (err);
  err = NULL;
  assert_true (layer_unpack_job_finish (job, NULL, &err) < 0);
  assert_non_null (strstr (box_error_message (err), "entry ../evil"));
  box_error_free (err);
  layer_unpack_job_free (job);
  assert_int_equal (count_entries (f->outside), 0);
  free (stream);
  free (b.data);
}

static void
test_job_abort_without_finish (void **state)
{
  fixture *f = *state;
  tar_builder b;
  make_realistic_tar (&b, 100);
  box_error *err = NULL;
  layer_unpack_job *job = NULL;
  assert_ok (layer_unpack_job_start (f->layer_fd, NULL, &job, &err), err);
  assert_ok (layer_unpack_job_write (job, b.data, b.len / 2, &err), err);
  layer_unpack_job_free (job); /* must not hang or leak */
  free (b.data);
}

static void
test_read_error_is_reported (void **state)
{
  fixture *f = *state;
  /* a corrupt gzip stream under the tar: the decompressor's error comes out of layer_unpack */
  tar_builder b;
  make_realistic_tar (&b, 200);
  uLongf gz_cap = compressBound (b.len) + 64;
  unsigned char *gz = malloc (gz_cap);
  z_stream z = { 0 };
  deflateInit2 (&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = b.data;
  z.avail_in = (uInt) b.len;
  z.next_out = gz;
  z.avail_out = (uInt) gz_cap;
  deflate (&z, Z_FINISH);
  size_t gz_len = gz_cap - z.avail_out;
  deflateEnd (&z);
  gz[gz_len - 6] ^= 0xff; /* CRC */
  memory_source src = { gz, gz_len, 0, 4096 };
  decompress_reader *r = NULL;
  box_error *err = NULL;
  assert_ok (decompress_reader_new (NULL, memory_read, &src, &r, &err), err);
  int rc = layer_unpack (f->layer_fd, decompress_reader_read, r, NULL, NULL, &err);
  if (rc >= 0) /* the tar may end before the trailer is read: finishing checks it */
    rc = decompress_reader_finish (r, NULL, &err);
  assert_true (rc < 0);
  assert_non_null (strstr (box_error_message (err), "CRC or size mismatch")
                       ? box_error_message (err)
                       : strstr (box_error_message (err), "incorrect data check"));
  box_error_free (err);
  decompress_reader_free (r);
  free (gz);
  free (b.data);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_tree_modes_owners_times, setup, teardown),
    cmocka_unit_test_setup_teardown (test_links_and_xattrs, setup, teardown),
    cmocka_unit_test_setup_teardown (test_long_names_pax, setup, teardown),
    cmocka_unit_test_setup_teardown (test_long_names_gnu, setup, teardown),
    cmocka_unit_test_setup_teardown (test_sparse_file, setup, teardown),
    cmocka_unit_test_setup_teardown (test_whiteouts, setup, teardown),
    cmocka_unit_test_setup_teardown (test_later_entries_replace_earlier, setup, teardown),
    cmocka_unit_test_setup_teardown (test_device_nodes, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dotdot_is_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown (test_absolute_path_stays_inside, setup, teardown),
    cmocka_unit_test_setup_teardown (test_write_through_symlink_is_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown (test_symlink_replacing_directory_is_not_followed, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_symlink_in_deeper_parent_is_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown (test_file_as_parent_is_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown (test_hardlink_escapes_are_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown (test_sizes_and_counts_are_bounded, setup, teardown),
    cmocka_unit_test_setup_teardown (test_root_cannot_be_replaced, setup, teardown),
    cmocka_unit_test_setup_teardown (test_truncated_and_garbage_tars_fail, setup, teardown),
    cmocka_unit_test_setup_teardown (test_job_unpacks_fed_bytes, setup, teardown),
    cmocka_unit_test_setup_teardown (test_job_reports_rejection, setup, teardown),
    cmocka_unit_test_setup_teardown (test_job_abort_without_finish, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_error_is_reported, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
