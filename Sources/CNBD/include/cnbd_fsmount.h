#ifndef CNBD_FSMOUNT_H
#define CNBD_FSMOUNT_H

// Why C: glibc before 2.36 has no fsopen(2)/fsconfig(2)/fsmount(2) wrappers and Swift cannot call the variadic
// syscall(2). A detached mount reaches a filesystem's instance (the host's binfmt_misc) without attaching it
// anywhere: nothing appears in any mount namespace and nothing has to be unmounted, so `cleanup`, which runs in
// the host's namespace, can use it as well as a run in its private one.

// fsopen(fstype) + fsconfig(FSCONFIG_CMD_CREATE) + fsmount(FSMOUNT_CLOEXEC): a descriptor of the new mount's
// root (usable as the directory of openat), or -1 with errno (ENOSYS before Linux 5.2).
int cnbd_fsmount_detached(const char *_Nonnull fstype);

#endif
