import CNBD

/// A child process could not be started; says which step of the set-up failed in the child.
public struct SpawnError: Error, CustomStringConvertible {
    public let executable: String
    public let stage: Int32
    public let errno: Int32

    public var description: String {
        let step: String
        switch stage {
        case Int32(CNBD_SPAWN_PIPE.rawValue): step = "creating the status pipe"
        case Int32(CNBD_SPAWN_FORK.rawValue): step = "fork"
        case Int32(CNBD_SPAWN_SETPGID.rawValue): step = "setpgid"
        case Int32(CNBD_SPAWN_PDEATHSIG.rawValue): step = "setting the parent-death signal"
        case Int32(CNBD_SPAWN_UNSHARE.rawValue): step = "unshare"
        case Int32(CNBD_SPAWN_DUP2.rawValue): step = "redirecting standard streams"
        case Int32(CNBD_SPAWN_CHROOT.rawValue): step = "chroot"
        case Int32(CNBD_SPAWN_CHDIR.rawValue): step = "chdir"
        case Int32(CNBD_SPAWN_EXEC.rawValue): step = "exec"
        case Int32(CNBD_SPAWN_PROPAGATION.rawValue): step = "making the new mount namespace private"
        case Int32(CNBD_SPAWN_PROC.rawValue): step = "mounting /proc for the new PID namespace"
        case Int32(CNBD_SPAWN_PIVOT_ROOT.rawValue): step = "pivot_root into the image"
        case Int32(CNBD_SPAWN_HOSTNAME.rawValue): step = "setting the host name of the new UTS namespace"
        case Int32(CNBD_SPAWN_LOOPBACK.rawValue): step = "bringing up the loopback interface of the new network namespace"
        case Int32(CNBD_SPAWN_READ_ONLY.rawValue): step = "binding /proc paths read-only"
        case Int32(CNBD_SPAWN_CAPABILITIES.rawValue): step = "dropping capabilities"
        case Int32(CNBD_SPAWN_USER_MAP.rawValue): step = "writing the user namespace's id maps"
        case Int32(CNBD_SPAWN_BINFMT_MOUNT.rawValue): step = "mounting a private binfmt_misc (needs Linux 6.7 or later)"
        case Int32(CNBD_SPAWN_BINFMT_REGISTER.rawValue): step = "registering the emulator in the private binfmt_misc"
        default: step = "stage \(stage)"
        }
        return "cannot start \(executable): \(step) failed: \(Errno.message(errno)) (\(Errno.name(errno)))"
    }
}
