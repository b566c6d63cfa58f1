import Glibc
import HostSystem

/// The kernel's view of configured loop devices, from /sys/block/loopN/loop/.
public enum LoopDeviceTable {
    public struct Entry: Equatable, Sendable {
        public let device: String
        public let backingFile: String
        public let offset: UInt64

        public init(device: String, backingFile: String, offset: UInt64) {
            self.device = device
            self.backingFile = backingFile
            self.offset = offset
        }
    }

    /// The loop device's backing file and offset; nil when it is not configured.
    public static func entry(for device: String) -> Entry? {
        guard device.hasPrefix("/dev/loop"), let name = device.split(separator: "/").last else { return nil }
        let dir = "/sys/block/\(name)/loop"
        guard let backing = ProcFS.readText("\(dir)/backing_file"), !backing.isEmpty else { return nil }
        let offset = ProcFS.readText("\(dir)/offset").flatMap { UInt64($0) } ?? 0
        return Entry(device: device, backingFile: backing, offset: offset)
    }

    /// The device's disk sequence number (/sys/block/loopN/diskseq): the kernel gives every configuration a new
    /// one, never reused within a boot. nil before Linux 5.15 or for a device that does not exist.
    public static func diskSequence(of device: String) -> UInt64? {
        guard device.hasPrefix("/dev/loop"), let name = device.split(separator: "/").last else { return nil }
        return ProcFS.readText("/sys/block/\(name)/diskseq").flatMap { UInt64($0) }
    }

    /// Waits up to `seconds` until `loop` no longer has that backing file and offset (freed, or reused by
    /// another); true if it did. The kernel frees an autoclear device on its last close, not at LOOP_CLR_FD.
    public static func waitUntilFree(_ loop: Entry, seconds: Double) -> Bool {
        Poll.until(seconds: seconds, interval: 0.005) { entry(for: loop.device) != loop }
    }

    /// Every configured loop device whose backing file is `path`.
    public static func devices(backedBy path: String) -> [Entry] {
        guard let dir = opendir("/sys/block") else { return [] }
        defer { closedir(dir) }
        var result: [Entry] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("loop"), let entry = entry(for: "/dev/\(name)"), entry.backingFile == path else { continue }
            result.append(entry)
        }
        return result
    }
}
