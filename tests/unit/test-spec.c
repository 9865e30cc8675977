/* config.json building and parsing: docker's defaults, capability arithmetic, seccomp profile
 * translation, resources, and the parser's errors. */
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>

#include "linux/caps.h"
#include "runtime/seccomp-bpf.h"
#include "runtime/seccomp-profile.h"
#include "runtime/spec.h"
#include "runtime/user.h"
#include "util/json.h"

static const char *const true_args[] = { "/bin/true", NULL };

static json_t *
build (const spec_options *opts)
{
  json_t *config = NULL;
  box_error *err = NULL;
  int rc = spec_build (opts, &config, &err);
  assert_ok (rc, err);
  return config;
}

static oci_config *
round_trip (const spec_options *opts)
{
  json_t *config = build (opts);
  char *text = json_dumps (config, JSON_COMPACT);
  json_decref (config);
  oci_config *parsed = NULL;
  box_error *err = NULL;
  int rc = spec_parse (text, strlen (text), &parsed, &err);
  free (text);
  assert_ok (rc, err);
  return parsed;
}

/* Is the syscall allowed by some rule without argument conditions? */
static bool
seccomp_allows (const json_t *seccomp, const char *name)
{
  size_t i;
  json_t *rule;
  json_array_foreach (json_object_get (seccomp, "syscalls"), i, rule)
  {
    if (strcmp (json_string_value (json_object_get (rule, "action")), "SCMP_ACT_ALLOW") != 0
        || json_object_get (rule, "args"))
      continue;
    size_t k;
    json_t *n;
    json_array_foreach (json_object_get (rule, "names"), k,
                        n) if (strcmp (json_string_value (n), name) == 0) return true;
  }
  return false;
}

static bool
seccomp_mentions (const json_t *seccomp, const char *name)
{
  size_t i;
  json_t *rule;
  json_array_foreach (json_object_get (seccomp, "syscalls"), i, rule)
  {
    size_t k;
    json_t *n;
    json_array_foreach (json_object_get (rule, "names"), k,
                        n) if (strcmp (json_string_value (n), name) == 0) return true;
  }
  return false;
}

static const json_t *
find_mount (const json_t *config, const char *destination)
{
  size_t i;
  json_t *m;
  json_array_foreach (
      json_object_get (config, "mounts"), i,
      m) if (strcmp (json_string_value (json_object_get (m, "destination")), destination)
             == 0) return m;
  return NULL;
}

static bool
mount_has_option (const json_t *m, const char *option)
{
  size_t i;
  json_t *o;
  json_array_foreach (json_object_get (m, "options"), i,
                      o) if (strcmp (json_string_value (o), option) == 0) return true;
  return false;
}

static void
test_docker_defaults (void **state)
{
  spec_options opts = { .args = true_args, .rootfs = "rootfs" };
  json_t *config = build (&opts);
  assert_string_equal (json_string_value (json_object_get (config, "ociVersion")), "1.0.2");

  const json_t *pts = find_mount (config, "/dev/pts");
  assert_non_null (pts);
  assert_true (mount_has_option (pts, "newinstance"));
  assert_true (mount_has_option (pts, "ptmxmode=0666"));
  assert_true (mount_has_option (pts, "gid=5"));
  assert_true (mount_has_option (find_mount (config, "/sys"), "ro"));
  assert_non_null (find_mount (config, "/proc"));
  assert_non_null (find_mount (config, "/dev/shm"));
  assert_non_null (find_mount (config, "/dev/mqueue"));
  assert_non_null (find_mount (config, "/dev"));

  const json_t *process = json_object_get (config, "process");
  const json_t *env = json_object_get (process, "env");
  assert_string_equal (json_string_value (json_array_get (env, 0)), SPEC_DEFAULT_PATH);
  assert_string_equal (json_string_value (json_object_get (process, "cwd")), "/");
  const json_t *bounding = json_object_get (json_object_get (process, "capabilities"), "bounding");
  assert_int_equal (json_array_size (bounding), 14);
  assert_int_equal (
      json_array_size (json_object_get (json_object_get (process, "capabilities"), "inheritable")),
      0);

  const json_t *linux_obj = json_object_get (config, "linux");
  assert_int_equal (json_array_size (json_object_get (linux_obj, "maskedPaths")), 11);
  assert_int_equal (json_array_size (json_object_get (linux_obj, "readonlyPaths")), 5);
  assert_int_equal (json_array_size (json_object_get (linux_obj, "namespaces")), 6);

  const json_t *seccomp = json_object_get (linux_obj, "seccomp");
  assert_non_null (seccomp);
  assert_string_equal (json_string_value (json_object_get (seccomp, "defaultAction")),
                       "SCMP_ACT_ERRNO");
  assert_true (seccomp_allows (seccomp, "read"));
  assert_true (seccomp_allows (seccomp, "execve"));
  assert_false (seccomp_mentions (seccomp, "unshare"));
  assert_false (seccomp_mentions (seccomp, "keyctl"));
  assert_false (seccomp_mentions (seccomp, "add_key"));
  assert_false (seccomp_mentions (seccomp, "mount"));
  assert_false (seccomp_mentions (seccomp, "kexec_load"));
  assert_false (seccomp_allows (seccomp, "bpf"));
  /* clone only with an argument condition; clone3 answers ENOSYS */
  assert_false (seccomp_allows (seccomp, "clone"));
  assert_true (seccomp_mentions (seccomp, "clone"));
  assert_true (seccomp_mentions (seccomp, "clone3"));
  json_decref (config);
}

static void
test_caps_arithmetic (void **state)
{
  const char *const add_admin[] = { "SYS_ADMIN", NULL };
  spec_options opts = { .args = true_args, .rootfs = "rootfs", .cap_add = add_admin };
  oci_config *c = round_trip (&opts);
  assert_true (c->process.cap_effective & (UINT64_C (1) << CAP_SYS_ADMIN));
  assert_true (c->process.cap_bounding & (UINT64_C (1) << CAP_CHOWN));
  oci_config_free (c);

  json_t *config = build (&opts);
  const json_t *seccomp = json_object_get (json_object_get (config, "linux"), "seccomp");
  assert_true (seccomp_allows (seccomp, "unshare"));
  assert_true (seccomp_allows (seccomp, "mount"));
  assert_false (seccomp_mentions (seccomp, "keyctl"));
  json_decref (config);

  const char *const drop_all[] = { "ALL", NULL };
  const char *const add_raw[] = { "cap_net_raw", NULL };
  spec_options minimal
      = { .args = true_args, .rootfs = "r", .cap_drop = drop_all, .cap_add = add_raw };
  c = round_trip (&minimal);
  assert_int_equal (c->process.cap_bounding, UINT64_C (1) << CAP_NET_RAW);
  assert_int_equal (c->process.cap_permitted, UINT64_C (1) << CAP_NET_RAW);
  assert_int_equal (c->process.cap_inheritable, 0);
  oci_config_free (c);

  const char *const drop_chown[] = { "CHOWN", NULL };
  spec_options dropped = { .args = true_args, .rootfs = "r", .cap_drop = drop_chown };
  c = round_trip (&dropped);
  assert_int_equal (c->process.cap_effective,
                    caps_docker_default () & ~(UINT64_C (1) << CAP_CHOWN));
  oci_config_free (c);

  const char *const bogus[] = { "NOT_A_CAP", NULL };
  spec_options bad = { .args = true_args, .rootfs = "r", .cap_add = bogus };
  json_t *out = NULL;
  box_error *err = NULL;
  assert_int_equal (spec_build (&bad, &out, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "NOT_A_CAP"));
  box_error_free (err);
}

static void
test_privileged (void **state)
{
  spec_options opts = { .args = true_args, .rootfs = "rootfs", .privileged = true };
  json_t *config = build (&opts);
  const json_t *linux_obj = json_object_get (config, "linux");
  assert_null (json_object_get (linux_obj, "seccomp"));
  assert_null (json_object_get (linux_obj, "maskedPaths"));
  assert_false (mount_has_option (find_mount (config, "/sys"), "ro"));
  json_decref (config);
  oci_config *c = round_trip (&opts);
  /* every capability the engine itself holds (this machine may lack CAP_SYS_RESOURCE) */
  uint64_t held = 0;
  for (int cap = 0; cap <= CAPS_LAST; cap++)
    if (prctl (PR_CAPBSET_READ, (unsigned long) cap, 0, 0, 0) == 1)
      held |= UINT64_C (1) << cap;
  assert_int_equal (c->process.cap_bounding, caps_all () & held);
  assert_null (c->seccomp);
  assert_null (c->masked_paths[0]);
  oci_config_free (c);

  spec_options unconfined
      = { .args = true_args, .rootfs = "r", .seccomp_mode = SPEC_SECCOMP_UNCONFINED };
  c = round_trip (&unconfined);
  assert_null (c->seccomp);
  assert_non_null (c->masked_paths[0]);
  oci_config_free (c);
}

static void
test_round_trip (void **state)
{
  const char *const args[] = { "/bin/sh", "-c", "echo hi", NULL };
  const char *const env[] = { "PATH=/bin", "A=b=c", NULL };
  const uint32_t gids[] = { 10, 20 };
  const char *const bind_opts[] = { "rbind", "ro", "rprivate", NULL };
  const spec_mount mounts[] = {
    { "/etc/hosts", "bind", "/state/hosts", bind_opts },
    { "/dev/shm", "tmpfs", "shm", (const char *const[]){ "size=1m", NULL } },
  };
  const spec_rlimit rlimits[] = { { "nofile", 100, 200 } };
  const spec_id_map maps[] = { { 0, 100000, 65536 } };
  const char *const sysctl[] = { "net.ipv4.ip_forward=1", NULL };
  spec_options opts = {
    .args = args,
    .env = env,
    .cwd = "/work",
    .uid = 1000,
    .gid = 1001,
    .additional_gids = gids,
    .n_additional_gids = 2,
    .hostname = "h1",
    .terminal = true,
    .rootfs = "/abs/rootfs",
    .readonly_rootfs = true,
    .mounts = mounts,
    .n_mounts = 2,
    .no_new_privs = true,
    .rlimits = rlimits,
    .n_rlimits = 1,
    .memory_bytes = 64 << 20,
    .cpus = 1.5,
    .cpu_shares = 512,
    .pids_limit = 20,
    .userns = true,
    .uid_maps = maps,
    .n_uid_maps = 1,
    .gid_maps = maps,
    .n_gid_maps = 1,
    .netns_path = "/run/netns/x",
    .has_oom_score_adj = true,
    .oom_score_adj = 500,
    .cgroups_path = "/box/abc",
    .sysctl = sysctl,
  };
  oci_config *c = round_trip (&opts);
  assert_string_equal (c->process.args[2], "echo hi");
  assert_null (c->process.args[3]);
  assert_string_equal (c->process.env[0], "PATH=/bin");
  assert_string_equal (c->process.env[1], "A=b=c");
  assert_null (c->process.env[2]);
  assert_string_equal (c->process.cwd, "/work");
  assert_int_equal (c->process.uid, 1000);
  assert_int_equal (c->process.gid, 1001);
  assert_int_equal (c->process.n_additional_gids, 2);
  assert_int_equal (c->process.additional_gids[1], 20);
  assert_true (c->process.terminal);
  assert_true (c->process.no_new_privileges);
  assert_int_equal (c->process.n_rlimits, 1);
  assert_int_equal (c->process.rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal (c->process.rlimits[0].soft, 100);
  assert_int_equal (c->process.rlimits[0].hard, 200);
  assert_true (c->process.has_oom_score_adj);
  assert_int_equal (c->process.oom_score_adj, 500);
  assert_string_equal (c->hostname, "h1");
  assert_string_equal (c->root_path, "/abs/rootfs");
  assert_true (c->root_readonly);
  assert_int_equal (c->resources.memory_limit, 64 << 20);
  assert_int_equal (c->resources.cpu_quota, 150000);
  assert_int_equal (c->resources.cpu_period, 100000);
  assert_int_equal (c->resources.cpu_shares, 512);
  assert_int_equal (c->resources.pids_limit, 20);
  assert_non_null (strstr (c->resources.devices_rules, "-a *:* rwm\n"));
  assert_non_null (strstr (c->resources.devices_rules, "+c 1:3 rwm\n"));
  assert_non_null (strstr (c->resources.devices_rules, "+c 136:* rwm\n"));
  assert_string_equal (c->cgroups_path, "/box/abc");
  assert_string_equal (c->sysctl[0], "net.ipv4.ip_forward=1");
  assert_int_equal (c->n_uid_mappings, 1);
  assert_int_equal (c->uid_mappings[0].host_id, 100000);
  assert_int_equal (c->gid_mappings[0].size, 65536);
  assert_non_null (oci_config_namespace (c, CLONE_NEWUSER));
  assert_string_equal (oci_config_namespace (c, CLONE_NEWNET)->path, "/run/netns/x");
  assert_null (oci_config_namespace (c, CLONE_NEWPID)->path);
  assert_non_null (oci_config_namespace (c, CLONE_NEWCGROUP));
  assert_non_null (c->seccomp);
  assert_int_equal (c->seccomp->default_action, OCI_SECCOMP_ERRNO);
  assert_int_equal (c->seccomp->default_errno_ret, 1);

  /* the user's /dev/shm replaced the default one; /etc/hosts comes after the defaults */
  int shm = 0;
  const oci_mount *hosts = NULL, *proc = NULL, *dev = NULL, *sys = NULL;
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      const oci_mount *m = &c->mounts[i];
      if (strcmp (m->destination, "/dev/shm") == 0)
        {
          shm++;
          assert_string_equal (m->data, "size=1m");
        }
      if (strcmp (m->destination, "/etc/hosts") == 0)
        hosts = m;
      if (strcmp (m->destination, "/proc") == 0)
        proc = m;
      if (strcmp (m->destination, "/dev") == 0)
        dev = m;
      if (strcmp (m->destination, "/sys") == 0)
        sys = m;
    }
  assert_int_equal (shm, 1);
  assert_non_null (hosts);
  assert_true (hosts->bind);
  assert_int_equal (hosts->flags, MS_BIND | MS_REC | MS_RDONLY);
  assert_int_equal (hosts->propagation, MS_PRIVATE | MS_REC);
  assert_string_equal (hosts->source, "/state/hosts");
  assert_int_equal (proc->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
  assert_string_equal (dev->data, "mode=755,size=65536k");
  assert_int_equal (dev->flags, MS_NOSUID | MS_STRICTATIME);
  assert_true (sys->flags & MS_RDONLY);
  assert_false (sys->bind);
  oci_config_free (c);
}

static void
test_build_errors (void **state)
{
  struct {
    spec_options opts;
    const char *needle;
  } cases[] = {
    { { .rootfs = "r" }, "no command" },
    { { .args = true_args }, "root filesystem" },
    { { .args = true_args, .rootfs = "r", .cwd = "relative" }, "not an absolute" },
    { { .args = true_args, .rootfs = "r", .env = (const char *const[]){ "NOEQUALS", NULL } },
      "NOEQUALS" },
    { { .args = true_args,
        .rootfs = "r",
        .rlimits = (const spec_rlimit[]){ { "nofile", 10, 5 } },
        .n_rlimits = 1 },
      "soft limit" },
    { { .args = true_args,
        .rootfs = "r",
        .rlimits = (const spec_rlimit[]){ { "bogus", 1, 1 } },
        .n_rlimits = 1 },
      "unknown ulimit" },
    { { .args = true_args, .rootfs = "r", .userns = true }, "mappings" },
    { { .args = true_args,
        .rootfs = "r",
        .seccomp_mode = SPEC_SECCOMP_PROFILE,
        .seccomp_profile_json = "{\"syscalls\":[]}" },
      "defaultAction" },
    { { .args = true_args,
        .rootfs = "r",
        .seccomp_mode = SPEC_SECCOMP_PROFILE,
        .seccomp_profile_json = "not json" },
      "invalid JSON" },
    { { .args = true_args, .rootfs = "r", .cpus = 0.001 }, "--cpus" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      json_t *out = NULL;
      box_error *err = NULL;
      assert_true (spec_build (&cases[i].opts, &out, &err) < 0);
      assert_null (out);
      if (!strstr (box_error_message (err), cases[i].needle))
        fail_msg ("case %zu: \"%s\" lacks \"%s\"", i, box_error_message (err), cases[i].needle);
      box_error_free (err);
    }
}

static void
test_custom_seccomp_profile (void **state)
{
  const char *profile = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
                        "[\"SCMP_ARCH_X86_64\"],\"syscalls\":["
                        "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
                        "{\"name\":\"chmod\",\"action\":\"SCMP_ACT_ERRNO\","
                        "\"excludes\":{\"caps\":[\"CAP_FOWNER\"]}},"
                        "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\","
                        "\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}";
  spec_options opts = { .args = true_args,
                        .rootfs = "r",
                        .seccomp_mode = SPEC_SECCOMP_PROFILE,
                        .seccomp_profile_json = profile };
  oci_config *c = round_trip (&opts);
  assert_non_null (c->seccomp);
  assert_int_equal (c->seccomp->default_action, OCI_SECCOMP_ALLOW);
  assert_string_equal (c->seccomp->architectures[0], "SCMP_ARCH_X86_64");
  /* chmod is excluded: the default set has CAP_FOWNER */
  assert_int_equal (c->seccomp->n_rules, 2);
  assert_string_equal (c->seccomp->rules[0].names[0], "mkdir");
  assert_true (c->seccomp->rules[0].has_errno_ret);
  assert_int_equal (c->seccomp->rules[0].errno_ret, 13);
  assert_int_equal (c->seccomp->rules[1].n_args, 1);
  assert_int_equal (c->seccomp->rules[1].args[0].value, 8);
  assert_int_equal (c->seccomp->rules[1].args[0].op, OCI_SECCOMP_OP_EQ);
  oci_config_free (c);
}

static void
test_parse_errors (void **state)
{
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
    { "{", "invalid JSON" },
    { "[]", "expected a JSON object" },
    { "{\"root\":{\"path\":\"r\"}}", "process is not an object" },
    { "{\"process\":{\"args\":[],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"}}", "args is empty" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"x\"},\"root\":{\"path\":\"r\"}}", "not absolute" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"}}", "root is missing" },
    { "{\"process\":{\"args\":[1],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"}}", "args[0]" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_X\"]}},"
      "\"root\":{\"path\":\"r\"}}",
      "CAP_X" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}},\"root\":{\"path\":"
      "\"r\"}}",
      "uid" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},\"mounts\":[{"
      "\"destination\":\"rel\"}]}",
      "not absolute" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},\"linux\":{"
      "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
      "twice" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},\"linux\":{"
      "\"namespaces\":[{\"type\":\"user\"}]}}",
      "uidMappings" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},\"linux\":{"
      "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOPE\"}}}",
      "defaultAction" },
    { "{\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},\"linux\":{"
      "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"x\"],"
      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}"
      "}}",
      "args[0]" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      oci_config *c = NULL;
      box_error *err = NULL;
      assert_int_equal (spec_parse (cases[i].json, strlen (cases[i].json), &c, &err),
                        BOX_E_INVALID);
      assert_null (c);
      if (!strstr (box_error_message (err), cases[i].needle))
        fail_msg ("case %zu: \"%s\" lacks \"%s\"", i, box_error_message (err), cases[i].needle);
      box_error_free (err);
    }
}

static void
test_minimal_runc_style_config (void **state)
{
  /* what `runc spec` writes, trimmed: no linux.resources, rlimits with big numbers */
  const char *json
      = "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,"
        "\"gid\":0},\"args\":[\"sh\"],\"env\":[\"PATH=/bin\",\"TERM=xterm\"],\"cwd\":\"/\","
        "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]"
        "},"
        "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
        "\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
        "\"hostname\":\"runc\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\","
        "\"source\":\"proc\"}],\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}"
        ","
        "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],\"maskedPaths\":[\"/proc/"
        "kcore\"]}}";
  oci_config *c = NULL;
  box_error *err = NULL;
  int rc = spec_parse (json, strlen (json), &c, &err);
  assert_ok (rc, err);
  assert_int_equal (c->n_namespaces, 5);
  assert_null (oci_config_namespace (c, CLONE_NEWCGROUP));
  assert_int_equal (c->process.cap_bounding, (UINT64_C (1) << CAP_AUDIT_WRITE)
                                                 | (UINT64_C (1) << CAP_KILL)
                                                 | (UINT64_C (1) << CAP_NET_BIND_SERVICE));
  assert_int_equal (c->process.cap_effective, 0);
  assert_int_equal (c->resources.memory_limit, -1);
  assert_string_equal (c->masked_paths[0], "/proc/kcore");
  assert_null (c->readonly_paths[0]);
  assert_null (c->seccomp);
  assert_int_equal (c->rootfs_propagation, MS_PRIVATE | MS_REC);
  oci_config_free (c);
}

static void
write_file (int dirfd, const char *name, const char *text)
{
  int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
  close (fd);
}

static void
test_user_resolve (void **state)
{
  char *root = unit_make_temp_dir ();
  int rootfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_true (rootfd >= 0);
  assert_int_equal (mkdirat (rootfd, "etc", 0755), 0);
  /* "short" and "grp" are lines cut short right after a full one: their missing fields are
   * none, not the line before's */
  write_file (rootfd, "etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\n"
              "app:x:1000:1000:App:/home/app:/bin/sh\nshort:x:7:7\n"
              "nobody:x:65534:65534::/nonexistent:/bin/false\n");
  write_file (rootfd, "etc/group",
              "root:x:0:\napp:x:1000:\nwheel:x:10:root,app\ngrp:x:9\n"
              "audio:x:29:app\nstaff:x:50:\n");
  /* a symlink that would leave the rootfs resolves inside it instead */
  assert_int_equal (mkdirat (rootfd, "evil", 0755), 0);

  user_ids ids;
  box_error *err = NULL;
  int rc = user_resolve (rootfd, "app", &ids, &err);
  assert_ok (rc, err);
  assert_int_equal (ids.uid, 1000);
  assert_int_equal (ids.gid, 1000);
  assert_string_equal (ids.home, "/home/app");
  assert_int_equal (ids.n_additional_gids, 2);
  assert_int_equal (ids.additional_gids[0], 10);
  assert_int_equal (ids.additional_gids[1], 29);
  user_ids_clear (&ids);

  rc = user_resolve (rootfd, "short", &ids, &err);
  assert_ok (rc, err);
  assert_int_equal (ids.uid, 7);
  assert_string_equal (ids.home, "/");
  user_ids_clear (&ids);

  rc = user_resolve (rootfd, "app:staff", &ids, &err);
  assert_ok (rc, err);
  assert_int_equal (ids.gid, 50);
  assert_int_equal (ids.n_additional_gids, 0);
  user_ids_clear (&ids);

  rc = user_resolve (rootfd, "4242:77", &ids, &err);
  assert_ok (rc, err);
  assert_int_equal (ids.uid, 4242);
  assert_int_equal (ids.gid, 77);
  assert_string_equal (ids.home, "/");
  user_ids_clear (&ids);

  rc = user_resolve (rootfd, NULL, &ids, &err);
  assert_ok (rc, err);
  assert_int_equal (ids.uid, 0);
  assert_string_equal (ids.home, "/root");
  user_ids_clear (&ids);

  assert_int_equal (user_resolve (rootfd, "ghost", &ids, &err), BOX_E_NOT_FOUND);
  assert_non_null (strstr (box_error_message (err), "ghost"));
  box_error_free (err);
  err = NULL;
  assert_int_equal (user_resolve (rootfd, "app:nogroup", &ids, &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  err = NULL;

  /* /etc/passwd as an absolute symlink to the host's: resolved inside the rootfs */
  assert_int_equal (unlinkat (rootfd, "etc/passwd", 0), 0);
  assert_int_equal (symlinkat ("/etc/shadow-of-the-host", rootfd, "etc/passwd"), 0);
  assert_int_equal (user_resolve (rootfd, "root", &ids, &err), BOX_E_NOT_FOUND);
  box_error_free (err);

  close (rootfd);
  unit_remove_tree (root);
  free (root);
}

static void
test_seccomp_cache (void **state)
{
  spec_options opts = { .args = true_args, .rootfs = "r" };
  oci_config *c = round_trip (&opts);
  char *dir = unit_make_temp_dir ();
  char cache[4096];
  snprintf (cache, sizeof cache, "%s/cache", dir);

  seccomp_program compiled, first, second;
  box_error *err = NULL;
  int rc = seccomp_program_compile (c->seccomp, &compiled, &err);
  assert_ok (rc, err);
  rc = seccomp_program_get (c->seccomp, cache, &first, &err); /* miss: compiles, stores */
  assert_ok (rc, err);
  rc = seccomp_program_get (c->seccomp, cache, &second, &err); /* hit */
  assert_ok (rc, err);
  assert_int_equal (first.length, compiled.length);
  assert_int_equal (second.length, compiled.length);
  assert_memory_equal (second.filter, compiled.filter,
                       compiled.length * sizeof (struct sock_filter));

  /* a cache file that does not hold these rules (collision, corruption) is not used */
  DIR *d = opendir (cache);
  assert_non_null (d);
  struct dirent *e;
  char file[8192] = "";
  while ((e = readdir (d)))
    if (e->d_name[0] != '.')
      snprintf (file, sizeof file, "%s/%s", cache, e->d_name);
  closedir (d);
  assert_true (file[0]);
  FILE *f = fopen (file, "r+");
  assert_non_null (f);
  fseek (f, 40, SEEK_SET);
  fputc ('#', f);
  fclose (f);
  seccomp_program third;
  rc = seccomp_program_get (c->seccomp, cache, &third, &err);
  assert_ok (rc, err);
  assert_memory_equal (third.filter, compiled.filter,
                       compiled.length * sizeof (struct sock_filter));

  /* other rules, another program */
  const char *const add_admin[] = { "SYS_ADMIN", NULL };
  spec_options admin = { .args = true_args, .rootfs = "r", .cap_add = add_admin };
  oci_config *c2 = round_trip (&admin);
  seccomp_program other;
  rc = seccomp_program_get (c2->seccomp, cache, &other, &err);
  assert_ok (rc, err);
  assert_true (
      other.length != compiled.length
      || memcmp (other.filter, compiled.filter, compiled.length * sizeof (struct sock_filter))
             != 0);

  seccomp_program_clear (&compiled);
  seccomp_program_clear (&first);
  seccomp_program_clear (&second);
  seccomp_program_clear (&third);
  seccomp_program_clear (&other);
  oci_config_free (c);
  oci_config_free (c2);
  unit_remove_tree (dir);
  free (dir);
}

/* config.json with the default profile's translation from the cache is the spec spec_build
 * makes, whether the cache is missed, hit or altered, for each capability set */
static json_t *
written_bundle (const spec_options *opts, const char *bundle)
{
  box_error *err = NULL;
  int rc = spec_write_bundle (opts, bundle, &err);
  assert_ok (rc, err);
  char path[4096];
  snprintf (path, sizeof path, "%s/config.json", bundle);
  json_error_t jerr;
  json_t *written = json_load_file (path, 0, &jerr);
  if (!written)
    fail_msg ("config.json does not parse: %s (%d:%d)", jerr.text, jerr.line, jerr.column);
  return written;
}

static char *
only_file_in (const char *dir)
{
  DIR *d = opendir (dir);
  assert_non_null (d);
  struct dirent *e;
  char *found = NULL;
  while ((e = readdir (d)))
    if (e->d_name[0] != '.')
      {
        assert_null (found);
        assert_true (asprintf (&found, "%s/%s", dir, e->d_name) > 0);
      }
  closedir (d);
  assert_non_null (found);
  return found;
}

static void
test_bundle_with_cached_seccomp_translation (void **state)
{
  char *dir = unit_make_temp_dir ();
  char cache[4096];
  snprintf (cache, sizeof cache, "%s/cache", dir);
  const char *const add_admin[] = { "SYS_ADMIN", NULL };
  const char *const drop_all[] = { "ALL", NULL };
  const spec_options cases[] = {
    { .args = true_args, .rootfs = "r", .hostname = "h" },
    { .args = true_args, .rootfs = "r", .cap_add = add_admin },
    { .args = true_args, .rootfs = "r", .cap_drop = drop_all, .readonly_rootfs = true },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      char case_cache[4200];
      snprintf (case_cache, sizeof case_cache, "%s-%zu", cache, i);
      spec_options opts = cases[i];
      json_t *expected = build (&opts);
      opts.seccomp_cache_dir = case_cache;
      json_t *missed = written_bundle (&opts, dir);
      assert_true (json_equal (missed, expected));
      json_t *hit = written_bundle (&opts, dir);
      assert_true (json_equal (hit, expected));

      /* altered: not used, made anew */
      char *file = only_file_in (case_cache);
      FILE *f = fopen (file, "r+");
      assert_non_null (f);
      fseek (f, 100, SEEK_SET);
      fputs ("\"mount\",", f);
      fclose (f);
      json_t *after = written_bundle (&opts, dir);
      assert_true (json_equal (after, expected));
      json_t *again = written_bundle (&opts, dir);
      assert_true (json_equal (again, expected));
      free (file);
      json_decref (expected);
      json_decref (missed);
      json_decref (hit);
      json_decref (after);
      json_decref (again);
    }

  /* the capability sets are told apart: three translations */
  spec_options a = cases[0], b = cases[1];
  a.seccomp_cache_dir = b.seccomp_cache_dir = cache;
  json_decref (written_bundle (&a, dir));
  json_t *with_admin = written_bundle (&b, dir);
  json_t *expected_admin = build (&cases[1]);
  assert_true (json_equal (with_admin, expected_admin));
  json_decref (with_admin);
  json_decref (expected_admin);

  /* privileged and unconfined boxes have no filter; their bundles touch no cache */
  char untouched[4200];
  snprintf (untouched, sizeof untouched, "%s/untouched", dir);
  spec_options privileged = { .args = true_args, .rootfs = "r", .privileged = true,
                              .seccomp_cache_dir = untouched };
  json_t *p = written_bundle (&privileged, dir);
  assert_null (json_object_get (json_object_get (p, "linux"), "seccomp"));
  json_decref (p);
  spec_options unconfined = { .args = true_args, .rootfs = "r",
                              .seccomp_mode = SPEC_SECCOMP_UNCONFINED,
                              .seccomp_cache_dir = untouched };
  json_t *u = written_bundle (&unconfined, dir);
  assert_null (json_object_get (json_object_get (u, "linux"), "seccomp"));
  json_decref (u);
  assert_int_equal (access (untouched, F_OK), -1);
  unit_remove_tree (dir);
  free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_docker_defaults), cmocka_unit_test (test_caps_arithmetic),
    cmocka_unit_test (test_privileged),      cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_build_errors),    cmocka_unit_test (test_custom_seccomp_profile),
    cmocka_unit_test (test_parse_errors),    cmocka_unit_test (test_minimal_runc_style_config),
    cmocka_unit_test (test_user_resolve),    cmocka_unit_test (test_seccomp_cache),
    cmocka_unit_test (test_bundle_with_cached_seccomp_translation),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
