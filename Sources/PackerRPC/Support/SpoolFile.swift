import Glibc
import HostSystem

/// A private temporary file for an upload received from Packer, so a large file is streamed to disk
/// instead of held in memory; removed with its directory when done.
final class SpoolFile {
    let path: String
    private let directory: String
    let descriptor: FileDescriptor

    init() throws {
        directory = try PrivateDirectory.make("qemu-chroot-upload")
        path = directory + "/upload"
        do {
            descriptor = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        } catch {
            rmdir(directory)
            throw error
        }
    }

    func remove() {
        try? descriptor.close()
        unlink(path)
        rmdir(directory)
    }

    deinit { remove() }
}
