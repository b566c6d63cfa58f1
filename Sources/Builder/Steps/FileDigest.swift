import Crypto
import Glibc
import NBDCore

/// Checksums of whole files (the artifact's SHA-256), read in 1 MiB chunks so a large image is never
/// held in memory. swift-crypto's SHA256 is BoringSSL's, which uses the CPU's SHA instructions (SHA-NI)
/// when it has them: about openssl's speed (docs/benchmarks.md).
public enum FileDigest {
    /// `progress` gets the bytes hashed so far after each chunk.
    public static func sha256(_ path: String, progress: ((UInt64) -> Void)? = nil) throws -> String {
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while true {
            let got = try buffer.withUnsafeMutableBytes { try file.pread(into: $0, at: offset) }
            if got == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += UInt64(got)
            progress?(offset)
        }
        return hex(hasher.finalize())
    }

    /// Lower-case hex, as sha256sum prints it.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
