/* Seccomp profiles in docker's format (defaultAction, archMap, syscalls with includes /
 * excludes by capability, architecture and kernel version) and their translation into the
 * OCI runtime spec's linux.seccomp object for one capability set on this host, as docker
 * does when it writes a container's spec. */
#ifndef BOX_RUNTIME_SECCOMP_PROFILE_H
#define BOX_RUNTIME_SECCOMP_PROFILE_H

#include <jansson.h>
#include <stdint.h>

#include "util/error.h"

/* The directory, in a runtime's state directory, of what is derived from seccomp profiles once
 * and kept: their translations (below) and compiled programs (seccomp-bpf.h). */
#define SECCOMP_CACHE_DIR ".seccomp-cache"

/* box's default profile, equivalent to docker's default: an allowlist; namespace creation
 * (unshare, clone with CLONE_NEW* flags, setns), mount, keyctl / add_key / request_key, bpf,
 * kexec, module loading, ptrace on kernels before 4.8, ... are refused with EPERM unless the
 * capability that makes them safe is granted. A new reference. */
json_t *seccomp_profile_default (void);

/* Translates a docker-format profile into OCI linux.seccomp for a process with the given
 * effective capabilities (bit masks, see linux/caps.h) on this kernel and architecture. */
int seccomp_profile_to_oci (const json_t *profile, uint64_t caps, json_t **out, box_error **err);

/* seccomp_profile_to_oci of the default profile, as compact JSON text (*out, to free), kept
 * in cache_dir (created when missing) under a name that covers every input of the
 * translation: the profile's data, caps and the host. A later box with the same inputs reads
 * the text instead of translating again; a cache file that is torn or altered is made anew. */
int seccomp_profile_default_oci_text (uint64_t caps, const char *cache_dir, char **out,
                                      box_error **err);

#endif
