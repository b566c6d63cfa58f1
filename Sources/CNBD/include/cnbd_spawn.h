#ifndef CNBD_SPAWN_H
#define CNBD_SPAWN_H
#include <sys/types.h>

// Why C: Swift cannot run code between fork and exec safely. This shim forks and, in the child, uses only
// async-signal-safe calls to set up the process (process group, parent-death signal, namespaces, chroot,
// working directory, standard streams, signal dispositions) before execve. A failure in the child is sent to
// the parent as (stage, errno) over a close-on-exec pipe, so the parent learns exactly what failed.

enum cnbd_spawn_stage {
    CNBD_SPAWN_OK = 0,
    CNBD_SPAWN_PIPE = 1,
    CNBD_SPAWN_FORK = 2,
    CNBD_SPAWN_SETPGID = 3,
    CNBD_SPAWN_PDEATHSIG = 4,
    CNBD_SPAWN_UNSHARE = 5,
    CNBD_SPAWN_DUP2 = 6,
    CNBD_SPAWN_CHROOT = 7,
    CNBD_SPAWN_CHDIR = 8,
    CNBD_SPAWN_EXEC = 9,
    CNBD_SPAWN_PROPAGATION = 10,
    CNBD_SPAWN_PROC = 11,
    CNBD_SPAWN_PIVOT_ROOT = 12,
    CNBD_SPAWN_HOSTNAME = 13,
    CNBD_SPAWN_LOOPBACK = 14,
    CNBD_SPAWN_READ_ONLY = 15,
    CNBD_SPAWN_CAPABILITIES = 16,
    // Numbered apart from the others so that stages added elsewhere do not collide.
    CNBD_SPAWN_USER_MAP = 30,
    CNBD_SPAWN_BINFMT_MOUNT = 31,
    CNBD_SPAWN_BINFMT_REGISTER = 32,
};

struct cnbd_spawn_attr {
    const char *_Nullable root;      // chroot(2) here before exec; NULL for none
    const char *_Nullable directory; // chdir(2) here (after the chroot); NULL to keep the parent's
    int stdin_fd;                    // -1: /dev/null
    int stdout_fd;                   // -1: /dev/null
    int stderr_fd;                   // -1: /dev/null
    int new_process_group;           // non-zero: setpgid(0, 0), so the whole group can be signalled
    int death_signal;                // PR_SET_PDEATHSIG; 0 for none
    int unshare_flags;               // unshare(2) flags applied in the child; 0 for none
    int process_namespace;           // non-zero: the child is PID 1 of new PID and mount namespaces (see below)
    int mount_proc;                  // with process_namespace: mount a proc of the new PID namespace on /proc
    // The rest apply with process_namespace only (strict isolation, see below).
    int pivot_root;                  // non-zero: make root the namespace's / with pivot_root(2), not chroot(2)
    const char *_Nullable hostname;  // non-NULL: a new UTS namespace with this host name
    int new_network;                 // non-zero: a new, empty network namespace with its loopback up
    char *_Nullable const *_Nullable read_only_paths; // NULL-terminated; bound read-only after /proc (missing skipped)
    int limit_capabilities;          // non-zero: the command keeps only keep_capabilities (bounding set too)
    unsigned long long keep_capabilities; // bit N = capability N
    // Foreign-architecture emulation, with process_namespace only (see below).
    const char *_Nullable binfmt_register; // non-NULL: a binfmt_misc registration line for a private instance
};

// With process_namespace the child is cloned into a new PID namespace (and a mount namespace of its own, so
// its /proc and any mount a command makes go away with it). It stays a small init: it forks the command,
// reaps every orphan, and exits with the command's status (128+N if a signal N ended it). When it exits,
// the kernel kills everything left in the namespace, so background processes never outlive the command;
// its parent-death signal is SIGKILL, so they never outlive the caller's thread either.
//
// Strict isolation adds, in this order: new UTS and network namespaces at clone; pivot_root into root (the
// old root detached, so the host's tree is not reachable by a chroot escape); the host name; loopback up;
// in the init, after /proc, the read-only binds; in the command's child just before execve, every
// capability outside keep_capabilities dropped from the bounding, inheritable, permitted, effective and
// ambient sets (the init keeps its own: it mounts nothing after that, and runs no image code).
//
// With binfmt_register the child is also cloned into a new user namespace whose uid and gid maps are the
// identity over every id (written by the parent before the child goes on), so ownership, setuid and
// chown work as before; it is root in that namespace only (mknod of devices and mounting disk filesystems
// are refused). Before the chroot it mounts the user namespace's own binfmt_misc (Linux >= 6.7) over the
// host path /proc/sys/fs/binfmt_misc of its private mount namespace and writes the registration there: with
// the F flag the kernel opens the interpreter now, from the host's tree, so nothing is copied into root. The
// host's binfmt_misc is not touched, and the handler goes away with the namespace. With pivot_root too (root is
// always bound onto itself before it: pivot_root refuses the locked mounts a user namespace inherits), the
// instance is mounted on root's own /proc/sys/fs/binfmt_misc instead, so it survives the old root's detach;
// the command's fresh /proc then covers it. Everything strict does runs in that user namespace: the
// capabilities it drops are the namespace's, and those are all the command has over anything.

// Returns the child's pid, or -1 with *stage and *error_number set (errno is also set).
pid_t cnbd_spawn(const char *_Nonnull path,
                 char *_Nullable const *_Nonnull argv,
                 char *_Nullable const *_Nonnull envp,
                 const struct cnbd_spawn_attr *_Nonnull attr,
                 int *_Nonnull stage,
                 int *_Nonnull error_number);

#endif
