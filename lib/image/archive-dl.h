/* libarchive, loaded on first use (see util/dynload.h for why). Include after <archive.h>
 * and <archive_entry.h> in the files that call libarchive: the names below then go through
 * the table. archive_read_new() loads the library first and returns NULL (as it does when
 * out of memory) when it cannot be loaded; everything else takes what it made. */
#ifndef BOX_IMAGE_ARCHIVE_DL_H
#define BOX_IMAGE_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>

#define BOX_ARCHIVE_FUNCTIONS(X)                                                                   \
  X (archive_entry_atime)                                                                          \
  X (archive_entry_atime_is_set)                                                                   \
  X (archive_entry_atime_nsec)                                                                     \
  X (archive_entry_filetype)                                                                       \
  X (archive_entry_gid)                                                                            \
  X (archive_entry_hardlink)                                                                       \
  X (archive_entry_mtime)                                                                          \
  X (archive_entry_mtime_nsec)                                                                     \
  X (archive_entry_pathname)                                                                       \
  X (archive_entry_perm)                                                                           \
  X (archive_entry_rdevmajor)                                                                      \
  X (archive_entry_rdevminor)                                                                      \
  X (archive_entry_size)                                                                           \
  X (archive_entry_size_is_set)                                                                    \
  X (archive_entry_symlink)                                                                        \
  X (archive_entry_uid)                                                                            \
  X (archive_entry_xattr_next)                                                                     \
  X (archive_entry_xattr_reset)                                                                    \
  X (archive_error_string)                                                                         \
  X (archive_read_data_block)                                                                      \
  X (archive_read_free)                                                                            \
  X (archive_read_new)                                                                             \
  X (archive_read_next_header)                                                                     \
  X (archive_read_open)                                                                            \
  X (archive_read_open2)                                                                           \
  X (archive_read_support_format_tar)                                                              \
  X (archive_set_error)

typedef struct box_archive_api {
#define BOX_ARCHIVE_SLOT(name) __typeof__ (&name) name;
  BOX_ARCHIVE_FUNCTIONS (BOX_ARCHIVE_SLOT)
#undef BOX_ARCHIVE_SLOT
} box_archive_api;

extern box_archive_api box_archive;

/* Loads libarchive once (thread-safe); false when it cannot be loaded. */
bool box_archive_load (void);

#define archive_read_new() (box_archive_load () ? box_archive.archive_read_new () : NULL)
#define archive_entry_atime (box_archive.archive_entry_atime)
#define archive_entry_atime_is_set (box_archive.archive_entry_atime_is_set)
#define archive_entry_atime_nsec (box_archive.archive_entry_atime_nsec)
#define archive_entry_filetype (box_archive.archive_entry_filetype)
#define archive_entry_gid (box_archive.archive_entry_gid)
#define archive_entry_hardlink (box_archive.archive_entry_hardlink)
#define archive_entry_mtime (box_archive.archive_entry_mtime)
#define archive_entry_mtime_nsec (box_archive.archive_entry_mtime_nsec)
#define archive_entry_pathname (box_archive.archive_entry_pathname)
#define archive_entry_perm (box_archive.archive_entry_perm)
#define archive_entry_rdevmajor (box_archive.archive_entry_rdevmajor)
#define archive_entry_rdevminor (box_archive.archive_entry_rdevminor)
#define archive_entry_size (box_archive.archive_entry_size)
#define archive_entry_size_is_set (box_archive.archive_entry_size_is_set)
#define archive_entry_symlink (box_archive.archive_entry_symlink)
#define archive_entry_uid (box_archive.archive_entry_uid)
#define archive_entry_xattr_next (box_archive.archive_entry_xattr_next)
#define archive_entry_xattr_reset (box_archive.archive_entry_xattr_reset)
#define archive_error_string (box_archive.archive_error_string)
#define archive_read_data_block (box_archive.archive_read_data_block)
#define archive_read_free (box_archive.archive_read_free)
#define archive_read_next_header (box_archive.archive_read_next_header)
#define archive_read_open (box_archive.archive_read_open)
#define archive_read_open2 (box_archive.archive_read_open2)
#define archive_read_support_format_tar (box_archive.archive_read_support_format_tar)
#define archive_set_error (box_archive.archive_set_error)

#endif
