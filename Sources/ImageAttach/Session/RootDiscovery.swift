import CNBD
import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// The root the rule chose and, in one sentence, why.
public struct RootChoice: Sendable {
    public let candidate: RootCandidate
    /// "partition 3 (xfs, label boot) has no /etc/fstab or /usr/lib/os-release; using partition 4 (xfs, label root)".
    public let explanation: String
}

/// The root rule's second part: when the layout settles nothing, each candidate is mounted read-only in
/// this private namespace, on a directory of its own that is removed right after, and the first that
/// holds /etc/fstab or /usr/lib/os-release plus /bin/sh or /sbin/init is the root. Nothing is created
/// in any of the image's filesystems before the choice is made.
enum RootDiscovery {
    static func choose(_ candidates: RootCandidates, device: (Volume) throws -> String) throws -> RootChoice {
        if let settled = candidates.settled {
            return RootChoice(candidate: settled.candidate, explanation: "using \(settled.candidate) as root: \(settled.reason)")
        }
        guard !candidates.candidates.isEmpty else {
            throw AttachError("no volume holds a Linux filesystem (ext2/3/4, xfs or btrfs) to use as root; set mount_partition")
        }
        guard MountNamespace.isPrivate else { throw MountNamespaceError.notPrivate }
        var rejected: [String] = []
        // A minimal root (a busybox userland) has /bin/sh but neither /etc/fstab nor os-release: the first
        // such candidate is used when no candidate has everything.
        var programOnly: RootCandidate?
        for candidate in candidates.candidates {
            let verdict: String?
            do {
                let found = try rootFiles(candidate, device: try device(candidate.volume))
                verdict = found.verdict
                if found.hasProgram && programOnly == nil { programOnly = candidate }
            } catch {
                verdict = "could not be mounted to look inside (\(error))"
            }
            guard let verdict else {
                let why = rejected.isEmpty ? "it holds a root's files" : rejected.joined(separator: "; ")
                return RootChoice(candidate: candidate, explanation: rejected.isEmpty
                    ? "using \(candidate) as root: \(why)" : "\(why); using \(candidate) as root")
            }
            // A btrfs without the subvolume is not worth a line of its own.
            if candidate.subvolume == nil || !verdict.hasPrefix("could not be mounted") { rejected.append("\(candidate) \(verdict)") }
        }
        if let programOnly {
            return RootChoice(candidate: programOnly, explanation: "\(rejected.joined(separator: "; ")); using \(programOnly) "
                + "as root: it has /bin/sh or /sbin/init, the only candidate that does")
        }
        throw AttachError("no volume looks like a root filesystem: \(rejected.joined(separator: "; ")); set mount_partition")
    }

    /// `verdict` nil when `candidate` holds a root's files, else what it lacks.
    private static func rootFiles(_ candidate: RootCandidate, device: String) throws -> (verdict: String?, hasProgram: Bool) {
        try ReadOnlyLook.look(device: device, fstype: candidate.volume.mountType, options: candidate.mountOptions) { root in
            func exists(_ path: String) -> Bool {
                guard let fd = try? root.open(path, CNBD_O_PATH) else { return false }
                try? fd.close()
                return true
            }
            return verdict(hasConfig: exists("/etc/fstab") || exists("/usr/lib/os-release"),
                           hasProgram: exists("/bin/sh") || exists("/sbin/init"))
        }
    }

    private static func verdict(hasConfig: Bool, hasProgram: Bool) -> (verdict: String?, hasProgram: Bool) {
        switch (hasConfig, hasProgram) {
        case (true, true): return (nil, true)
        case (false, false): return ("has no /etc/fstab or /usr/lib/os-release and no /bin/sh or /sbin/init", false)
        case (false, true): return ("has no /etc/fstab or /usr/lib/os-release", true)
        case (true, false): return ("has no /bin/sh or /sbin/init", false)
        }
    }
}
