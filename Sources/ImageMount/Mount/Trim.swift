import Glibc
import HostSystem

/// FITRIM on a mounted filesystem, so blocks freed inside the image are discarded and leave the image file
/// (a qcow2 shrinks its allocation, a raw file gets holes) before it is unmounted.
enum Trim {
    /// _IOWR('X', 121, struct fstrim_range)
    static let request: UInt = 0xC018_5879

    static func run(on mountPoint: String) {
        do {
            let fd = try FileDescriptor.open(mountPoint, O_RDONLY | O_DIRECTORY)
            // struct fstrim_range { u64 start, len, minlen }; the kernel writes back how much it trimmed.
            var range: [UInt64] = [0, UInt64.max, 0]
            try range.withUnsafeMutableBytes { _ = try fd.ioctl("FITRIM", request, pointer: $0.baseAddress) }
            Log.debug("trimmed \(range[1]) bytes on \(mountPoint)")
        } catch {
            Log.debug("no trim on \(mountPoint): \(error)")
        }
    }
}
