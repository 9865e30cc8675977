/* Network setup a box's own network namespace needs whatever its networks: loopback up, as
 * every container runtime leaves it. */
#ifndef BOX_LINUX_NET_H
#define BOX_LINUX_NET_H

/* Brings "lo" up in the calling process's network namespace. 0, or -errno. Safe to call in
 * a forked child (no allocation). */
int net_loopback_up (void);

#endif
