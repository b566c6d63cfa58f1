import Glibc
import NBDCore

/// A private directory under $TMPDIR (or /tmp) that removes itself, with everything in it.
public final class TemporaryDirectory {
    public let path: String

    public init(_ prefix: String = "qemu-chroot-test") throws {
        path = try PrivateDirectory.make(prefix)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        _ = try? Command.run("/bin/rm", ["-rf", "--one-file-system", path])
    }
}
