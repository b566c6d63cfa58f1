import HostSystem

/// What one run holds, as written to /run/qemu-chroot/runs/<run-id>/record.json.
public struct RunRecord: Codable, Equatable, Sendable {
    public var runID: String
    public var ownerPID: Int32
    /// The owner's start time (/proc/PID/stat field 22), so a reused pid never counts as the owner.
    public var ownerStartTime: UInt64
    /// Seconds since the epoch when the run began, for people reading the record.
    public var startedAt: Int
    /// The run's private mount namespace (inode of /proc/PID/ns/mnt); nil while the run shares the host's.
    public var mountNamespace: UInt64?
    /// That namespace's id (NS_GET_MNTNS_ID), never reused within a boot as inodes are; nil on kernels before
    /// 6.9, where only a recorded process still inside proves a namespace with that inode is the run's.
    public var mountNamespaceID: UInt64?
    /// /proc/sys/kernel/random/boot_id when the run began: pids, start times and namespace ids of another boot
    /// name nothing of the run. nil in records written before it was recorded (taken as this boot).
    public var bootID: String?
    public var entries: [LedgerEntry]

    /// Whether the record was written in the running boot (records without a boot id are taken as this boot's).
    public var isFromThisBoot: Bool { bootID == nil || bootID == ProcFS.bootID }

    public init(runID: String, ownerPID: Int32, ownerStartTime: UInt64, startedAt: Int, mountNamespace: UInt64?,
                entries: [LedgerEntry], mountNamespaceID: UInt64? = nil, bootID: String? = nil) {
        self.runID = runID
        self.ownerPID = ownerPID
        self.ownerStartTime = ownerStartTime
        self.startedAt = startedAt
        self.mountNamespace = mountNamespace
        self.mountNamespaceID = mountNamespaceID
        self.bootID = bootID
        self.entries = entries
    }
}

/// One resource, recorded as intended before it is acquired and as held after.
public struct LedgerEntry: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable { case intended, held }

    public var id: Int
    public var state: State
    public var resource: LedgerResource

    public init(id: Int, state: State, resource: LedgerResource) {
        self.id = id
        self.state = state
        self.resource = resource
    }
}

/// The kinds of things a run can leave behind if it is killed.
public enum LedgerResource: Codable, Equatable, Sendable, CustomStringConvertible {
    /// A child process (qemu-storage-daemon, qemu-nbd); pid and start time are nil until it is spawned.
    case child(command: String, pid: Int32?, startTime: UInt64?)
    /// A loop device over `backingFile` at `offset`. `diskSequence` (/sys/block/loopN/diskseq, new at every
    /// configuration and never reused within a boot) tells our configuration from a later one of the same
    /// file by another run; nil while intended (and on kernels before 5.15).
    case loop(device: String, backingFile: String, offset: UInt64, diskSequence: UInt64? = nil)
    /// A FUSE export mounted on a regular file.
    case fuseMount(path: String)
    /// A private directory of ours (the FUSE mountpoint's), removed with its contents.
    case directory(path: String)
    /// A kernel nbd device attached with this backend identifier.
    case nbd(index: Int, backendIdentifier: String)
    /// A filesystem mounted by the run.
    case mount(path: String)
    /// The run's own work files (overlay, partial output), removed with everything in them.
    case workDirectory(path: String)
    /// An output directory the run created; removed only if it is still that directory (`identity`, recorded
    /// once it is made; nil while intended) and nothing but the run's work was in it.
    case createdOutputDirectory(path: String, identity: FileIdentity? = nil)
    /// A device-mapper device (an LVM logical volume of the image) under this run-unique name.
    case deviceMapper(name: String)
    /// A handler in the host's binfmt_misc (the fallback before Linux 6.7), shared by every live run that
    /// records it: the last one removes it (`HostBinfmtLease`).
    case binfmtHandler(name: String, architecture: String, interpreter: String)

    public var description: String {
        switch self {
        case .child(let command, let pid, _): return "process \(pid.map(String.init) ?? "(not started)") (\(command))"
        case .loop(let device, let backingFile, let offset, _): return "loop device \(device) (\(backingFile) at \(offset))"
        case .fuseMount(let path): return "FUSE mount \(path)"
        case .directory(let path): return "directory \(path)"
        case .nbd(let index, let backendIdentifier): return "nbd device /dev/nbd\(index) (\(backendIdentifier))"
        case .mount(let path): return "mount \(path)"
        case .workDirectory(let path): return "work directory \(path)"
        case .createdOutputDirectory(let path, _): return "output directory \(path) (created by the run)"
        case .deviceMapper(let name): return "device-mapper device \(name)"
        case .binfmtHandler(let name, _, let interpreter): return "binfmt_misc handler \(name) (\(interpreter)) in the host's binfmt_misc"
        }
    }
}
