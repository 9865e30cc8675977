/* Recording how a run ended when its monitor is gone (engine_box_mark_dead), from every
 * caller's position: with or without the box's intent lock held; which box_run_options
 * versions box_box_create takes, and its checks of the attached streams. */
#include "unit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/lifecycle.h"
#include "store/boxes.h"

static int
setup (void **state)
{
  unit_engine_setup (state);
  /* a lock that waits on itself is a hang: make it a failure */
  alarm (20);
  return 0;
}

static int
teardown (void **state)
{
  alarm (0);
  return unit_engine_teardown (state);
}

/* A box recorded as running whose monitor (pid 0) is not alive. */
static char *
create_running_box (box_engine *eng, bool auto_remove)
{
  box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
  opts.image = "img";
  opts.config_json = auto_remove ? "{\"HostConfig\":{\"AutoRemove\":true}}" : "{}";
  char *id = unit_create_box (eng, &opts);
  store_box_state_update update = { .state = BOX_STATE_RUNNING, .pid = 1, .started_ns = 5 };
  box_error *err = NULL;
  int rc = store_box_set_state (eng->store, id, &update, &err);
  assert_ok (rc, err);
  return id;
}

/* Takes the box's intent lock, as a start does; returns the lock's fd. */
static int
take_intent (unit_engine_fixture *f, const char *id)
{
  box_error *err = NULL;
  int intent_fd = -1;
  int rc = engine_intent_lock (f->root, id, true, &intent_fd, &err);
  assert_ok (rc, err);
  return intent_fd;
}

static void
assert_gone (box_engine *eng, const char *id)
{
  box_box *box = NULL;
  box_error *err = NULL;
  assert_int_equal (store_box_get_by_id (eng->store, id, &box, &err), 0);
}

static void
test_dead_box_is_recorded_exited_255 (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_running_box (f->eng, false);
  box_error *err = NULL;
  int rc = engine_box_mark_dead (f->eng, id, "the box's monitor died", false, &err);
  assert_ok (rc, err);
  box_box *box = NULL;
  assert_int_equal (store_box_get_by_id (f->eng->store, id, &box, &err), 1);
  assert_int_equal (box->state, BOX_STATE_EXITED);
  assert_int_equal (box->exit_code, 255);
  box_box_free (box);
  free (id);
}

static void
test_dead_auto_remove_box_is_removed (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_running_box (f->eng, true);
  box_error *err = NULL;
  int rc = engine_box_mark_dead (f->eng, id, "the box's monitor died", false, &err);
  assert_ok (rc, err);
  assert_gone (f->eng, id);
  free (id);
}

/* A start whose monitor died after recording the box running holds the intent lock while
 * it cleans up; removing an --rm box must not wait for that same lock (it used to, forever). */
static void
test_dead_auto_remove_box_under_a_held_intent (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_running_box (f->eng, true);
  int intent_fd = take_intent (f, id);
  box_error *err = NULL;
  int rc
      = engine_box_mark_dead (f->eng, id, "the box's monitor died while starting it", true, &err);
  assert_ok (rc, err);
  assert_gone (f->eng, id);
  engine_intent_done (f->root, id, intent_fd);
  free (id);
}

/* The same, found by reconcile: an intent nobody holds, of a running --rm box whose
 * monitor is gone. The next open finishes it. */
static void
test_reconcile_removes_dead_auto_remove_box (void **state)
{
  unit_engine_fixture *f = *state;
  char *id = create_running_box (f->eng, true);
  close (take_intent (f, id)); /* its holder died: the file stays, unheld */
  box_error *err = NULL;
  int rc = engine_reconcile (f->eng, &err);
  assert_ok (rc, err);
  assert_gone (f->eng, id);
  char path[4096];
  snprintf (path, sizeof path, "%s/" ENGINE_INTENTS_DIR "/%s", f->root, id);
  assert_int_not_equal (access (path, F_OK), 0);
  free (id);
}

/* box_run_options version 3 appended `detach`: older callers are still served (their
 * struct is not read past its end), unknown versions are refused before anything happens */
static void
test_run_options_versions (void **state)
{
  unit_engine_fixture *f = *state;
  for (unsigned version = 0; version <= BOX_RUN_OPTIONS_VERSION + 1; version++)
    {
      box_run_options run = BOX_RUN_OPTIONS_INIT;
      run.version = version;
      box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
      opts.image = "no-such-image";
      opts.run = &run;
      box_box *box = NULL;
      box_error *err = NULL;
      int rc = box_box_create (f->eng, &opts, &box, &err);
      assert_null (box);
      bool known = version >= 1 && version <= BOX_RUN_OPTIONS_VERSION;
      /* a known version gets as far as looking the image up */
      assert_int_equal (rc, known ? BOX_E_NOT_FOUND : BOX_E_INVALID);
      if (!known)
        assert_non_null (strstr (box_error_message (err), "unknown version"));
      box_error_free (err);
    }
}

/* -a (version 4): unknown stream bits and -a with -d are refused before anything happens; a
 * version 3 struct has no such field, whatever follows it in memory */
static void
test_run_options_attach_streams (void **state)
{
  unit_engine_fixture *f = *state;
  const struct {
    unsigned version, streams;
    int detach;
    int expected;
    const char *message;
  } cases[] = {
    { 4, 0x8, 0, BOX_E_INVALID, "unknown attach streams 0x8" },
    { 4, BOX_ATTACH_STREAM_STDOUT, 1, BOX_E_INVALID, "Conflicting options: -a and -d" },
    { 4, BOX_ATTACH_STREAM_STDIN | BOX_ATTACH_STREAM_STDERR, 0, BOX_E_NOT_FOUND, NULL },
    { 3, 0xff, 1, BOX_E_NOT_FOUND, NULL },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      box_run_options run = BOX_RUN_OPTIONS_INIT;
      run.version = cases[i].version;
      run.attach_streams = cases[i].streams;
      run.detach = cases[i].detach;
      box_box_create_options opts = BOX_BOX_CREATE_OPTIONS_INIT;
      opts.image = "no-such-image";
      opts.run = &run;
      box_box *box = NULL;
      box_error *err = NULL;
      assert_int_equal (box_box_create (f->eng, &opts, &box, &err), cases[i].expected);
      assert_null (box);
      if (cases[i].message)
        assert_non_null (strstr (box_error_message (err), cases[i].message));
      box_error_free (err);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    T (test_dead_box_is_recorded_exited_255),
    T (test_dead_auto_remove_box_is_removed),
    T (test_dead_auto_remove_box_under_a_held_intent),
    T (test_reconcile_removes_dead_auto_remove_box),
    T (test_run_options_versions),
    T (test_run_options_attach_streams),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
