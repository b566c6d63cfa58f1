import Glibc
import NBDCore

/// Debian's busybox-static for another architecture, fetched once into the fixture cache with apt-get
/// under a temporary configuration (its own lists, cache and architecture): the host's apt configuration
/// and dpkg architectures are not changed. The archive is the one the host's apt sources name; the suite is
/// trixie, the first Debian release with riscv64.
public enum ForeignBusybox {
    /// Debian architecture names.
    public static let architectures = ["arm64", "armhf", "riscv64"]
    static let suite = "trixie"

    /// Why the fetch cannot work here, or nil.
    public static var requirements: String? {
        if let missing = Host.missing(programs: ["apt-get", "dpkg-deb", "busybox"], root: true) { return missing }
        if archiveURI() == nil { return "needs a Debian archive in the host's apt sources" }
        return nil
    }

    /// The host path of busybox for `architecture` (a Debian name), fetched on first use.
    public static func program(for architecture: String) throws -> String {
        let root = ImageFixtures.cacheRoot
        let final = "\(root)/busybox-\(architecture)"
        if access(final, X_OK) == 0 { return final }
        guard let uri = archiveURI() else { throw FixtureError("no Debian archive in the host's apt sources") }
        try FileTree.makeDirectories(root)
        let work = try PrivateDirectory.make("busybox-\(architecture)", in: root)
        defer { _ = try? Command.run("/bin/rm", ["-rf", "--one-file-system", work]) }
        for directory in ["lists/partial", "cache/archives/partial", "deb", "tree"] { try FileTree.makeDirectories("\(work)/\(directory)") }
        let sources = try FileDescriptor.open("\(work)/sources.list", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try sources.writeAll(Array("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \(uri) \(suite) main\n".utf8))
        try sources.close()
        let options = ["-q", "-o", "APT::Architecture=\(architecture)", "-o", "APT::Architectures::=\(architecture)",
                       "-o", "Dir::Etc::SourceList=\(work)/sources.list", "-o", "Dir::Etc::SourceParts=\(work)/none",
                       "-o", "Dir::State::Lists=\(work)/lists", "-o", "Dir::Cache=\(work)/cache",
                       "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root"]
        try Command.check("apt-get", options + ["update"])
        try Command.check("apt-get", options + ["download", "busybox-static"], directory: "\(work)/deb")
        guard let deb = try FileTree.entries("\(work)/deb").first(where: { $0.hasSuffix(".deb") }) else {
            throw FixtureError("apt-get download busybox-static:\(architecture) left no .deb")
        }
        try Command.check("dpkg-deb", ["-x", "\(work)/deb/\(deb)", "\(work)/tree"])
        let candidates: [String] = ["\(work)/tree/bin/busybox", "\(work)/tree/usr/bin/busybox"]
        guard let extracted = candidates.first(where: { access($0, R_OK) == 0 }) else { throw FixtureError("\(deb) has no bin/busybox") }
        chmod(extracted, 0o755)
        // rename(2) is atomic: a concurrent fetch of the same architecture leaves one complete file.
        try syscall("rename", path: final) { rename(extracted, final) }
        return final
    }

    /// The first `URIs:` (deb822) or `deb` line's archive in the host's apt sources.
    static func archiveURI() -> String? {
        let files = ["/etc/apt/sources.list"] + ((try? FileTree.entries("/etc/apt/sources.list.d")) ?? [])
            .sorted().map { "/etc/apt/sources.list.d/\($0)" }
        for file in files {
            guard let text = ProcFS.readText(file) else { continue }
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                if words.first == "URIs:", words.count > 1, !words[1].contains("security") { return words[1] }
                if words.first == "deb", let uri = words.dropFirst().first(where: { $0.contains("://") }), !uri.contains("security") {
                    return uri
                }
            }
        }
        return nil
    }
}

/// What the host's own binfmt_misc holds: every entry and its contents, read through a binfmt_misc mounted
/// in a mount namespace of its own (on this host it is not mounted at /proc/sys/fs/binfmt_misc). The tests
/// compare it before and after a run: a run must never change it.
public enum HostBinfmt {
    public static func snapshot() throws -> String {
        let script = """
            d=$(mktemp -d) && mount -t binfmt_misc binfmt_misc "$d" && for f in "$d"/*; do echo "== ${f##*/}"; cat "$f"; done; \
            umount "$d"; rmdir "$d"
            """
        let result = try Command.run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script])
        guard result.status.isSuccess else { throw FixtureError("reading the host's binfmt_misc failed: \(result.stderr)") }
        return result.stdout
    }
}

/// A test fixture could not be made; says what failed.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
