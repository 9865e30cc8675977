/* Helpers shared by the unit tests: temporary state directories and engines. */
#ifndef BOX_TEST_UNIT_H
#define BOX_TEST_UNIT_H

#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "box/box.h"

/* A fresh directory under $TMPDIR; free() the result after unit_remove_tree(). */
char *unit_make_temp_dir (void);
void unit_remove_tree (const char *path);

/* Opens an engine on root (box_engine_open with only the root set). */
int unit_engine_open_at (const char *root, box_engine **out, box_error **err);

/* Ends one pass of a fault test's workload: a failure (rc < 0) must have come with an error
 * message. Frees err, closes eng (may be NULL), returns rc. */
int unit_fault_pass_finish (box_engine *eng, box_error *err, int rc);

/* Opens an engine on a fresh state directory, failing the test on error. */
box_engine *unit_open_engine (char **out_root);
void unit_close_engine (box_engine *eng, char *root);

/* Creates a box with opts, failing the test on error; returns its id (free() it). */
char *unit_create_box (box_engine *eng, const box_box_create_options *opts);

/* A test's engine on its own fresh state directory, as a cmocka fixture:
 * cmocka_unit_test_setup_teardown (fn, unit_engine_setup, unit_engine_teardown) hands the
 * test a unit_engine_fixture in *state. */
typedef struct unit_engine_fixture {
  box_engine *eng;
  char *root;
} unit_engine_fixture;

int unit_engine_setup (void **state);
int unit_engine_teardown (void **state);

/* Fails the test with the error's message when rc < 0. */
#define assert_ok(rc, err)                                                                         \
  do                                                                                               \
    {                                                                                              \
      if ((rc) < 0)                                                                                \
        fail_msg ("%s", box_error_message (err));                                                  \
    }                                                                                              \
  while (0)

#endif
