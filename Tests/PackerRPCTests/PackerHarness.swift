import Glibc
import NBDCore
import TestSupport

/// Runs Debian's real packer against our real plugin binary, isolated in a temporary directory: the
/// plugin is found through PACKER_PLUGIN_PATH, and HOME/PACKER_CONFIG_DIR point into the directory so
/// the user's ~/.packer.d is never read or written.
final class PackerHarness {
    let directory: TemporaryDirectory
    let pluginDirectory: String

    /// Why packer-based tests cannot run here, or nil.
    static var missing: String? {
        if let reason = Host.missing(programs: ["packer"]) { return reason }
        if pluginBinary == nil { return "the packer-plugin-qemu-chroot product was not built next to the tests" }
        return nil
    }

    /// The product binary SwiftPM built next to the test bundle (installed under the legacy name below).
    static var pluginBinary: String? { sibling("packer-plugin-qemu-chroot") }

    /// An executable product SwiftPM built next to the test bundle.
    static func sibling(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let folder = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidate = folder + "/" + name
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    init() throws {
        directory = try TemporaryDirectory("packer-plugin-test")
        pluginDirectory = directory.file("plugins")
        for sub in ["plugins", "home"] { mkdir(directory.file(sub), 0o755) }
        try Command.check("/bin/cp", [Self.pluginBinary!, pluginDirectory + "/packer-builder-qemu-chroot"])
    }

    var environment: [String: String] {
        var environment = ProcessEnvironment.current
        environment["PACKER_PLUGIN_PATH"] = pluginDirectory
        environment["HOME"] = directory.file("home")
        environment["PACKER_CONFIG_DIR"] = directory.file("home")
        environment["PACKER_CACHE_DIR"] = directory.file("home/cache")
        environment["CHECKPOINT_DISABLE"] = "1"
        environment["PACKER_NO_COLOR"] = "1"
        environment.removeValue(forKey: "PACKER_LOG")
        return environment
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.file(name)
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try fd.writeAll(Array(text.utf8))
        try fd.close()
        return path
    }

    func packer(_ arguments: [String]) throws -> CommandResult {
        try Command.run(ExecutableLookup.resolve("packer"), arguments, environment: environment, directory: directory.path)
    }
}
