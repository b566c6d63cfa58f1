#define _GNU_SOURCE
#include "cnbd_spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Child side: report (stage, errno) and exit 127 without running atexit handlers.
static void child_fail(int pipe_fd, int stage) {
    int report[2] = {stage, errno};
    ssize_t ignored = write(pipe_fd, report, sizeof report);
    (void)ignored;
    _exit(127);
}

// Moves fd to target; -1 means /dev/null. Works when fds overlap because sources were raised above 2 first.
static int install_stream(int fd, int target, int flags) {
    if (fd < 0) {
        fd = open("/dev/null", flags);
        if (fd < 0) return -1;
    }
    if (fd == target) {
        int cur = fcntl(fd, F_GETFD);
        return cur < 0 ? -1 : fcntl(fd, F_SETFD, cur & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

// Keeps only the capabilities in keep: the bounding set first (so exec cannot give them back), then the
// inheritable, permitted and effective sets and the ambient set.
static int limit_capabilities(unsigned long long keep) {
    for (int cap = 0; cap < 64; cap++) {
        if (keep & (1ULL << cap)) continue;
        // EINVAL: the kernel has no such capability.
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        unsigned int mask = (unsigned int)(keep >> (32 * i));
        data[i].effective &= mask;
        data[i].permitted &= mask;
        data[i].inheritable &= mask;
    }
    return (int)syscall(SYS_capset, &header, data);
}

// A new network namespace has only a loopback interface, and it is down.
static int loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    int result = ioctl(sock, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(sock, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(sock);
    errno = saved;
    return result;
}

// Binds each path onto itself read-only; a path this kernel's proc lacks is skipped.
static int bind_read_only(char *const *paths) {
    for (; paths && *paths; paths++) {
        if (mount(*paths, *paths, NULL, MS_BIND | MS_REC, NULL) != 0) {
            if (errno == ENOENT) continue;
            return -1;
        }
        if (mount(NULL, *paths, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            return -1;
    }
    return 0;
}

// Parent side of binfmt_register: maps every uid (or gid) of the child's user namespace to itself.
static int write_identity_map(pid_t pid, const char *file) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    static const char map[] = "0 0 4294967295\n";
    ssize_t written = write(fd, map, sizeof map - 1);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)(sizeof map - 1) ? 0 : -1;
}

// Child side of binfmt_register, before the chroot: the user namespace's own binfmt_misc instance, mounted
// where only this mount namespace sees it, and the one handler written into it. The mount must stay: the
// instance and its handler go away with it.
static void register_private_binfmt(int report, const char *line, const char *directory) {
    if (mount("binfmt_misc", directory, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(report, CNBD_SPAWN_BINFMT_MOUNT);
    int instance = open(directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (instance < 0) child_fail(report, CNBD_SPAWN_BINFMT_REGISTER);
    int fd = openat(instance, "register", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(report, CNBD_SPAWN_BINFMT_REGISTER);
    close(instance);
    size_t length = strlen(line);
    if (write(fd, line, length) != (ssize_t)length) child_fail(report, CNBD_SPAWN_BINFMT_REGISTER);
    close(fd);
}

// PID 1 of a new PID namespace: mounts its /proc, forks the command, reaps every process reparented to it,
// and exits with the command's status. Never returns.
static void run_init(int report, const char *path, char *const *argv, char *const *envp,
                     const struct cnbd_spawn_attr *attr) {
    if (attr->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(report, CNBD_SPAWN_PROC);
    if (bind_read_only(attr->read_only_paths) != 0) child_fail(report, CNBD_SPAWN_READ_ONLY);
    // Not fork(): this process was made by a raw clone of a multithreaded parent, so glibc's locks are in
    // whatever state the parent's other threads left them; fork() takes some of them (malloc, stdio) and
    // hung for ever when one was held at clone time (seen: an init blocked in futex_wait). A raw clone
    // touches no lock, and nothing after it (prctl, capset, execve, write, _exit) does either.
    pid_t command = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
    if (command < 0) child_fail(report, CNBD_SPAWN_FORK);
    if (command == 0) {
        if (attr->limit_capabilities && limit_capabilities(attr->keep_capabilities) != 0)
            child_fail(report, CNBD_SPAWN_CAPABILITIES);
        execve(path, argv, envp);
        child_fail(report, CNBD_SPAWN_EXEC);
    }
    // The command's copy of the report pipe closes on exec (or carries its failure); ours goes now. The
    // standard streams go too, so the caller sees end-of-output when the command's processes are gone.
    close(report);
    close(0);
    close(1);
    close(2);
    for (;;) {
        int status;
        pid_t done = waitpid(-1, &status, 0);
        if (done < 0) {
            if (errno == EINTR) continue;
            _exit(127);
        }
        if (done == command) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

pid_t cnbd_spawn(const char *path, char *const *argv, char *const *envp,
                 const struct cnbd_spawn_attr *attr, int *stage, int *error_number) {
    int pipe_fds[2];
    *stage = CNBD_SPAWN_OK;
    *error_number = 0;
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        *stage = CNBD_SPAWN_PIPE;
        *error_number = errno;
        return -1;
    }
    pid_t parent = getpid();
    // The child of a new user namespace waits on this pipe until the parent has written its id maps.
    int emulate = attr->process_namespace && attr->binfmt_register;
    int maps_written[2] = {-1, -1};
    if (emulate && pipe2(maps_written, O_CLOEXEC) != 0) {
        *stage = CNBD_SPAWN_PIPE;
        *error_number = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return -1;
    }
    // clone with no new stack behaves like fork, in new namespaces.
    unsigned long namespaces = CLONE_NEWPID | CLONE_NEWNS;
    if (emulate) namespaces |= CLONE_NEWUSER;
    if (attr->hostname) namespaces |= CLONE_NEWUTS;
    if (attr->new_network) namespaces |= CLONE_NEWNET;
    pid_t pid = attr->process_namespace
        ? (pid_t)syscall(SYS_clone, namespaces | SIGCHLD, NULL, NULL, NULL, NULL)
        : fork();
    if (pid < 0) {
        *stage = CNBD_SPAWN_FORK;
        *error_number = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        if (emulate) {
            close(maps_written[0]);
            close(maps_written[1]);
        }
        return -1;
    }
    if (pid == 0) {
        int report = pipe_fds[1];
        if (emulate) {
            close(maps_written[1]);
            char go;
            ssize_t got;
            do {
                got = read(maps_written[0], &go, 1);
            } while (got < 0 && errno == EINTR);
            // The parent failed to write the maps and reports it itself.
            if (got != 1) _exit(127);
            close(maps_written[0]);
        }
        // The parent may ignore or block signals (a Packer plugin ignores SIGINT and SIGTERM);
        // the child must start with the defaults.
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        }
        if (attr->new_process_group && setpgid(0, 0) != 0) child_fail(report, CNBD_SPAWN_SETPGID);
        // An init ignores every signal it has no handler for, except SIGKILL from an ancestor namespace.
        int death_signal = attr->process_namespace ? SIGKILL : attr->death_signal;
        if (death_signal) {
            if (prctl(PR_SET_PDEATHSIG, death_signal) != 0) child_fail(report, CNBD_SPAWN_PDEATHSIG);
            // The parent may have died before prctl took effect. (In a new PID namespace the parent is
            // outside it and getppid() is 0: nothing to compare.)
            if (!attr->process_namespace && getppid() != parent) { errno = ESRCH; child_fail(report, CNBD_SPAWN_PDEATHSIG); }
        }
        // Nothing mounted in the new mount namespace may propagate back to the caller's.
        if (attr->process_namespace && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            child_fail(report, CNBD_SPAWN_PROPAGATION);
        if (attr->unshare_flags && unshare(attr->unshare_flags) != 0) child_fail(report, CNBD_SPAWN_UNSHARE);
        // Raise the report pipe and the requested streams above 2 so dup2 cannot clobber one with another.
        int fds[3] = {attr->stdin_fd, attr->stdout_fd, attr->stderr_fd};
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0 && fds[i] <= 2) {
                int raised = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (raised < 0) child_fail(report, CNBD_SPAWN_DUP2);
                fds[i] = raised;
            }
        }
        if (install_stream(fds[0], 0, O_RDONLY) != 0) child_fail(report, CNBD_SPAWN_DUP2);
        if (install_stream(fds[1], 1, O_WRONLY) != 0) child_fail(report, CNBD_SPAWN_DUP2);
        if (install_stream(fds[2], 2, O_WRONLY) != 0) child_fail(report, CNBD_SPAWN_DUP2);
        // Nothing but 0-2 may leak into the child (device fds, sockets, the mount namespace's files).
        syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        if (attr->process_namespace && attr->pivot_root && attr->root) {
            // pivot_root refuses a root mount that is locked to its parent, as every mount a new user
            // namespace inherits is; a bind of root onto itself made here is not.
            if (mount(attr->root, attr->root, NULL, MS_BIND | MS_REC, NULL) != 0) child_fail(report, CNBD_SPAWN_PIVOT_ROOT);
            if (chdir(attr->root) != 0) child_fail(report, CNBD_SPAWN_PIVOT_ROOT);
            // Inside root, on the image's /proc: the old root is detached below, and a binfmt_misc instance
            // goes away with its last mount.
            if (emulate) register_private_binfmt(report, attr->binfmt_register, "proc/sys/fs/binfmt_misc");
            // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the image.
            if (syscall(SYS_pivot_root, ".", ".") != 0) child_fail(report, CNBD_SPAWN_PIVOT_ROOT);
            if (umount2(".", MNT_DETACH) != 0) child_fail(report, CNBD_SPAWN_PIVOT_ROOT);
            if (chdir("/") != 0) child_fail(report, CNBD_SPAWN_CHDIR);
        } else {
            if (emulate) register_private_binfmt(report, attr->binfmt_register, "/proc/sys/fs/binfmt_misc");
            if (attr->root && chroot(attr->root) != 0) child_fail(report, CNBD_SPAWN_CHROOT);
        }
        if (attr->directory && chdir(attr->directory) != 0) child_fail(report, CNBD_SPAWN_CHDIR);
        else if (attr->root && !attr->directory && chdir("/") != 0) child_fail(report, CNBD_SPAWN_CHDIR);
        if (attr->process_namespace && attr->hostname && sethostname(attr->hostname, strlen(attr->hostname)) != 0)
            child_fail(report, CNBD_SPAWN_HOSTNAME);
        if (attr->process_namespace && attr->new_network && loopback_up() != 0) child_fail(report, CNBD_SPAWN_LOOPBACK);
        if (attr->process_namespace) run_init(report, path, argv, envp, attr);
        execve(path, argv, envp);
        child_fail(report, CNBD_SPAWN_EXEC);
    }
    close(pipe_fds[1]);
    if (emulate) {
        close(maps_written[0]);
        if (write_identity_map(pid, "uid_map") != 0 || write_identity_map(pid, "gid_map") != 0) {
            *stage = CNBD_SPAWN_USER_MAP;
            *error_number = errno;
            close(maps_written[1]);
            close(pipe_fds[0]);
            kill(pid, SIGKILL);
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            errno = *error_number;
            return -1;
        }
        ssize_t ignored = write(maps_written[1], "", 1);
        (void)ignored;
        close(maps_written[1]);
    }
    int report[2] = {0, 0};
    ssize_t got;
    do {
        got = read(pipe_fds[0], report, sizeof report);
    } while (got < 0 && errno == EINTR);
    close(pipe_fds[0]);
    if (got == (ssize_t)sizeof report) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *stage = report[0];
        *error_number = report[1];
        errno = report[1];
        return -1;
    }
    return pid;
}
