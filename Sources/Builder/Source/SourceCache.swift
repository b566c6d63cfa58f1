import Glibc
import NBDCore

/// The download cache (`cache_dir`, default ~/.cache/qemu-chroot). A download is named by its SHA-256
/// (`sha256-HEX[.xz]`) and a decompressed image by the SHA-256 of the compressed file it came from
/// (`sha256-HEX.decompressed`), so a later build with the same checksum reuses them. Files get their final
/// name only once complete (and, for downloads, verified): they are written under a run-private partial
/// name and renamed, so the cache never holds half a file and concurrent builds never write the same file.
public struct SourceCache: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public static func defaultDirectory(_ environment: [String: String]) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/root"
        return home + "/.cache/qemu-chroot"
    }

    /// The file the build reads for `source`: the local path itself, or the verified download and/or the
    /// decompressed image in the cache. `track` is told each partial file before it is written, so the
    /// caller can remove it if the build stops half-way. A checksum mismatch throws before anything is built.
    func resolve(_ source: SourceImage, checksum: SourceChecksum?, runID: String, log: BuildLog,
                 cancellation: Cancellation, track: (String) -> Void) throws -> String {
        _ = try FileTree.makeDirectories(directory)
        let expected = try checksum.map { try expectedDigest($0, for: source, runID: runID, cancellation: cancellation, track: track) }
        var file: String
        if source.isURL {
            guard let expected else {
                throw BuildError("source_checksum is required for the URL \(source.text): sha256:HEX or file:URL of a checksum file")
            }
            file = "\(directory)/sha256-\(expected)" + (source.compression.map { ".\($0.rawValue)" } ?? "")
            if HostPath.isReadableFile(file), try FileDigest.sha256(file) == expected {
                log.say("using the cached download of \(source.text)")
            } else {
                let partial = "\(directory)/.partial-\(runID)-download"
                track(partial)
                log.say("downloading \(source.text) into \(directory)")
                try download(source.text, to: partial, cancellation: cancellation)
                let actual = try FileDigest.sha256(partial)
                guard actual == expected else {
                    unlink(partial)
                    throw BuildError("source_checksum mismatch for \(source.text): expected sha256 \(expected), the download has \(actual); nothing was built")
                }
                try syscall("rename", path: file) { rename(partial, file) }
            }
        } else {
            file = HostPath.absolute(source.text)
            if let expected {
                let actual = try FileDigest.sha256(file)
                guard actual == expected else {
                    throw BuildError("source_checksum mismatch for \(file): expected sha256 \(expected), the file has \(actual); nothing was built")
                }
            }
        }
        guard let compression = source.compression else { return file }
        let decompressed = "\(directory)/sha256-\(try expected ?? FileDigest.sha256(file)).decompressed"
        if HostPath.isReadableFile(decompressed) {
            log.say("using the cached decompressed image of \(source.fileName)")
            return decompressed
        }
        let partial = "\(directory)/.partial-\(runID)-decompress"
        track(partial)
        log.say("decompressing \(source.fileName) (\(compression.rawValue)) into \(directory)")
        let output = try FileDescriptor.open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
        do {
            let (program, arguments) = compression.decompressor
            try CancellableCommand.check(program, arguments + [file], stdoutFile: output.rawValue, cancellation: cancellation)
            try output.close()
        } catch {
            try? output.close()
            throw error
        }
        try FileTree.sync(partial)
        try syscall("rename", path: decompressed) { rename(partial, decompressed) }
        return decompressed
    }

    /// The digest `checksum` expects for `source`: its own, or the entry for the source's file name in the
    /// checksum file it names (downloaded when it is a URL).
    private func expectedDigest(_ checksum: SourceChecksum, for source: SourceImage, runID: String,
                                cancellation: Cancellation, track: (String) -> Void) throws -> String {
        switch checksum {
        case .sha256(let digest): return digest
        case .file(let location):
            var path = location
            let isURL = (try? SourceImage(location))?.isURL ?? false
            if isURL {
                path = "\(directory)/.partial-\(runID)-checksums"
                track(path)
            }
            defer { if isURL { unlink(path) } }
            if isURL { try download(location, to: path, cancellation: cancellation) }
            guard let text = ProcFS.readText(path) else {
                throw BuildError("cannot read the checksum file \(location)")
            }
            guard let digest = SourceChecksum.entry(for: source.fileName, in: text) else {
                throw BuildError("the checksum file \(location) has no SHA-256 entry for \(source.fileName)")
            }
            return digest
        }
    }

    /// curl: http, https and file URLs only (redirects to http(s) only), failing on an HTTP error status.
    private func download(_ url: String, to path: String, cancellation: Cancellation) throws {
        try CancellableCommand.check("curl", ["--fail", "--location", "--silent", "--show-error", "--proto", "=http,https,file",
                                              "--proto-redir", "=http,https", "--output", path, url], cancellation: cancellation)
    }
}
