import NBDCore

/// The host's mounts that belong to the run under test, so leak checks stay strict about our mounts and
/// ignore whatever other processes on the shared machine mount meanwhile. A mount is the run's when its
/// mount point, its source or (for a loop device) its backing file lies under the test's own directory or
/// under /run/qemu-chroot/{runs,mnt}/RUN of one of the given runs.
struct RunMounts {
    let directory: String

    /// Mount points (with their source) of the run's mounts, read from the main thread's namespace: the
    /// test runner stays in the host namespace, though a test thread may have privatized itself.
    func current(runIDs: [String] = []) -> [String] {
        let roots = [directory + "/"] + runIDs.flatMap { ["/run/qemu-chroot/runs/\($0)/", "/run/qemu-chroot/mnt/\($0)/"] }
        func ours(_ path: String) -> Bool { roots.contains { (path + "/").hasPrefix($0) } }
        let info = ProcFS.readText("/proc/self/mountinfo", limit: 16 << 20) ?? ""
        return info.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
            let point = ProcFS.unescapeMountField(fields[4])
            let source = ProcFS.unescapeMountField(fields[dash + 2])
            // A partition (loop3p1) is backed by what its loop device (loop3) is.
            let loop = source.hasPrefix("/dev/loop") && source.dropFirst(9).contains("p")
                ? String(source[..<source.lastIndex(of: "p")!]) : source
            let backing = LoopDeviceTable.entry(for: loop)?.backingFile
            return ours(point) || ours(source) || backing.map(ours) == true ? "\(point) (\(source))" : nil
        }
    }
}
