import Glibc
import NBDCore

/// A built fixture: the image, plus each partition's filesystem as its own file (for blkid comparisons).
public struct ImageFixture: Sendable {
    public let spec: ImageSpec
    public let directory: String
    /// The image in the spec's format.
    public var image: String { "\(directory)/image.\(spec.format.rawValue)" }
    /// The raw image (also kept for qcow2 specs, as the conversion's source).
    public var rawImage: String { "\(directory)/image.raw" }
    /// The filesystem of partition `number` as a standalone file (for a whole-disk spec: number 0).
    public func filesystemFile(_ number: Int) -> String { number == 0 ? rawImage : "\(directory)/p\(number).fs" }

    /// The raw image converted to QCOW2 next to it (made once, renamed into place).
    public func qcow2() throws -> String {
        let target = "\(directory)/image.qcow2"
        if access(target, R_OK) == 0 { return target }
        let temporary = "\(target).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        defer { unlink(temporary) }  // only left after a failure; a successful rename already moved it
        try Command.check("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", rawImage, temporary])
        try syscall("rename", path: target) { rename(temporary, target) }
        return target
    }
}

/// Builds test images at run time and caches them under .build/fixtures/<hash of the spec>. Images are
/// sparse; a build happens in a private temporary directory renamed into place, so concurrent test
/// processes never see half an image.
public enum ImageFixtures {
    /// Bump when the build recipe changes, so cached images are rebuilt.
    static let recipeVersion = 1

    public static func build(_ spec: ImageSpec) throws -> ImageFixture {
        let root = cacheRoot
        let final = "\(root)/\(fnv1a("v\(recipeVersion)|\(spec)"))"
        if access("\(final)/image.\(spec.format.rawValue)", R_OK) == 0 {
            return ImageFixture(spec: spec, directory: final)
        }
        try Command.check("/bin/mkdir", ["-p", root])
        // Built next to its final place (same filesystem, so the rename is atomic); removed on any failure.
        let work = try makeWorkDirectory(in: root)
        defer { _ = try? Command.run("/bin/rm", ["-rf", "--one-file-system", work]) }
        try ImageFixtureBuilder(spec: spec, fixture: ImageFixture(spec: spec, directory: work)).build()
        // rename(2) of a directory fails if another process already put a complete one there; use that one.
        if rename(work, final) != 0 && errno != ENOTEMPTY && errno != EEXIST {
            throw SystemError("rename", path: final, errno: errno)
        }
        return ImageFixture(spec: spec, directory: final)
    }

    /// `<package>/.build/fixtures`, found from this source file's location.
    static var cacheRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Sources/TestSupport/ImageFixtures.swift
        return parts.joined(separator: "/") + "/.build/fixtures"
    }

    private static func makeWorkDirectory(in root: String) throws -> String {
        try PrivateDirectory.make("building", in: root)
    }

    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }
}
