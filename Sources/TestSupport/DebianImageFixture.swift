import Glibc
import NBDCore

/// A minimal Debian image for the tests that need a real distribution (customize --install, sysprep):
/// `mmdebstrap --variant=minbase` of the host's own suite from the mirror the host's apt sources name,
/// read at run time (so no mirror is written anywhere here). The root tarball and the whole-disk ext4
/// image made from it are cached in the fixture cache: minutes once, nothing afterwards.
public enum DebianImageFixture {
    static let recipeVersion = 1
    public static let sizeMiB = 1536

    /// Why the image cannot be made on this host, or nil; probes the archive (a few seconds at most).
    public static let unavailableReason: String? = {
        if let missing = Host.missing(programs: ["mmdebstrap", "mkfs.ext4", "tar"], root: true) { return missing }
        if HostPath.exists(cachedImage ?? "/nonexistent") { return nil }
        guard let source = aptSource() else { return "no Debian mirror in /etc/apt/sources.list(.d) to bootstrap from" }
        // apt-helper cannot download to /dev/null (it links the result into place).
        let scratch = try? TemporaryFileName.make("debian-release")
        defer { scratch.map { _ = unlink($0) } }
        let probe = try? Command.run("/usr/lib/apt/apt-helper", ["-o", "Acquire::http::Timeout=10", "-o", "Acquire::Retries=0",
                                                                 "download-file", "\(source.mirror)/dists/\(source.suite)/Release",
                                                                 scratch ?? "/nonexistent/Release"])
        guard probe?.status.isSuccess == true else { return "the Debian archive named in /etc/apt is unreachable from here" }
        return nil
    }()

    /// The mirror and suite of the host's first Debian apt source (deb822 .sources or sources.list).
    static func aptSource() -> (mirror: String, suite: String)? {
        let directory = "/etc/apt/sources.list.d"
        for name in ((try? FileTree.entries(directory)) ?? []).sorted() where name.hasSuffix(".sources") {
            guard let text = ProcFS.readText("\(directory)/\(name)") else { continue }
            for stanza in text.split(separator: "\n\n") {
                let fields = Dictionary(stanza.split(separator: "\n").compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingWhitespace())
                }, uniquingKeysWith: { first, _ in first })
                guard fields["Types"]?.split(separator: " ").contains("deb") == true,
                      let uri = fields["URIs"]?.split(separator: " ").first,
                      let suite = fields["Suites"]?.split(separator: " ").first(where: { !$0.contains("-") }) else { continue }
                return (String(uri).trimmingSuffix("/"), String(suite))
            }
        }
        for line in (ProcFS.readText("/etc/apt/sources.list") ?? "").split(separator: "\n") {
            let words = line.split(separator: " ").filter { !$0.hasPrefix("[") && !$0.hasSuffix("]") }
            if words.count >= 3, words[0] == "deb", !words[2].contains("-") {
                return (String(words[1]).trimmingSuffix("/"), String(words[2]))
            }
        }
        return nil
    }

    static var cachedImage: String? {
        aptSource().map { "\(ImageFixtures.cacheRoot)/debian-\($0.suite)-v\(recipeVersion)/image.raw" }
    }

    /// The cached raw image (a whole-disk ext4 Debian root), made first if needed. Never write to it:
    /// customize it with -o.
    public static func image() throws -> String {
        guard let source = aptSource(), let final = cachedImage else { throw DebianFixtureError("no Debian apt source on this host") }
        if HostPath.exists(final) { return final }
        let directory = PathName.parent(final)
        try FileTree.makeDirectories(ImageFixtures.cacheRoot)
        let tarball = "\(ImageFixtures.cacheRoot)/debian-\(source.suite)-minbase.tar"
        if !HostPath.exists(tarball) {
            let partial = "\(tarball).\(getpid()).partial"
            defer { unlink(partial) }
            _ = try Command.check("mmdebstrap", ["--quiet", "--variant=minbase", "--format=tar", source.suite, partial, source.mirror])
            try syscall("rename", path: tarball) { rename(partial, tarball) }
        }
        let work = try PrivateDirectory.make("debian-building", in: ImageFixtures.cacheRoot)
        defer { _ = try? Command.run("/bin/rm", ["-rf", "--one-file-system", work]) }
        try FileTree.makeDirectories("\(work)/root")
        _ = try Command.check("tar", ["-C", "\(work)/root", "--numeric-owner", "-xpf", tarball])
        _ = try Command.check("truncate", ["-s", "\(sizeMiB)M", "\(work)/image.raw"])
        _ = try Command.check("mkfs.ext4", ["-q", "-F", "-L", "debroot", "-d", "\(work)/root", "\(work)/image.raw"])
        try FileTree.makeDirectories(directory)
        if rename("\(work)/image.raw", final) != 0 { throw SystemError("rename", path: final, errno: errno) }
        return final
    }
}

/// A name in the temporary directory that nothing uses yet.
enum TemporaryFileName {
    static func make(_ prefix: String) throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        return "\(base)/\(prefix).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
    }
}

/// The Debian fixture cannot be made (no apt source on this host).
struct DebianFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
