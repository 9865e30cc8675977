/* Staging entries: temporary files and directories (".tmp-<random>") that become real only by
 * an atomic rename. Their creator holds an exclusive flock on them for as long as it works, so
 * a sweep (on engine open) removes exactly the ones whose creator is gone, even while other
 * processes are writing in the same directory. */
#ifndef BOX_IMAGE_STAGING_H
#define BOX_IMAGE_STAGING_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

#define STAGING_PREFIX ".tmp-"
#define STAGING_NAME_MAX 32

/* Creates dirfd/.tmp-<random> as a regular file (mode) opened O_RDWR, locked. */
int staging_create_file (int dirfd, mode_t mode, char name[STAGING_NAME_MAX], int *out_fd,
                         box_error **err);

/* Creates dirfd/.tmp-<random> as a directory (mode) opened O_RDONLY|O_DIRECTORY, locked. */
int staging_create_directory (int dirfd, mode_t mode, char name[STAGING_NAME_MAX], int *out_fd,
                              box_error **err);

/* Renames a live staging directory out of the way to a fresh staging name and removes it:
 * what is being removed is never visible under its real name half-removed. */
int staging_remove_directory (int dirfd, const char *name, box_error **err);

/* Removes every staging entry of dirfd that no live process holds. */
int staging_sweep (int dirfd, box_error **err);

bool staging_is_name (const char *name);

#endif
