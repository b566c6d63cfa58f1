import Glibc
import NBDCore

/// The download cache (`cache_dir`, default ~/.cache/qemu-chroot). A download is named by its SHA-256
/// (`sha256-HEX[.xz]`) and a decompressed image by the SHA-256 of the compressed file it came from
/// (`sha256-HEX.decompressed`), so a later build with the same checksum reuses them. Files get their final
/// name only once complete (and, for downloads, verified): they are written in a run-private directory in
/// the cache (same filesystem, so the rename is atomic) and renamed, so the cache never holds half a file
/// and concurrent builds never write the same file.
public struct SourceCache: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public static func defaultDirectory(_ environment: [String: String]) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/root"
        return home + "/.cache/qemu-chroot"
    }

    /// The file the build reads for `source`: the local path itself, or the verified download and/or the
    /// decompressed image in the cache. `partials` gives the run-private directory (in `directory`) that
    /// partial files are written in, made on the first call; the caller owns it and removes it (a build
    /// records it in the run ledger, so `cleanup` removes it after a kill -9). A checksum mismatch throws
    /// before anything is built.
    func resolve(_ source: SourceImage, checksum: SourceChecksum?, log: BuildLog, cancellation: Cancellation,
                 partials: () throws -> String) throws -> String {
        _ = try FileTree.makeDirectories(directory)
        let expected = try checksum.map { try expectedDigest($0, for: source, cancellation: cancellation, partials: partials) }
        var file: String
        if source.isURL {
            guard let expected else {
                throw BuildError("source_checksum is required for the URL \(source.text): sha256:HEX or file:URL of a checksum file")
            }
            file = "\(directory)/sha256-\(expected)" + (source.compression.map { ".\($0.rawValue)" } ?? "")
            if HostPath.isReadableFile(file), try FileDigest.sha256(file) == expected {
                log.say("using the cached download of \(source.text)")
            } else {
                let partial = "\(try partials())/download"
                log.say("downloading \(source.text) into \(directory)")
                try download(source.text, to: partial, cancellation: cancellation, progress: log)
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
        let partial = "\(try partials())/decompress"
        log.say("decompressing \(source.fileName) (\(compression.rawValue)) into \(directory)")
        let output = try FileDescriptor.open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
        let input: FileDescriptor
        do { input = try FileDescriptor.open(file, O_RDONLY | O_CLOEXEC) } catch {
            try? output.close()
            throw error
        }
        do {
            // The decompressor reads the file as its stdin, which shares our descriptor's offset: how far
            // it has read of the compressed size is its progress (the decompressed size is unknown).
            let total = try FileTree.fileSize(file)
            let inputFD = input.rawValue
            let poller = try ProgressPoller("decompressing", log: log) {
                (done: UInt64(max(0, lseek(inputFD, 0, SEEK_CUR))), total: total)  // fails only for a bad fd: 0
            }
            let (program, arguments) = compression.decompressor
            do {
                try CancellableCommand.check(program, arguments, stdinFile: inputFD, stdoutFile: output.rawValue,
                                             cancellation: cancellation)
            } catch {
                poller.finish(showing: false)
                throw error
            }
            poller.finish()
            try input.close()
            try output.close()
        } catch {
            try? input.close()
            try? output.close()
            throw error
        }
        try FileTree.sync(partial)
        try syscall("rename", path: decompressed) { rename(partial, decompressed) }
        return decompressed
    }

    /// The digest `checksum` expects for `source`: its own, or the entry for the source's file name in the
    /// checksum file it names (downloaded when it is a URL).
    private func expectedDigest(_ checksum: SourceChecksum, for source: SourceImage, cancellation: Cancellation,
                                partials: () throws -> String) throws -> String {
        switch checksum {
        case .sha256(let digest): return digest
        case .file(let location):
            var path = location
            let isURL = (try? SourceImage(location))?.isURL ?? false
            if isURL {
                path = "\(try partials())/checksums"
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
    /// With `progress`, the file's size as it grows against the Content-Length curl writes to a header
    /// file (the last one after redirects; none for a chunked reply, then bytes and rate only).
    private func download(_ url: String, to path: String, cancellation: Cancellation, progress: BuildLog? = nil) throws {
        var arguments = ["--fail", "--location", "--silent", "--show-error", "--proto", "=http,https,file",
                         "--proto-redir", "=http,https", "--output", path]
        let headers = path + ".headers"
        var poller: ProgressPoller?
        if let progress {
            arguments += ["--dump-header", headers]
            poller = try ProgressPoller("downloading", log: progress) {
                ((try? FileTree.fileSize(path)) ?? 0, Self.contentLength(ProcFS.readText(headers) ?? ""))
            }
        }
        defer { unlink(headers) }
        do {
            try CancellableCommand.check("curl", arguments + [url], cancellation: cancellation)
        } catch {
            poller?.finish(showing: false)
            throw error
        }
        poller?.finish()
    }

    /// The last Content-Length in curl's header dump (each redirect adds a block of headers); 0 if none.
    static func contentLength(_ headers: String) -> UInt64 {
        var length: UInt64 = 0
        for line in headers.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { continue }
            length = UInt64(String(parts[1]).trimmingWhitespace()) ?? 0
        }
        return length
    }
}
