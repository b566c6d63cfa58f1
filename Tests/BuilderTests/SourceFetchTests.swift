@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// URL, checksummed and compressed sources (`source_image`, `source_checksum`, `cache_dir`) through the
/// download cache, against a loopback HTTP server this test starts. No root needed.
@Suite(.enabled(if: Host.missing(programs: ["curl", "xz", "zstd", "gzip", "bzip2"]) == nil,
                "\(Host.missing(programs: ["curl", "xz", "zstd", "gzip", "bzip2"]) ?? "")"),
       .timeLimit(.minutes(2)))
struct SourceFetchTests {
    let work: TemporaryDirectory
    let content: [UInt8]
    let cache: SourceCache

    init() throws {
        work = try TemporaryDirectory("source-fetch")
        content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        cache = SourceCache(directory: work.file("cache"))
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = work.file(name)
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try fd.writeAll(bytes)
        try fd.close()
        return path
    }

    func bytes(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { try? fd.close() }
        return try fd.read(count: 1 << 24)
    }

    func resolve(_ text: String, _ checksum: SourceChecksum?, run: String = "r1") throws -> String {
        let log = BuildLog(output: BuildOutput { _ in }, target: "t")
        // Next to the cache, as a build's is inside it: same filesystem, and the cache listing stays the cache's.
        let partials = work.file("partial-\(run)")
        return try cache.resolve(try SourceImage(text), checksum: checksum, log: log, cancellation: Cancellation()) {
            _ = try FileTree.makeDirectories(partials)
            return partials
        }
    }

    func cacheEntries() -> [String] { ((try? FileTree.entries(cache.directory)) ?? []).sorted() }

    @Test func aDownloadIsVerifiedCachedAndReused() throws {
        let digest = try FileDigest.sha256(try file("disk.raw", content))
        let server = try LoopbackHTTPServer(files: ["/disk.raw": content])
        defer { server.stop() }
        let first = try resolve("\(server.url)/disk.raw", .sha256(digest))
        #expect(try bytes(first) == content)
        #expect(first == "\(cache.directory)/sha256-\(digest)")
        let second = try resolve("\(server.url)/disk.raw", .sha256(digest.uppercased().lowercased()), run: "r2")
        #expect(second == first)
        #expect(server.requests == ["/disk.raw"])
        #expect(cacheEntries() == ["sha256-\(digest)"])
    }

    @Test func aMismatchIsAnErrorAndCachesNothing() throws {
        let server = try LoopbackHTTPServer(files: ["/disk.raw": content])
        defer { server.stop() }
        let wrong = String(repeating: "ab", count: 32)
        #expect {
            try resolve("\(server.url)/disk.raw", .sha256(wrong))
        } throws: { error in
            "\(error)".contains("source_checksum mismatch") && "\(error)".contains("expected sha256 \(wrong)")
        }
        #expect(cacheEntries().isEmpty)
        // A cached file that no longer matches is fetched again, not trusted.
        let digest = try FileDigest.sha256(try file("disk.raw", content))
        _ = try file("cache/sha256-\(digest)", [1, 2, 3])
        #expect(try bytes(try resolve("\(server.url)/disk.raw", .sha256(digest))) == content)
        #expect(server.requests.count == 2)
    }

    /// kill -9 of a build half-way through its download: the partial file is in the run's ledger (its
    /// directory in the cache), so `qemu-chroot cleanup` leaves nothing of it in the cache.
    @Test(.enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
    func aDownloadCutByKill9IsRemovedByCleanup() throws {
        let digest = try FileDigest.sha256(try file("disk.raw", content))
        let server = try LoopbackHTTPServer(files: ["/disk.raw": content], stallingAfter: 100_000)
        defer { server.stop() }
        let template = try CLI.template(in: work.path, image: "\(server.url)/disk.raw",
                                        builder: #""source_checksum": "sha256:\#(digest)", "cache_dir": "\#(cache.directory)""#)
        let child = try CLI.spawn(CLI.binary, ["build", template], in: work.path)
        func partialDownloads() -> [String] {
            cacheEntries().filter { $0.hasPrefix(".partial-") }.map { "\(cache.directory)/\($0)/download" }
        }
        let stalled = Poll.until(seconds: 30) {
            // curl's stdio buffer keeps the last few KiB of what it got until more comes.
            partialDownloads().contains { ((try? FileTree.fileSize($0)) ?? 0) >= 50_000 } || child.poll() != nil
        }
        #expect(stalled && child.poll() == nil, "the build never got half-way through its download")
        child.signal(SIGKILL)
        _ = child.wait()
        #expect(!partialDownloads().isEmpty, "kill -9 should leave the partial download for cleanup")
        let cleanup = try CLI.run(["cleanup"], in: work.path)
        #expect(cleanup.status.isSuccess, "\(cleanup.stdout)\(cleanup.stderr)")
        #expect(cacheEntries().isEmpty)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func anHTTPErrorIsAnError() throws {
        let server = try LoopbackHTTPServer(files: [:])
        defer { server.stop() }
        #expect(throws: (any Error).self) { try resolve("\(server.url)/missing.raw", .sha256(String(repeating: "0", count: 64))) }
        #expect(cacheEntries().isEmpty)
    }

    @Test(arguments: [("xz", ["xz", "-k"]), ("zst", ["zstd", "-q"]), ("gz", ["gzip", "-k"]), ("bz2", ["bzip2", "-k"])])
    func compressedSourcesAreDecompressedIntoTheCache(suffix: String, compress: [String]) throws {
        let plain = try file("disk.img", content)
        try Command.check(compress[0], Array(compress.dropFirst()) + [plain])
        let compressed = "\(plain).\(suffix)"
        let packed = try bytes(compressed)
        let digest = try FileDigest.sha256(compressed)
        let server = try LoopbackHTTPServer(files: ["/disk.img.\(suffix)": packed])
        defer { server.stop() }
        let fromURL = try resolve("\(server.url)/disk.img.\(suffix)", .sha256(digest))
        #expect(try bytes(fromURL) == content)
        #expect(fromURL == "\(cache.directory)/sha256-\(digest).decompressed")
        // A local compressed path needs no checksum; the same compressed file maps to the same entry.
        #expect(try resolve(compressed, nil, run: "r2") == fromURL)
        #expect(server.requests.count == 1)
        #expect(cacheEntries() == ["sha256-\(digest).\(suffix)", "sha256-\(digest).decompressed"].sorted())
    }

    @Test func aChecksumFileByURLOrPathNamesTheDigest() throws {
        let digest = try FileDigest.sha256(try file("disk.raw", content))
        let sums = "\(String(repeating: "0", count: 64))  other.raw\n\(digest) *disk.raw\n"
        let server = try LoopbackHTTPServer(files: ["/disk.raw": content, "/SHA256SUMS": Array(sums.utf8)])
        defer { server.stop() }
        #expect(try bytes(try resolve("\(server.url)/disk.raw", .file("\(server.url)/SHA256SUMS"))) == content)
        let local = try file("SUMS", Array("SHA256 (disk.raw) = \(digest.uppercased())\n".utf8))
        #expect(try resolve("\(server.url)/disk.raw", .file("file://\(local)"), run: "r2") == "\(cache.directory)/sha256-\(digest)")
        #expect(try resolve(work.file("disk.raw"), .file(local), run: "r3") == work.file("disk.raw"))
        #expect {
            try resolve("\(server.url)/disk.raw", .file("\(server.url)/SHA256SUMS-missing"), run: "r4")
        } throws: { _ in true }
        let noEntry = try file("NOENTRY", Array("\(digest)  something-else.raw\n".utf8))
        #expect {
            try resolve("\(server.url)/disk.raw", .file(noEntry), run: "r5")
        } throws: { "\($0)".contains("has no SHA-256 entry for disk.raw") }
        #expect(!cacheEntries().contains { $0.hasPrefix(".partial") })
    }

    @Test func aLocalPathWithAWrongChecksumIsRefused() throws {
        let path = try file("disk.raw", content)
        #expect {
            try resolve(path, .sha256(String(repeating: "1", count: 64)))
        } throws: { "\($0)".contains("source_checksum mismatch for \(path)") }
    }

    @Test func parsing() throws {
        #expect(try SourceImage("https://example.com/a/b.img.xz?x=1").compression == .xz)
        #expect(try SourceImage("https://example.com/a/b.img.xz?x=1").fileName == "b.img.xz")
        #expect(try SourceImage("/srv/base.qcow2").usesCache == false)
        #expect(try SourceImage("FILE:///srv/base.qcow2").scheme == .file)
        #expect(try SourceImage("base.raw.bz2").usesCache)
        #expect(throws: SourceImageError.self) { try SourceImage("ftp://example.com/a.img") }
        #expect(try SourceChecksum("sha256:" + String(repeating: "A", count: 64)) == .sha256(String(repeating: "a", count: 64)))
        #expect(try SourceChecksum("file:https://example.com/SHA256SUMS") == .file("https://example.com/SHA256SUMS"))
        #expect(throws: SourceImageError.self) { try SourceChecksum("md5:0123") }
        #expect(throws: SourceImageError.self) { try SourceChecksum("sha256:abc") }
        let digest = String(repeating: "c", count: 64)
        #expect(SourceChecksum.entry(for: "a.img", in: "\(digest)  ./dir/a.img\n") == digest)
        #expect(SourceChecksum.entry(for: "a.img", in: "\(digest)\n") == digest)
        #expect(SourceChecksum.entry(for: "a.img", in: "\(digest)  b.img\n") == nil)
    }

    @Test func theTemplateNeedsAChecksumWithAURL() throws {
        func problems(_ builder: String) -> [String] {
            var options = BuildPlan.Options()
            options.environment = ["HOME": "/root"]
            do {
                _ = try BuildPlan.make(try Template.parse(#"{"builders": [{"type": "qemu-chroot", \#(builder)}]}"#), options: options)
                return []
            } catch let error as TemplateErrors {
                return error.problems.map(\.description)
            } catch {
                return ["unexpected: \(error)"]
            }
        }
        #expect(problems(#""source_image": "https://example.com/a.img.xz""#).contains { $0.contains("source_checksum: is required with a URL") })
        #expect(problems(#""source_image": "ftp://example.com/a.img""#).contains { $0.contains("is a ftp:// URL") })
        #expect(problems(#""source_image": "https://example.com/a.img", "source_checksum": "sha1:abc""#)
            .contains { $0.contains("source_checksum: \"sha1:abc\" is neither") })
        #expect(problems(#""source_image": "https://example.com/a.img", "source_checksum": "sha256:\#(String(repeating: "0", count: 64))", "cache_dir": "/tmp/c""#).isEmpty)
    }
}
