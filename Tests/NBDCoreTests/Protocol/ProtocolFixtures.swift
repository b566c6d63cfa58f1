import Glibc
import NBDCore
import TestSupport

/// Why the qemu-nbd tests cannot run here, or nil.
let qemuNBDMissing = Host.missing(programs: ["qemu-nbd", "qemu-img"])

/// A fresh image of `size` bytes in `directory`, made by qemu-img.
func makeImage(_ directory: TemporaryDirectory, _ name: String = "disk.qcow2", format: String = "qcow2",
               size: String = "64M") throws -> String {
    let path = directory.file(name)
    try Command.check("qemu-img", ["create", "-q", "-f", format, path, size])
    return path
}

/// Deterministic bytes that differ per position, so misplaced data shows.
func pattern(count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 9)) ^ seed }
}

func serve(_ image: String, format: String = "qcow2", configure: (inout QemuNBDOptions) -> Void = { _ in }) throws -> QemuNBDServer {
    var options = QemuNBDOptions(format: format)
    options.persistent = true
    configure(&options)
    return try QemuNBDServer(image: image, options: options)
}
