import Glibc
import NBDCore
import TestSupport

/// Helpers for the protocol tests, namespaced so they cannot collide with other suites' helpers.
enum ProtocolFixture {
    /// Why the qemu-nbd tests cannot run here, or nil.
    static let qemuNBDMissing = Host.missing(programs: ["qemu-nbd", "qemu-img"])

    /// A fresh image of `size` bytes in `directory`, made by qemu-img.
    static func makeImage(_ directory: TemporaryDirectory, _ name: String = "disk.qcow2", format: String = "qcow2",
                          size: String = "64M") throws -> String {
        let path = directory.file(name)
        try Command.check("qemu-img", ["create", "-q", "-f", format, path, size])
        return path
    }

    /// Deterministic bytes that differ per 8-byte word, so misplaced data shows. Built a word at a time: a
    /// byte-wise map over tens of MiB is slow in debug builds.
    static func pattern(count: Int, seed: UInt8) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let mix = UInt64(seed) &* 0x9e37_79b9_7f4a_7c15
            for word in 0..<(count / 8) { raw.storeBytes(of: UInt64(word) &* 0x0100_0000_01b3 ^ mix, toByteOffset: word * 8, as: UInt64.self) }
            for index in (count / 8 * 8)..<count { raw[index] = seed &+ UInt8(truncatingIfNeeded: index) }
        }
        return bytes
    }

    /// Whether `bytes` equal `model[offset...]`, compared with memcmp.
    static func matches(_ bytes: UnsafeRawBufferPointer, _ model: [UInt8], at offset: Int) -> Bool {
        model.withUnsafeBytes { memcmp($0.baseAddress! + offset, bytes.baseAddress!, bytes.count) == 0 }
    }

    static func serve(_ image: String, format: String = "qcow2", configure: (inout QemuNBDOptions) -> Void = { _ in }) throws -> QemuNBDServer {
        var options = QemuNBDOptions(format: format)
        options.persistent = true
        configure(&options)
        return try QemuNBDServer(image: image, options: options)
    }
}
