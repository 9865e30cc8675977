/* Host-side filesystem helpers for the state directory (never for paths inside a rootfs or a
 * layer: those go through the confined helpers of their own modules). */
#ifndef BOX_UTIL_FS_H
#define BOX_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* mkdir -p; existing directories are fine. */
int fs_mkdir_p (const char *path, mode_t mode, box_error **err);

/* Asks the filesystem to place the subdirectories of dir apart from each other, over the
 * whole disk, as it does for the top directories of a hierarchy (ext4's top-directory flag).
 * Best effort: nothing happens where the filesystem has no such notion. */
void fs_spread_subdirectories (const char *dir);

/* Writes data to dirfd/name atomically: a temporary file in the same directory, fsync,
 * rename over name, fsync of the directory. */
int fs_write_file_atomic (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                          box_error **err);

/* The same without the fsyncs: atomic against crashes of processes (readers see the old or
 * the new content), not against power loss. For files that are rebuilt after a reboot
 * anyway (a box's bundle and /etc files). */
int fs_write_file_replace (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                           box_error **err);

/* Creates dirfd/name with data and exactly mode (whatever the umask); an existing name is an
 * error (EEXIST). For files of a directory that is itself new and not yet seen by anyone: no
 * temporary, no rename. */
int fs_write_file_new (int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                       box_error **err);

/* Reads a whole file (NUL-terminated for convenience; *out_len excludes the NUL). */
int fs_read_file (int dirfd, const char *path, char **out, size_t *out_len, box_error **err);
/* The same from an open fd, to its end; what names it in errors. */
int fs_read_fd (int fd, const char *what, char **out, size_t *out_len, box_error **err);

/* write(2) until all of data is written (EINTR retried); -1 with errno on failure. */
int fs_write_all (int fd, const void *data, size_t len);

/* rm -rf of dirfd/name without following symlinks; a missing name is fine. */
int fs_remove_tree (int dirfd, const char *name, box_error **err);

/* Marks every fd from first up close-on-exec (close_range, else one by one): what a process
 * must not hand to the program it execs, whatever its caller left open without the flag.
 * Makes system calls only: safe in a child that shares its parent's memory. */
void fs_cloexec_from (int first);

#endif
