import Glibc

/// Executables the package builds next to the test bundle (qemu-chroot, attach-hold), for tests that run them.
public enum BuiltProduct {
    /// The path of `name` in the build directory of the running test bundle.
    public static func path(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[..<max(count, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)]) + "/\(name)"
    }
}
